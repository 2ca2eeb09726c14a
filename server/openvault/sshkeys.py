"""SSH key handling: parsing registered keys and naming them by fingerprint."""

import base64
import hashlib
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.asymmetric import rsa

from openvault.errors import BadRequest


@dataclass(frozen=True)
class ParsedKey:
    """A private key in a canonical PEM form, with its public identity."""

    pem: str
    key_type: str
    fingerprint: str


def parse_private_key(field, text):
    """Parse a PEM or OpenSSH private key; refuse public keys and garbage."""
    data = text.strip().encode()
    if data.startswith((b"ssh-", b"ecdsa-", b"-----BEGIN PUBLIC", b"-----BEGIN SSH2")):
        raise BadRequest(f"'{field}' must be a private key, got a public key")
    key = None
    for loader in (
        serialization.load_pem_private_key,
        serialization.load_ssh_private_key,
    ):
        try:
            key = loader(data + b"\n", password=None)
            break
        except (ValueError, TypeError):
            continue
        except Exception:
            continue
    if key is None:
        raise BadRequest(
            f"'{field}' is not a readable SSH private key: expected an unencrypted"
            " PEM (BEGIN RSA/EC/PRIVATE KEY) or OpenSSH (BEGIN OPENSSH PRIVATE KEY) key"
        )
    if not isinstance(
        key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
    ):
        raise BadRequest(f"'{field}' must be an RSA, ECDSA or Ed25519 key")
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    key_type = public.split(b" ", 1)[0].decode()
    return ParsedKey(pem=pem, key_type=key_type, fingerprint=fingerprint(public))


def fingerprint(public_line):
    """Return OpenSSH's SHA256 fingerprint of a public key line (bytes or str)."""
    if isinstance(public_line, str):
        public_line = public_line.encode()
    blob = base64.b64decode(public_line.split()[1])
    digest = base64.b64encode(hashlib.sha256(blob).digest()).rstrip(b"=").decode()
    return f"SHA256:{digest}"


def seal_context(mount, name):
    """Return the context a registered key is sealed under."""
    return f"ssh-key:{mount.uuid}:{name}"
