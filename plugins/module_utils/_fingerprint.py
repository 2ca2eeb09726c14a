# Copyright (c) 2026, openvault.ssh maintainers
# Mozilla Public License 2.0 (see LICENSE or https://mozilla.org/MPL/2.0/)
# SPDX-License-Identifier: MPL-2.0
"""SHA256 fingerprint of an SSH private key's public half, as ssh-keygen -l shows.

FOR INTERNAL COLLECTION USE ONLY: names here may change in any release.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile

try:
    from cryptography.hazmat.primitives import serialization

    HAS_CRYPTOGRAPHY = True
except ImportError:
    HAS_CRYPTOGRAPHY = False


class FingerprintError(Exception):
    """The key could not be read; the message never contains key material."""


def fingerprint_of_public_line(line):
    """Return (fingerprint, key_type) of an authorized_keys style public key."""
    fields = line.strip().split()
    if len(fields) < 2:
        raise FingerprintError("not an OpenSSH public key line")
    try:
        blob = base64.b64decode(fields[1], validate=True)
    except ValueError:
        raise FingerprintError("the public key is not valid base64") from None
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii")
    return "SHA256:" + digest.rstrip("="), fields[0]


def _public_line_with_cryptography(private_key):
    """Derive the public key line with the cryptography package."""
    data = private_key.encode("utf-8")
    loaders = (
        serialization.load_ssh_private_key,
        serialization.load_pem_private_key,
    )
    for loader in loaders:
        try:
            key = loader(data, password=None)
        except (ValueError, TypeError):
            continue
        except Exception:
            # Unsupported key types raise UnsupportedAlgorithm.
            continue
        public = key.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        )
        return public.decode("ascii")
    raise FingerprintError(
        "the key is not an unencrypted SSH private key (PEM or OpenSSH format)"
    )


def _public_line_with_ssh_keygen(private_key, run_command):
    """Derive the public key line with ssh-keygen -y on a 0600 temp file.

    run_command(args) returns (rc, stdout, stderr), as AnsibleModule's does.
    """
    fd, path = tempfile.mkstemp(prefix="openvault-key-")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(private_key.rstrip("\n") + "\n")
        rc, out, _err = run_command(["ssh-keygen", "-y", "-P", "", "-f", path])
    finally:
        os.unlink(path)
    if rc != 0:
        raise FingerprintError(
            "ssh-keygen could not read the key: it is not an unencrypted "
            "SSH private key"
        )
    return out


def private_key_fingerprint(private_key, run_command=None, use_cryptography=True):
    """Return (fingerprint, key_type) of the private key's public half.

    Without the cryptography package, run_command (see above) runs ssh-keygen.
    """
    if HAS_CRYPTOGRAPHY and use_cryptography:
        line = _public_line_with_cryptography(private_key)
    elif run_command:
        line = _public_line_with_ssh_keygen(private_key, run_command)
    else:
        raise FingerprintError(
            "computing the key fingerprint needs the Python package cryptography "
            "or the ssh-keygen program"
        )
    return fingerprint_of_public_line(line)
