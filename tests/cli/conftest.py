"""Fixtures for the CLI tests: the real openvault executable and server."""

import pytest
from cli_support import base_env
from cli_support import install_fake_ssh
from cli_support import run_cli
from cli_support import server_env


@pytest.fixture
def cli_env(ov_server, tmp_path):
    """A clean environment pointing at the test server with the root token."""
    return base_env(tmp_path / "home") | server_env(ov_server)


@pytest.fixture
def cli(cli_env):
    """Run `openvault ARGS...` against the test server; returns a Result."""

    def call(*args, env=None, stdin=None, stdout_file=None):
        return run_cli(args, env or cli_env, stdin=stdin, stdout_file=stdout_file)

    return call


@pytest.fixture
def ssh_server(ov_server):
    """The test server with the ssh backend mounted at ssh/."""
    ov_server.mount_ssh()
    return ov_server


@pytest.fixture
def otp_role(ssh_server):
    """Create an OTP role for 127.0.0.0/8 and 10.0.0.0/24; return its name."""

    def make(name="otp_key_role", **fields):
        body = {
            "key_type": "otp",
            "default_user": "username",
            "cidr_list": "127.0.0.0/8,10.0.0.0/24",
        }
        body.update(fields)
        reply = ssh_server.request("POST", f"ssh/roles/{name}", body)
        assert reply.status in (200, 204), reply.text
        return name

    return make


@pytest.fixture
def fake_ssh_dir(tmp_path):
    """A directory holding only the recording ssh stand-in."""
    directory = tmp_path / "fakebin"
    install_fake_ssh(directory)
    return directory
