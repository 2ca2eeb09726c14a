"""Key fingerprints computed locally match ssh-keygen's."""

from __future__ import annotations

import importlib
import subprocess

import pytest


@pytest.fixture(scope="module")
def fingerprint(collection_imports):
    """The _fingerprint module."""
    return importlib.import_module(
        "ansible_collections.openvault.ssh.plugins.module_utils._fingerprint"
    )


def make_key(path, *options):
    """Create a key with ssh-keygen; return (private text, ssh-keygen -l fp)."""
    subprocess.run(
        ["ssh-keygen", "-q", "-N", "", "-f", str(path), *options], check=True
    )
    listed = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return path.read_text(), listed[1]


def run_command(args):
    """The run_command contract of AnsibleModule, on subprocess."""
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    return done.returncode, done.stdout, done.stderr


KEYS = [
    ("ssh-rsa", ("-t", "rsa", "-b", "2048", "-m", "PEM")),
    ("ssh-rsa", ("-t", "rsa", "-b", "2048")),
    ("ssh-ed25519", ("-t", "ed25519")),
    ("ecdsa-sha2-nistp256", ("-t", "ecdsa", "-b", "256")),
]


@pytest.mark.parametrize(("key_type", "options"), KEYS)
@pytest.mark.parametrize("use_cryptography", [True, False])
def test_fingerprint_matches_ssh_keygen(
    fingerprint, tmp_path, key_type, options, use_cryptography
):
    """Both ways (cryptography, ssh-keygen -y) give ssh-keygen -l's SHA256."""
    private, expected = make_key(tmp_path / "key", *options)

    got = fingerprint.private_key_fingerprint(
        private, run_command, use_cryptography=use_cryptography
    )

    assert got == (expected, key_type)


@pytest.mark.parametrize("use_cryptography", [True, False])
def test_fingerprint_rejects_a_non_key_without_echoing_it(
    fingerprint, use_cryptography
):
    """A bad key is refused; the message never contains what was given."""
    secret = "-----BEGIN OPENSSH PRIVATE KEY-----\nc2VjcmV0LW1hdGVyaWFs\n"

    with pytest.raises(fingerprint.FingerprintError) as raised:
        fingerprint.private_key_fingerprint(
            secret, run_command, use_cryptography=use_cryptography
        )

    assert "c2VjcmV0" not in str(raised.value)
    assert "unencrypted SSH private key" in str(raised.value)


def test_fingerprint_rejects_an_encrypted_key(fingerprint, tmp_path):
    """A passphrase-protected key is refused, not prompted for."""
    path = tmp_path / "locked"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "pass phrase", "-f", str(path)],
        check=True,
    )

    for use_cryptography in (True, False):
        with pytest.raises(fingerprint.FingerprintError):
            fingerprint.private_key_fingerprint(
                path.read_text(), run_command, use_cryptography=use_cryptography
            )
