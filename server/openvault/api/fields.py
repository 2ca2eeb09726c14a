"""Typed request fields: declared per route, converted the way Vault converts."""

import json
from dataclasses import dataclass

from openvault.errors import BadRequest
from openvault.validate import parse_duration

PREFIX = "Field validation failed: error converting input for field"


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
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise BadRequest(
            f'{PREFIX} "{name}": expected an integer, got {json.dumps(value)}'
        )
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
