"""`openvault ssh`: role choice, credentials and the ssh command it runs.

The real login into a real sshd is tested end to end with test hosts; here
ssh is a recording stand-in, so the test can see its argv and environment.
"""

import json
import os
import pwd
import shutil

import pytest
from cli_support import read_record
from cli_support import table

needs_sshpass = pytest.mark.skipif(
    shutil.which("sshpass") is None, reason="sshpass is not installed"
)


def verify(server, otp):
    """Ask the server's verify endpoint about an OTP; return the reply."""
    return server.request("POST", "ssh/verify", {"otp": otp}, token=None)


def test_ssh_no_exec_prints_a_live_credential(cli, otp_role, ssh_server):
    """-no-exec prints the credential table; its OTP verifies once."""
    otp_role()

    shown = cli("ssh", "-role=otp_key_role", "-no-exec", "username@127.0.0.1")

    assert shown.code == 0, shown.err
    rows = table(shown.out)
    assert rows["ip"] == "127.0.0.1"
    assert rows["username"] == "username"
    assert rows["lease_id"].startswith("ssh/creds/otp_key_role/")
    first = verify(ssh_server, rows["key"])
    assert first.status == 200, first.text
    assert first.json["data"]["username"] == "username"
    assert verify(ssh_server, rows["key"]).status == 400


def test_ssh_no_exec_json_and_field(cli, otp_role):
    """-no-exec honours -format=json and -field."""
    otp_role()

    as_json = cli(
        "ssh", "-role", "otp_key_role", "-no-exec", "-format=json", "username@10.0.0.4"
    )
    key = cli(
        "ssh", "-role", "otp_key_role", "-no-exec", "-field=key", "username@10.0.0.4"
    )

    assert as_json.code == 0, as_json.err
    assert json.loads(as_json.out)["data"]["ip"] == "10.0.0.4"
    assert key.code == 0, key.err
    assert key.out and "\n" not in key.out


def test_ssh_picks_the_only_role_matching_the_ip(cli, otp_role):
    """Without -role, the one role whose CIDRs hold the IP is used."""
    otp_role("left", cidr_list="127.0.1.0/24")
    otp_role("right", cidr_list="127.0.2.0/24")

    shown = cli("ssh", "-no-exec", "-format=json", "username@127.0.2.5")

    assert shown.code == 0, shown.err
    assert json.loads(shown.out)["lease_id"].startswith("ssh/creds/right/")
    assert "'right'" in shown.err


def test_ssh_lists_roles_when_several_match(cli, otp_role):
    """Several matching roles: an error naming them, exit 1, no credential."""
    otp_role("wide", cidr_list="127.0.0.0/8")
    otp_role("narrow", cidr_list="127.0.3.0/24")

    shown = cli("ssh", "-no-exec", "username@127.0.3.1")

    assert shown.code == 1
    assert shown.out == ""
    assert "narrow, wide" in shown.err
    assert "-role" in shown.err


def test_ssh_says_when_no_role_matches(cli, otp_role):
    """No matching role: an error naming the IP, exit 1."""
    otp_role("left", cidr_list="127.0.1.0/24")

    shown = cli("ssh", "-no-exec", "username@127.0.9.9")

    assert shown.code == 1
    assert "no role" in shown.err and "'127.0.9.9'" in shown.err


def test_ssh_user_defaults_to_local_user(cli, otp_role):
    """A target without user@ asks for the local user's credential."""
    local = pwd.getpwuid(os.getuid()).pw_name
    otp_role(default_user=local)

    shown = cli("ssh", "-role=otp_key_role", "-no-exec", "-field=username", "127.0.0.1")

    assert (shown.code, shown.out) == (0, local)


def test_ssh_resolves_host_names_to_ip(cli, otp_role):
    """localhost is resolved on the client; the credential is for its IP."""
    otp_role()

    shown = cli(
        "ssh", "-role=otp_key_role", "-no-exec", "-field=ip", "username@localhost"
    )

    assert (shown.code, shown.out) == (0, "127.0.0.1")


