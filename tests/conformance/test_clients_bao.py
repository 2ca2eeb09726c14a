"""The bao CLI (OpenBao's own client), unchanged, against our server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
from support.openbao import bao_binary

pytestmark = [pytest.mark.root, pytest.mark.xdist_group("clients_bao")]


def cli_env(lab, home, prefix="BAO_"):
    """Return an environment that points bao at our server with prefix's names.

    bao reads BAO_ADDR, BAO_TOKEN and BAO_CACERT, and falls back to the
    VAULT_* names, so both sets are tried; HOME is private so no token helper
    file is read or written outside the test.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("VAULT_", "BAO_"))
    }
    env.update(
        {
            "HOME": str(home),
            f"{prefix}ADDR": lab.server.addr,
            f"{prefix}TOKEN": lab.server.root_token,
            f"{prefix}CACERT": lab.ca_cert,
        }
    )
    return env


@pytest.fixture(scope="module")
def bao(client_lab, tmp_path_factory):
    """Return run(*args) -> CompletedProcess of the bao binary on our server."""
    env = cli_env(client_lab, tmp_path_factory.mktemp("bao-home"))

    def run(*args, check=True):
        result = subprocess.run(
            [str(bao_binary()), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        if check:
            assert result.returncode == 0, result.stdout + result.stderr
        return result

    enabled = run("secrets", "enable", "ssh")
    assert "Success! Enabled the ssh secrets engine at: ssh/" in enabled.stdout
    return run


@pytest.mark.parametrize("prefix", ["BAO_", "VAULT_"])
def test_clients_bao_reads_bao_and_vault_environment_names(
    client_lab, tmp_path, prefix
):
    env = cli_env(client_lab, tmp_path, prefix)

    result = subprocess.run(
        [str(bao_binary()), "token", "lookup", "-format=json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["data"]["policies"] == ["root"]
    assert not (tmp_path / ".vault-token").exists()


def test_clients_bao_secrets_enable_write_read_list_creds(bao, client_lab):
    host = client_lab.host
    enabled = bao("secrets", "enable", "-path=bao-cli", "-description=cli", "ssh")
    mounts = json.loads(bao("secrets", "list", "-format=json").stdout)
    written = bao(
        "write",
        "bao-cli/roles/web",
        "key_type=otp",
        "default_user=alice",
        f"cidr_list={host.ip}/32",
        "port=22",
    )
    role = json.loads(bao("read", "-format=json", "bao-cli/roles/web").stdout)
    listed = json.loads(bao("list", "-format=json", "bao-cli/roles").stdout)
    creds = json.loads(
        bao("write", "-format=json", "bao-cli/creds/web", f"ip={host.ip}").stdout
    )
    missing = bao("read", "bao-cli/roles/nosuch", check=False)
    refused = bao("write", "bao-cli/creds/web", "ip=203.0.113.9", check=False)

    assert "Success! Enabled the ssh secrets engine at: bao-cli/" in enabled.stdout
    assert mounts["bao-cli/"]["type"] == "ssh"
    assert mounts["bao-cli/"]["description"] == "cli"
    assert "Success! Data written to: bao-cli/roles/web" in written.stdout
    assert role["data"]["cidr_list"] == f"{host.ip}/32"
    assert role["data"]["port"] == 22
    assert listed == ["web"]
    assert creds["data"]["username"] == "alice"
    assert creds["lease_id"].startswith("bao-cli/creds/web/")
    assert missing.returncode == 2
    assert "No value found at bao-cli/roles/nosuch" in missing.stderr
    assert refused.returncode == 2
    assert "Error validating IP: IP does not belong to role" in refused.stderr


@pytest.mark.skipif(shutil.which("sshpass") is None, reason="needs sshpass")
def test_clients_bao_ssh_otp_mode_logs_into_the_host(bao, client_lab):
    host = client_lab.host
    server = client_lab.server
    bao(
        "write",
        "ssh/roles/bao-otp",
        "key_type=otp",
        "default_user=alice",
        f"cidr_list={host.ip}/32",
    )

    login = bao(
        "ssh",
        "-mode=otp",
        "-role=bao-otp",
        "-strict-host-key-checking=no",
        "-user-known-hosts-file=/dev/null",
        f"alice@{host.ip}",
        "id -un",
    )
    left = server.request("LIST", "sys/leases/lookup/ssh/creds/bao-otp/")

    assert login.stdout.strip() == "alice", login.stderr
    assert "Accepted keyboard-interactive/pam for alice" in host.sshd_log()
    # bao revokes the credential's lease once ssh has exited.
    assert left.status == 404, left.text
    issued = [
        entry
        for entry in server.audit_entries()
        if entry["type"] == "response"
        and entry["request"]["path"] == "ssh/creds/bao-otp"
    ]
    assert len(issued) == 1


def test_bao_status_reports_an_unsealed_server_without_ha(bao):
    """`bao status` reads sys/seal-status and sys/leader; both answer."""
    shown = bao("status", "-format=json")

    status = json.loads(shown.stdout)
    assert status["sealed"] is False
    assert status["initialized"] is True
    assert status["ha_enabled"] is False
