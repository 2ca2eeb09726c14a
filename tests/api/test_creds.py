"""creds/<role>: issuing OTPs for an IP and a user, and every reason to refuse."""

import pytest
from api_support import ENVELOPE
from api_support import UUID
from api_support import errors

pytestmark = pytest.mark.xdist_group("api_creds")


def test_creds_issues_an_otp_with_a_lease(otp_role):
    reply = otp_role.creds("otp1")

    assert list(reply.json) == ENVELOPE
    data = reply.json["data"]
    assert sorted(data) == ["ip", "key", "key_type", "port", "username"]
    assert UUID.match(data["key"])
    assert (data["ip"], data["key_type"], data["port"], data["username"]) == (
        "192.0.2.10",
        "otp",
        22,
        "alice",
    )
    lease_id = reply.json["lease_id"]
    assert lease_id.startswith(f"{otp_role.path}/creds/otp1/")
    assert UUID.match(lease_id.rsplit("/", 1)[1])
    assert reply.json["renewable"] is False
    assert reply.json["lease_duration"] == 2764800


def test_creds_every_otp_and_lease_is_new(otp_role):
    replies = [otp_role.creds("otp1").json for _ in range(5)]

    assert len({r["data"]["key"] for r in replies}) == 5
    assert len({r["lease_id"] for r in replies}) == 5


def test_creds_put_works_like_post(otp_role):
    reply = otp_role.request("PUT", "creds/otp1", {"ip": "192.0.2.10"})

    assert reply.status == 200


def test_creds_returns_the_roles_port(ssh):
    ssh.write_role("p", port=2222)

    assert ssh.creds("p").json["data"]["port"] == 2222


def test_creds_username_defaults_to_default_user(ssh):
    ssh.write_role("u", allowed_users="bob")

    assert ssh.creds("u").json["data"]["username"] == "alice"
    assert ssh.creds("u", username="alice").json["data"]["username"] == "alice"
    assert ssh.creds("u", username="bob").json["data"]["username"] == "bob"


def test_creds_star_allows_any_user(ssh):
    ssh.write_role("any", allowed_users="*")

    assert ssh.creds("any", username="root").json["data"]["username"] == "root"


@pytest.mark.parametrize(
    ("ip", "canonical"),
    [
        ("192.0.2.10", "192.0.2.10"),
        (" 192.0.2.10 ", "192.0.2.10"),
        ("::ffff:192.0.2.10", "192.0.2.10"),
    ],
)
def test_creds_answers_with_the_canonical_ip(otp_role, ip, canonical):
    assert otp_role.creds("otp1", ip=ip).json["data"]["ip"] == canonical


def test_creds_exclude_cidr_list_wins_over_cidr_list(ssh):
    ssh.write_role("ex", exclude_cidr_list="192.0.2.128/25")

    inside = ssh.request("POST", "creds/ex", {"ip": "192.0.2.200"})

    assert inside.status == 400
    assert errors(inside) == ["Error validating IP: IP does not belong to role"]
    assert ssh.creds("ex", ip="192.0.2.127").status == 200


OUTSIDE = "Error validating IP: IP does not belong to role"
NO_CIDR = (
    "Error validating IP: IP does not belong to role (the role has no cidr_list:"
    " set cidr_list on the role, or list the role in config/zeroaddress to serve"
    " every address)"
)
REFUSED = [
    ("otp1", {}, "Missing ip"),
    ("otp1", {"ip": ""}, "Missing ip"),
    ("otp1", {"ip": "not-an-ip"}, 'Invalid IP "not-an-ip"'),
    ("otp1", {"ip": "192.0.2.0/24"}, 'Invalid IP "192.0.2.0/24"'),
    ("otp1", {"ip": "192.0.2.300"}, 'Invalid IP "192.0.2.300"'),
    ("nosuch", {"ip": "192.0.2.10"}, 'Role "nosuch" not found'),
    ("otp1", {"ip": "203.0.113.5"}, OUTSIDE),
    ("excl", {"ip": "192.0.2.5"}, OUTSIDE),
    ("nocidr", {"ip": "192.0.2.10"}, NO_CIDR),
    (
        "otp1",
        {"ip": "192.0.2.10", "username": "bob"},
        "Username has to be either in allowed users list or has to be a default"
        " username",
    ),
    (
        "listed",
        {"ip": "192.0.2.10", "username": "mallory"},
        "Username is not present in allowed users list",
    ),
    (
        "otp1",
        {"ip": "192.0.2.10", "username": "al ice"},
        "'username' must be a user name such as alice (letters, digits, '_', '.',"
        " '-', '@'), got 'al ice'",
    ),
    (
        "star",
        {"ip": "192.0.2.10", "username": "root\n"},
        "'username' must be a user name such as alice (letters, digits, '_', '.',"
        " '-', '@'), got 'root\\n'",
    ),
    (
        "otp1",
        {"ip": "203.0.113.5", "username": "bob"},
        "Username has to be either in allowed users list or has to be a default"
        " username",
    ),
]


@pytest.mark.parametrize(
    ("role", "body", "message"), REFUSED, ids=[f"{r}-{b}" for r, b, _ in REFUSED]
)
def test_creds_refuses_and_issues_nothing(ssh, role, body, message):
    """Texts are OpenBao's, except: the allowed-users one fixes OpenBao's typo
    ("is allowed users list"), and the no-cidr_list one says what to set
    (deliberate). The user is checked before the IP, as in OpenBao."""
    ssh.write_role("otp1")
    ssh.write_role("excl", exclude_cidr_list="192.0.2.0/28")
    ssh.write_role("listed", allowed_users="bob,carol")
    ssh.write_role("star", allowed_users="*")
    ssh.request("POST", "roles/nocidr", {"key_type": "otp", "default_user": "alice"})

    reply = ssh.request("POST", f"creds/{role}", body)

    assert reply.status == 400
    assert errors(reply) == [message]
    leases = ssh.server.request("LIST", f"sys/leases/lookup/{ssh.path}/creds/")
    assert leases.status == 404


def test_creds_role_names_with_dots_and_at_signs_work(ssh):
    ssh.write_role("ops@example.com")

    reply = ssh.creds("ops@example.com")

    assert reply.json["lease_id"].startswith(f"{ssh.path}/creds/ops@example.com/")
