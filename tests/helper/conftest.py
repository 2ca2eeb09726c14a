"""Fixtures for the OTP helper tests: installed helper, stand-in servers, PKI."""

import pytest
from helper_support import OTP
from helper_support import StandIn
from helper_support import install_helper
from helper_support import make_pki
from helper_support import run
from helper_support import system_python


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    """Two CAs and server certificates for 127.0.0.1 and vault.example.com."""
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def helper_path(tmp_path_factory):
    """The helper copied to a bin directory, as installed on a host."""
    return install_helper(tmp_path_factory.mktemp("bin"))


@pytest.fixture
def helper(helper_path):
    """Run the installed helper (its shebang finds the system python3)."""

    def call(*args, stdin=b"", env=None, secrets=(), timeout=40):
        return run([str(helper_path)], args, stdin, env, secrets, timeout)

    return call


@pytest.fixture
def login(helper, tmp_path):
    """Run one login: config text, OTP on stdin with pam_exec's trailing NUL."""

    def call(config_text, *args, otp=OTP, stdin=None, env=None):
        config = tmp_path / "config.hcl"
        config.write_text(config_text)
        data = (otp + "\0").encode() if stdin is None else stdin
        return helper(f"-config={config}", *args, stdin=data, env=env)

    return call


@pytest.fixture
def standin():
    """A stand-in verify server on plain HTTP, answering GOOD_REPLY."""
    server = StandIn()
    yield server
    server.close()


@pytest.fixture
def tls_standin(pki):
    """A stand-in verify server on HTTPS with a cert for 127.0.0.1."""
    server = StandIn(pki.server_context())
    yield server
    server.close()


@pytest.fixture
def python3():
    """The interpreter a host would run the helper with."""
    return system_python()
