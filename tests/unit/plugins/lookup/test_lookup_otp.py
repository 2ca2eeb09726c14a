"""The otp and creds lookups, loaded by Ansible's plugin loader, on a server."""

from __future__ import annotations

import re

import pytest

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
OTP_ROLE = {"key_type": "otp", "default_user": "alice", "cidr_list": "198.51.100.0/24"}


@pytest.fixture
def lookup(collection_imports, ssh_server):
    """Return run(name, **options) for openvault.ssh.<name> against ssh_server."""
    from ansible.plugins.loader import lookup_loader

    ssh_server.request("POST", "ssh/roles/otp_key_role", OTP_ROLE)

    def run(name, terms=(), variables=None, **options):
        plugin = lookup_loader.get(f"openvault.ssh.{name}")
        options.setdefault("token", ssh_server.root_token)
        if not variables:
            options.setdefault("url", ssh_server.addr)
        return plugin.run(list(terms), variables=variables or {}, **options)

    return run


def creds_requests(server):
    """Return the audit log's credential requests."""
    return [
        entry
        for entry in server.audit_entries()
        if entry["type"] == "request"
        and entry["request"]["path"].startswith("ssh/creds/")
    ]


def test_otp_lookup_returns_an_otp_that_verifies(lookup, ssh_server):
    """The one item is the OTP; the server's verify accepts it for alice."""
    result = lookup("otp", role="otp_key_role", ip="198.51.100.10", username="alice")

    assert len(result) == 1 and UUID.match(result[0])
    verified = ssh_server.request("POST", "ssh/verify", {"otp": result[0]}, token=None)
    assert verified.json["data"]["username"] == "alice"
    assert verified.json["data"]["ip"] == "198.51.100.10"
    ssh_server.assert_never_logged(result[0])


def test_otp_lookup_makes_a_fresh_otp_on_every_call(lookup, ssh_server):
    """Two calls, two OTPs, two credential requests."""
    first = lookup("otp", role="otp_key_role", ip="198.51.100.10")
    second = lookup("otp", role="otp_key_role", ip="198.51.100.10")

    assert first != second
    assert len(creds_requests(ssh_server)) == 2


def test_creds_lookup_returns_the_whole_credential(lookup, ssh_server):
    """ANS-01 case 5: the lookup gives the same parsed data as the HTTP reply."""
    [credential] = lookup("creds", role="otp_key_role", ip="198.51.100.10")

    assert set(credential) == {
        "key",
        "key_type",
        "username",
        "ip",
        "port",
        "lease_id",
        "lease_duration",
        "renewable",
    }
    assert (credential["key_type"], credential["username"]) == ("otp", "alice")
    assert credential["port"] == 22
    assert credential["lease_id"].startswith("ssh/creds/otp_key_role/")
    lookup_reply = ssh_server.request(
        "PUT", "sys/leases/lookup", {"lease_id": credential["lease_id"]}
    )
    assert lookup_reply.json["data"]["ttl"] <= credential["lease_duration"]


def test_lookup_error_names_the_role_and_the_servers_message(lookup, ssh_server):
    """A refused request becomes an AnsibleError with role, path and message."""
    from ansible.errors import AnsibleError

    expected = ssh_server.request(
        "POST", "ssh/creds/otp_key_role", {"ip": "203.0.113.5"}
    ).json["errors"]

    with pytest.raises(AnsibleError) as raised:
        lookup("otp", role="otp_key_role", ip="203.0.113.5")

    assert str(raised.value) == (
        "openvault.ssh.otp: credential for role 'otp_key_role': POST "
        "ssh/creds/otp_key_role failed (HTTP 400): " + "; ".join(expected)
    )


def test_lookup_refuses_key_value_terms(lookup):
    """role and ip are options; 'role=x ip=y' terms are refused, not parsed."""
    from ansible.errors import AnsibleError

    with pytest.raises(AnsibleError, match="takes no terms"):
        lookup("otp", terms=["role=otp_key_role ip=198.51.100.10"])


def test_lookup_takes_the_address_from_hashi_vault_variables(lookup, ssh_server):
    """ansible_hashi_vault_url works as it does for community.hashi_vault."""
    result = lookup(
        "otp",
        variables={"ansible_hashi_vault_url": ssh_server.addr},
        role="otp_key_role",
        ip="198.51.100.10",
    )

    assert UUID.match(result[0])
