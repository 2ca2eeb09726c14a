"""The audit device: one JSON line per request and per response.

Every value that could be a secret is replaced by `hmac-sha256:<hex>` under a
key derived from the seal key, so an operator can find the lines of a known
OTP or token (see sys/audit-hash) while the log itself reveals none.
"""

import json
import logging
import os
import threading
import time
from datetime import UTC
from datetime import datetime

logger = logging.getLogger(__name__)

# Fields that are never secret and stay readable in the audit log. Every
# other string is HMACed, so a new secret-bearing field is safe by default.
CLEAR_FIELDS = frozenset(
    {
        "admin_user",
        "allowed_users",
        "cidr_list",
        "default_lease_ttl",
        "default_user",
        "description",
        "display_name",
        "exclude_cidr_list",
        "increment",
        "ip",
        "key_bits",
        "key_type",
        "keys",
        "lease_id",
        "max_lease_ttl",
        "max_ttl",
        "message",
        "name",
        "path",
        "policies",
        "port",
        "prefix",
        "role_name",
        "roles",
        "ttl",
        "type",
        "username",
        "fingerprint",
    }
)


class AuditLog:
    """Writes audit entries to every enabled file device."""

    def __init__(self, seal):
        self.seal = seal
        self._files = {}
        self._lock = threading.Lock()

    def hash(self, value):
        """Return the audit form of a secret value."""
        return "hmac-sha256:" + self.seal.digest("audit", str(value))

    def scrub(self, value, key=None):
        """Return a copy of request or response data with secrets HMACed."""
        if isinstance(value, dict):
            return {k: self.scrub(v, k) for k, v in value.items()}
        if isinstance(value, list):
            if key in CLEAR_FIELDS:
                return [self.scrub(v, key) for v in value]
            return [self.scrub(v) for v in value]
        if isinstance(value, str) and key not in CLEAR_FIELDS:
            return self.hash(value)
        return value

    def write(self, paths, entry):
        """Append one entry to each device file."""
        if not paths:
            return
        line = (json.dumps(entry, separators=(",", ":"), default=str) + "\n").encode()
        for path in paths:
            try:
                # One write() on an O_APPEND descriptor: lines from several
                # worker processes never interleave.
                os.write(self._descriptor(path), line)
            except OSError as exc:
                logger.error("cannot write audit log %s: %s", path, exc)

    def _descriptor(self, path):
        with self._lock:
            fd = self._files.get(path)
            if fd is None:
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                self._files[path] = fd
            return fd

    def auth_block(self, token):
        """Return the auth part of an entry for a token row (or None)."""
        if token is None:
            return None
        return {
            "accessor": self.hash(token.accessor),
            "display_name": token.display_name,
            "policies": [p for p in token.policies.split(",") if p],
            "token_type": "service",
        }


def timestamp(epoch=None):
    """Return an RFC 3339 UTC time with nanosecond-style precision like Vault."""
    moment = datetime.fromtimestamp(epoch if epoch is not None else time.time(), UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
