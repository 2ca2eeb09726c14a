"""Logins as pam_exec runs them: the helper process against a verify server."""

import pytest
from helper_support import GOOD_REPLY
from helper_support import LOOPBACK_CIDRS
from helper_support import OTP
from helper_support import pam_env


def hcl(standin, extra='allowed_roles = "*"', cidrs=LOOPBACK_CIDRS):
    """Return a config for a dev-mode stand-in server (loopback allowed)."""
    return f'vault_addr = "{standin.addr}"\n{cidrs}\n{extra}\n'


def reply(**data):
    """Return GOOD_REPLY with some data fields replaced."""
    return dict(GOOD_REPLY, data=dict(GOOD_REPLY["data"], **data))


# --- HLP-03 through the real process ----------------------------------------


@pytest.mark.parametrize(
    ("case", "extra", "data", "user", "allowed"),
    [
        (1, "", {}, "alice", False),
        (2, 'allowed_roles = "*"', {}, "alice", True),
        (3, 'allowed_roles = "db, web.prod"', {}, "alice", True),
        (4, 'allowed_roles = "db"', {}, "alice", False),
        (5, 'allowed_roles = "db"', {"role_name": ""}, "alice", False),
        (6, 'allowed_roles = "*"', {}, "bob", False),
        (6, 'allowed_roles = "*"', {}, "Alice", False),
    ],
)
def test_login_hlp03(login, standin, case, extra, data, user, allowed):
    standin.answer(reply=reply(**data))

    result = login(hcl(standin, extra), "-dev", env=pam_env(user=user))

    assert (result.returncode == 0) is allowed, f"case {case}: {result.stderr}"
    assert ("login allowed" in result.stderr) is allowed


def test_login_without_allowed_roles_does_not_spend_the_otp(login, standin):
    result = login(hcl(standin, ""), "-dev")

    assert result.returncode == 1
    assert 'reason="missing allowed_roles"' in result.stderr
    assert standin.seen == []


def test_login_allowed_logs_the_decision_fields(login, standin):
    result = login(hcl(standin), "-dev", env=pam_env(rhost="198.51.100.23"))

    assert result.returncode == 0
    assert (
        "login allowed: user=alice rhost=198.51.100.23 ip=127.0.0.1 role=web.prod "
        'reason="alice@127.0.0.1 authenticated!"'
    ) in result.stderr


def test_login_denied_logs_the_decision_fields(login, standin):
    result = login(hcl(standin), "-dev", env=pam_env(user="bob", rhost="::1"))

    assert result.returncode == 1
    assert "[WARNING] openvault-ssh-helper" in result.stderr.splitlines()[-1]
    assert (
        "login denied: user=bob rhost=::1 ip=127.0.0.1 role=web.prod "
        'reason="username mismatch"'
    ) in result.stderr


def test_login_log_fields_cannot_forge_lines(login, standin):
    env = pam_env(user="alice\nlogin allowed: user=root", rhost="x y")

    result = login(hcl(standin), "-dev", env=env)

    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 2  # dev warning, decision
    assert 'user="alice\\nlogin allowed: user=root"' in result.stderr
    assert 'rhost="x y"' in result.stderr


def test_login_sends_the_otp_without_a_token(login, standin):
    env = pam_env(VAULT_TOKEN="s.should-not-be-sent")

    result = login(hcl(standin), "-dev", env=env)

    assert result.returncode == 0
    seen = standin.seen[0]
    assert (seen.method, seen.path) == ("POST", "/v1/ssh/verify")
    assert seen.json() == {"otp": OTP}
    assert "X-Vault-Token" not in seen.headers


# --- the IP check -------------------------------------------------------------


def test_login_refuses_a_subnet_neighbour_cve_2020_24359(login, standin):
    # 127.0.0.2 is inside lo's 127.0.0.0/8 but not in the allowed 127.0.0.1/32.
    # (The real neighbour case, another host's address, is in tests/e2e.)
    standin.answer(reply=reply(ip="127.0.0.2"))

    result = login(hcl(standin), "-dev")

    assert result.returncode == 1
    assert "IP is a loopback address" in result.stderr


