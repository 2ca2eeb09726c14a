"""ACL policies in Vault's syntax: parsing, and what a set of them allows."""

import functools
import re
from dataclasses import dataclass
from dataclasses import field

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
    "min_wrapping_ttl",
    "max_wrapping_ttl",
    "mfa_methods",
    "control_group",
    "pagination_limit",
    "response_keys_filter_path",
)
PATH_OPTIONS = {
    "capabilities",
    "policy",
    "comment",
    "allowed_parameters",
    "denied_parameters",
    "required_parameters",
    *UNENFORCED,
}
# Operations whose request data the parameter options constrain, as in Vault.
PARAMETER_OPERATIONS = ("read", "update", "create", "patch")

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
    """What a policy grants on one path pattern.

    `allowed` and `denied` map lower-cased parameter names to the values
    allowed or denied (empty: any value); None when the option is not set.
    """

    pattern: str
    capabilities: frozenset
    allowed: dict | None = None
    denied: dict | None = None
    required: tuple = ()


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
    unknown = sorted(set(body) - PATH_OPTIONS)
    if unknown:
        raise BadRequest(
            f"policy {name!r}: path {pattern!r} has unknown keys {unknown};"
            f" expected some of {sorted(PATH_OPTIONS - set(UNENFORCED))}"
        )
    for option in UNENFORCED:
        if option in body:
            raise BadRequest(
                f"policy {name!r}: path {pattern!r} uses '{option}', which this"
                " server does not enforce; remove it"
            )
    caps = _capabilities(name, pattern, body)
    return Rule(
        pattern.lstrip("/"),
        frozenset(caps),
        allowed=_parameter_values(name, pattern, body, "allowed_parameters"),
        denied=_parameter_values(name, pattern, body, "denied_parameters"),
        required=_required(name, pattern, body),
    )


def _capabilities(name, pattern, body):
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
    return caps


def _parameter_values(name, pattern, body, option):
    if option not in body:
        return None
    given = body[option]
    if not isinstance(given, dict) or not all(
        isinstance(values, list) for values in given.values()
    ):
        raise BadRequest(
            f"policy {name!r}: path {pattern!r}: '{option}' must map parameter"
            ' names to lists of values, such as { "ip" = ["192.0.2.*"] }'
        )
    return {key.lower(): tuple(values) for key, values in given.items()}


def _required(name, pattern, body):
    given = body.get("required_parameters", [])
    if not isinstance(given, list) or not all(isinstance(p, str) for p in given):
        raise BadRequest(
            f"policy {name!r}: path {pattern!r}: 'required_parameters' must be a"
            " list of parameter names"
        )
    return tuple(given)


@functools.lru_cache(maxsize=256)
def parse_cached(name, text):
    """Parse a stored policy once per process."""
    return parse(name, text)


@dataclass
class Permissions:
    """What the rules of a token's policies for one path pattern grant."""

    capabilities: frozenset = frozenset()
    allowed: dict = field(default_factory=dict)
    denied: dict = field(default_factory=dict)
    required: tuple = ()

    def merge(self, rule):
        """Add one policy's rule for the same pattern, the way Vault merges."""
        if "deny" in rule.capabilities:
            self.capabilities = frozenset({"deny"})
            self.allowed, self.denied = {}, {}
            return
        if "deny" in self.capabilities:
            return
        self.capabilities |= rule.capabilities
        self.allowed = _merge_values(self.allowed, rule.allowed or {})
        self.denied = _merge_values(self.denied, rule.denied or {})
        self.required += tuple(p for p in rule.required if p not in self.required)

    def allows(self, data):
        """Tell whether request data passes the parameter options, as in Vault."""
        if any(name.lower() not in data for name in self.required):
            return False
        if not data:
            return True
        if "*" in self.denied:
            return False
        for name, value in data.items():
            values = self.denied.get(name.lower())
            if values is not None and _value_in(value, values):
                return False
        if not self.allowed or set(self.allowed) == {"*"}:
            return True
        for name, value in data.items():
            values = self.allowed.get(name.lower())
            if values is None and "*" not in self.allowed:
                return False
            if values is not None and not _value_in(value, values):
                return False
        return True


def _merge_values(existing, given):
    if not given:
        return existing
    merged = dict(existing)
    for key, values in given.items():
        # As in Vault, an empty list (any value) wins over any list.
        if not values or (key in merged and not merged[key]):
            merged[key] = ()
        else:
            merged[key] = tuple(values) + tuple(merged.get(key, ()))
    return merged


def _value_in(value, values):
    if not values:
        return True
    for item in values:
        if isinstance(item, str) and isinstance(value, str):
            if _glob_value(item, value):
                return True
        elif item == value:
            return True
    return False


def _glob_value(item, value):
    # Vault's parameter globs: a leading and/or trailing '*' only.
    if len(item) < 2:
        return item == value
    if item.startswith("*") and item.endswith("*"):
        return item[1:-1] in value
    if item.startswith("*"):
        return value.endswith(item[1:])
    if item.endswith("*"):
        return value.startswith(item[:-1])
    return item == value


class ACL:
    """The union of a token's policies, answering what it may do on a path."""

    def __init__(self, rule_sets):
        self.exact = {}
        self.globs = {}
        for rules in rule_sets:
            for rule in rules:
                table = self.exact if _is_exact(rule.pattern) else self.globs
                table.setdefault(rule.pattern, Permissions()).merge(rule)

    def capabilities(self, path, listing=False):
        """Return the capabilities granted on `path` (empty when denied)."""
        found = self.permissions(path, listing)
        if found is None or "deny" in found.capabilities:
            return frozenset()
        return found.capabilities

    def permissions(self, path, listing=False):
        """Return the Permissions of the rule that decides `path`, or None.

        A list is asked for with a trailing slash; as in Vault, an exact rule
        with or without that slash, then a glob matching the path without it,
        then one matching it with it, decide.
        """
        bare = path[:-1] if listing and path.endswith("/") else None
        found = self.exact.get(path)
        if found is None and bare is not None:
            found = self.exact.get(bare)
        if found is None and bare is not None:
            found = self._glob(bare)
        if found is None:
            found = self._glob(path)
        return found

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
