"""Differential engine: replay scripted steps on OpenBao and on our server, compare.

A sequence is a JSON file under sequences/: {"name", "description", "steps"}.
Each step is {"id", "method", "path", "body" | "raw", "token", "headers",
"status", "capture", "loose", "select"}:

- `token` is "root" (default), "none" (no header), "bogus" (a token that does
  not exist) or "$name" (a token captured by an earlier step).
- `status` is the status OpenBao is expected to answer; a step whose reference
  answer differs is a broken script, not a difference.
- `capture` {"name": "data.key"} keeps a value of each side's answer; "$name"
  in a later path, body, token or header is replaced by that side's value.
- `loose` lists JSON paths ("data.keys[]") whose values are random by nature:
  only their types are compared.
- `select` lists the JSON paths to compare, for answers that also hold what
  only one server has; the rest of the body is left out.

Answers are compared by status, envelope keys, data keys, value types and
values, after values that are random by design are reduced to their shape
(UUIDs, timestamps, tokens, accessors, lease ids by `<prefix>/creds/<role>/<id>`)
and counters that tick (ttl) are compared within a few seconds. Every
difference is matched against allowed_differences.yaml, whose entries each
carry the reason the difference is deliberate.
"""

from __future__ import annotations

import difflib
import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
SEQUENCES_DIR = HERE / "sequences"
ALLOWED_FILE = HERE / "allowed_differences.yaml"

# libyaml when PyYAML has it: the file is read once per deletion test.
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
ABSENT = "<absent>"
BOGUS_TOKEN = "s.NoSuchTokenNoSuchToken00"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
SHAPES = [
    (re.compile(rf"^{UUID}$"), "<uuid>"),
    (
        re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$"),
        "<timestamp>",
    ),
    (re.compile(r"^s\.[A-Za-z0-9]{24}$"), "<token>"),
    # Each server names its own build: v2.7.2+builtin.bao, v0.1.0+builtin.openvault.
    (re.compile(r"^v\d+\.\d+\.\d+\+builtin\.\w+$"), "<plugin-version>"),
]
# Lease ids end in a UUID here and in 24 base62 characters in OpenBao; that is
# a deliberate choice (docs/api.md), so only the structure is compared.
LEASE_ID = re.compile(
    rf"^(?P<prefix>[\w.@/-]+/creds/[\w.@-]+)/({UUID}|[A-Za-z0-9]{{24}})$"
)
# Values that are random per token or mount, whatever their spelling.
OPAQUE_KEYS = {"accessor", "client_token", "id"}
# Counters that tick between the two requests: equal within TOLERANCE seconds.
TICKING_KEYS = {"ttl", "lease_duration", "creation_time"}
TOLERANCE = 5
SIDES = ("openbao", "openvault")
VARIABLE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


class ScriptError(AssertionError):
    """A sequence is broken: OpenBao did not answer as the script expects."""


@dataclass
class Answer:
    """One side's answer to a step."""

    status: int
    body: object  # parsed JSON, the raw text when it is not JSON, or None
    headers: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Difference:
    """One way the two answers to a step disagree."""

    sequence: str
    step: str
    aspect: str  # status, body, envelope key, key, type, value, error
    path: str  # JSON path inside the answer ("" for the whole answer)
    ours: object
    openbao: object

    def key(self):
        """Return what an allowed-differences entry must match."""
        return (
            self.sequence,
            self.step,
            self.aspect,
            self.path,
            _canonical(self.ours),
            _canonical(self.openbao),
        )


@dataclass
class StepResult:
    """A step as sent and both answers, normalised, with their differences."""

    sequence: str
    step: dict
    request: str  # one line: method, path, body
    answers: dict  # side -> normalised view {"status": ..., "body": ...}
    differences: list


@dataclass
class Target:
    """A server to send steps to: its address and root token."""

    name: str
    addr: str
    root_token: str


