"""The per-process caches behind the bench's speed stay right across workers.

A server with two worker processes; every request opens a new connection, so
requests land on both workers. After a change made through one of them, no
request may see the old role, policy or mount.
"""

import pytest

TRIES = 24


def _all(server, method, path, body=None, token="root"):
    return [server.request(method, path, body, token=token) for _ in range(TRIES)]


@pytest.fixture
def two_workers(ov_server_factory):
    """A server with two worker processes and an ssh mount with role r1."""
    server = ov_server_factory(workers=2)
    server.mount_ssh()
    reply = server.request(
        "POST",
        "ssh/roles/r1",
        {"key_type": "otp", "default_user": "alice", "cidr_list": "10.1.0.0/16"},
    )
    assert reply.status in (200, 204), reply.text
    return server


def test_caches_see_a_role_change_made_in_another_worker(two_workers):
    """lookup and creds follow a role's new cidr_list at once, on every worker."""
    before = _all(two_workers, "POST", "ssh/lookup", {"ip": "10.1.2.3"})
    assert all(r.json["data"]["roles"] == ["r1"] for r in before)
    reply = two_workers.request(
        "POST",
        "ssh/roles/r1",
        {"key_type": "otp", "default_user": "alice", "cidr_list": "10.2.0.0/16"},
    )
    assert reply.status in (200, 204), reply.text
    old = _all(two_workers, "POST", "ssh/lookup", {"ip": "10.1.2.3"})
    assert all(r.json["data"]["roles"] is None for r in old)
    new = _all(two_workers, "POST", "ssh/lookup", {"ip": "10.2.0.1"})
    assert all(r.json["data"]["roles"] == ["r1"] for r in new)
    refused = _all(two_workers, "POST", "ssh/creds/r1", {"ip": "10.1.2.3"})
    assert {r.status for r in refused} == {400}
    two_workers.request("DELETE", "ssh/roles/r1")
    gone = _all(two_workers, "POST", "ssh/creds/r1", {"ip": "10.2.0.1"})
    assert all(r.json["errors"] == ['Role "r1" not found'] for r in gone)


def test_caches_see_a_policy_change_made_in_another_worker(two_workers):
    """A token loses creds on every worker as soon as its policy stops granting it."""
    allow = 'path "ssh/creds/*" { capabilities = ["update"] }'
    assert two_workers.request(
        "PUT", "sys/policies/acl/ops", {"policy": allow}
    ).status in (200, 204)
    token = two_workers.request("POST", "auth/token/create", {"policies": ["ops"]})
    token = token.json["auth"]["client_token"]
    granted = _all(two_workers, "POST", "ssh/creds/r1", {"ip": "10.1.0.5"}, token)
    assert {r.status for r in granted} == {200}
    deny = 'path "ssh/creds/*" { capabilities = ["deny"] }'
    assert two_workers.request(
        "PUT", "sys/policies/acl/ops", {"policy": deny}
    ).status in (200, 204)
    denied = _all(two_workers, "POST", "ssh/creds/r1", {"ip": "10.1.0.5"}, token)
    assert {r.status for r in denied} == {403}


def test_caches_see_an_unmount_made_in_another_worker(two_workers):
    """After the mount is removed, no worker still routes to it."""
    assert {
        r.status for r in _all(two_workers, "POST", "ssh/lookup", {"ip": "10.1.0.5"})
    } == {200}
    assert two_workers.request("DELETE", "sys/mounts/ssh").status == 204
    after = _all(two_workers, "POST", "ssh/lookup", {"ip": "10.1.0.5"})
    assert {r.status for r in after} == {404}
