"""openvault.ssh.lease: revoke when there is something to revoke."""

from __future__ import annotations

import pytest
from unit.collection_env import audited_requests

OTP_ROLE = {"key_type": "otp", "default_user": "alice", "cidr_list": "198.51.100.0/24"}


@pytest.fixture
def leases(ssh_server):
    """Two OTP leases of role otp1; returns their ids."""
    ssh_server.request("POST", "ssh/roles/otp1", OTP_ROLE)
    return [
        ssh_server.request("POST", "ssh/creds/otp1", {"ip": ip}).json["lease_id"]
        for ip in ("198.51.100.10", "198.51.100.11")
    ]


def lease_task(register, **options):
    """Return a lease task."""
    return {"openvault.ssh.lease": options, "register": register}


def test_lease_module_revokes_one_lease_once(play, ssh_server, leases):
    """The first revoke changes, the second finds nothing to revoke."""
    run = play(
        [
            lease_task("revoked", lease_id=leases[0]),
            lease_task("again", lease_id=leases[0]),
        ]
    )

    assert run.result("revoked")["changed"] is True
    assert run.result("revoked")["revoked"] == [leases[0]]
    assert run.result("again")["changed"] is False
    lookup = ssh_server.request("PUT", "sys/leases/lookup", {"lease_id": leases[1]})
    assert lookup.status == 200


def test_lease_module_revokes_a_prefix(play, ssh_server, leases):
    """prefix revokes every lease of the role and lists them."""
    run = play([lease_task("revoked", prefix="ssh/creds/otp1")])

    assert sorted(run.result("revoked")["revoked"]) == sorted(leases)
    for lease_id in leases:
        lookup = ssh_server.request("PUT", "sys/leases/lookup", {"lease_id": lease_id})
        assert lookup.status == 400


def test_lease_module_check_mode_revokes_nothing(play, ssh_server, leases):
    """Check mode reports what would go and sends no revoke."""
    run = play([lease_task("checked", prefix="ssh/creds/otp1")], "--check")

    assert run.result("checked")["changed"] is True
    assert audited_requests(ssh_server, "sys/leases/revoke") == []