def load_sequences(directory=SEQUENCES_DIR):
    """Return every sequence, in file-name order, after checking its shape."""
    sequences = []
    mounts = {}
    for path in sorted(Path(directory).glob("*.json")):
        sequence = json.loads(path.read_text())
        name = sequence["name"]
        assert name == path.stem, f"{path.name}: name must be {path.stem!r}"
        ids = [step["id"] for step in sequence["steps"]]
        assert len(ids) == len(set(ids)), f"{path.name}: step ids repeat"
        for step in sequence["steps"]:
            assert "status" in step, f"{name}/{step['id']}: no expected status"
            found = re.match(r"sys/mounts/([^/]+)$", step["path"])
            if found and step["method"] in ("POST", "PUT"):
                owner = mounts.setdefault(found.group(1), name)
                assert owner == name, f"mount {found.group(1)} used by {owner}, {name}"
        sequences.append(sequence)
    return sequences


def load_allowed(path=ALLOWED_FILE):
    """Return the allowed differences; each entry must give its reason."""
    entries = yaml.load(Path(path).read_text(), Loader=LOADER) or []
    for number, entry in enumerate(entries, 1):
        missing = {"sequence", "step", "aspect", "path", "ours", "openbao", "reason"}
        missing -= set(entry)
        assert not missing, f"entry {number} lacks {sorted(missing)}: {entry}"
        assert str(entry["reason"]).strip(), f"entry {number} has an empty reason"
    return entries


def entry_key(entry):
    """Return an allowed entry's match key, comparable with Difference.key()."""
    return (
        entry["sequence"],
        entry["step"],
        entry["aspect"],
        entry["path"],
        _canonical(entry["ours"]),
        _canonical(entry["openbao"]),
    )


def send(target, method, path, *, token, body=None, raw=None, headers=None):
    """Send one request to /v1/<path> and return its Answer."""
    data = raw.encode() if raw is not None else None
    if body is not None:
        data = json.dumps(body).encode()
    request = urllib.request.Request(
        f"{target.addr}/v1/{path}", data=data, method=method
    )
    if token:
        request.add_header("X-Vault-Token", token)
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            status, text, got = reply.status, reply.read(), dict(reply.headers)
    except urllib.error.HTTPError as exc:
        status, text, got = exc.code, exc.read(), dict(exc.headers)
    text = text.decode(errors="replace")
    if not text.strip():
        return Answer(status, None, got)
    try:
        return Answer(status, json.loads(text), got)
    except json.JSONDecodeError:
        return Answer(status, text, got)


class Runner:
    """Runs sequences on both targets and keeps each sequence's results."""

    def __init__(self, openbao, openvault):
        self.targets = {"openbao": openbao, "openvault": openvault}
        self.results = {}

    def run(self, sequence):
        """Run a sequence once (cached); return its list of StepResult."""
        name = sequence["name"]
        if name not in self.results:
            self.results[name] = self._run(sequence)
        return self.results[name]

    def _run(self, sequence):
        variables = {side: {} for side in SIDES}
        results = []
        for step in sequence["steps"]:
            answers = {}
            for side in SIDES:
                answers[side] = self._send(side, step, variables[side])
            bao = answers["openbao"]
            if bao.status != step["status"]:
                raise ScriptError(
                    f"{sequence['name']}/{step['id']}: OpenBao answered "
                    f"{bao.status}, the script expects {step['status']}:\n"
                    f"{json.dumps(bao.body, indent=2)}"
                )
            for side in SIDES:
                for var, where in step.get("capture", {}).items():
                    variables[side][var] = _pick(answers[side].body, where)
            views = {
                side: normalise(answers[side], step.get("select")) for side in SIDES
            }
            differences = [
                Difference(sequence["name"], step["id"], *found)
                for found in compare(
                    views["openvault"], views["openbao"], step.get("loose", [])
                )
            ]
            results.append(
                StepResult(sequence["name"], step, describe(step), views, differences)
            )
        return results

    def _send(self, side, step, variables):
        target = self.targets[side]
        token = step.get("token", "root")
        if token == "root":
            token = target.root_token
        elif token == "none":
            token = None
        elif token == "bogus":
            token = BOGUS_TOKEN
        return send(
            target,
            step["method"],
            _fill(step["path"], variables),
            token=_fill(token, variables),
            body=_fill(step.get("body"), variables),
            raw=_fill(step.get("raw"), variables),
            headers=_fill(step.get("headers"), variables),
        )


