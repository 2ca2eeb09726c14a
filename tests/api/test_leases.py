"""sys/leases: lookup, renew, revoke, revoke-prefix, TTLs and the expiry sweeper."""

import time

import pytest
from api_support import database_rows
from api_support import errors
from api_support import new_mount

pytestmark = pytest.mark.xdist_group("api_leases")


def wait_until(check, timeout=10.0):
    """Poll `check()` until it is true; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.1)


def lease_ids(server, prefix):
    """Return the lease ids listed under `prefix` (empty when none)."""
    reply = server.request("LIST", f"sys/leases/lookup/{prefix}")
    return [] if reply.status == 404 else reply.json["data"]["keys"]


def test_leases_lookup_describes_an_otp_lease(otp_role):
    lease_id = otp_role.creds("otp1").json["lease_id"]

    reply = otp_role.server.request("PUT", "sys/leases/lookup", {"lease_id": lease_id})

    assert reply.status == 200
    data = reply.json["data"]
    assert sorted(data) == [
        "expire_time",
        "id",
        "issue_time",
        "last_renewal",
        "path",
        "renewable",
        "ttl",
    ]
    assert data["id"] == lease_id
    assert data["path"] == f"{otp_role.path}/creds/otp1"
    assert data["renewable"] is False
    assert data["last_renewal"] is None
    assert 2764790 <= data["ttl"] <= 2764800
    assert data["expire_time"].endswith("Z")


@pytest.mark.parametrize(
    ("lease_id", "message"),
    [("", "lease_id must be specified"), ("nosuch/creds/x/123", "invalid lease")],
)
def test_leases_lookup_of_an_unknown_lease_is_400(api_server, lease_id, message):
    reply = api_server.request("PUT", "sys/leases/lookup", {"lease_id": lease_id})

    assert reply.status == 400
    assert errors(reply) == [message]


def test_leases_renew_answers_that_otp_leases_are_not_renewable(otp_role):
    lease_id = otp_role.creds("otp1").json["lease_id"]

    by_body = otp_role.server.request("PUT", "sys/leases/renew", {"lease_id": lease_id})
    by_path = otp_role.server.request("PUT", f"sys/leases/renew/{lease_id}", {})

    for reply in (by_body, by_path):
        assert reply.status == 400
        assert errors(reply) == ["lease is not renewable"]


def test_leases_revoke_makes_the_otp_fail_verify(otp_role):
    reply = otp_role.creds("otp1")
    otp, lease_id = reply.json["data"]["key"], reply.json["lease_id"]

    revoked = otp_role.server.request(
        "PUT", "sys/leases/revoke", {"lease_id": lease_id}
    )

    assert revoked.status == 204
    assert errors(otp_role.verify(otp)) == ["OTP not found"]
    lookup = otp_role.server.request("PUT", "sys/leases/lookup", {"lease_id": lease_id})
    assert errors(lookup) == ["invalid lease"]


def test_leases_revoke_by_path_works_too(otp_role):
    reply = otp_role.creds("otp1")

    revoked = otp_role.server.request(
        "PUT", f"sys/leases/revoke/{reply.json['lease_id']}", {}
    )

    assert revoked.status == 204
    assert errors(otp_role.verify(reply.json["data"]["key"])) == ["OTP not found"]


def test_leases_revoke_by_the_2015_path_works(otp_role):
    """Ours: the original docs' CLI used sys/revoke/<id>; OpenBao answers 404."""
    reply = otp_role.creds("otp1")

    revoked = otp_role.server.request("PUT", f"sys/revoke/{reply.json['lease_id']}")

    assert revoked.status == 204
    assert errors(otp_role.verify(reply.json["data"]["key"])) == ["OTP not found"]


def test_leases_revoke_is_idempotent(otp_role):
    reply = otp_role.creds("otp1")
    lease_id = reply.json["lease_id"]
    otp_role.verify(reply.json["data"]["key"])
    server = otp_role.server

    used = server.request("PUT", "sys/leases/revoke", {"lease_id": lease_id})
    again = server.request("PUT", "sys/leases/revoke", {"lease_id": lease_id})
    unknown = server.request("PUT", "sys/leases/revoke", {"lease_id": "x/creds/y/z"})

    assert (used.status, again.status, unknown.status) == (204, 204, 204)


def test_leases_lease_stays_after_the_otp_is_used(otp_role):
    reply = otp_role.creds("otp1")

    otp_role.verify(reply.json["data"]["key"])

    lookup = otp_role.server.request(
        "PUT", "sys/leases/lookup", {"lease_id": reply.json["lease_id"]}
    )
    assert lookup.status == 200


