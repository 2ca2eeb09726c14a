"""Fixtures for the conformance suite: a live OpenBao dev server and our server."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from conformance.differ import Runner
from conformance.differ import Target
from support.hosts import require_testhosts
from support.hosts import unique_name
from support.openbao import bao_binary
from support.openbao import bao_env
from support.openbao import random_token
from support.otp_host import Pki
from support.otp_host import install_by_the_guide
from support.otp_host import make_pki
from support.processes import die_with_parent
from support.processes import free_port_pair
from support.server import RunningServer
from testhost import TestHost
from unit.collection_hosts import make_admin_key
from unit.collection_hosts import prepare_dynamic_host

START_TIMEOUT = 30


class OpenBaoDev:
    """`bao server -dev` on 127.0.0.1 with an in-memory store and a private HOME."""

    def __init__(self):
        self.home = Path(tempfile.mkdtemp(prefix="openbao-dev-"))
        self.token = random_token()
        self.log_path = self.home / "bao.log"
        self.process = None
        self.addr = ""

    def start(self):
        """Start bao and wait until it is unsealed and serving."""
        for _ in range(3):
            port = free_port_pair()
            self.addr = f"http://127.0.0.1:{port}"
            with open(self.log_path, "ab") as log:
                self.process = subprocess.Popen(
                    [
                        str(bao_binary()),
                        "server",
                        "-dev",
                        f"-dev-listen-address=127.0.0.1:{port}",
                        f"-dev-root-token-id={self.token}",
                        "-dev-no-store-token",
                    ],
                    cwd=self.home,
                    env=bao_env(self.home),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=die_with_parent,
                )
            if self._wait():
                return self
            self.stop()
        raise RuntimeError(f"bao did not start:\n{self.log()[-3000:]}")

    def _wait(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False  # most likely lost the port race: try another
            try:
                with urllib.request.urlopen(
                    f"{self.addr}/v1/sys/health", timeout=2
                ) as reply:
                    if reply.status == 200:
                        return True
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        return False

    def stop(self):
        """Stop bao and wait for it."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def log(self):
        """Return what bao printed."""
        return self.log_path.read_text(errors="replace")

    def remove(self):
        """Stop bao and delete its directory."""
        self.stop()
        shutil.rmtree(self.home, ignore_errors=True)


@pytest.fixture(scope="session")
def openbao():
    """A live OpenBao dev server for the whole session, removed afterwards."""
    server = OpenBaoDev()
    try:
        server.start()
        yield Target("openbao", server.addr, server.token)
    finally:
        server.remove()


@pytest.fixture(scope="session")
def openvault_shared(tmp_path_factory):
    """One of our servers for the whole session's differential runs."""
    server = RunningServer(tmp_path_factory.mktemp("openvault"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def runner(openbao, openvault_shared):
    """Runs sequences on both servers and caches each sequence's results."""
    return Runner(
        openbao, Target("openvault", openvault_shared.addr, openvault_shared.root_token)
    )


# ------------------------------------------------------------ client tests


@dataclass
class ClientLab:
    """Our server on the test hosts' gateway (TLS) and one host set up for it.

    The host checks OTPs through the helper installed by docs/otp-helper.md
    (PAM and sshd as the guide says) and has the admin user that dynamic keys
    are installed through; alice is the user to log in as.
    """

    server: RunningServer
    host: TestHost
    pki: Pki
    admin_key: str  # the admin user's private key, to register at keys/

    @property
    def ca_cert(self) -> str:
        """The CA file clients must trust to reach the server."""
        return str(self.pki.ca_cert)


@pytest.fixture(scope="module")
def client_lab(request, tmp_path_factory):
    """One ClientLab per test module; its tests use their own roles and mounts."""
    require_testhosts()
    workdir = tmp_path_factory.mktemp("client-lab")
    pki = make_pki(workdir)
    hint = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_clients_")
    host = TestHost.create(unique_name(f"cf-{hint}"), owner_pid=os.getpid())
    server = None
    try:
        server = RunningServer(
            workdir / "server",
            listen="198.51.100.1:0",
            tls=(pki.server_cert, pki.server_key),
            ca_file=pki.ca_cert,
        ).start()
        host.add_user("alice")
        install_by_the_guide(host, server.addr, pki.ca_cert.read_bytes(), "*")
        private, public = make_admin_key(workdir)
        prepare_dynamic_host(host, public, users=())
        yield ClientLab(server, host, pki, private)
    finally:
        if server is not None:
            server.stop()
        host.destroy()
