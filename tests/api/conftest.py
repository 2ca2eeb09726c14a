"""Fixtures for the API tests: one real server per module, a fresh mount per test."""

import pytest
from api_support import Mount
from api_support import new_mount
from support.server import RunningServer


@pytest.fixture(scope="module")
def api_server(tmp_path_factory):
    """A server shared by the tests of one module; tests use their own mounts."""
    server = RunningServer(tmp_path_factory.mktemp("server"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def ssh(api_server) -> Mount:
    """An ssh mount at a path no other test uses."""
    return new_mount(api_server)


@pytest.fixture
def otp_role(ssh):
    """The mount with role otp1: OTP, default_user alice, 192.0.2.0/24."""
    ssh.write_role("otp1")
    return ssh
