"""Helpers for the dynamic-key tests: admin keys, prepared hosts, roles, logins."""

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.asymmetric import rsa

ADMIN = "vaultadmin"
# The sudoers line of the backend's documentation.
SUDOERS = f"{ADMIN} ALL=(ALL) NOPASSWD: ALL\n"
INSTALL_SCRIPT = (
    Path(__file__).resolve().parents[2] / "server" / "openvault" / "install_script.sh"
)


@dataclass
class AdminKey:
    """A private key to register at keys/, and its authorized_keys line."""

    pem: str
    public: str


def make_admin_key(kind="rsa"):
    """Return a fresh admin key pair (RSA 2048, ECDSA P-256 or Ed25519)."""
    if kind == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        fmt = serialization.PrivateFormat.TraditionalOpenSSL
    elif kind == "ecdsa":
        key = ec.generate_private_key(ec.SECP256R1())
        fmt = serialization.PrivateFormat.PKCS8
    else:
        key = ed25519.Ed25519PrivateKey.generate()
        fmt = serialization.PrivateFormat.OpenSSH
    pem = key.private_bytes(serialization.Encoding.PEM, fmt, _no_password()).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return AdminKey(pem=pem, public=public.decode() + " vault-admin")


def _no_password():
    return serialization.NoEncryption()


def prepare_host(host, admin_key, users=("alice",), sudoers=SUDOERS):
    """Add the admin user (sudoers entry, admin key) and target users to a host."""
    host.add_user(ADMIN)
    host.write_file(f"/etc/sudoers.d/{ADMIN}", sudoers, mode=0o440)
    host.authorize_key(ADMIN, admin_key.public)
    for user in users:
        host.add_user(user)
    return host


def register(server, admin_key, name="dev_key", mount="ssh"):
    """Register the admin key at <mount>/keys/<name>."""
    reply = server.request("POST", f"{mount}/keys/{name}", {"key": admin_key.pem})
    assert reply.status == 204, reply.text


def write_role(server, name, ip, mount="ssh", **fields):
    """Write a dynamic role for `ip` with the documented fields; return its name."""
    body = {
        "key_type": "dynamic",
        "key": "dev_key",
        "admin_user": ADMIN,
        "default_user": "alice",
        "cidr_list": f"{ip}/32",
    }
    body.update(fields)
    reply = server.request("POST", f"{mount}/roles/{name}", body)
    assert reply.status in (200, 204), reply.text
    return name


def creds(server, role, ip, username=None, mount="ssh"):
    """POST creds/<role>; return the reply (status not checked)."""
    body = {"ip": ip}
    if username:
        body["username"] = username
    return server.request("POST", f"{mount}/creds/{role}", body)


def issue(server, role, ip, username=None, mount="ssh"):
    """POST creds/<role> and insist on success; return the reply JSON."""
    reply = creds(server, role, ip, username, mount)
    assert reply.status == 200, reply.text
    return reply.json


def key_file(directory, pem, name="dyn_key.pem"):
    """Save a returned private key where ssh -i accepts it (mode 0600)."""
    path = Path(directory) / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(pem)
    return path


def ssh(host, user, identity, *command, timeout=60):
    """Run a command on the host through a real ssh login with `identity`."""
    return subprocess.run(
        [*host.ssh_args(user, identity), *command],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def authorized_keys(host, user="alice"):
    """Return the bytes of the user's authorized_keys (b"" when missing)."""
    path = host.home(user) + "/.ssh/authorized_keys"
    return host.read_file(path) if host.exists(path) else b""


def lease_status(server, lease_id):
    """Return sys/leases/lookup data for a lease, or None when it is gone."""
    reply = server.request("PUT", "sys/leases/lookup", {"lease_id": lease_id})
    if reply.status == 400:
        return None
    assert reply.status == 200, reply.text
    return reply.json["data"]


def leases_under(server, prefix):
    """Return LIST sys/leases/lookup/<prefix> keys ([] on 404)."""
    reply = server.request("LIST", f"sys/leases/lookup/{prefix}")
    if reply.status == 404:
        return []
    assert reply.status == 200, reply.text
    return reply.json["data"]["keys"]


def wait_for(predicate, timeout=20, interval=0.1, message="condition"):
    """Poll `predicate` until it returns a true value; return that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)
