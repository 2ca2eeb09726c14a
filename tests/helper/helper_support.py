"""Test support for the OTP helper: a stand-in HTTP(S) server, a PKI, a runner."""

import dataclasses
import datetime
import ipaddress
import json
import os
import shutil
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path

import openvault.ssh_helper
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HELPER_SOURCE = Path(openvault.ssh_helper.__file__)

# What Vault's verify answers for a good OTP (see the server contract), for
# 127.0.0.1. Loopback is the only address a test machine surely has, and the
# helper counts it as local only inside allowed_cidr_list, so configs that
# should pass the IP check carry LOOPBACK_CIDRS.
GOOD_REPLY = {
    "request_id": "5d3c6a2e-0000-4000-8000-000000000001",
    "lease_id": "",
    "renewable": False,
    "lease_duration": 0,
    "data": {"ip": "127.0.0.1", "role_name": "web.prod", "username": "alice"},
    "wrap_info": None,
    "warnings": None,
    "auth": None,
}
LOOPBACK_CIDRS = 'allowed_cidr_list = "127.0.0.1/32, ::1/128"'
ECHO_REPLY = dict(GOOD_REPLY, data={"message": "verify-echo-response"})
OTP = "8f2c1a57-3b9e-4d6f-a0c4-2e7b91d3f6a8"


@dataclasses.dataclass
class Seen:
    """One request the stand-in server received."""

    method: str
    path: str
    headers: dict
    body: bytes

    def json(self):
        """Return the request body parsed as JSON."""
        return json.loads(self.body)


class StandIn:
    """A real HTTP(S) server on 127.0.0.1 that answers verify with a set reply."""

    def __init__(self, tls_context=None, host="127.0.0.1"):
        self.status = 200
        self.reply = None
        self.delay = 0.0
        self.seen = []
        self.sni = []
        self._stop = threading.Event()
        self._httpd = ThreadingHTTPServer((host, 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._httpd.owner = self
        scheme = "http"
        if tls_context is not None:
            tls_context.sni_callback = self._record_sni
            self._httpd.socket = tls_context.wrap_socket(
                self._httpd.socket, server_side=True
            )
            scheme = "https"
        self.port = self._httpd.server_address[1]
        self.addr = f"{scheme}://{host}:{self.port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()

    def answer(self, status=200, reply=None, delay=0.0):
        """Set what the next requests get: a status, a JSON-able or bytes body.

        With no reply it answers like Vault: the echo reply to the echo
        request and GOOD_REPLY to anything else.
        """
        self.status = status
        self.reply = reply
        self.delay = delay

    def close(self):
        """Stop serving and release the port."""
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def _record_sni(self, _sock, name, _context):
        self.sni.append(name)


class _Handler(BaseHTTPRequestHandler):
    """Record each request and send the owner's configured answer."""

    def do_POST(self):  # noqa: N802 - the name http.server dispatches to
        self._answer()

    def do_PUT(self):  # noqa: N802
        self._answer()

    def do_GET(self):  # noqa: N802
        self._answer()

    def _answer(self):
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        owner.seen.append(Seen(self.command, self.path, dict(self.headers), body))
        if owner.delay:
            owner._stop.wait(owner.delay)

        reply = owner.reply
        if reply is None:
            echo = b'"verify-echo-request"' in body
            reply = ECHO_REPLY if echo else GOOD_REPLY
        data = reply if isinstance(reply, bytes) else json.dumps(reply).encode()
        try:
            self.send_response(owner.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the helper gave up first, which is what some tests want

    def log_message(self, *_args):
        pass


@dataclasses.dataclass
class Pki:
    """CA and server certificates written to files."""

    ca_cert: Path
    other_ca_cert: Path
    server_cert: Path
    server_key: Path
    named_cert: Path
    named_key: Path

    def server_context(self, named=False, max_version=None):
        """Return a server-side TLS context for the IP cert or the named cert."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        if named:
            context.load_cert_chain(self.named_cert, self.named_key)
        else:
            context.load_cert_chain(self.server_cert, self.server_key)
        if max_version is not None:
            context.maximum_version = max_version
        return context


def make_pki(directory):
    """Create two CAs and two leaf certificates under directory."""
    directory = Path(directory)
    ca_key, ca_cert = _make_ca("openvault test CA")
    _other_key, other_cert = _make_ca("some other CA")

    server_key, server_cert = _make_leaf(
        ca_key,
        ca_cert,
        [
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            # The test hosts' gateway, where their sshd reaches the server.
            x509.IPAddress(ipaddress.ip_address("198.51.100.1")),
            x509.DNSName("localhost"),
        ],
    )
    named_key, named_cert = _make_leaf(
        ca_key, ca_cert, [x509.DNSName("vault.example.com")]
    )

    paths = Pki(
        ca_cert=directory / "ca.pem",
        other_ca_cert=directory / "other-ca.pem",
        server_cert=directory / "server.pem",
        server_key=directory / "server-key.pem",
        named_cert=directory / "named.pem",
        named_key=directory / "named-key.pem",
    )
    _write_cert(paths.ca_cert, ca_cert)
    _write_cert(paths.other_ca_cert, other_cert)
    _write_cert(paths.server_cert, server_cert)
    _write_key(paths.server_key, server_key)
    _write_cert(paths.named_cert, named_cert)
    _write_key(paths.named_key, named_key)
    return paths


def _make_ca(name):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _make_leaf(ca_key, ca_cert, names):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "server")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def _write_cert(path, cert):
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _write_key(path, key):
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


@dataclasses.dataclass
class Run:
    """The outcome of one helper run."""

    returncode: int
    stdout: str
    stderr: str
    elapsed: float


def system_python():
    """Return the host's own python3 (Debian's), or this one if there is none."""
    for candidate in ("/usr/bin/python3", shutil.which("python3") or ""):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return sys.executable


def install_helper(directory):
    """Install the helper as a host would: copy the one file, make it executable."""
    target = Path(directory) / "openvault-ssh-helper"
    shutil.copyfile(HELPER_SOURCE, target)
    target.chmod(0o755)
    return target


def pam_env(user="alice", rhost="198.51.100.77", **extra):
    """Return the environment pam_exec gives the helper in the auth stack."""
    env = {
        "PATH": f"{Path(system_python()).parent}:/usr/sbin:/usr/bin:/sbin:/bin",
        "PAM_TYPE": "auth",
        "PAM_SERVICE": "sshd",
        "PAM_RHOST": rhost,
    }
    if user is not None:
        env["PAM_USER"] = user
    env.update(extra)
    return env


def run(command, args, stdin=b"", env=None, secrets=(), timeout=40):
    """Run the helper like pam_exec does and check no secret reaches its output."""
    typed = stdin.rstrip(b"\0\r\n").decode("utf-8", "replace")
    secrets = [*secrets, typed] if len(typed) >= 4 else list(secrets)
    started = time.monotonic()
    done = subprocess.run(
        [*command, *args],
        input=stdin,
        env=pam_env() if env is None else env,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    result = Run(
        done.returncode,
        done.stdout.decode("utf-8", "replace"),
        done.stderr.decode("utf-8", "replace"),
        time.monotonic() - started,
    )
    for secret in secrets:
        assert secret not in result.stdout, "a secret reached the helper's stdout"
        assert secret not in result.stderr, "a secret reached the helper's stderr"
    return result
