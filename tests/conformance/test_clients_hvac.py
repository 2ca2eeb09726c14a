"""hvac's secrets.ssh API, unchanged, against our server: real logins to a host."""

from __future__ import annotations

import subprocess

import hvac
import hvac.exceptions
import pytest
from support.otp_host import ssh_password

pytestmark = [pytest.mark.root, pytest.mark.xdist_group("clients_hvac")]


@pytest.fixture(scope="module")
def client(client_lab):
    """An hvac client with the root token, trusting the server's CA."""
    client = hvac.Client(
        url=client_lab.server.addr,
        token=client_lab.server.root_token,
        verify=client_lab.ca_cert,
    )
    # The helper on the host asks the mount its guide names: ssh/.
    client.sys.enable_secrets_engine("ssh", path="ssh")
    return client


def test_clients_hvac_otp_role_creds_log_in_once(client, client_lab):
    host = client_lab.host
    ssh = client.secrets.ssh
    ssh.create_role(
        "hvac-otp", key_type="otp", default_user="alice", cidr_list=f"{host.ip}/32"
    )

    roles = ssh.list_roles_by_ip(ip=host.ip)["data"]["roles"]
    creds = ssh.generate_ssh_credentials("hvac-otp", username="alice", ip=host.ip)
    otp = creds["data"]["key"]
    login = ssh_password(host, otp)
    again = ssh_password(host, otp)

    assert roles == ["hvac-otp"]
    assert creds["data"]["key_type"] == "otp"
    assert creds["lease_id"].startswith("ssh/creds/hvac-otp/")
    assert (login.returncode, login.stdout.strip()) == (0, "alice"), login.stderr
    assert again.returncode == 255, "an OTP must work once"
    with pytest.raises(hvac.exceptions.InvalidRequest, match="OTP not found"):
        ssh.verify_ssh_otp(otp)


def test_clients_hvac_verify_ssh_otp_spends_the_otp(client, client_lab):
    host = client_lab.host
    ssh = client.secrets.ssh
    ssh.create_role(
        "hvac-verify", key_type="otp", default_user="alice", cidr_list=f"{host.ip}/32"
    )
    otp = ssh.generate_ssh_credentials("hvac-verify", ip=host.ip)["data"]["key"]

    verified = ssh.verify_ssh_otp(otp)["data"]
    login = ssh_password(host, otp)

    assert verified == {"username": "alice", "ip": host.ip, "role_name": "hvac-verify"}
    assert login.returncode == 255, "verify spent the OTP; the host must refuse it"


def test_clients_hvac_zeroaddress_role_serves_the_host(client, client_lab):
    host = client_lab.host
    ssh = client.secrets.ssh
    ssh.create_role("hvac-anywhere", key_type="otp", default_user="alice")
    with pytest.raises(hvac.exceptions.InvalidRequest, match="does not belong"):
        ssh.generate_ssh_credentials("hvac-anywhere", ip=host.ip)

    ssh.configure_zeroaddress_roles("hvac-anywhere")
    roles = ssh.list_roles_by_ip(ip=host.ip)["data"]["roles"]
    otp = ssh.generate_ssh_credentials("hvac-anywhere", ip=host.ip)["data"]["key"]
    login = ssh_password(host, otp)

    assert "hvac-anywhere" in roles
    assert login.returncode == 0, login.stderr


def test_clients_hvac_dynamic_key_logs_in_until_revoked(client, client_lab, tmp_path):
    host = client_lab.host
    ssh = client.secrets.ssh
    ssh.create_or_update_key("hvac-admin", key=client_lab.admin_key)
    # hvac sends its default key_bits=1024, which stays accepted.
    ssh.create_role(
        "hvac-dyn",
        key_type="dynamic",
        key="hvac-admin",
        admin_user="vaultadmin",
        default_user="alice",
        cidr_list=f"{host.ip}/32",
    )

    creds = ssh.generate_ssh_credentials("hvac-dyn", ip=host.ip)
    key_file = tmp_path / "dynamic-key"
    key_file.write_text(creds["data"]["key"])
    key_file.chmod(0o600)
    login = _ssh_key(host, key_file)
    client.sys.revoke_lease(creds["lease_id"])
    after = _ssh_key(host, key_file)

    assert creds["data"]["key_type"] == "dynamic"
    assert creds["renewable"] is True
    assert (login.returncode, login.stdout.strip()) == (0, "alice"), login.stderr
    assert after.returncode == 255, "a revoked dynamic key must be removed"
    assert ssh.read_role("hvac-dyn")["data"]["key_bits"] == 1024


def _ssh_key(host, key_file):
    argv = host.ssh_args("alice", key_file) + ["id -un"]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)
