"""Test support for the OTP helper: a stand-in HTTP(S) server, a PKI, a runner."""

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path

# Shared with the end-to-end tests in tests/e2e.
from support.otp_host import HELPER_SOURCE
from support.otp_host import make_pki  # noqa: F401 - re-exported for conftest

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