def normalise(answer, select=None):
    """Return {"status", "body"} with random values reduced to their shapes.

    With `select` (JSON paths), the body is reduced to those parts, for answers
    that also hold what only one server has (such as OpenBao's other mounts).
    """
    body = answer.body
    if select and isinstance(body, dict) and "errors" not in body:
        body = {where: _pick(body, where, ABSENT) for where in select}
    return {"status": answer.status, "body": _shape(body, "")}


def _shape(value, key):
    if isinstance(value, dict):
        return {name: _shape(item, name) for name, item in value.items()}
    if isinstance(value, list):
        return [_shape(item, key) for item in value]
    if isinstance(value, str):
        found = LEASE_ID.match(value)
        if found:
            return f"{found.group('prefix')}/<lease-id>"
        if key in OPAQUE_KEYS and value:
            return "<opaque>"
        for pattern, shape in SHAPES:
            if pattern.match(value):
                return shape
    return value


def compare(ours, bao, loose=()):
    """Return (aspect, path, ours, openbao) for each disagreement of two views."""
    found = []

    def report(aspect, path, mine, theirs):
        found.append((aspect, path, mine, theirs))

    if ours["status"] != bao["status"]:
        report("status", "", ours["status"], bao["status"])
    _compare_body(ours["body"], bao["body"], loose, report)
    return found


def _compare_body(ours, bao, loose, report):
    if _kind(ours) != _kind(bao):
        report("body", "", ours, bao)
        return
    if not isinstance(ours, dict):
        if ours != bao:
            report("body", "", ours, bao)
        return
    if "errors" in ours and ours["errors"] != bao["errors"]:
        report("error", "errors", ours["errors"], bao["errors"])
    for key in sorted((set(ours) | set(bao)) - {"errors"}):
        _compare_key(ours, bao, key, "", loose, report, "envelope key")


def _kind(body):
    if body is None:
        return "empty"
    if isinstance(body, dict):
        return "error" if "errors" in body else "envelope"
    return "text"


def _compare_key(ours, bao, key, prefix, loose, report, aspect="key"):
    path = f"{prefix}.{key}" if prefix else key
    if key not in ours or key not in bao:
        report(aspect, path, ours.get(key, ABSENT), bao.get(key, ABSENT))
        return
    _compare_value(ours[key], bao[key], path, key, loose, report)


def _compare_value(ours, bao, path, key, loose, report):
    if _type(ours) != _type(bao):
        report("type", path, ours, bao)
        return
    if _is_loose(path, loose):
        return
    if isinstance(ours, dict):
        for name in sorted(set(ours) | set(bao)):
            _compare_key(ours, bao, name, path, loose, report)
        return
    if isinstance(ours, list):
        if _is_loose(f"{path}[]", loose) and len(ours) == len(bao):
            for index, (mine, theirs) in enumerate(zip(ours, bao, strict=True)):
                if _type(mine) != _type(theirs):
                    report("type", f"{path}[{index}]", mine, theirs)
            return
        scalars = all(not isinstance(v, dict | list) for v in ours + bao)
        if scalars or len(ours) != len(bao):
            if ours != bao:
                report("value", path, ours, bao)
            return
        for index, (mine, theirs) in enumerate(zip(ours, bao, strict=True)):
            _compare_value(mine, theirs, f"{path}[{index}]", key, loose, report)
        return
    if key in TICKING_KEYS and _type(ours) == "number":
        if abs(ours - bao) > TOLERANCE:
            report("value", path, ours, bao)
        return
    if ours != bao:
        report("value", path, ours, bao)


def _is_loose(path, loose):
    general = re.sub(r"\[\d+\]", "[]", path)
    return general in loose or path in loose


