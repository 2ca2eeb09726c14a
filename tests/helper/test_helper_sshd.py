"""Real SSH logins through sshd, PAM and the helper, set up by docs/otp-helper.md."""

import os
import re
import subprocess
from pathlib import Path

import pytest
from helper_support import HELPER_SOURCE

DOC = Path(__file__).resolve().parents[2] / "docs" / "otp-helper.md"
HELPER = "/usr/local/bin/openvault-ssh-helper"
CONFIG_DIR = "/etc/openvault-ssh-helper.d"
HELPER_LOG = "/var/log/openvault-ssh-helper.log"
DROP_IN = "/etc/ssh/sshd_config.d/openvault-otp.conf"


def doc_block(marker):
    """Return the one fenced block of the guide that contains marker."""
    blocks = re.findall(r"^```[a-z]*\n(.*?)^```", DOC.read_text(), re.M | re.S)
    found = [block for block in blocks if marker in block]
    assert len(found) == 1, f"{marker!r} is in {len(found)} blocks of {DOC.name}"
    return found[0]


@pytest.fixture
def otp_host(testhost_factory, ov_server_factory, pki):
    """A test host set up by the guide, and our server on the hosts' gateway."""
    host = testhost_factory("otp")
    server = ov_server_factory(
        "gw",
        listen="198.51.100.1:0",
        tls=(pki.server_cert, pki.server_key),
        ca_file=pki.ca_cert,
    )
    server.mount_ssh()
    role = {"key_type": "otp", "default_user": "alice", "cidr_list": f"{host.ip}/32"}
    assert server.request("POST", "ssh/roles/otp-web", role).status in (200, 204)

    host.add_user("alice", password="unix-password-1")
    install_by_the_guide(host, server, pki)
    return host, server


def install_by_the_guide(host, server, pki):
    """Install the helper, its config, the PAM line and the sshd drop-in."""
    host.write_file(HELPER, HELPER_SOURCE.read_bytes(), mode=0o755)
    host.make_dir(CONFIG_DIR)
    host.write_file(f"{CONFIG_DIR}/ca.pem", pki.ca_cert.read_bytes())
    example = doc_block("# /etc/openvault-ssh-helper.d/config.hcl")
    config = example.replace("https://vault.example.com:8200", server.addr)
    host.write_file(f"{CONFIG_DIR}/config.hcl", config)

    pam = host.read_text("/etc/pam.d/sshd")
    assert pam.count("\n@include common-auth\n") == 1
    lines = doc_block("#@include common-auth").splitlines()
    stack = "\n".join(line for line in lines if not line.startswith("# Standard"))
    host.write_file("/etc/pam.d/sshd", pam.replace("@include common-auth", stack))

    host.write_file(DROP_IN, doc_block(f"# {DROP_IN}"))
    host.run(["sshd", "-t"])
    host.reload()


def issue_otp(server, host):
    """Get an OTP for alice at the host."""
    reply = server.request("POST", "ssh/creds/otp-web", {"ip": host.ip})
    assert reply.status == 200, reply.text
    return reply.json["data"]["key"]


def ssh_password(host, password, user="alice", extra=()):
    """Log in by keyboard-interactive, typing password; return the process."""
    argv = ["sshpass", "-e", "ssh", "-F", "/dev/null", "-p", str(host.port)]
    for option in (
        "StrictHostKeyChecking=no",
        "UserKnownHostsFile=/dev/null",
        "PreferredAuthentications=keyboard-interactive",
        "PubkeyAuthentication=no",
        "NumberOfPasswordPrompts=1",
        "ConnectTimeout=10",
        "LogLevel=ERROR",
        *extra,
    ):
        argv += ["-o", option]
    argv += [f"{user}@{host.ip}", "id -un"]
    env = dict(os.environ, SSHPASS=password)
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)


def ssh_key(host, key, user="alice"):
    """Log in with a key; return the process."""
    argv = host.ssh_args(user, key.path) + ["id -un"]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


@pytest.mark.root
def test_sshd_otp_login_by_the_guide(otp_host, testhost_ssh_key):
    host, server = otp_host
    otp = issue_otp(server, host)

    check = host.run([HELPER, "-verify-only", f"-config={CONFIG_DIR}/config.hcl"])
    first = ssh_password(host, otp)
    again = ssh_password(host, otp)
    unix = ssh_password(host, "unix-password-1")

    assert "verification successful!" in check.stderr
    assert (first.returncode, first.stdout.strip()) == (0, "alice"), first.stderr
    assert "Accepted keyboard-interactive/pam for alice" in host.sshd_log()
    assert again.returncode == 255
    assert unix.returncode == 255, "the Unix password must not pass the OTP prompt"

    log = host.read_text(HELPER_LOG)
    assert f"login allowed: user=alice rhost=198.51.100.1 ip={host.ip}" in log
    assert "OTP not found" in log
    assert "not shaped like an OTP" in log
    assert otp not in log and "unix-password-1" not in log
    assert "pam_setcred" not in host.sshd_log()

    host.authorize_key("alice", testhost_ssh_key.public)
    assert ssh_key(host, testhost_ssh_key).returncode == 0, "key logins must stay"


@pytest.mark.root
def test_sshd_wrong_user_for_the_otp_is_refused(otp_host):
    host, server = otp_host
    host.add_user("bob")
    otp = issue_otp(server, host)

    result = ssh_password(host, otp, user="bob")

    assert result.returncode == 255
    assert "username mismatch" in host.read_text(HELPER_LOG)


@pytest.mark.root
def test_sshd_authentication_methods_makes_otp_the_only_way(otp_host, testhost_ssh_key):
    host, server = otp_host
    only = doc_block("AuthenticationMethods keyboard-interactive").strip()
    host.write_file(DROP_IN, host.read_text(DROP_IN) + only + "\n")
    host.reload()
    host.authorize_key("alice", testhost_ssh_key.public)

    by_key = ssh_key(host, testhost_ssh_key)
    by_otp = ssh_password(host, issue_otp(server, host))

    assert by_key.returncode == 255
    assert by_otp.returncode == 0, by_otp.stderr
