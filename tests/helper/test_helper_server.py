"""The helper process against our own server process: real OTPs, end to end."""

import pytest
from helper_support import LOOPBACK_CIDRS
from helper_support import pam_env

ROLE = {"key_type": "otp", "default_user": "alice", "cidr_list": "127.0.0.0/8"}


@pytest.fixture
def server(ov_server):
    """Our server with ssh mounted and an OTP role web.prod for 127.0.0.0/8."""
    ov_server.mount_ssh()
    reply = ov_server.request("POST", "ssh/roles/web.prod", ROLE)
    assert reply.status in (200, 204), reply.text
    return ov_server


def issue_otp(server, ip="127.0.0.1", role="web.prod", **extra):
    """Ask the server for an OTP and return it."""
    reply = server.request("POST", f"ssh/creds/{role}", {"ip": ip, **extra})
    assert reply.status == 200, reply.text
    assert reply.json["data"]["key_type"] == "otp"
    return reply.json["data"]["key"]


def dev_config(server, roles="web.prod", cidrs=LOOPBACK_CIDRS):
    """Return a dev-mode config for the server (loopback allowed)."""
    return f'vault_addr = "{server.addr}"\nallowed_roles = "{roles}"\n{cidrs}\n'


def test_server_verify_only_succeeds(helper, server, tmp_path):
    config = tmp_path / "config.hcl"
    config.write_text(dev_config(server))

    result = helper(f"-config={config}", "-dev", "-verify-only")

    assert result.returncode == 0, result.stderr
    assert "openvault-ssh-helper verification successful!" in result.stderr


def test_server_otp_login_is_allowed_once(login, server):
    otp = issue_otp(server)

    first = login(dev_config(server), "-dev", otp=otp)
    again = login(dev_config(server), "-dev", otp=otp)

    assert first.returncode == 0, first.stderr
    assert "login allowed: user=alice rhost=198.51.100.77 ip=127.0.0.1" in first.stderr
    assert "role=web.prod" in first.stderr
    assert again.returncode == 1
    assert "OTP not found" in again.stderr
    server.assert_never_logged(otp)


@pytest.mark.parametrize(
    ("case", "roles", "user", "reason"),
    [
        (2, "*", "alice", None),
        (3, "db, web.prod", "alice", None),
        (4, "db", "alice", "not matching any of the allowed_roles"),
        (6, "*", "bob", "username mismatch"),
        (6, "*", "Alice", "username mismatch"),
    ],
)
def test_server_hlp03(login, server, case, roles, user, reason):
    otp = issue_otp(server)

    result = login(dev_config(server, roles), "-dev", otp=otp, env=pam_env(user=user))

    if reason is None:
        assert result.returncode == 0, f"case {case}: {result.stderr}"
    else:
        assert result.returncode == 1, f"case {case}: {result.stderr}"
        assert reason in result.stderr


def test_server_otp_for_a_subnet_neighbour_is_refused(login, server):
    # The role covers 127.0.0.0/8, but only 127.0.0.1/32 is allowed here.
    otp = issue_otp(server, ip="127.0.0.2")

    result = login(dev_config(server, "*"), "-dev", otp=otp)

    assert result.returncode == 1
    assert "ip=127.0.0.2" in result.stderr
    assert "IP is a loopback address" in result.stderr


def test_server_otp_for_loopback_is_refused_by_default(login, server):
    # Loopback is on every host; it counts only inside allowed_cidr_list.
    otp = issue_otp(server, ip="127.0.0.1")

    result = login(dev_config(server, "*", cidrs=""), "-dev", otp=otp)

    assert result.returncode == 1
    assert "ip=127.0.0.1" in result.stderr
    assert "IP is a loopback address" in result.stderr


def test_server_unknown_otp_is_refused(login, server):
    result = login(dev_config(server, "*"), "-dev")

    assert result.returncode == 1
    assert "the server refused the OTP (400: OTP not found)" in result.stderr


def test_server_over_tls_with_ca_cert(login, ov_server_factory, pki):
    server = ov_server_factory(
        "tls", tls=(pki.server_cert, pki.server_key), ca_file=pki.ca_cert
    )
    server.mount_ssh()
    server.request("POST", "ssh/roles/web.prod", ROLE)
    otp = issue_otp(server)
    assert server.addr.startswith("https://")

    result = login(
        f'vault_addr = "{server.addr}"\nca_cert = "{pki.ca_cert}"\n'
        f'allowed_roles = "web.prod"\n{LOOPBACK_CIDRS}\n',
        otp=otp,
    )

    assert result.returncode == 0, result.stderr


def test_server_missing_allowed_roles_fails_without_spending_the_otp(login, server):
    otp = issue_otp(server)
    broken = f'vault_addr = "{server.addr}"\n'

    refused = login(broken, "-dev", otp=otp)
    fixed = login(dev_config(server), "-dev", otp=otp)

    assert refused.returncode == 1
    assert 'reason="missing allowed_roles"' in refused.stderr
    assert fixed.returncode == 0, fixed.stderr
