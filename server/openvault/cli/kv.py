"""Turn key=value arguments into a request body, as `vault write` does."""

import json
import sys

from openvault.cli.flags import UsageError

PREFIX = "Failed to parse K=V data: error"


class StdinOnce:
    """Standard input, which one argument at most may consume."""

    def __init__(self, stream=None):
        self.stream = stream
        self.used = False

    def read(self):
        """Return all of stdin; refuse a second reader."""
        if self.used:
            raise UsageError(
                "Failed to parse K=V data: stdin can be used by one argument only"
            )
        self.used = True
        return (self.stream or sys.stdin).read()


def read_file(path, prefix="Error"):
    """Return a file's text, or a usage error that names the file."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as error:
        raise UsageError(f"{prefix} reading file {path!r}: {error.strerror}") from None


def load_json_object(text, origin):
    """Parse a JSON object given as a whole body (`-` or `@file`)."""
    try:
        value = json.loads(text)
    except ValueError as error:
        raise UsageError(f"Failed to parse JSON from {origin}: {error}") from None
    if not isinstance(value, dict):
        raise UsageError(f"Failed to parse JSON from {origin}: not a JSON object")
    return value


def add_value(body, key, value):
    """Set a key; a key given twice becomes a list of its values."""
    if key not in body:
        body[key] = value
    elif isinstance(body[key], list):
        body[key].append(value)
    else:
        body[key] = [body[key], value]


def parse_pairs(args, stdin=None):
    """Build a body from `k=v`, `k=@file`, `k=-`, `@file.json` and `-`."""
    stdin = StdinOnce(stdin)
    body = {}

    for arg in args:
        if arg == "-":
            body.update(load_json_object(stdin.read(), "stdin"))
            continue
        if arg.startswith("@") and "=" not in arg:
            body.update(load_json_object(read_file(arg[1:], PREFIX), arg[1:]))
            continue
        key, has_value, value = arg.partition("=")
        # A "-name=value" after the path is a misplaced flag, never data.
        if not has_value or not key or key.startswith("-"):
            hint = " (flags go before the path)" if arg.startswith("-") else ""
            raise UsageError(
                f'Failed to parse K=V data: invalid key/value pair "{arg}": '
                f"format must be key=value{hint}"
            )
        if value == "-":
            value = stdin.read()
        elif value.startswith("@"):
            value = read_file(value[1:], PREFIX)
        add_value(body, key, value)

    return body