def test_ssh_api_error_exits_2_with_server_message(cli, otp_role, ssh_server):
    """A refused credential shows the server's message and exits 2."""
    otp_role()
    direct = ssh_server.request(
        "POST", "ssh/creds/otp_key_role", {"ip": "127.0.0.1", "username": "root"}
    )
    message = direct.json["errors"][0]

    shown = cli("ssh", "-role=otp_key_role", "-no-exec", "root@127.0.0.1")

    assert shown.code == 2
    assert f"* {message}" in shown.err
    assert "URL: PUT" in shown.err and "/v1/ssh/creds/otp_key_role" in shown.err


@needs_sshpass
def test_ssh_sshpass_types_otp_from_env_not_argv(cli, cli_env, otp_role, fake_ssh_dir):
    """With sshpass, the OTP goes through $SSHPASS and is typed at the prompt;
    it never appears on argv, it is live while ssh runs, and it is revoked
    after ssh exits."""
    otp_role()
    record = fake_ssh_dir / "record.json"
    env = cli_env | {
        "PATH": f"{fake_ssh_dir}:{os.path.dirname(shutil.which('sshpass'))}",
        "FAKE_SSH_RECORD": str(record),
        "FAKE_SSH_VERIFY": "1",
    }

    run = cli("ssh", "-role=otp_key_role", "username@127.0.0.1", env=env)

    assert run.code == 0, run.err
    seen = read_record(record)
    assert seen["sshpass_in_env"] is True
    assert seen["verify"]["username"] == "username"
    assert seen["verify"]["ip"] == "127.0.0.1"
    assert seen["typed"] not in " ".join(seen["argv"])
    assert seen["argv"][1:] == [
        "-p",
        "22",
        "-o",
        "StrictHostKeyChecking=ask",
        "username@127.0.0.1",
    ]
    assert "OTP for the session" not in run.out


@needs_sshpass
def test_ssh_revokes_unused_otp_after_ssh_exits(
    cli, cli_env, otp_role, fake_ssh_dir, ssh_server
):
    """An OTP that ssh did not use is revoked once ssh is gone."""
    otp_role()
    record = fake_ssh_dir / "record.json"
    env = cli_env | {
        "PATH": f"{fake_ssh_dir}:{os.path.dirname(shutil.which('sshpass'))}",
        "FAKE_SSH_RECORD": str(record),
        "FAKE_SSH_EXIT": "255",
    }

    run = cli("ssh", "-role=otp_key_role", "username@127.0.0.1", env=env)

    assert run.code == 255
    typed = read_record(record)["typed"]
    assert typed
    assert verify(ssh_server, typed).status == 400


def test_ssh_without_sshpass_prints_otp_and_runs_ssh(
    cli, cli_env, otp_role, fake_ssh_dir, tmp_path
):
    """Without sshpass, the OTP is printed for the user to type, then ssh
    runs with the role's port, the host key options and the extra args."""
    otp_role(port="2222")
    record = fake_ssh_dir / "record.json"
    stdout = tmp_path / "stdout.txt"
    env = cli_env | {
        "PATH": str(fake_ssh_dir),
        "FAKE_SSH_RECORD": str(record),
        "FAKE_SSH_OTP_FILE": str(stdout),
        "FAKE_SSH_VERIFY": "1",
    }

    run = cli(
        "ssh",
        "-role=otp_key_role",
        "-strict-host-key-checking=no",
        "-user-known-hosts-file=/dev/null",
        "username@127.0.0.1",
        "-t",
        "uptime",
        "-p",
        env=env,
        stdout_file=stdout,
    )

    assert run.code == 0, run.err
    assert run.out.startswith("OTP for the session is: ")
    assert "[Note: Install 'sshpass' to automate typing in OTP]" in run.err
    seen = read_record(record)
    assert seen["sshpass_in_env"] is False
    assert seen["verify"]["username"] == "username"
    assert seen["argv"][1:] == [
        "-p",
        "2222",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "username@127.0.0.1",
        "-t",
        "uptime",
        "-p",
    ]


