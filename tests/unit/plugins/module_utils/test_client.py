"""The shared HTTP client against a real server process."""

from __future__ import annotations

import http.server
import importlib
import socket
import threading

import pytest

OTP_ROLE = {
    "key_type": "otp",
    "default_user": "alice",
    "cidr_list": "198.51.100.0/24",
}


@pytest.fixture
def client_module(collection_imports):
    """The _client module, imported the way plugins import it."""
    return importlib.import_module(
        "ansible_collections.openvault.ssh.plugins.module_utils._client"
    )


@pytest.fixture
def client(client_module, ssh_server):
    """A client for ssh_server with the root token; warnings collected."""
    warnings = []
    made = client_module.Client(
        ssh_server.addr, token=ssh_server.root_token, warn=warnings.append
    )
    made.warnings = warnings
    return made


def test_client_write_role_returns_empty_dict_for_204(client, ssh_server):
    """ANS-01 case 1: a role write answers 204 and the client returns {}."""
    assert client.write_role("otp1", OTP_ROLE) == {}

    assert client.warnings == []
    stored = ssh_server.request("GET", "ssh/roles/otp1").json["data"]
    assert stored["default_user"] == "alice"
    assert client.read_role("otp1")["cidr_list"] == "198.51.100.0/24"


def test_client_read_role_returns_none_when_missing(client):
    """A missing role reads as None, not as an error."""
    assert client.read_role("nosuch") is None


def test_client_error_carries_the_servers_message(client, client_module, ssh_server):
    """A 400 raises VaultSSHError whose text is exactly the server's error."""
    body = {"key_type": "foo", "default_user": "alice"}
    expected = ssh_server.request("POST", "ssh/roles/bad", body).json["errors"]

    with pytest.raises(client_module.VaultSSHError) as raised:
        client.write_role("bad", body)

    error = raised.value
    assert error.status == 400
    assert error.errors == expected
    assert str(error) == "; ".join(expected)
    assert error.path == "ssh/roles/bad"
    assert error.describe().startswith("POST ssh/roles/bad failed (HTTP 400): ")


def test_client_error_never_contains_the_token(client_module, ssh_server):
    """A refused token is reported without echoing it."""
    secret = "s.not-a-real-token-1234"
    client = client_module.Client(ssh_server.addr, token=secret)

    with pytest.raises(client_module.VaultSSHError) as raised:
        client.read_role("otp1")

    assert raised.value.status == 403
    assert secret not in raised.value.describe()


def test_client_issue_creds_returns_parsed_reply(client):
    """ANS-01 case 2: a creds write returns the parsed JSON with its lease."""
    client.write_role("otp1", OTP_ROLE)

    reply = client.issue_creds("otp1", "198.51.100.10", "alice")

    assert reply["data"]["key_type"] == "otp"
    assert reply["data"]["ip"] == "198.51.100.10"
    assert reply["data"]["username"] == "alice"
    assert reply["lease_id"].startswith("ssh/creds/otp1/")


def test_client_list_lookup_and_delete_roles(client):
    """Roles list with their key type, lookup finds them, delete removes them."""
    assert client.list_roles() == {}
    client.write_role("otp1", OTP_ROLE)
    client.write_role("ops@example.com", OTP_ROLE)

    assert client.list_roles()["otp1"]["key_type"] == "otp"
    assert set(client.lookup("198.51.100.10")) == {"otp1", "ops@example.com"}

    client.delete_role("ops@example.com")
    assert set(client.list_roles()) == {"otp1"}


def test_client_key_fingerprint_round_trip(client, tmp_path):
    """A written key reads back as its fingerprint (the openvault extension)."""
    import subprocess

    path = tmp_path / "admin"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True
    )
    expected = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[1]

    client.write_key("dev_key", path.read_text())

    assert client.read_key("dev_key")["fingerprint"] == expected
    client.delete_key("dev_key")
    assert client.read_key("dev_key") is None


