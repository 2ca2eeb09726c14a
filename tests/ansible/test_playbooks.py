"""The shipped playbooks/configure_server.yml, run by ansible-playbook."""

from __future__ import annotations

import json
import re

import pytest
from unit.collection_env import ansible_env
from unit.collection_env import audited_requests
from unit.collection_env import run_shipped_playbook
from unit.collection_hosts import make_admin_key

PLAYBOOK = "openvault.ssh.configure_server"


@pytest.fixture
def configure(collection_tree, ssh_server, tmp_path):
    """Return run(*args) of configure_server.yml with an admin key file."""
    private, _public = make_admin_key(tmp_path)
    key_file = tmp_path / "vaultadmin"
    env = ansible_env(collection_tree, tmp_path, ssh_server)

    def run(*args):
        return run_shipped_playbook(
            env,
            tmp_path,
            PLAYBOOK,
            "localhost,",
            "-e",
            f"admin_key_file={key_file}",
            "-e",
            "ssh_mount=ssh-fleet",
            *args,
        )

    assert private
    return run


def recap(stdout):
    """Return localhost's PLAY RECAP counters."""
    line = next(line for line in stdout.splitlines() if line.startswith("localhost"))
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", line)}


def test_configure_server_converges_then_changes_nothing(configure, ssh_server):
    """First run: mount, OTP role, key and dynamic role; second run: changed=0."""
    first = configure()
    second = configure()

    assert first.returncode == 0, first.stdout + first.stderr
    assert recap(first.stdout)["changed"] == 4
    assert recap(second.stdout)["changed"] == 0
    role = ssh_server.request("GET", "ssh-fleet/roles/otp_key_role").json["data"]
    assert (role["default_user"], role["cidr_list"]) == ("alice", "198.51.100.0/24")
    tune = ssh_server.request("GET", "sys/mounts/ssh-fleet/tune").json["data"]
    assert tune["default_lease_ttl"] == 600
    # The admin key is never printed, not even in the task arguments.
    assert "PRIVATE KEY" not in first.stdout + second.stdout


def test_configure_server_check_mode_writes_nothing(configure, ssh_server):
    """--check predicts the four changes and sends no write at all."""
    run = configure("--check")

    assert run.returncode == 0, run.stdout + run.stderr
    assert recap(run.stdout)["changed"] == 4
    assert audited_requests(ssh_server, "ssh-fleet/") == []
    assert audited_requests(ssh_server, "sys/mounts/ssh-fleet") == []


def test_configure_server_diff_shows_the_difference(configure, ssh_server):
    """--diff after a change of default user shows old and new values."""
    configure()

    bob = json.dumps({"otp_default_user": "bob", "otp_allowed_users": ["bob"]})
    run = configure("--diff", "-e", bob)

    assert run.returncode == 0, run.stdout + run.stderr
    assert recap(run.stdout)["changed"] == 1
    assert '-    "default_user": "alice",' in run.stdout
    assert '+    "default_user": "bob",' in run.stdout


def test_configure_server_bad_cidr_fails_with_the_servers_message(
    configure, ssh_server
):
    """A bad CIDR fails the role task with the server's error text."""
    bad = json.dumps({"host_cidr_list": ["198.51.100.0/33"]})
    expected = ssh_server.request(
        "POST",
        "ssh/roles/probe",
        {"key_type": "otp", "default_user": "a", "cidr_list": "198.51.100.0/33"},
    ).json["errors"]

    run = configure("-e", bad)

    assert run.returncode != 0
    assert "POST ssh-fleet/roles/otp_key_role failed (HTTP 400): " in run.stdout
    assert "; ".join(expected) in run.stdout
