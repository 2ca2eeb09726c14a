"""ACL policies in Vault's syntax: parsing, and what a set of them allows."""

import functools
import re
from dataclasses import dataclass

from openvault import hcl
from openvault.errors import BadRequest

CAPABILITIES = {"create", "read", "update", "delete", "list", "sudo", "deny", "patch"}
# The old `policy = "..."` shorthand of early Vault policies.
SHORTHAND = {
    "deny": {"deny"},
    "read": {"read", "list"},
    "write": {"create", "read", "update", "delete", "list"},
    "sudo": {"create", "read", "update", "delete", "list", "sudo"},
}
# Path options Vault enforces that this server does not; a policy using them
# is refused rather than loaded with the restriction silently dropped.
UNENFORCED = (
    "allowed_parameters",
    "denied_parameters",
    "required_parameters",
    "min_wrapping_ttl",
    "max_wrapping_ttl",
)

DEFAULT_POLICY = """
# Every token gets this policy: it may look after itself and its leases.
path "auth/token/lookup-self" {
  capabilities = ["read"]
}
path "auth/token/renew-self" {
  capabilities = ["update"]
}
path "auth/token/revoke-self" {
  capabilities = ["update"]
}
path "sys/capabilities-self" {
  capabilities = ["update"]
}
path "sys/leases/lookup" {
  capabilities = ["update"]
}
path "sys/leases/renew" {
  capabilities = ["update"]
}
"""


@dataclass(frozen=True)
class Rule:
    """The capabilities a policy grants on one path pattern."""

    pattern: str
    capabilities: frozenset


def parse(name, text):
    """Parse policy text (HCL or JSON) into rules, or raise BadRequest."""
    try:
        tree = hcl.loads(text)
    except hcl.HCLError as exc:
        raise BadRequest(f"failed to parse policy {name!r}: {exc}") from None
    if not isinstance(tree, dict):
        raise BadRequest(f"failed to parse policy {name!r}: expected an object")
    unknown = sorted(set(tree) - {"path", "name"})
    if unknown:
        raise BadRequest(f"policy {name!r}: unknown top-level keys {unknown}")
    paths = tree.get("path", {})
    if not isinstance(paths, dict):
        raise BadRequest(f"policy {name!r}: 'path' must be blocks of path rules")
    return tuple(_rule(name, pattern, body) for pattern, body in paths.items())


def _rule(name, pattern, body):
    if not isinstance(body, dict):
        raise BadRequest(f"policy {name!r}: path {pattern!r} must be a block")
    for option in UNENFORCED:
        if option in body:
            raise BadRequest(
                f"policy {name!r}: path {pattern!r} uses '{option}', which this"
                " server does not enforce; remove it"
            )
    caps = set()
    if "policy" in body:
        shorthand = body["policy"]
        if shorthand not in SHORTHAND:
            raise BadRequest(
                f"policy {name!r}: path {pattern!r} has policy {shorthand!r};"
                f" expected one of {sorted(SHORTHAND)}"
            )
        caps |= SHORTHAND[shorthand]
    listed = body.get("capabilities", [])
    if not isinstance(listed, list) or not all(isinstance(c, str) for c in listed):
        raise BadRequest(
            f"policy {name!r}: path {pattern!r}: 'capabilities' must be a list"
        )
    for capability in listed:
        if capability.lower() not in CAPABILITIES:
            raise BadRequest(
                f"policy {name!r}: path {pattern!r} has unknown capability"
                f" {capability!r}; expected some of {sorted(CAPABILITIES)}"
            )
        caps.add(capability.lower())
    return Rule(pattern.lstrip("/"), frozenset(caps))


@functools.lru_cache(maxsize=256)
def parse_cached(name, text):
    """Parse a stored policy once per process."""
    return parse(name, text)


class ACL:
    """The union of a token's policies, answering what it may do on a path."""

    def __init__(self, rule_sets):
        self.exact = {}
        self.globs = {}
        for rules in rule_sets:
            for rule in rules:
                table = self.exact if _is_exact(rule.pattern) else self.globs
                table[rule.pattern] = table.get(rule.pattern, frozenset()) | (
                    rule.capabilities
                )

    def capabilities(self, path, listing=False):
        """Return the capabilities granted on `path` (empty when denied).

        A list is asked for with a trailing slash; as in Vault, an exact rule
        with or without that slash, then a glob matching the path without it,
        then one matching it with it, decide.
        """
        bare = path[:-1] if listing and path.endswith("/") else None
        caps = self.exact.get(path)
        if caps is None and bare is not None:
            caps = self.exact.get(bare)
        if caps is None and bare is not None:
            caps = self._glob(bare)
        if caps is None:
            caps = self._glob(path)
        if caps is None:
            return frozenset()
        return frozenset() if "deny" in caps else caps

    def _glob(self, path):
        matching = [p for p in self.globs if _glob_matches(p, path)]
        if not matching:
            return None
        return self.globs[max(matching, key=_priority)]


def _is_exact(pattern):
    return "+" not in pattern and not pattern.endswith("*")


def _glob_matches(pattern, path):
    return _compile(pattern).match(path) is not None


@functools.lru_cache(maxsize=1024)
def _compile(pattern):
    parts = []
    segments = pattern.split("/")
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "+":
            parts.append(r"[^/]+")
        elif last and segment.endswith("*"):
            parts.append(re.escape(segment[:-1]) + ".*")
        else:
            parts.append(re.escape(segment))
    return re.compile("/".join(parts) + r"\Z", re.DOTALL)


def _priority(pattern):
    # Vault's order for overlapping wildcard rules: a later first wildcard
    # wins, then no trailing '*', then fewer '+', then the longer pattern.
    first_wildcard = min(
        [i for i, c in enumerate(pattern) if c in "+*"] or [len(pattern)]
    )
    return (
        first_wildcard,
        not pattern.endswith("*"),
        -pattern.count("+"),
        len(pattern),
        pattern,
    )
