"""The server's secret key: encryption at rest and the keys derived from it.

The key lives in a file outside the database. Registered private keys are
sealed with AES-256-GCM under a key derived from it; OTPs, tokens and audit
entries use HMAC keys derived from it, so a database dump alone lets nobody
log in or reverse an audit line.
"""

import base64
import hashlib
import hmac
import logging
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

logger = logging.getLogger(__name__)

KEY_BYTES = 32
NONCE_BYTES = 12


class SealError(Exception):
    """The seal key is missing, malformed or does not match the database."""


class Seal:
    """Encrypt, decrypt and hash with keys derived from the seal key."""

    def __init__(self, key):
        if len(key) != KEY_BYTES:
            raise SealError(f"the seal key must be {KEY_BYTES} bytes")
        self._aead = AESGCM(self._derive(key, b"openvault seal v1"))
        self._keys = {
            purpose: self._derive(key, f"openvault {purpose} v1".encode())
            for purpose in ("otp", "token", "audit", "check")
        }

    @staticmethod
    def _derive(key, info):
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(
            key
        )

    def encrypt(self, plaintext, context):
        """Seal bytes; `context` binds the ciphertext to where it is stored."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, context.encode())

    def decrypt(self, sealed, context):
        """Open bytes sealed by encrypt() under the same context."""
        return self._aead.decrypt(
            sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], context.encode()
        )

    def digest(self, purpose, value):
        """Return the hex HMAC-SHA256 of a secret under the key for `purpose`."""
        return hmac.new(self._keys[purpose], value.encode(), hashlib.sha256).hexdigest()

    def check_value(self):
        """Return a value that identifies this key without revealing it."""
        return self.digest("check", "openvault seal check")


def load_or_create(path, create=True):
    """Read the seal key file; create it (mode 0600) if missing and `create`."""
    try:
        with open(path, "rb") as handle:
            text = handle.read().strip()
    except FileNotFoundError:
        if not create:
            raise SealError(
                f"seal key file {path} does not exist, but the database was"
                " initialized with a seal key: point 'seal_key_file' at that key"
            ) from None
        key = os.urandom(KEY_BYTES)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(base64.b64encode(key) + b"\n")
        logger.info("created a new seal key file at %s", path)
        return Seal(key)
    try:
        key = base64.b64decode(text, validate=True)
    except ValueError:
        raise SealError(f"seal key file {path} does not hold base64 text") from None
    if len(key) != KEY_BYTES:
        raise SealError(f"seal key file {path} must hold {KEY_BYTES} bytes of key")
    return Seal(key)