def test_leases_list_shows_ids_under_a_prefix(otp_role):
    otp_role.write_role("otp2")
    ids = {otp_role.creds("otp1").json["lease_id"] for _ in range(2)}
    otp_role.creds("otp2")

    keys = lease_ids(otp_role.server, f"{otp_role.path}/creds/otp1/")
    segments = lease_ids(otp_role.server, f"{otp_role.path}/creds/")

    assert {f"{otp_role.path}/creds/otp1/{key}" for key in keys} == ids
    assert segments == ["otp1/", "otp2/"]


def test_leases_revoke_prefix_revokes_every_lease_under_it(otp_role):
    otp_role.write_role("otp2")
    doomed = [otp_role.otp("otp1") for _ in range(3)]
    spared = otp_role.otp("otp2")

    reply = otp_role.server.request(
        "PUT", f"sys/leases/revoke-prefix/{otp_role.path}/creds/otp1"
    )

    assert reply.status == 204
    assert lease_ids(otp_role.server, f"{otp_role.path}/creds/otp1/") == []
    assert all(errors(otp_role.verify(otp)) == ["OTP not found"] for otp in doomed)
    assert otp_role.verify(spared).status == 200


def test_leases_revoke_prefix_needs_sudo(otp_role):
    server = otp_role.server
    name = f"revoker-{otp_role.path}"
    server.request(
        "PUT",
        f"sys/policies/acl/{name}",
        {"policy": 'path "sys/leases/revoke-prefix/*" { capabilities = ["update"] }'},
    )
    token = server.request("POST", "auth/token/create", {"policies": name}).json[
        "auth"
    ]["client_token"]
    otp = otp_role.otp("otp1")

    reply = server.request(
        "PUT", f"sys/leases/revoke-prefix/{otp_role.path}", token=token
    )

    assert reply.status == 403
    assert otp_role.verify(otp).status == 200


def test_leases_role_ttl_sets_the_lease_duration(ssh):
    """Beyond Vault (whose OTP TTL comes from the mount only): per-role ttl."""
    ssh.write_role("short", ttl="10m", max_ttl="1h")

    assert ssh.creds("short").json["lease_duration"] == 600


def test_leases_role_max_ttl_caps_the_mount_default(ssh):
    ssh.write_role("capped", max_ttl="2m")

    assert ssh.creds("capped").json["lease_duration"] == 120


def test_leases_mount_max_caps_the_role_ttl(api_server):
    mount = new_mount(api_server, config={"max_lease_ttl": "5m"})
    mount.write_role("long", ttl="1h")

    assert mount.creds("long").json["lease_duration"] == 300


def test_leases_sweeper_expires_otps(api_server):
    mount = new_mount(api_server, config={"default_lease_ttl": "1s"})
    mount.write_role("r")
    reply = mount.creds("r")
    assert reply.json["lease_duration"] == 1

    gone = wait_until(lambda: not lease_ids(api_server, f"{mount.path}/"))

    assert gone
    assert errors(mount.verify(reply.json["data"]["key"])) == ["OTP not found"]
    rows = database_rows(api_server, "otp")
    assert [r for r in rows if r["mount"] == mount.path] == []


def test_leases_expired_otp_fails_verify_before_the_sweeper_runs(api_server):
    mount = new_mount(api_server)
    mount.write_role("r", ttl="1s")
    otp = mount.otp("r")

    time.sleep(1.1)

    assert errors(mount.verify(otp)) == ["OTP not found"]


def test_leases_sweeper_expires_a_lease_after_a_restart(ov_server_factory):
    server = ov_server_factory("restart")
    mount = new_mount(server, config={"default_lease_ttl": "2s"})
    mount.write_role("r")
    reply = mount.creds("r")
    assert reply.json["lease_duration"] == 2
    lease_id = reply.json["lease_id"]
    assert server.stop() == 0

    time.sleep(2.5)
    assert lease_id.rsplit("/", 1)[1] in [
        row["lease_id"].rsplit("/", 1)[1] for row in database_rows(server, "lease")
    ]
    server.start()

    assert wait_until(lambda: not lease_ids(server, f"{mount.path}/"))
    assert errors(mount.verify(reply.json["data"]["key"])) == ["OTP not found"]
    assert database_rows(server, "otp") == []
    assert database_rows(server, "lease") == []
