"""Mount, lease and server-wide commands through the real CLI."""

import json

from cli_support import table


def test_secrets_enable_list_disable(cli):
    """secrets enable/list/disable, the modern names of mount/unmount."""
    enabled = cli("secrets", "enable", "-path=ssh-test", "-description=test", "ssh")
    listed = cli("secrets", "list")
    as_json = cli("secrets", "list", "-format=json")
    disabled = cli("secrets", "disable", "ssh-test")
    after = cli("secrets", "list", "-format=json")

    assert enabled.code == 0, enabled.err
    assert enabled.out == "Success! Enabled the ssh secrets engine at: ssh-test/\n"
    assert listed.out.splitlines()[0].split() == [
        "Path",
        "Type",
        "Accessor",
        "Description",
    ]
    row = next(line for line in listed.out.splitlines() if line.startswith("ssh-test/"))
    assert row.split()[1] == "ssh" and row.endswith("test")
    assert json.loads(as_json.out)["ssh-test/"]["type"] == "ssh"
    assert disabled.code == 0, disabled.err
    assert "ssh-test/" not in json.loads(after.out)


def test_secrets_mount_ttl_sets_lease_duration(cli, ov_server):
    """mount -default-lease-ttl=90s gives credentials a 1m30s lease."""
    mounted = cli("mount", "-path=short", "-default-lease-ttl=90s", "ssh")
    ov_server.request(
        "POST",
        "short/roles/r",
        {"key_type": "otp", "default_user": "u", "cidr_list": "127.0.0.0/8"},
    )

    creds = cli("write", "short/creds/r", "ip=127.0.0.1")

    assert mounted.out == "Successfully mounted 'ssh' at 'short'!\n"
    assert table(creds.out)["lease_duration"] == "1m30s"


def test_secrets_unmount_and_mount_twice(cli):
    """Mounting a used path is an API error; unmount frees it."""
    first = cli("mount", "ssh")
    again = cli("mount", "ssh")
    gone = cli("unmount", "ssh")

    assert first.code == 0, first.err
    assert again.code == 2
    assert "Code: 400" in again.err
    assert gone.out == "Successfully unmounted 'ssh' if it was mounted\n"
    assert cli("mount", "ssh").code == 0


def test_secrets_lease_lookup_and_revoke(cli, otp_role, ssh_server):
    """lease lookup shows a credential's lease; lease revoke ends it."""
    otp_role()
    lease_id = cli(
        "write", "-field=lease_id", "ssh/creds/otp_key_role", "ip=127.0.0.1"
    ).out
    otp = ssh_server.request(
        "POST", "ssh/creds/otp_key_role", {"ip": "127.0.0.2"}
    ).json["data"]["key"]

    looked = cli("lease", "lookup", lease_id)
    revoked = cli("lease", "revoke", lease_id)
    again = cli("lease", "lookup", lease_id)
    prefix = cli("lease", "revoke", "-prefix", "ssh/creds/otp_key_role")

    assert looked.code == 0, looked.err
    assert table(looked.out)["id"] == lease_id
    assert revoked.out == f"Success! Revoked lease: {lease_id}\n"
    assert again.code == 2
    assert prefix.code == 0, prefix.err
    assert prefix.out == (
        "Success! Revoked any leases with prefix: ssh/creds/otp_key_role\n"
    )
    verify = ssh_server.request("POST", "ssh/verify", {"otp": otp}, token=None)
    assert verify.status == 400


def test_secrets_status_shows_health(cli):
    """status prints the server's health and exits 0 when serving."""
    shown = cli("status")

    assert shown.code == 0, shown.err
    rows = dict(line.split("    ", 1) for line in shown.out.splitlines()[2:])
    assert rows["Initialized"].strip() == "true"
    assert rows["Sealed"].strip() == "false"
