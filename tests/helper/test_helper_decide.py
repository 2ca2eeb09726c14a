"""HLP-03 and the IP rules: decide() on a verify reply, user, local addresses."""

import ipaddress

import pytest
from openvault.ssh_helper import LOOPBACK_REFUSED
from openvault.ssh_helper import NO_LOCAL_MATCH
from openvault.ssh_helper import HelperError
from openvault.ssh_helper import decide
from openvault.ssh_helper import parse_config
from openvault.ssh_helper import read_otp

# HLP-03's setup: Vault's verify reply, and 192.0.2.4 is a local address.
REPLY = {"username": "alice", "ip": "192.0.2.4", "role_name": "web.prod"}
UUID = "8f2c1a57-3b9e-4d6f-a0c4-2e7b91d3f6a8"
LOCAL = {ipaddress.ip_address("192.0.2.4"), ipaddress.ip_address("::1")}


def config(extra=""):
    """Return a Config with extra HCL lines."""
    return parse_config(f'vault_addr = "https://v:8200"\n{extra}\n')


@pytest.mark.parametrize(
    ("case", "extra", "reply", "user", "ok", "reason"),
    [
        (1, "", REPLY, "alice", False, "missing allowed_roles"),
        (1, 'allowed_roles = ""', REPLY, "alice", False, "missing allowed_roles"),
        (1, 'allowed_roles = " , "', REPLY, "alice", False, "missing allowed_roles"),
        (2, 'allowed_roles = "*"', REPLY, "alice", True, "alice@192.0.2.4"),
        (3, 'allowed_roles = "db, web.prod"', REPLY, "alice", True, "authenticated"),
        (4, 'allowed_roles = "db"', REPLY, "alice", False, "not matching any"),
        (
            5,
            'allowed_roles = "db"',
            dict(REPLY, role_name=""),
            "alice",
            False,
            "missing role name",
        ),
        (6, 'allowed_roles = "*"', REPLY, "bob", False, "username mismatch"),
        (6, 'allowed_roles = "*"', REPLY, "Alice", False, "username mismatch"),
    ],
)
def test_decide_hlp03(case, extra, reply, user, ok, reason):
    result = decide(reply, user, LOCAL, config(extra))

    assert result[0] is ok, f"HLP-03 case {case}: {result}"
    assert reason in result[1]


def test_decide_star_allows_an_empty_role_name():
    reply = dict(REPLY, role_name="")

    assert decide(reply, "alice", LOCAL, config('allowed_roles = "*"'))[0] is True


def test_decide_star_among_other_roles_allows_any():
    ok, _ = decide(REPLY, "alice", LOCAL, config('allowed_roles = "db, *"'))

    assert ok is True


def test_decide_trims_the_role_name_of_the_reply():
    reply = dict(REPLY, role_name=" web.prod ")

    assert decide(reply, "alice", LOCAL, config('allowed_roles = "web.prod"'))[0]


def test_decide_role_names_are_case_sensitive():
    ok, _ = decide(REPLY, "alice", LOCAL, config('allowed_roles = "Web.Prod"'))

    assert ok is False


@pytest.mark.parametrize("user", ["", None])
def test_decide_fails_without_pam_user(user):
    ok, reason = decide(REPLY, user, LOCAL, config('allowed_roles = "*"'))

    assert (ok, reason) == (False, "PAM_USER is not set")


def test_decide_fails_on_a_subnet_neighbour_cve_2020_24359():
    # The host is 192.0.2.4/24; an OTP for 192.0.2.5 must not work here.
    reply = dict(REPLY, ip="192.0.2.5")

    ok, reason = decide(reply, "alice", LOCAL, config('allowed_roles = "*"'))

    assert (ok, reason) == (False, NO_LOCAL_MATCH)


def test_decide_accepts_an_ip_inside_allowed_cidr_list():
    reply = dict(REPLY, ip="203.0.113.9")
    extra = 'allowed_roles = "*"\nallowed_cidr_list = "10.0.0.0/8, 203.0.113.0/24"'

    assert decide(reply, "alice", LOCAL, config(extra)) == (
        True,
        "alice@203.0.113.9 authenticated!",
    )


def test_decide_refuses_an_ip_outside_allowed_cidr_list():
    reply = dict(REPLY, ip="198.51.100.9")
    extra = 'allowed_roles = "*"\nallowed_cidr_list = "203.0.113.0/24"'

    ok, reason = decide(reply, "alice", LOCAL, config(extra))

    assert ok is False
    assert "nor in 'allowed_cidr_list'" in reason