def test_client_mount_enable_tune_and_disable(client):
    """Mounts are created, tuned (seconds back) and removed."""
    assert client.read_mount("ssh-short") is None

    client.enable_mount("ssh-short", "short OTPs", {"default_lease_ttl": "3s"})
    assert client.read_mount("ssh-short")["type"] == "ssh"
    assert client.read_tune("ssh-short")["default_lease_ttl"] == 3

    client.tune_mount("ssh-short", {"max_lease_ttl": "1h"})
    assert client.read_tune("ssh-short")["max_lease_ttl"] == 3600

    client.disable_mount("ssh-short")
    assert client.read_mount("ssh-short") is None


def test_client_leases_lookup_list_and_revoke(client):
    """A lease is found, listed under its role, and gone once revoked."""
    client.write_role("otp1", OTP_ROLE)
    first = client.issue_creds("otp1", "198.51.100.10")["lease_id"]
    second = client.issue_creds("otp1", "198.51.100.11")["lease_id"]

    assert client.lookup_lease(first)["id"] == first
    listed = client.list_leases("ssh/creds/otp1")
    assert {"ssh/creds/otp1/" + key for key in listed} == {first, second}
    assert set(client.list_leases("ssh/creds")) == {
        lease.removeprefix("ssh/creds/") for lease in (first, second)
    }

    assert client.revoke_lease(first) == {}
    assert client.lookup_lease(first) is None
    client.revoke_prefix("ssh/creds/otp1")
    assert client.lookup_lease(second) is None
    assert client.list_leases("ssh/creds/otp1") == []


class _TextHandler(http.server.BaseHTTPRequestHandler):
    """Answers every request with 200 and a plain-text body."""

    def do_GET(self):  # noqa: N802 - the name http.server dispatches to
        body = b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEXAMPLE ca\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        """Keep the test output quiet."""


def test_client_returns_non_json_200_raw_with_a_warning(client_module):
    """ANS-01 case 4: a 200 that is not JSON is returned raw, with a warning.

    Our server answers JSON everywhere, so a stdlib HTTP server stands in for
    an endpoint like Vault's ssh/public_key, which sends text/plain.
    """
    server = http.server.HTTPServer(("127.0.0.1", 0), _TextHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    warnings = []
    try:
        address = f"http://127.0.0.1:{server.server_address[1]}"
        client = client_module.Client(address, token="t", warn=warnings.append)
        reply = client.request("GET", "ssh/public_key")
    finally:
        server.shutdown()
        server.server_close()

    assert reply == {"raw": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEXAMPLE ca\n"}
    assert warnings == ["the reply to GET ssh/public_key is not JSON; returning it raw"]


def test_client_unreachable_server_raises_a_clear_error(client_module):
    """A closed port gives 'cannot reach <url>' and no traceback."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = client_module.Client(f"http://127.0.0.1:{port}", token="t", timeout=5)

    with pytest.raises(client_module.VaultSSHError) as raised:
        client.read_role("otp1")

    assert str(raised.value).startswith(f"cannot reach http://127.0.0.1:{port}: ")
    assert raised.value.status is None


def test_client_requires_an_address(client_module):
    """No url gives an error that names the option and VAULT_ADDR."""
    with pytest.raises(client_module.VaultSSHError, match="VAULT_ADDR"):
        client_module.Client("")


@pytest.mark.parametrize(
    ("errors", "expected"),
    [
        (
            ["1 error occurred:\n\t* invalid CIDR address: x\n\n"],
            "invalid CIDR address: x",
        ),
        (["2 errors occurred:\n\t* a\n\t* b\n\n"], "a; b"),
        (["plain"], "plain"),
        ([], "nothing found at 'ssh/roles/x'"),
    ],
)
def test_client_server_message_unwraps_multierrors(client_module, errors, expected):
    """Go multierror wrapping is removed; an empty 404 gets a plain sentence."""
    assert client_module._server_message(404, errors, "ssh/roles/x") == expected