@pytest.mark.parametrize("ip", ["127.0.0.1", "::1", "::ffff:127.0.0.1"])
def test_login_refuses_loopback_outside_allowed_cidr_list(login, standin, ip):
    # Every host has loopback: an OTP for 127.0.0.1 would open all of them.
    standin.answer(reply=reply(ip=ip))

    result = login(hcl(standin, cidrs=""), "-dev")

    assert result.returncode == 1
    assert "IP is a loopback address" in result.stderr


def test_login_allows_an_ip_in_allowed_cidr_list(login, standin):
    standin.answer(reply=reply(ip="203.0.113.50"))
    extra = 'allowed_roles = "*"\nallowed_cidr_list = "10.0.0.0/8,203.0.113.0/24"'

    result = login(hcl(standin, extra, cidrs=""), "-dev")

    assert result.returncode == 0, result.stderr


def test_login_refuses_an_ip_outside_allowed_cidr_list(login, standin):
    standin.answer(reply=reply(ip="203.0.113.50"))
    extra = 'allowed_roles = "*"\nallowed_cidr_list = "10.0.0.0/8"'

    result = login(hcl(standin, extra, cidrs=""), "-dev")

    assert result.returncode == 1
    assert "nor in 'allowed_cidr_list'" in result.stderr


def test_login_allows_the_allowed_ipv6_loopback_in_any_spelling(login, standin):
    standin.answer(reply=reply(ip="0:0:0:0:0:0:0:1"))

    result = login(hcl(standin), "-dev")

    assert result.returncode == 0, result.stderr


# --- what pam_exec puts on stdin ----------------------------------------------


@pytest.mark.parametrize(
    "stdin",
    [f"{OTP}\0".encode(), f"{OTP}\n".encode(), OTP.encode()],
    ids=["pam-exec-nul", "by-hand-newline", "bare"],
)
def test_login_reads_the_otp_as_pam_exec_or_a_person_sends_it(login, standin, stdin):
    result = login(hcl(standin), "-dev", stdin=stdin)

    assert result.returncode == 0, result.stderr
    assert standin.seen[0].json() == {"otp": OTP}


@pytest.mark.parametrize(
    "typed",
    [b"", b"\0", f"{OTP}\0\0".encode(), b"my-unix-password\0", b"\x00\xff\xfe\0"],
    ids=["empty", "nul", "two-nuls", "unix-password", "binary"],
)
def test_login_refuses_input_that_is_not_an_otp_without_sending_it(
    login, standin, typed
):
    result = login(hcl(standin), "-dev", stdin=typed)

    assert result.returncode == 1
    assert "login denied" in result.stderr
    assert standin.seen == []
    assert "my-unix-password" not in result.stderr


def test_login_never_logs_the_otp_even_when_the_server_echoes_it(login, standin):
    standin.answer(status=400, reply={"errors": [f"OTP {OTP} not found"]})

    result = login(hcl(standin), "-dev", "-log-level=trace")

    assert result.returncode == 1
    assert "OTP <redacted> not found" in result.stderr
    assert OTP not in result.stderr


@pytest.mark.parametrize("pam_type", ["account", "session", "password"])
def test_login_refuses_outside_the_auth_stack(login, standin, pam_type):
    result = login(hcl(standin), "-dev", env=pam_env(PAM_TYPE=pam_type))

    assert result.returncode == 1
    assert f"PAM_TYPE is '{pam_type}'" in result.stderr
    assert standin.seen == []


def test_login_without_pam_user_is_refused_before_sending(login, standin):
    result = login(hcl(standin), "-dev", env=pam_env(user=None))

    assert result.returncode == 1
    assert 'reason="PAM_USER is not set"' in result.stderr
    assert standin.seen == []


def test_login_without_pam_type_works_when_run_by_hand(login, standin):
    env = pam_env()
    del env["PAM_TYPE"]

    result = login(hcl(standin), "-dev", env=env)

    assert result.returncode == 0, result.stderr
