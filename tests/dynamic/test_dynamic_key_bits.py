"""key_bits of dynamic roles (DYN-05) and the pool of pre-generated keys.

These tests run their own servers with a small or no key pool, so large
keys are generated only once each, and log which path a key took.
"""

import concurrent.futures
import json
import secrets
import urllib.request

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from dynamic_support import ADMIN
from dynamic_support import issue
from dynamic_support import register
from dynamic_support import wait_for
from dynamic_support import write_role
from support.server import RunningServer

pytestmark = [pytest.mark.root, pytest.mark.xdist_group("dynamic-key_bits")]

ROLE = {
    "key_type": "dynamic",
    "key": "dev_key",
    "admin_user": ADMIN,
    "default_user": "alice",
    "cidr_list": "198.51.100.0/24",
}


@pytest.fixture(scope="module")
def table_server(tmp_path_factory, shared_lab):
    """One server without a key pool for the role-write tables."""
    server = RunningServer(
        tmp_path_factory.mktemp("key-bits"), extra_config="dynamic_key_pool = 0"
    ).start()
    server.mount_ssh()
    register(server, shared_lab.admin_key)
    yield server
    server.stop()


def role_name():
    """Return a role name no other test of the table server uses."""
    return "r" + secrets.token_hex(4)


@pytest.fixture
def pool_server(ov_server_factory, shared_lab):
    """Return start(pool_size) -> a server able to install on the shared host."""

    def start(size):
        server = ov_server_factory(
            name=f"pool{size}", extra_config=f"dynamic_key_pool = {size}"
        )
        server.mount_ssh()
        register(server, shared_lab.admin_key)
        return server

    return start


@pytest.mark.parametrize(
    ("given", "stored"),
    [(None, 2048), (0, 2048), (1024, 1024), (2048, 2048), (3072, 3072)]
    + [(4096, 4096), (8192, 8192), ("2048", 2048)],
)
def test_dynamic_role_key_bits_are_stored(table_server, given, stored):
    name = role_name()
    body = dict(ROLE) if given is None else dict(ROLE, key_bits=given)

    written = table_server.request("POST", f"ssh/roles/{name}", body)

    assert written.status == 204, written.text
    read = table_server.request("GET", f"ssh/roles/{name}").json["data"]
    assert read["key_bits"] == stored


@pytest.mark.parametrize(
    ("given", "error"),
    [
        (512, "invalid key_bits field: 512"),
        (1000, "invalid key_bits field: 1000"),
        (16384, "invalid key_bits field: 16384"),
        (-2048, "invalid key_bits field: -2048"),
        ("abc", 'error converting input for field "key_bits"'),
    ],
)
def test_dynamic_role_key_bits_refused(table_server, given, error):
    name = role_name()
    body = dict(ROLE, key_bits=given)

    written = table_server.request("POST", f"ssh/roles/{name}", body)

    assert written.status == 400
    assert error in written.json["errors"][0]
    assert table_server.request("GET", f"ssh/roles/{name}").status == 404


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("key", "", "missing key name"),
        ("key", "nosuch", "invalid 'key': \"nosuch\" is not a registered key"),
        ("admin_user", "", "missing admin username"),
        ("key_option_specs", "no-pty\nssh-rsa AAAA", "'key_option_specs' must be"),
    ],
)
def test_dynamic_role_needs_a_key_and_an_admin_user(table_server, field, value, error):
    body = dict(ROLE, **{field: value})

    written = table_server.request("POST", f"ssh/roles/{role_name()}", body)

    assert written.status == 400
    assert error in written.json["errors"][0]


def test_dynamic_otp_role_refuses_admin_user(table_server):
    body = {"key_type": "otp", "default_user": "alice", "admin_user": ADMIN}

    written = table_server.request("POST", f"ssh/roles/{role_name()}", body)

    assert written.status == 400
    assert written.json["errors"] == ["admin user not required for OTP type"]


def slow_creds(server, role, ip):
    """POST creds with a timeout that allows an 8192-bit key to be generated."""
    request = urllib.request.Request(
        f"{server.addr}/v1/ssh/creds/{role}",
        data=json.dumps({"ip": ip}).encode(),
        headers={"X-Vault-Token": server.root_token},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=180) as reply:
        return json.loads(reply.read())


@pytest.mark.parametrize(
    "sizes", [(3072, 4096), pytest.param((8192,), marks=pytest.mark.slow)]
)
def test_dynamic_issued_keys_have_the_role_size(table_server, shared_lab, sizes):
    """One key per large size (1024 and 2048 are in test_dynamic_flow)."""
    server, host = table_server, shared_lab.host
    for bits in sizes:
        write_role(server, f"bits{bits}", host.ip, key_bits=bits)

    with concurrent.futures.ThreadPoolExecutor(len(sizes)) as pool:
        replies = list(
            pool.map(lambda bits: slow_creds(server, f"bits{bits}", host.ip), sizes)
        )

    for bits, reply in zip(sizes, replies, strict=True):
        key = serialization.load_pem_private_key(
            reply["data"]["key"].encode(), password=None
        )
        assert isinstance(key, rsa.RSAPrivateKey)
        assert key.key_size == bits
        server.request("PUT", "sys/leases/revoke", {"lease_id": reply["lease_id"]})


def test_dynamic_creds_take_keys_from_the_pool(pool_server, shared_lab):
    """Writing a role readies keys of its size; creds then take one at once."""
    server, host = pool_server(1), shared_lab.host
    write_role(server, "pooled", host.ip, key_bits=1024)
    wait_for(
        lambda: "1024-bit keys ready: 1 of 1" in server.log_text(),
        message="the pool to hold a 1024-bit key",
    )

    issue(server, "pooled", host.ip)

    log = server.log_text()
    assert "1024-bit key taken from the pool" in log
    assert "pool empty" not in log
    server.request("PUT", "sys/leases/revoke-prefix/ssh/creds")


def test_dynamic_creds_generate_a_key_when_the_pool_is_off(pool_server, shared_lab):
    server, host = pool_server(0), shared_lab.host
    write_role(server, "unpooled", host.ip, key_bits=1024)

    issue(server, "unpooled", host.ip)

    log = server.log_text()
    assert "pool empty, generated a 1024-bit key" in log
    assert "keys ready" not in log
    server.request("PUT", "sys/leases/revoke-prefix/ssh/creds")
