"""Helpers for the API tests: mounts of the ssh backend on a running server."""

import datetime
import ipaddress
import itertools
import json
import os
import pathlib
import re
import sqlite3
import threading
import urllib.error
import urllib.request

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ENVELOPE = [
    "request_id",
    "lease_id",
    "renewable",
    "lease_duration",
    "data",
    "wrap_info",
    "warnings",
    "auth",
]
MULTI_DENIED = "1 error occurred:\n\t* permission denied\n\n"
UNSUPPORTED_PATH = "1 error occurred:\n\t* unsupported path\n\n"
UNSUPPORTED_OPERATION = "1 error occurred:\n\t* unsupported operation\n\n"
OTP_ROLE = {"key_type": "otp", "default_user": "alice", "cidr_list": "192.0.2.0/24"}

_names = itertools.count(1)


class Mount:
    """One ssh mount on a server, with shortcuts for its paths."""

    def __init__(self, server, path):
        self.server = server
        self.path = path

    def request(self, method, path, body=None, **kwargs):
        """Send a request to <mount>/<path>."""
        return self.server.request(method, f"{self.path}/{path}", body, **kwargs)

    def write_role(self, name, **fields):
        """Create or replace a role (OTP for 192.0.2.0/24 unless overridden)."""
        body = dict(OTP_ROLE, **fields)
        reply = self.request("POST", f"roles/{name}", body)
        assert reply.status in (200, 204), reply.text
        return reply

    def creds(self, role, ip="192.0.2.10", token="root", **fields):
        """Issue a credential and return the whole reply (asserting 200)."""
        reply = self.request(
            "POST", f"creds/{role}", dict(ip=ip, **fields), token=token
        )
        assert reply.status == 200, reply.text
        return reply

    def otp(self, role, ip="192.0.2.10", **fields):
        """Issue an OTP and return it."""
        return self.creds(role, ip, **fields).json["data"]["key"]

    def verify(self, otp):
        """Verify an OTP without a token."""
        return self.request("POST", "verify", {"otp": otp}, token=None)


def new_mount(server, prefix="ssh", config=None):
    """Mount the ssh backend at a fresh path and return it."""
    path = f"{prefix}-{next(_names)}"
    server.mount_ssh(path, config)
    return Mount(server, path)


def errors(reply):
    """Return the errors list of an error reply."""
    assert reply.json is not None, reply.text
    return reply.json["errors"]


def raw_request(server, method, path, data=b"", headers=None, prefix="/v1/"):
    """Send raw bytes to /v1/<path>; return (status, headers, parsed JSON or None)."""
    request = urllib.request.Request(
        f"{server.addr}{prefix}{path}", data=data, method=method
    )
    for key, value in {"Content-Type": "application/json", **(headers or {})}.items():
        request.add_header(key, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            status, raw, got = reply.status, reply.read(), reply.headers
    except urllib.error.HTTPError as exc:
        status, raw, got = exc.code, exc.read(), exc.headers
    return status, got, json.loads(raw) if raw.strip() else None


def race(count, action):
    """Run `action()` in `count` threads released at the same moment."""
    barrier = threading.Barrier(count)
    results = [None] * count

    def run(index):
        barrier.wait()
        results[index] = action()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def database_rows(server, table):
    """Return every row of a table of the server's SQLite database, as dicts."""
    connection = sqlite3.connect(
        f"file:{server.data_dir / 'openvault.db'}?mode=ro", uri=True
    )
    try:
        connection.row_factory = sqlite3.Row
        return [dict(row) for row in connection.execute(f"SELECT * FROM {table}")]
    finally:
        connection.close()


def database_bytes(server):
    """Return the raw bytes of the SQLite database and its write-ahead log."""
    content = b""
    for name in ("openvault.db", "openvault.db-wal"):
        path = server.data_dir / name
        if path.exists():
            content += path.read_bytes()
    return content


def make_pki(directory, hosts=("127.0.0.1",)):
    """Write a CA and a server certificate for `hosts`; return (ca, cert, key)."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "openvault test CA")])
    now = datetime.datetime.now(datetime.UTC)
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names = [
        x509.IPAddress(ipaddress.ip_address(host))
        if host[0].isdigit()
        else x509.DNSName(host)
        for host in hosts
    ]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = (directory / "ca.pem", directory / "server.pem", directory / "server.key")
    paths[0].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    paths[2].chmod(0o600)
    return paths


def child_pids(pid):
    """Return the ids of the processes whose parent is `pid`."""
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = (pathlib.Path("/proc") / entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            children.append(int(entry))
    return sorted(children)


def bytes_written(pid):
    """Return how many bytes a process has written (files, pipes, sockets)."""
    for line in (pathlib.Path("/proc") / str(pid) / "io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    raise AssertionError(f"no wchar in /proc/{pid}/io")