@pytest.mark.parametrize(
    ("ip", "local", "ok"),
    [
        ("0:0:0:0:0:0:0:1", {"::1"}, False),
        ("2001:db8:0:0:0:0:0:1", {"2001:db8::1"}, True),
        ("2001:DB8::0001", {"2001:db8::1"}, True),
        ("fe80::1%eth0", {"fe80::1"}, True),
        ("::ffff:192.0.2.4", {"192.0.2.4"}, True),
        ("192.0.2.4", {"::ffff:192.0.2.4"}, True),
        ("2001:db8::2", {"2001:db8::1"}, False),
        ("::1", {"127.0.0.1"}, False),
        ("::1", {"::1"}, False),
        ("127.0.0.1", {"127.0.0.1"}, False),
        ("192.0.2.004", {"192.0.2.4"}, False),
        ("192.0.2.4/32", {"192.0.2.4"}, False),
        ("", {"192.0.2.4"}, False),
    ],
)
def test_decide_compares_addresses_in_canonical_form(ip, local, ok):
    local_ips = {ipaddress.ip_address(item) for item in local}
    reply = dict(REPLY, ip=ip)

    result = decide(reply, "alice", local_ips, config('allowed_roles = "*"'))

    assert result[0] is ok, result


@pytest.mark.parametrize(
    "ip", ["127.0.0.1", "127.1.2.3", "::1", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1"]
)
def test_decide_loopback_is_not_a_local_address(ip):
    # Every host has loopback: an OTP issued for it would pass on all of them.
    local_ips = LOCAL | {ipaddress.ip_address("127.0.0.1")}
    local_ips |= {ipaddress.ip_address("127.1.2.3")}
    reply = dict(REPLY, ip=ip)

    result = decide(reply, "alice", local_ips, config('allowed_roles = "*"'))

    assert result == (False, LOOPBACK_REFUSED)


@pytest.mark.parametrize(
    ("ip", "cidrs", "ok"),
    [
        ("127.0.0.1", "127.0.0.1/32", True),
        ("127.0.0.1", "127.0.0.0/8", True),
        ("::1", "::1/128", True),
        ("::ffff:127.0.0.1", "127.0.0.1/32", True),
        ("127.0.0.2", "127.0.0.1/32", False),
        ("::1", "127.0.0.0/8", False),
    ],
)
def test_decide_loopback_counts_inside_allowed_cidr_list(ip, cidrs, ok):
    reply = dict(REPLY, ip=ip)
    extra = f'allowed_roles = "*"\nallowed_cidr_list = "{cidrs}"'

    result = decide(reply, "alice", LOCAL, config(extra))

    assert result[0] is ok, result


def test_decide_ipv6_cidr_in_allowed_cidr_list():
    reply = dict(REPLY, ip="2001:db8:0:1::7")
    extra = 'allowed_roles = "*"\nallowed_cidr_list = "2001:db8::/48"'

    assert decide(reply, "alice", LOCAL, config(extra))[0] is True


@pytest.mark.parametrize(
    "reply",
    [
        {},
        {"username": "", "ip": "192.0.2.4", "role_name": "web.prod"},
        {"username": ["alice"], "ip": "192.0.2.4", "role_name": "web.prod"},
        {"username": "alice", "ip": 3232235777, "role_name": "web.prod"},
        {"username": "alice", "ip": "192.0.2.4", "role_name": ["web.prod"]},
    ],
)
def test_decide_fails_on_wrong_shaped_replies(reply):
    ok, _ = decide(reply, "alice", LOCAL, config('allowed_roles = "*"'))

    assert ok is False


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (f"{UUID}\0", UUID),
        (f"{UUID}\n", UUID),
        (f"{UUID}\r\n", UUID),
        (f"{UUID}\n\0", UUID),
        (UUID, UUID),
        (f"{UUID.upper()}\0", UUID.upper()),
    ],
)
def test_read_otp_strips_one_nul_and_one_newline(raw, expected):
    assert read_otp(raw.encode()) == expected


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\0",
        b"8f2c1a57-3b9e-4d6f-a0c4-2e7b91d3f6a8\0\0",
        b"8f2c1a57-3b9e-4d6f-a0c4-2e7b91d3f6a8\n\n",
        b" 8f2c1a57-3b9e-4d6f-a0c4-2e7b91d3f6a8\0",
        b"8f2c1a573b9e4d6fa0c42e7b91d3f6a8\0",
        b"8f2c1a57-3b9e-4d6f-a0c4-2e7b91d3f6a\0",
        b"g f2c1a57-3b9e-4d6f-a0c4-2e7b91d3f6a8\0",
        b"\xff\xfe",
        b"hunter2\0",
    ],
)
def test_read_otp_refuses_what_is_not_a_uuid(raw):
    with pytest.raises(HelperError) as caught:
        read_otp(raw)

    # The message is fixed text: it never quotes what was typed.
    assert str(caught.value) in (
        "no OTP on stdin (is expose_authtok on the pam_exec line?)",
        "the password typed is not shaped like an OTP (a UUID)",
    )
