"""Typed request fields: declared per route, converted the way Vault converts."""

import json
from dataclasses import dataclass

from openvault.errors import BadRequest
from openvault.validate import parse_duration

PREFIX = "Field validation failed: error converting input for field"
# Vault's integer fields are 64-bit; larger numbers would also overflow the
# database's integer columns.
INT_MIN = -(2**63)
INT_MAX = 2**63 - 1


@dataclass(frozen=True)
class Field:
    """One parameter a path accepts."""

    type: str = "string"
    description: str = ""
    default: object = None


def convert(name, field, value):
    """Return `value` converted to the field's type, or raise BadRequest."""
    kind = field.type
    if kind == "string":
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        if isinstance(value, str):
            return value
        raise BadRequest(
            f'{PREFIX} "{name}": expected a string, got {_json_type(value)}'
        )
    if kind == "int":
        if isinstance(value, bool):
            raise BadRequest(f'{PREFIX} "{name}": expected an integer, got a boolean')
        number = None
        if isinstance(value, int):
            number = value
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        elif isinstance(value, str) and value.strip().isascii():
            # isascii: Python's int() also reads other scripts' digits.
            try:
                number = int(value.strip())
            except ValueError:
                pass
        if number is not None and INT_MIN <= number <= INT_MAX:
            return number
        raise BadRequest(f'{PREFIX} "{name}": expected an integer, got {_shown(value)}')
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
            return value.lower() in ("true", "1")
        raise BadRequest(f'{PREFIX} "{name}": expected true or false, got {value!r}')
    if kind == "duration":
        if isinstance(value, list | dict):
            raise BadRequest(
                f'{PREFIX} "{name}": expected a duration, got {_json_type(value)}'
            )
        return parse_duration(name, value)
    if kind == "comma":
        if isinstance(value, str):
            return [entry.strip() for entry in value.split(",") if entry.strip()]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return [entry.strip() for entry in value if entry.strip()]
        raise BadRequest(
            f'{PREFIX} "{name}": expected a comma-separated string or a list of'
            f" strings, got {_json_type(value)}"
        )
    if kind == "map":
        if isinstance(value, dict):
            return value
        if isinstance(value, str):
            try:
                parsed = json.loads(value) if value else {}
            except json.JSONDecodeError:
                parsed = None
            if isinstance(parsed, dict):
                return parsed
        raise BadRequest(
            f'{PREFIX} "{name}": expected an object, got {_json_type(value)}'
        )
    if kind == "raw":
        return value
    raise AssertionError(f"unknown field type {kind}")


def _shown(value):
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:40] + "..."


def _json_type(value):
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if value is None:
        return "null"
    return "a string"
