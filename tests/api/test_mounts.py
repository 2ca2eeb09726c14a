"""sys/mounts: mounting ssh backends, independent mounts, tuning; sys/health."""

import queue

import pytest
from api_support import errors
from api_support import new_mount
from api_support import race

pytestmark = pytest.mark.xdist_group("api_mounts")


def test_mounts_mount_answers_204_and_is_listed(api_server):
    reply = api_server.request("POST", "sys/mounts/mnt-listed", {"type": "ssh"})

    assert reply.status == 204
    listed = api_server.request("GET", "sys/mounts")
    assert listed.json["data"]["mnt-listed/"]["type"] == "ssh"
    assert listed.json["mnt-listed/"]["type"] == "ssh"
    assert listed.json["data"]["sys/"]["type"] == "system"


def test_mounts_read_one_mount(api_server):
    api_server.request(
        "POST", "sys/mounts/mnt-read", {"type": "ssh", "description": "hosts"}
    )

    data = api_server.request("GET", "sys/mounts/mnt-read").json["data"]

    assert data["type"] == "ssh"
    assert data["description"] == "hosts"
    assert data["accessor"].startswith("ssh_")
    assert data["config"]["default_lease_ttl"] == 0
    assert data["running_plugin_version"].endswith("+builtin.openvault")


def test_mounts_same_path_twice_is_400(api_server):
    api_server.request("POST", "sys/mounts/mnt-twice", {"type": "ssh"})

    reply = api_server.request("POST", "sys/mounts/mnt-twice", {"type": "ssh"})

    assert reply.status == 400
    assert errors(reply) == ["path is already in use at mnt-twice/"]


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        (
            "mnt-bad",
            {},
            "missing 'type': the secrets engine to mount, e.g. \"ssh\"",
        ),
        (
            "mnt-bad",
            {"type": "kv"},
            "'type' must be one of ['ssh'], got 'kv': this server only provides the"
            " ssh secrets engine",
        ),
        ("sys/x", {"type": "ssh"}, "cannot mount at 'sys/x/': 'sys/' is reserved"),
        ("auth", {"type": "ssh"}, "cannot mount at 'auth/': 'auth/' is reserved"),
        (
            "mnt-bad",
            {"type": "ssh", "config": {"default_lease_ttl": "soon"}},
            "'default_lease_ttl' must be a duration such as 30m, got 'soon'",
        ),
        (
            "mnt-bad",
            {"type": "ssh", "config": {"colour": "blue"}},
            "'config' has unknown keys ['colour']",
        ),
        (
            "mnt-a/../b",
            {"type": "ssh"},
            "invalid mount path 'mnt-a/../b': use letters, digits and . _ - @"
            " between slashes, and no '.' or '..' segments",
        ),
    ],
)
def test_mounts_mount_refuses_bad_input(api_server, path, body, message):
    reply = api_server.request("POST", f"sys/mounts/{path}", body)

    assert reply.status == 400
    assert errors(reply) == [message]
    assert f"{path}/" not in api_server.request("GET", "sys/mounts").json["data"]


def test_mounts_nested_paths_conflict(api_server):
    api_server.request("POST", "sys/mounts/mnt-outer", {"type": "ssh"})

    inner = api_server.request("POST", "sys/mounts/mnt-outer/inner", {"type": "ssh"})

    assert inner.status == 400
    assert errors(inner) == ["path is already in use at mnt-outer/"]


def test_mounts_nested_mount_path_serves_its_backend(api_server):
    api_server.request("POST", "sys/mounts/team/ssh-nested", {"type": "ssh"})
    api_server.request(
        "POST",
        "team/ssh-nested/roles/r",
        {"key_type": "otp", "default_user": "alice", "cidr_list": "192.0.2.0/24"},
    )

    reply = api_server.request("POST", "team/ssh-nested/creds/r", {"ip": "192.0.2.1"})

    assert reply.status == 200
    assert reply.json["lease_id"].startswith("team/ssh-nested/creds/r/")


def test_mounts_are_independent(api_server):
    first = new_mount(api_server)
    second = new_mount(api_server)
    first.write_role("web", default_user="alice")
    second.write_role("web", default_user="bob", cidr_list="198.51.100.0/24")
    first.write_role("only-first")

    assert first.creds("web").json["data"]["username"] == "alice"
    assert second.creds("web", ip="198.51.100.1").json["data"]["username"] == "bob"
    assert second.request("GET", "roles/only-first").status == 404
    assert second.request("LIST", "roles").json["data"]["keys"] == ["web"]


