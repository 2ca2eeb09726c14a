"""openvault.ssh.mount: mount, tune only on a real difference, unmount."""

from __future__ import annotations

from unit.collection_env import audited_requests


def mount_task(register, **options):
    """Return a mount task."""
    return {"openvault.ssh.mount": options, "register": register}


def test_mount_module_mounts_tunes_and_converges(play, ssh_server):
    """Durations compare in seconds: 10m equals 600, so the rerun is unchanged."""
    run = play(
        [
            mount_task("made", path="ssh-prod", default_lease_ttl="10m"),
            mount_task("same", path="ssh-prod", default_lease_ttl=600),
            mount_task("tuned", path="ssh-prod", max_lease_ttl="1h"),
        ]
    )

    assert run.returncode == 0, run.stdout
    assert run.result("made")["changed"] is True
    assert run.result("same")["changed"] is False
    assert run.result("tuned")["changes"] == ["max_lease_ttl"]
    tune = ssh_server.request("GET", "sys/mounts/ssh-prod/tune").json["data"]
    assert (tune["default_lease_ttl"], tune["max_lease_ttl"]) == (600, 3600)


def test_mount_module_check_mode_sends_no_write(play, ssh_server):
    """Check mode reports the new mount and creates nothing."""
    run = play([mount_task("checked", path="ssh-new", description="x")], "--check")

    assert run.result("checked")["changed"] is True
    assert audited_requests(ssh_server, "sys/mounts/ssh-new") == []


def test_mount_module_path_defaults_to_mount_point(play, ssh_server):
    """module_defaults for the action group names the mount once."""
    run = play(
        [mount_task("tuned", default_lease_ttl="5m")],
        play={"module_defaults": {"group/openvault.ssh.ssh": {"mount_point": "ssh"}}},
    )

    assert run.result("tuned")["mount"]["path"] == "ssh"
    tune = ssh_server.request("GET", "sys/mounts/ssh/tune").json["data"]
    assert tune["default_lease_ttl"] == 300


def test_mount_module_rejects_a_bad_duration(play, ssh_server):
    """A bad duration names the field and sends nothing."""
    task = mount_task("failed", path="ssh", default_lease_ttl="3 days")
    task["ignore_errors"] = True

    run = play([task])

    assert run.result("failed")["msg"] == (
        "'default_lease_ttl' must be a duration such as 30m or 90s, got '3 days'"
    )


def test_mount_module_unmounts_once(play, ssh_server):
    """state=absent unmounts, then reports no change."""
    run = play(
        [
            mount_task("gone", path="ssh", state="absent"),
            mount_task("again", path="ssh", state="absent"),
        ]
    )

    assert run.result("gone")["changed"] is True
    assert run.result("again")["changed"] is False
    assert "ssh/" not in ssh_server.request("GET", "sys/mounts").json["data"]
