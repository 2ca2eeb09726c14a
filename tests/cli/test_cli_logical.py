"""The documented flow and the generic path commands, through the real CLI."""

import json
import subprocess

from cli_support import table
from cli_support import table_keys


def test_logical_documented_otp_flow(cli, ov_server):
    """Every step of the OTP quick start prints what the docs show."""
    mounted = cli("mount", "ssh")
    assert mounted.code == 0, mounted.err
    assert mounted.out == "Successfully mounted 'ssh' at 'ssh'!\n"

    written = cli(
        "write",
        "ssh/roles/otp_key_role",
        "key_type=otp",
        "default_user=username",
        "cidr_list=127.0.0.0/8,10.0.0.0/24",
    )
    assert written.code == 0, written.err
    assert written.out == "Success! Data written to: ssh/roles/otp_key_role\n"

    role = cli("read", "ssh/roles/otp_key_role")
    assert role.code == 0, role.err
    rows = table(role.out)
    assert rows["key_type"] == "otp"
    assert rows["default_user"] == "username"
    assert rows["cidr_list"] == "127.0.0.0/8,10.0.0.0/24"
    assert rows["port"] == "22"
    assert table_keys(role.out) == sorted(rows)

    creds = cli("write", "ssh/creds/otp_key_role", "ip=127.0.0.1")
    assert creds.code == 0, creds.err
    keys = table_keys(creds.out)
    assert keys[:3] == ["lease_id", "lease_duration", "lease_renewable"]
    assert keys[3:] == sorted(keys[3:])
    assert {"ip", "key", "key_type", "port", "username"} <= set(keys)
    rows = table(creds.out)
    assert rows["lease_id"].startswith("ssh/creds/otp_key_role/")
    assert rows["ip"] == "127.0.0.1"
    assert rows["username"] == "username"
    assert rows["key_type"] == "otp"

    verified = cli("write", "ssh/verify", f"otp={rows['key']}")
    assert verified.code == 0, verified.err
    assert table(verified.out)["username"] == "username"
    assert table(verified.out)["ip"] == "127.0.0.1"

    listed = cli("list", "ssh/roles")
    assert listed.code == 0, listed.err
    assert listed.out == "Keys\n----\notp_key_role\n"

    deleted = cli("delete", "ssh/roles/otp_key_role")
    assert deleted.code == 0, deleted.err
    assert (
        deleted.out
        == "Success! Data deleted (if it existed) at: ssh/roles/otp_key_role\n"
    )

    gone = cli("read", "ssh/roles/otp_key_role")
    assert gone.code == 2
    assert gone.err == "No value found at ssh/roles/otp_key_role\n"


def test_logical_table_aligns_columns(cli, otp_role):
    """Values start in one column, four spaces after the longest key."""
    otp_role(exclude_cidr_list="10.0.0.9/32")

    role = cli("read", "ssh/roles/otp_key_role")

    lines = role.out.splitlines()
    width = max(len(line.split()[0]) for line in lines) + 4
    assert lines[0] == "Key".ljust(width) + "Value"
    assert lines[1] == "---".ljust(width) + "-----"
    for line in lines[2:]:
        assert line[width - 4 : width] == "    " and line[width] != " ", line


def test_logical_read_json_prints_envelope(cli, otp_role):
    """-format=json prints the reply envelope with the role under data."""
    otp_role()

    role = cli("read", "-format=json", "ssh/roles/otp_key_role")

    assert role.code == 0, role.err
    reply = json.loads(role.out)
    assert list(reply)[:6] == [
        "request_id",
        "lease_id",
        "lease_duration",
        "renewable",
        "data",
        "warnings",
    ]
    assert reply["data"]["key_type"] == "otp"
    assert reply["data"]["port"] == 22


def test_logical_write_json_prints_lease(cli, otp_role):
    """The JSON of a credential carries its lease and the OTP."""
    otp_role()

    creds = cli("write", "--format", "json", "ssh/creds/otp_key_role", "ip=10.0.0.7")

    assert creds.code == 0, creds.err
    reply = json.loads(creds.out)
    assert reply["lease_id"].startswith("ssh/creds/otp_key_role/")
    assert reply["lease_duration"] > 0
    assert reply["data"]["ip"] == "10.0.0.7"
    assert reply["data"]["key"]


def test_logical_list_json_prints_keys_array(cli, otp_role):
    """`list -format=json` prints only the sorted keys, as vault does."""
    otp_role("zeta")
    otp_role("alpha")

    listed = cli("list", "-format=json", "ssh/roles")

    assert listed.code == 0, listed.err
    assert json.loads(listed.out) == ["alpha", "zeta"]


def test_logical_list_empty_exits_2(cli, ssh_server):
    """Listing roles when there are none says so and exits 2."""
    listed = cli("list", "ssh/roles")

    assert listed.code == 2
    assert listed.err == "No value found at ssh/roles\n"