def test_mounts_unmount_removes_roles_and_revokes_otps(api_server):
    mount = new_mount(api_server)
    mount.write_role("r")
    otp = mount.otp("r")
    keep = new_mount(api_server)
    keep.write_role("r")
    kept_otp = keep.otp("r")

    reply = api_server.request("DELETE", f"sys/mounts/{mount.path}")

    assert reply.status == 204
    assert f"{mount.path}/" not in api_server.request("GET", "sys/mounts").json["data"]
    assert mount.request("GET", "roles/r").status == 404
    listed = api_server.request("LIST", f"sys/leases/lookup/{mount.path}/")
    assert listed.status == 404
    api_server.mount_ssh(mount.path)
    assert mount.request("GET", "roles/r").status == 404
    assert errors(mount.verify(otp)) == ["OTP not found"]
    assert keep.verify(kept_otp).status == 200


def test_mounts_unmount_racing_creds_leaves_no_lease(api_server):
    """Credentials issued while the mount is removed are revoked or refused."""
    for round_ in range(4):
        mount = new_mount(api_server)
        mount.write_role("r")
        jobs = queue.SimpleQueue()
        for job in ("issue", "issue", "unmount"):
            jobs.put(job)

        def act(jobs=jobs, mount=mount):
            if jobs.get() == "unmount":
                return api_server.request("DELETE", f"sys/mounts/{mount.path}").status
            for _ in range(5):
                api_server.request(
                    "POST", f"{mount.path}/creds/r", {"ip": "192.0.2.10"}
                )
            return None

        assert 204 in race(3, act), round_
        leases = api_server.request("LIST", f"sys/leases/lookup/{mount.path}/")
        assert leases.status == 404, (round_, leases.text)


def test_mounts_unmount_of_an_unknown_path_is_204(api_server):
    assert api_server.request("DELETE", "sys/mounts/never-mounted").status == 204


def test_mounts_config_ttl_at_mount_time_sets_lease_duration(api_server):
    mount = new_mount(api_server, config={"default_lease_ttl": "90s"})
    mount.write_role("r")

    assert mount.creds("r").json["lease_duration"] == 90


def test_mounts_tune_reads_the_system_defaults(ssh):
    reply = ssh.server.request("GET", f"sys/mounts/{ssh.path}/tune")

    assert reply.status == 200
    assert reply.json["data"]["default_lease_ttl"] == 2764800
    assert reply.json["data"]["max_lease_ttl"] == 2764800


def test_mounts_tune_changes_the_lease_ttls(ssh):
    ssh.write_role("r")

    reply = ssh.server.request(
        "POST",
        f"sys/mounts/{ssh.path}/tune",
        {"default_lease_ttl": "5m", "max_lease_ttl": "1h"},
    )

    assert reply.status == 204
    tuned = ssh.server.request("GET", f"sys/mounts/{ssh.path}/tune").json["data"]
    assert (tuned["default_lease_ttl"], tuned["max_lease_ttl"]) == (300, 3600)
    assert ssh.creds("r").json["lease_duration"] == 300


def test_mounts_tune_refuses_default_above_max(ssh):
    reply = ssh.server.request(
        "POST",
        f"sys/mounts/{ssh.path}/tune",
        {"default_lease_ttl": "2h", "max_lease_ttl": "1h"},
    )

    assert reply.status == 400
    assert errors(reply) == [
        "'default_lease_ttl' must not be greater than 'max_lease_ttl'"
    ]
    tuned = ssh.server.request("GET", f"sys/mounts/{ssh.path}/tune").json["data"]
    assert tuned["default_lease_ttl"] == 2764800


def test_mounts_tune_of_an_unknown_mount_is_400(api_server):
    reply = api_server.request(
        "POST", "sys/mounts/nosuch-mount/tune", {"default_lease_ttl": "1h"}
    )

    assert reply.status == 400
    assert errors(reply) == ["no mount at 'nosuch-mount/'"]


def test_mounts_health_needs_no_token(api_server):
    reply = api_server.request("GET", "sys/health", token=None)

    assert reply.status == 200
    assert reply.json["initialized"] is True
    assert reply.json["sealed"] is False
    assert reply.json["standby"] is False
    assert isinstance(reply.json["server_time_utc"], int)
    assert reply.json["version"]


def test_mounts_listing_needs_a_token(api_server):
    assert api_server.request("GET", "sys/mounts", token=None).status == 403
    assert (
        api_server.request("POST", "sys/mounts/x", {"type": "ssh"}, token=None).status
        == 403
    )
