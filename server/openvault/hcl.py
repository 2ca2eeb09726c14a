"""A small parser for the HCL subset that Vault policies and config files use.

It reads attributes (`key = value`), labelled blocks (`path "ssh/*" { ... }`),
strings, heredocs, numbers, booleans, lists and objects, with `#`, `//` and
`/* */` comments. Blocks come back as dictionaries keyed by their labels, so
`path "a" {...} path "b" {...}` becomes {"path": {"a": {...}, "b": {...}}}.
"""

import json
import re

TOKEN = re.compile(
    r"""
    (?P<space>[ \t\r\n]+)
  | (?P<comment>\#[^\n]*|//[^\n]*|/\*.*?\*/)
  | (?P<heredoc><<-?(?P<tag>[A-Za-z_][A-Za-z0-9_]*)\n)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_\-.]*)
  | (?P<punct>[{}\[\]=,:])
    """,
    re.VERBOSE | re.DOTALL,
)


class HCLError(ValueError):
    """The text is not valid HCL; the message names the line."""


def loads(text):
    """Parse HCL (or JSON, which is valid input too) into nested dictionaries."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise HCLError(f"invalid JSON at line {exc.lineno}: {exc.msg}") from None
    return _Parser(text).body(top=True)


def _tokenize(text):
    pos = 0
    line = 1
    while pos < len(text):
        match = TOKEN.match(text, pos)
        if not match:
            raise HCLError(f"line {line}: unexpected character {text[pos]!r}")
        kind = match.lastgroup
        if kind == "tag":
            kind = "heredoc"
        value = match.group(0)
        if kind == "heredoc":
            tag = match.group("tag")
            end = re.compile(rf"^[ \t]*{tag}[ \t]*$", re.MULTILINE)
            closing = end.search(text, match.end())
            if not closing:
                raise HCLError(f"line {line}: heredoc {tag} is not closed")
            body = text[match.end() : closing.start()]
            yield "string", body, line
            line += value.count("\n") + body.count("\n") + 1
            pos = closing.end()
            continue
        if kind not in ("space", "comment"):
            yield kind, value, line
        line += value.count("\n")
        pos = match.end()


class _Parser:
    def __init__(self, text):
        self.tokens = list(_tokenize(text))
        self.pos = 0

    def peek(self):
        if self.pos < len(self.tokens):
            return self.tokens[self.pos]
        return ("eof", "", self.tokens[-1][2] if self.tokens else 1)

    def take(self, kind=None, value=None):
        token = self.peek()
        if (kind and token[0] != kind) or (value and token[1] != value):
            wanted = value or kind
            raise HCLError(f"line {token[2]}: expected {wanted}, got {token[1]!r}")
        self.pos += 1
        return token

    def body(self, top=False):
        result = {}
        while True:
            kind, value, line = self.peek()
            if kind == "eof":
                if not top:
                    raise HCLError(f"line {line}: missing closing brace")
                return result
            if kind == "punct" and value == "}" and not top:
                self.pos += 1
                return result
            if kind == "punct" and value == ",":
                self.pos += 1
                continue
            if kind not in ("ident", "string"):
                raise HCLError(f"line {line}: expected a key, got {value!r}")
            self.pos += 1
            key = _unquote(value) if kind == "string" else value
            self.item(result, key, line)

    def item(self, result, key, line):
        labels = []
        while self.peek()[0] == "string":
            labels.append(_unquote(self.take()[1]))
        kind, value, _ = self.peek()
        if not labels and kind == "punct" and value in ("=", ":"):
            self.pos += 1
            result[key] = self.value()
            return
        self.take("punct", "{")
        block = self.body()
        target = result
        for label in [key, *labels[:-1]]:
            target = target.setdefault(label, {})
            if not isinstance(target, dict):
                raise HCLError(f"line {line}: {key!r} is both a value and a block")
        last = labels[-1] if labels else None
        if last is None:
            existing = result.get(key)
            if isinstance(existing, dict):
                existing.update(block)
            else:
                result[key] = block
        else:
            target.setdefault(last, {}).update(block)

    def value(self):
        kind, value, line = self.take()
        if kind == "string":
            return _unquote(value)
        if kind == "number":
            return float(value) if "." in value else int(value)
        if kind == "ident" and value in ("true", "false"):
            return value == "true"
        if kind == "punct" and value == "[":
            items = []
            while not (self.peek()[0] == "punct" and self.peek()[1] == "]"):
                items.append(self.value())
                if self.peek()[1] == ",":
                    self.pos += 1
            self.pos += 1
            return items
        if kind == "punct" and value == "{":
            return self.body()
        raise HCLError(f"line {line}: expected a value, got {value!r}")


def _unquote(token):
    if token.startswith('"'):
        return json.loads(token)
    return token
