"""`openvault ssh -role <dynamic role> user@host`: a real login, then cleanup."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from dynamic_support import authorized_keys
from dynamic_support import leases_under
from dynamic_support import write_role

pytestmark = [pytest.mark.root, pytest.mark.xdist_group("dynamic-cli")]

OPENVAULT = Path(sys.executable).with_name("openvault")


def openvault_ssh(server, tmp_path, role, target, *remote):
    """Run `openvault ssh` as a user would; TMPDIR is watched for key files."""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "TMPDIR": str(tmpdir),
        "VAULT_ADDR": server.addr,
        "VAULT_TOKEN": server.root_token,
    }
    argv = [str(OPENVAULT), "ssh", f"-role={role}"]
    argv += ["-strict-host-key-checking=no", "-user-known-hosts-file=/dev/null"]
    argv += [target, "-o", "BatchMode=yes", *remote]
    return subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_dynamic_cli_ssh_logs_in_and_cleans_up(shared_lab, add_user, tmp_path):
    server, host = shared_lab.server, shared_lab.host
    user = add_user("cli")
    role = write_role(server, "cli", host.ip, default_user=user)

    run = openvault_ssh(server, tmp_path, role, f"{user}@{host.ip}", "id", "-un")

    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == user
    assert list((tmp_path / "tmp").iterdir()) == []
    assert leases_under(server, f"ssh/creds/{role}/") == []
    assert authorized_keys(host, user) == b""


def test_dynamic_cli_ssh_cleans_up_after_a_failing_command(
    shared_lab, add_user, tmp_path
):
    server, host = shared_lab.server, shared_lab.host
    user = add_user("clifail")
    role = write_role(server, "clifail", host.ip, default_user=user)

    run = openvault_ssh(server, tmp_path, role, f"{user}@{host.ip}", "exit 7")

    assert run.returncode == 7, run.stderr
    assert list((tmp_path / "tmp").iterdir()) == []
    assert leases_under(server, f"ssh/creds/{role}/") == []
    assert authorized_keys(host, user) == b""
