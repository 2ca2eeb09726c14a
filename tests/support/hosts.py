"""Pytest fixtures for sshd test hosts in network namespaces (tests/testhost.py)."""

import logging
import os
import re
import secrets
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
from testhost import GATEWAY
from testhost import STATE_DIR
from testhost import TestHost
from testhost import TestHostError
from testhost import destroy_owned
from testhost import hold_gateway
from testhost import missing_requirements
from testhost import release_gateway
from testhost import sweep_stale

logger = logging.getLogger(__name__)


@dataclass
class SSHKey:
    """An ed25519 client key pair made for one test."""

    path: Path  # private key file, usable with ssh -i
    public: str  # the authorized_keys line


def require_testhosts() -> None:
    """Skip the calling test when test hosts cannot run on this machine."""
    reason = missing_requirements()
    if reason:
        pytest.skip(reason)


def unique_name(hint: str) -> str:
    """Return a host name made from HINT that no other test will pick."""
    base = re.sub(r"[^a-z0-9-]+", "-", hint.lower().removeprefix("test_"))
    base = base.strip("-")[:20].strip("-") or "host"
    return f"{base}-{secrets.token_hex(3)}"


@pytest.fixture
def testhost_factory(request):
    """Return make(name_hint="host", ip=None) -> started TestHost.

    Every host made is destroyed after the test, whatever its outcome.
    """
    require_testhosts()

    def make(name_hint: str = "host", *, ip: str | None = None) -> TestHost:
        host = TestHost.create(unique_name(name_hint), ip=ip, owner_pid=os.getpid())
        request.addfinalizer(host.destroy)
        return host

    return make


@pytest.fixture
def testhost(request, testhost_factory) -> TestHost:
    """Return one fresh started test host, destroyed after the test."""
    return testhost_factory(request.node.name)


@pytest.fixture
def testhost_gateway(request) -> str:
    """Return the gateway address 198.51.100.1, kept up for the whole test.

    Request it before a server fixture that binds to it: the gateway exists
    only while a host or such a hold does.
    """
    require_testhosts()
    hold = hold_gateway(owner_pid=os.getpid())
    request.addfinalizer(lambda: release_gateway(hold))
    return GATEWAY


@pytest.fixture
def testhost_ssh_key(tmp_path) -> SSHKey:
    """Return a fresh ed25519 client key pair without a passphrase."""
    path = tmp_path / "id_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "test", "-f", path],
        check=True,
    )
    return SSHKey(path=path, public=path.with_suffix(".pub").read_text().strip())


def pytest_sessionstart(session) -> None:
    """Remove hosts left by test processes that were killed."""
    if missing_requirements() is None:
        try:
            sweep_stale()
        except TestHostError as exc:
            warnings.warn(f"sweeping stale test hosts failed: {exc}", stacklevel=1)


def pytest_sessionfinish(session, exitstatus) -> None:
    """Remove any host or gateway hold of this process that a finalizer missed."""
    if missing_requirements() is None and STATE_DIR.is_dir():
        try:
            names = destroy_owned(os.getpid())
        except TestHostError as exc:
            warnings.warn(f"removing test hosts failed: {exc}", stacklevel=1)
            return
        if names:
            logger.warning("removed test hosts left after the session: %s", names)
