"""pytest plugin: real openvault server processes, driven over HTTP.

Each RunningServer is `openvault server -config FILE` in its own directory,
with SQLite storage, an audit file, and a free port picked by the server.
"""

import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
START_TIMEOUT = 20


@dataclass
class Reply:
    """An HTTP answer: status, parsed JSON (or None), raw text and headers.

    `headers` matches names in any case, as HTTP does: the server sends
    them in lower case.
    """

    status: int
    json: object
    text: str
    headers: Message


class RunningServer:
    """One server process and its files."""

    def __init__(
        self,
        data_dir,
        listen="127.0.0.1:0",
        tls=None,
        ca_file=None,
        extra_config="",
        workers=1,
    ):
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.listen = listen
        self.tls = tls
        self.ca_file = ca_file
        self.extra_config = extra_config
        self.workers = workers
        self.log_path = self.data_dir / "server.log"
        self.audit_path = self.data_dir / "audit.log"
        self.config_path = self.data_dir / "config.hcl"
        self.addr = ""
        self.root_token = ""
        self.process = None
        self._write_config()

    def _write_config(self):
        tls = ""
        if self.tls:
            tls = f'tls_cert_file = "{self.tls[0]}"\n  tls_key_file = "{self.tls[1]}"'
        self.config_path.write_text(
            f"""
listener "tcp" {{
  address = "{self.listen}"
  {tls}
}}
storage "sqlite" {{
  path = "{self.data_dir / "openvault.db"}"
}}
seal_key_file = "{self.data_dir / "seal.key"}"
audit_log = "{self.audit_path}"
workers = {self.workers}
threads = 8
sweep_interval = 0.2
log_level = "debug"
{self.extra_config}
"""
        )

    def start(self):
        """Start the process and wait until it serves; initialize it once."""
        log = open(self.log_path, "ab")
        offset = self.log_path.stat().st_size
        self.process = subprocess.Popen(
            [str(BIN / "openvault"), "server", f"-config={self.config_path}"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.addr = self._wait_for_address(offset)
        if self.listen.endswith(":0"):
            # Come back on the same port after a restart.
            self.listen = self.listen[:-2] + ":" + self.addr.rsplit(":", 1)[1]
            self._write_config()
        if not self.root_token:
            reply = self.request("PUT", "sys/init", {}, token=None)
            assert reply.status == 200, reply.text
            self.root_token = reply.json["root_token"]
        return self

    def _wait_for_address(self, offset):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"server exited at start:\n{self.log_text()[-3000:]}"
                )
            text = self.log_path.read_text(errors="replace")[offset:]
            for line in text.splitlines():
                if "Api Address:" in line:
                    address = line.split("Api Address:", 1)[1].strip()
                    if self._answers(address):
                        return address
            time.sleep(0.05)
        raise RuntimeError(f"server did not start:\n{self.log_text()[-3000:]}")

    def _answers(self, address):
        try:
            urllib.request.urlopen(
                f"{address}/v1/sys/health", timeout=2, context=self._context()
            )
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False
        return True

    def stop(self):
        """Send SIGTERM and wait for a clean exit; return the exit code."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            raise

    def _context(self):
        if not self.tls:
            return None
        return ssl.create_default_context(cafile=self.ca_file)

    def request(self, method, path, body=None, token="root", headers=None):
        """Send a request to /v1/<path>; token="root" means the root token."""
        token = self.root_token if token == "root" else token
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.addr}/v1/{path}", data=data, method=method
        )
        if token:
            request.add_header("X-Vault-Token", token)
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        try:
            with urllib.request.urlopen(
                request, timeout=30, context=self._context()
            ) as r:
                status, raw, got = r.status, r.read(), r.headers
        except urllib.error.HTTPError as exc:
            status, raw, got = exc.code, exc.read(), exc.headers
        text = raw.decode(errors="replace")
        try:
            parsed = json.loads(text) if text.strip() else None
        except json.JSONDecodeError:
            parsed = None
        return Reply(status, parsed, text, got)

    def mount_ssh(self, path="ssh", config=None):
        """Mount the ssh backend at `path`."""
        body = {"type": "ssh"}
        if config:
            body["config"] = config
        reply = self.request("POST", f"sys/mounts/{path}", body)
        assert reply.status == 204, reply.text

    def env(self):
        """Return the environment a Vault CLI needs to talk to this server."""
        env = dict(os.environ, VAULT_ADDR=self.addr, VAULT_TOKEN=self.root_token)
        if self.ca_file:
            env["VAULT_CACERT"] = str(self.ca_file)
        return env

    def log_text(self):
        """Return everything the server printed."""
        return (
            self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        )

    def audit_entries(self):
        """Return the audit log as a list of parsed entries."""
        if not self.audit_path.exists():
            return []
        return [json.loads(line) for line in self.audit_path.read_text().splitlines()]

    def assert_never_logged(self, *secrets):
        """Fail if any secret appears in clear in the server log or audit file."""
        audit = self.audit_path.read_text() if self.audit_path.exists() else ""
        log = self.log_text()
        for secret in secrets:
            assert secret not in log, "a secret appears in the server log"
            assert secret not in audit, "a secret appears in the audit log"


@pytest.fixture
def ov_server_factory(tmp_path):
    """Return start(listen=..., tls=(cert, key), ca_file=..., ...) -> RunningServer."""
    servers = []

    def start(name="server", **kwargs):
        server = RunningServer(tmp_path / name, **kwargs)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def ov_server(ov_server_factory):
    """A fresh server on 127.0.0.1 with nothing mounted."""
    return ov_server_factory()