def test_logical_field_prints_raw_value(cli, otp_role):
    """-field prints one value with no newline when stdout is not a tty."""
    otp_role(port="2222")

    port = cli("read", "-field=port", "ssh/roles/otp_key_role")
    lease = cli("write", "-field=lease_id", "ssh/creds/otp_key_role", "ip=127.0.0.9")

    assert (port.code, port.out) == (0, "2222")
    assert lease.code == 0, lease.err
    assert lease.out.startswith("ssh/creds/otp_key_role/")
    assert "\n" not in lease.out


def test_logical_field_missing_exits_1(cli, otp_role):
    """Asking for a field the reply lacks names it and exits 1."""
    otp_role()

    missing = cli("read", "-field=nope", "ssh/roles/otp_key_role")

    assert missing.code == 1
    assert missing.err == 'Field "nope" not present in secret\n'


def test_logical_write_value_from_file(cli, ssh_server, tmp_path):
    """k=@file sends the file's contents as the value."""
    cidrs = tmp_path / "cidrs.txt"
    cidrs.write_text("192.0.2.0/24,198.51.100.0/24")

    written = cli(
        "write",
        "ssh/roles/from_file",
        "key_type=otp",
        "default_user=username",
        f"cidr_list=@{cidrs}",
    )
    role = cli("read", "-field=cidr_list", "ssh/roles/from_file")

    assert written.code == 0, written.err
    assert role.out == "192.0.2.0/24,198.51.100.0/24"


def test_logical_write_key_from_pem_file(cli, ssh_server, tmp_path):
    """The documented `vault write ssh/keys/dev_key key=@file.pem` works."""
    pem = tmp_path / "dev_shared_key.pem"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-m", "PEM", "-N", ""]
        + ["-f", str(pem)],
        check=True,
    )

    written = cli("write", "ssh/keys/dev_key", f"key=@{pem}")
    literal = cli("write", "ssh/keys/bad_key", "key=not-a-key")

    assert written.code == 0, written.err
    assert written.out == "Success! Data written to: ssh/keys/dev_key\n"
    assert literal.code == 2


def test_logical_write_missing_file_is_usage_error(cli, ssh_server, tmp_path):
    """k=@file for a file that does not exist names it and exits 1."""
    missing = tmp_path / "nope.pem"

    written = cli("write", "ssh/keys/dev_key", f"key=@{missing}")

    assert written.code == 1
    assert f"error reading file '{missing}'" in written.err


def test_logical_write_value_from_stdin(cli, otp_role):
    """k=- reads the value from standard input, byte for byte."""
    otp_role()

    creds = cli(
        "write", "-field=ip", "ssh/creds/otp_key_role", "ip=-", stdin="10.0.0.3"
    )

    assert (creds.code, creds.out) == (0, "10.0.0.3")


def test_logical_write_repeated_key_sends_list(cli, otp_role):
    """A key given twice is sent as a JSON list (zeroaddress takes one)."""
    otp_role("one")
    otp_role("two")

    written = cli("write", "ssh/config/zeroaddress", "roles=one", "roles=two")
    roles = cli("read", "-format=json", "ssh/config/zeroaddress")

    assert written.code == 0, written.err
    assert sorted(json.loads(roles.out)["data"]["roles"]) == ["one", "two"]


def test_logical_write_json_object_from_stdin(cli, ssh_server):
    """A lone `-` reads the whole body as a JSON object from stdin."""
    body = {"key_type": "otp", "default_user": "u", "cidr_list": "10.1.0.0/16"}

    written = cli("write", "ssh/roles/from_json", "-", stdin=json.dumps(body))
    role = cli("read", "-field=cidr_list", "ssh/roles/from_json")

    assert written.code == 0, written.err
    assert role.out == "10.1.0.0/16"


def test_logical_api_error_prints_server_message(cli, otp_role, ov_server):
    """An API error shows method, URL, status and the server's own message."""
    otp_role()
    direct = ov_server.request("POST", "ssh/creds/otp_key_role", {"ip": "8.8.8.8"})
    assert direct.status == 400
    message = direct.json["errors"][0]

    creds = cli("write", "ssh/creds/otp_key_role", "ip=8.8.8.8")

    assert creds.code == 2
    assert creds.out == ""
    assert creds.err == (
        "Error writing data to ssh/creds/otp_key_role: Error making API request.\n"
        "\n"
        f"URL: PUT {ov_server.addr}/v1/ssh/creds/otp_key_role\n"
        "Code: 400. Errors:\n"
        "\n"
        f"* {message}\n"
    )


def test_logical_path_help_prints_help_text(cli, ssh_server):
    """path-help prints the help field of GET PATH?help=1."""
    direct = ssh_server.request("GET", "ssh/roles/x?help=1")
    assert direct.status == 200, direct.text
    expected = direct.json["help"]

    shown = cli("path-help", "ssh/roles/x")

    assert shown.code == 0, shown.err
    assert shown.out.strip() == expected.strip()
    assert "default_user" in shown.out
