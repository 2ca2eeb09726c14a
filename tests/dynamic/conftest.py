"""Fixtures for the dynamic-key tests: a server, a prepared test host, a role."""

import os
from dataclasses import dataclass

import pytest
from dynamic_support import AdminKey
from dynamic_support import make_admin_key
from dynamic_support import prepare_host
from dynamic_support import register
from support.hosts import require_testhosts
from support.hosts import unique_name
from support.server import RunningServer
from testhost import TestHost


@dataclass
class Lab:
    """A server with ssh/ mounted and the admin key registered, and one host."""

    server: RunningServer
    host: TestHost
    admin_key: AdminKey


def _make_lab(server, host):
    admin_key = make_admin_key()
    prepare_host(host, admin_key)
    server.mount_ssh()
    register(server, admin_key)
    return Lab(server, host, admin_key)


@pytest.fixture(scope="session")
def shared_lab(tmp_path_factory):
    """One lab per test process; tests use their own users and roles on it.

    Each module using it is an xdist group of its own: a module's tests stay
    in one worker, which builds the lab once, and modules still spread over
    the workers (a second lab costs less than running them all in one).
    """
    require_testhosts()
    server = RunningServer(tmp_path_factory.mktemp("dynamic-server")).start()
    host = TestHost.create(unique_name("dyn-shared"), owner_pid=os.getpid())
    try:
        yield _make_lab(server, host)
    finally:
        server.stop()
        host.destroy()


@pytest.fixture
def lab(ov_server, testhost_factory):
    """A lab of its own for a test that stops, restarts or breaks things."""
    return _make_lab(ov_server, testhost_factory("dyn"))


@pytest.fixture
def add_user(shared_lab):
    """Return make(hint) -> a new user on the shared host, unique to the test."""
    made = []

    def make(hint="user"):
        name = f"{hint[:12]}{len(made)}{os.urandom(2).hex()}"
        shared_lab.host.add_user(name)
        made.append(name)
        return name

    return make
