"""Route tables and the objects handlers see: Call in, Reply out."""

import re
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from openvault.api.fields import Field


@dataclass
class Route:
    """One path pattern with its handlers by operation (read/update/delete/list)."""

    pattern: str
    operations: dict
    fields: dict = field(default_factory=dict)
    unauthenticated: bool = False
    # Root-protected: the token also needs the 'sudo' capability.
    sudo: bool = False
    # Tells whether the target exists, so a write needs 'create' or 'update'.
    exists: Callable | None = None
    synopsis: str = ""
    description: str = ""

    def __post_init__(self):
        # ASCII: names follow Vault's pattern, whose \w is [A-Za-z0-9_].
        self.regex = re.compile(self.pattern + r"\Z", re.ASCII)


@dataclass
class Reply:
    """What a handler answers; the dispatcher wraps it in Vault's envelope."""

    data: Any = None
    warnings: list = field(default_factory=list)
    lease_id: str = ""
    lease_duration: int = 0
    renewable: bool = False
    auth: dict | None = None
    status: int = 200
    # A raw text/plain body instead of the JSON envelope.
    text: str | None = None
    # Keys repeated at the top level of the envelope, for old clients.
    top_level: dict | None = None
    # Extra facts for the audit log's response entry.
    audit: dict | None = None
    # What the request did, in words for the server log (never a secret):
    # it ends the request's log line.
    log: str = ""


@dataclass
class Call:
    """A request as a handler sees it: operation, path, typed data and context."""

    operation: str
    path: str
    params: dict
    data: dict
    route: Route
    state: Any
    mount: Any = None
    token: Any = None
    # The token string itself: only for answers that must show it.
    token_id: str = ""
    remote_addr: str = ""
    request_id: str = ""

    def get(self, name, default=None):
        """Return a field's value, else its declared default, else `default`."""
        if name in self.data:
            return self.data[name]
        declared = self.route.fields.get(name)
        if declared is not None and declared.default is not None:
            return declared.default
        return default

    def has(self, name):
        """Tell whether the request gave this field."""
        return name in self.data


def route(pattern, fields=None, **kwargs):
    """Build a Route; `fields` maps names to Field or to a type name."""
    declared = {
        name: spec if isinstance(spec, Field) else Field(spec)
        for name, spec in (fields or {}).items()
    }
    operations = {
        op: kwargs.pop(op)
        for op in ("read", "update", "delete", "list")
        if op in kwargs
    }
    return Route(pattern, operations, declared, **kwargs)


def match(routes, path):
    """Return (route, params) for the first route matching `path`, or None."""
    for candidate in routes:
        found = candidate.regex.match(path)
        if found:
            return candidate, found.groupdict()
    return None