def _type(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    return "object"


def _brief(value):
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 200 else text[:197] + "..."


def _canonical(value):
    return json.dumps(value, sort_keys=True)


def _pick(body, where, missing=None):
    value = body
    for part in where.split("."):
        if not isinstance(value, dict) or part not in value:
            return missing
        value = value[part]
    return value


def _fill(value, variables):
    if isinstance(value, str):
        whole = VARIABLE.fullmatch(value)
        if whole and whole.group(1) in variables:
            return variables[whole.group(1)]
        return VARIABLE.sub(lambda m: str(variables.get(m.group(1), m.group(0))), value)
    if isinstance(value, dict):
        return {k: _fill(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, variables) for v in value]
    return value


def describe(step):
    """Return a step's request on one line."""
    text = f"{step['method']} /v1/{step['path']}"
    if step.get("body") is not None:
        text += " " + json.dumps(step["body"])
    if step.get("raw") is not None:
        text += " raw " + json.dumps(step["raw"])
    token = step.get("token", "root")
    if token != "root":
        text += f"  (token: {token})"
    return text


def check(results, allowed):
    """Return (unexplained differences, stale entries) for one sequence's results.

    `allowed` holds the entries of every sequence; only those naming a sequence
    in `results` can be stale here.
    """
    sequences = {result.sequence for result in results}
    pool = [entry for entry in allowed if entry["sequence"] in sequences]
    used = set()
    unexplained = []
    for result in results:
        for difference in result.differences:
            matches = [
                index
                for index, entry in enumerate(pool)
                if entry_key(entry) == difference.key()
            ]
            if matches:
                used.update(matches)
            else:
                unexplained.append(difference)
    stale = [entry for index, entry in enumerate(pool) if index not in used]
    return unexplained, stale


def report(results, unexplained, stale):
    """Return a readable account of what disagrees, with both answers side by side."""
    lines = []
    by_step = {}
    for difference in unexplained:
        by_step.setdefault((difference.sequence, difference.step), []).append(
            difference
        )
    for result in results:
        found = by_step.get((result.sequence, result.step["id"]))
        if not found:
            continue
        lines.append("")
        lines.append(f"== {result.sequence} / {result.step['id']}: {result.request}")
        for difference in found:
            where = f" {difference.path}" if difference.path else ""
            lines.append(f"   {difference.aspect}{where}:")
            lines.append(f"      openbao   : {_brief(difference.openbao)}")
            lines.append(f"      openvault : {_brief(difference.ours)}")
        lines.extend(
            side_by_side(result.answers["openbao"], result.answers["openvault"])
        )
        lines.append(
            "   to allow it (only with a reason: DESIGN.md, docs/api.md, an OpenBao"
            " bug):"
        )
        lines.extend("   " + line for line in entry_text(found).splitlines())
    if stale:
        lines.append("")
        lines.append(
            "== stale entries in allowed_differences.yaml (the difference no longer"
            " occurs; remove them):"
        )
        for entry in stale:
            lines.append(
                f"   {entry['sequence']} / {entry['step']} {entry['aspect']}"
                f" {entry['path']}: openbao {_brief(entry['openbao'])},"
                f" openvault {_brief(entry['ours'])}"
            )
    return "\n".join(lines)


def side_by_side(bao, ours, width=60):
    """Return the two normalised answers as two columns, differing lines marked."""
    left = _pretty(bao)
    right = _pretty(ours)
    rows = [f"   {'openbao':<{width}} | openvault"]
    matcher = difflib.SequenceMatcher(a=left, b=right, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        chunk_left = left[i1:i2]
        chunk_right = right[j1:j2]
        for index in range(max(len(chunk_left), len(chunk_right))):
            a = chunk_left[index] if index < len(chunk_left) else ""
            b = chunk_right[index] if index < len(chunk_right) else ""
            mark = " " if tag == "equal" else "*"
            rows.append(f" {mark} {_cut(a, width):<{width}} | {b}")
    return rows


def _pretty(view):
    text = json.dumps(view["body"], indent=2, sort_keys=True)
    return [f"status {view['status']}"] + text.splitlines()


def _cut(text, width):
    return text if len(text) <= width else text[: width - 3] + "..."


def entry_text(differences):
    """Return YAML entries that would allow these differences (reason to fill)."""
    entries = [
        {
            "sequence": d.sequence,
            "step": d.step,
            "aspect": d.aspect,
            "path": d.path,
            "openbao": d.openbao,
            "ours": d.ours,
            "reason": "TODO",
        }
        for d in differences
    ]
    return yaml.safe_dump(entries, sort_keys=False, allow_unicode=True, width=80)
