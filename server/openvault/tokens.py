"""Auth tokens: creation, lookup by digest, revocation of a token and its children."""

import json
import logging
import secrets
import string
import time

from openvault.storage import fast
from openvault.storage.models import Token

logger = logging.getLogger(__name__)

ALPHABET = string.ascii_letters + string.digits
DEFAULT_TOKEN_TTL = 768 * 3600


def random_id(length=24):
    """Return a random base62 string."""
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def create(
    seal,
    policies,
    *,
    ttl=None,
    display_name="token",
    parent=None,
    orphan=False,
    meta=None,
    renewable=True,
    token_id=None,
):
    """Store a new token and return (token string, Token row)."""
    token_id = token_id or "s." + random_id()
    now = time.time()
    is_root = "root" in policies
    if ttl is None:
        ttl = 0 if is_root else DEFAULT_TOKEN_TTL
    row = Token.create(
        digest=seal.digest("token", token_id),
        accessor=random_id(),
        policies=",".join(policies),
        display_name=display_name,
        parent=None if orphan else parent,
        issue_time=now,
        expire_time=now + ttl if ttl else None,
        creation_ttl=ttl,
        renewable=renewable and bool(ttl),
        orphan=orphan or parent is None,
        meta=json.dumps(meta or {}),
    )
    logger.info(
        "token created: accessor %s, policies %s, ttl %ss", row.accessor, policies, ttl
    )
    return token_id, row


def lookup(seal, token_id):
    """Return the live Token row for a token string, or None."""
    if not token_id:
        return None
    row = fast.get(Token, seal.digest("token", token_id))
    if row is None:
        return None
    if row.expire_time is not None and row.expire_time <= time.time():
        revoke(row)
        return None
    return row


def revoke(row):
    """Delete a token and, recursively, the tokens it created."""
    pending = [row.digest]
    count = 0
    while pending:
        digest = pending.pop()
        children = Token.select(Token.digest).where(Token.parent == digest)
        pending.extend(child.digest for child in children)
        count += Token.delete().where(Token.digest == digest).execute()
    logger.info("token revoked: accessor %s (%d tokens in all)", row.accessor, count)


def policies_of(row):
    """Return the token's policy names."""
    return [name for name in row.policies.split(",") if name]
