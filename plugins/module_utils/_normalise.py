# Copyright (c) 2026, openvault.ssh maintainers
# Mozilla Public License 2.0 (see LICENSE or https://mozilla.org/MPL/2.0/)
# SPDX-License-Identifier: MPL-2.0
"""Normalise role and mount values so read-back and desired state compare.

FOR INTERNAL COLLECTION USE ONLY: names here may change in any release.
"""

from __future__ import annotations

import re

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h|d)")
_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "ms": 1e-3,
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
}

COMMON_FIELDS = (
    "key_type",
    "default_user",
    "cidr_list",
    "exclude_cidr_list",
    "port",
    "allowed_users",
    "ttl",
    "max_ttl",
)
DYNAMIC_FIELDS = (
    "key",
    "admin_user",
    "key_bits",
    "install_script",
    "key_option_specs",
)
LIST_FIELDS = ("cidr_list", "exclude_cidr_list", "allowed_users")
DURATION_FIELDS = ("ttl", "max_ttl")

# What the server stores for a field the write leaves out. A field missing
# here (install_script) has a server-side default this module cannot know.
ROLE_DEFAULTS = {
    "default_user": "",
    "cidr_list": "",
    "exclude_cidr_list": "",
    "port": 22,
    "allowed_users": "",
    "ttl": 0,
    "max_ttl": 0,
    "key": "",
    "admin_user": "",
    "key_bits": 2048,
    "key_option_specs": "",
}


def parse_duration(value, field="ttl"):
    """Return a duration (seconds, or a Go string such as 1h30m) in seconds."""
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise ValueError(f"'{field}' must be a duration such as 30m, got {value!r}")
    if isinstance(value, (int, float)):
        return int(value)
    text = str(value).strip()
    if re.fullmatch(r"\d+", text):
        return int(text)
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise ValueError(
            f"'{field}' must be a duration such as 30m or 90s, got '{value}'"
        )
    return int(round(sum(float(n) * _DURATION_UNITS[u] for n, u in parts)))


def normalise_list(value):
    """Return a comma list as the server compares it: entries trimmed, no blanks."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = value.split(",")
    return ",".join(str(entry).strip() for entry in value if str(entry).strip())


def normalise_map(value):
    """Return a map; a list of one-key maps (Vault's other spelling) is merged."""
    if not value:
        return {}
    if isinstance(value, dict):
        return dict(value)
    merged = {}
    for entry in value:
        if not isinstance(entry, dict):
            raise ValueError(f"expected a map or a list of maps, got {entry!r}")
        merged.update(entry)
    return merged


def role_fields(key_type):
    """Return the fields a role of key_type stores."""
    if key_type == "dynamic":
        return COMMON_FIELDS + DYNAMIC_FIELDS
    return COMMON_FIELDS


def normalise_field(field, value):
    """Return one role field in the form used for comparison."""
    if field in LIST_FIELDS:
        return normalise_list(value)
    if field in DURATION_FIELDS:
        return parse_duration(value, field)
    if field == "key_type":
        return str(value or "").lower()
    if field == "port":
        return int(value or 0) or 22
    if field == "key_bits":
        return int(value or 0) or 2048
    if isinstance(value, list) and all(isinstance(item, dict) for item in value):
        return normalise_map(value)
    return "" if value is None else value


def desired_role(params):
    """Return the full role a write should store, from module-style params.

    Fields the caller left out get the server's default, because a role write
    replaces the whole role. install_script is left out when not given so the
    server keeps its built-in script.
    """
    key_type = str(params["key_type"]).lower()
    role = {}
    for field in role_fields(key_type):
        value = params.get(field)
        if value is None:
            if field not in ROLE_DEFAULTS:
                continue
            value = ROLE_DEFAULTS[field]
        role[field] = normalise_field(field, value)
    role["key_type"] = key_type
    return role


def current_role(data, fields):
    """Return the server's read-back of a role restricted to fields, normalised."""
    role = {}
    for field in fields:
        if field in data:
            role[field] = normalise_field(field, data[field])
        elif field in ROLE_DEFAULTS:
            role[field] = normalise_field(field, ROLE_DEFAULTS[field])
    return role


def role_differences(current, desired):
    """Return the sorted names of fields whose values differ."""
    return sorted(
        field for field in desired if current.get(field) != desired.get(field)
    )
