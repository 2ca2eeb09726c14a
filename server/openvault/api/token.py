"""The token auth method.

POST  auth/token/create, auth/token/create-orphan
GET   auth/token/lookup-self      POST auth/token/lookup {"token"} (sudo)
POST  auth/token/revoke-self      POST auth/token/revoke {"token"} (sudo)
POST  auth/token/renew-self
"""

import json
import time

from openvault import tokens
from openvault.api.routing import Reply
from openvault.api.routing import route
from openvault.audit import timestamp
from openvault.errors import BadRequest
from openvault.tokens import policies_of

# The system's maximum token TTL, counted from the token's creation.
MAX_TTL = tokens.DEFAULT_TOKEN_TTL


def create_token(call):
    """Create a child token (or an orphan) with a subset of the caller's policies."""
    parent = call.token
    parent_policies = policies_of(parent)
    is_root = "root" in parent_policies
    for unsupported in ("num_uses", "period"):
        if call.get(unsupported):
            raise BadRequest(f"'{unsupported}' is not supported by this server")
    if call.get("type", "service") != "service":
        raise BadRequest("'type' must be \"service\": batch tokens are not supported")
    requested = [p.lower() for p in call.get("policies", [])]
    if not requested:
        requested = [p for p in parent_policies if p != "default"] or ["default"]
    if not is_root and not set(requested) <= set(parent_policies) | {"default"}:
        raise BadRequest("child policies must be subset of parent")
    policies = sorted(set(requested))
    if not call.get("no_default_policy", False) and "root" not in policies:
        policies = sorted(set(policies) | {"default"})
    ttl = call.get("ttl") or None
    explicit_max = call.get("explicit_max_ttl") or 0
    if explicit_max:
        ttl = min(ttl or explicit_max, explicit_max)
    if not is_root and parent.expire_time is not None:
        remaining = int(parent.expire_time - time.time())
        ttl = min(ttl or tokens.DEFAULT_TOKEN_TTL, remaining)
    warnings = _cap(ttl)
    if warnings:
        ttl = MAX_TTL
    custom_id = call.get("id")
    if custom_id and not is_root:
        raise BadRequest("'id' may only be set by a root token")
    orphan_path = call.path.rstrip("/").endswith("create-orphan")
    orphan = orphan_path or call.get("no_parent", False)
    if orphan and not is_root and not orphan_path:
        raise BadRequest("'no_parent' may only be set by a root token")
    display = call.get("display_name", "")
    token_id, row = tokens.create(
        call.state.seal,
        policies,
        ttl=ttl,
        display_name=f"token-{display}" if display else "token",
        parent=None if orphan else parent.digest,
        orphan=orphan,
        meta=call.get("meta", {}),
        renewable=call.get("renewable", True),
        token_id=custom_id,
    )
    return Reply(auth=_auth_block(token_id, row), warnings=warnings)


def _cap(ttl):
    # As in Vault, a TTL above the system maximum is capped, with a warning.
    if not ttl or ttl <= MAX_TTL:
        return []
    return [
        f'TTL of "{ttl}s" exceeded the effective max_ttl of "{MAX_TTL}s"; TTL'
        " value is capped accordingly"
    ]


def lookup_self(call):
    """Describe the calling token."""
    return Reply(data=_describe(call.token_id, call.token))


def lookup_token(call):
    """Describe another token (sudo)."""
    token_id = call.get("token", "")
    row = tokens.lookup(call.state.seal, token_id)
    if row is None:
        raise BadRequest("bad token")
    return Reply(data=_describe(token_id, row))


def revoke_self(call):
    """Revoke the calling token and its children."""
    tokens.revoke(call.token)


def revoke_token(call):
    """Revoke another token and its children (sudo)."""
    row = tokens.lookup(call.state.seal, call.get("token", ""))
    if row is not None:
        tokens.revoke(row)


def renew_self(call):
    """Extend the calling token's TTL by its creation TTL (or `increment`)."""
    row = call.token
    if not row.renewable or row.expire_time is None:
        raise BadRequest("lease is not renewable")
    increment = call.get("increment") or row.creation_ttl
    row.expire_time = min(time.time() + increment, row.issue_time + MAX_TTL)
    row.save()
    return Reply(auth=_auth_block(call.token_id, row))


def _auth_block(token_id, row):
    policies = policies_of(row)
    ttl = round(row.expire_time - time.time()) if row.expire_time else 0
    return {
        "client_token": token_id,
        "accessor": row.accessor,
        "policies": policies,
        "token_policies": policies,
        "metadata": json.loads(row.meta) or None,
        "lease_duration": ttl,
        "renewable": row.renewable,
        "entity_id": "",
        "token_type": "service",
        "orphan": row.orphan,
        "mfa_requirement": None,
        "num_uses": 0,
    }


def _describe(token_id, row):
    ttl = int(row.expire_time - time.time()) if row.expire_time else 0
    return {
        "accessor": row.accessor,
        "creation_time": int(row.issue_time),
        "creation_ttl": row.creation_ttl,
        "display_name": row.display_name,
        "entity_id": "",
        "expire_time": timestamp(row.expire_time) if row.expire_time else None,
        "explicit_max_ttl": 0,
        "id": token_id,
        "issue_time": timestamp(row.issue_time),
        "meta": json.loads(row.meta) or None,
        "num_uses": 0,
        "orphan": row.orphan,
        "path": "auth/token/create"
        if "root" not in row.policies
        else "auth/token/root",
        "policies": policies_of(row),
        "renewable": row.renewable,
        "ttl": max(ttl, 0),
        "type": "service",
    }


CREATE_FIELDS = {
    "policies": "comma",
    "ttl": "duration",
    "explicit_max_ttl": "duration",
    "display_name": "string",
    "no_parent": "bool",
    "no_default_policy": "bool",
    "renewable": "bool",
    "meta": "map",
    "num_uses": "int",
    "period": "duration",
    "type": "string",
    "id": "string",
}

ROUTES = [
    route(
        r"auth/token/create(?:-orphan)?",
        fields=CREATE_FIELDS,
        update=create_token,
        synopsis="Create a token.",
    ),
    route(
        "auth/token/lookup-self",
        read=lookup_self,
        update=lookup_self,
        synopsis="Look up the calling token.",
    ),
    route(
        "auth/token/lookup",
        fields={"token": "string"},
        update=lookup_token,
        sudo=True,
        synopsis="Look up a token.",
    ),
    route(
        "auth/token/revoke-self",
        update=revoke_self,
        synopsis="Revoke the calling token.",
    ),
    route(
        "auth/token/revoke",
        fields={"token": "string"},
        update=revoke_token,
        sudo=True,
        synopsis="Revoke a token.",
    ),
    route(
        "auth/token/renew-self",
        fields={"increment": "duration"},
        update=renew_self,
        synopsis="Renew the calling token.",
    ),
]