def test_ssh_user_port_and_env_options_win(cli, cli_env, otp_role, fake_ssh_dir):
    """A -p among the ssh args replaces the role's port; the host key
    options come from VAULT_SSH_* when not given as flags."""
    otp_role(port="2222")
    record = fake_ssh_dir / "record.json"
    env = cli_env | {
        "PATH": str(fake_ssh_dir),
        "FAKE_SSH_RECORD": str(record),
        "VAULT_SSH_STRICT_HOST_KEY_CHECKING": "yes",
        "VAULT_SSH_USER_KNOWN_HOSTS_FILE": "/tmp/known",
    }

    run = cli("ssh", "-role=otp_key_role", "username@127.0.0.1", "-p", "2200", env=env)

    assert run.code == 0, run.err
    assert read_record(record)["argv"][1:] == [
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "UserKnownHostsFile=/tmp/known",
        "username@127.0.0.1",
        "-p",
        "2200",
    ]


def test_ssh_exit_code_of_ssh_is_returned(cli, cli_env, otp_role, fake_ssh_dir):
    """The command exits with ssh's own exit code."""
    otp_role()
    env = cli_env | {
        "PATH": str(fake_ssh_dir),
        "FAKE_SSH_RECORD": str(fake_ssh_dir / "record.json"),
        "FAKE_SSH_EXIT": "7",
    }

    run = cli("ssh", "-role=otp_key_role", "-mode=otp", "username@127.0.0.1", env=env)

    assert run.code == 7


def test_ssh_mode_dynamic_refuses_an_otp_role(cli, otp_role, fake_ssh_dir, cli_env):
    """-mode dynamic on an OTP role is refused with a clear message; ssh is not
    run."""
    otp_role()
    record = fake_ssh_dir / "record.json"
    env = cli_env | {"PATH": str(fake_ssh_dir), "FAKE_SSH_RECORD": str(record)}

    run = cli(
        "ssh", "-role=otp_key_role", "-mode=dynamic", "username@127.0.0.1", env=env
    )

    assert run.code == 1
    assert "not a dynamic key" in run.err
    assert not record.exists()


def test_ssh_token_without_role_read_falls_back_to_credential(
    cli, cli_env, otp_role, fake_ssh_dir, ssh_server, tmp_path
):
    """A token that may issue creds but not read roles still logs in: the
    mode comes from the credential, which is then used and revoked."""
    otp_role()
    policy = tmp_path / "otp.hcl"
    policy.write_text(
        'path "ssh/creds/otp_key_role" { capabilities = ["update"] }\n'
        'path "sys/leases/revoke" { capabilities = ["update"] }\n'
    )
    assert cli("policy", "write", "otp-user", str(policy)).code == 0
    token = cli("token", "create", "-policy=otp-user", "-field=token").out
    assert token
    record = fake_ssh_dir / "record.json"
    env = cli_env | {
        "VAULT_TOKEN": token,
        "PATH": str(fake_ssh_dir),
        "FAKE_SSH_RECORD": str(record),
        "FAKE_SSH_OTP_FILE": str(tmp_path / "stdout.txt"),
        "FAKE_SSH_VERIFY": "1",
    }
    denied = cli("read", "ssh/roles/otp_key_role", env=env)
    assert denied.code == 2 and "Code: 403" in denied.err

    run = cli(
        "ssh",
        "-role=otp_key_role",
        "username@127.0.0.1",
        env=env,
        stdout_file=tmp_path / "stdout.txt",
    )

    assert run.code == 0, run.err
    assert read_record(record)["verify"]["username"] == "username"
