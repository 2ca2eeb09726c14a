"""Real SSH logins through sshd, PAM and the helper, set up by docs/otp-helper.md."""

import subprocess

import pytest
from support.otp_host import CONFIG
from support.otp_host import DROP_IN
from support.otp_host import HELPER
from support.otp_host import HELPER_LOG
from support.otp_host import doc_block
from support.otp_host import install_by_the_guide
from support.otp_host import ssh_password


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
    install_by_the_guide(host, server.addr, pki.ca_cert.read_bytes())
    return host, server


def issue_otp(server, host):
    """Get an OTP for alice at the host."""
    reply = server.request("POST", "ssh/creds/otp-web", {"ip": host.ip})
    assert reply.status == 200, reply.text
    return reply.json["data"]["key"]


def ssh_key(host, key, user="alice"):
    """Log in with a key; return the process."""
    argv = host.ssh_args(user, key.path) + ["id -un"]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


@pytest.mark.root
def test_sshd_otp_login_by_the_guide(otp_host, testhost_ssh_key):
    host, server = otp_host
    otp = issue_otp(server, host)

    check = host.run([HELPER, "-verify-only", f"-config={CONFIG}"])
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
