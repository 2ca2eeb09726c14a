"""roles/<name> and LIST roles/ of the ssh backend, OTP type."""

import pytest
from api_support import OTP_ROLE
from api_support import UNSUPPORTED_OPERATION
from api_support import errors
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

pytestmark = pytest.mark.xdist_group("api_roles")


def test_roles_write_answers_204(ssh):
    reply = ssh.request("POST", "roles/otp1", OTP_ROLE)

    assert reply.status == 204


def test_roles_read_returns_the_documented_fields(ssh):
    """OpenBao's OTP read has the first six; ttl and max_ttl are ours (per role)."""
    ssh.write_role(
        "full",
        cidr_list="192.0.2.0/24,198.51.100.0/24",
        exclude_cidr_list="192.0.2.128/25",
        port=2222,
        allowed_users="bob,carol",
        ttl="30m",
        max_ttl="1h",
    )

    reply = ssh.request("GET", "roles/full")

    assert reply.status == 200
    assert reply.json["data"] == {
        "key_type": "otp",
        "default_user": "alice",
        "cidr_list": "192.0.2.0/24,198.51.100.0/24",
        "exclude_cidr_list": "192.0.2.128/25",
        "port": 2222,
        "allowed_users": "bob,carol",
        "ttl": 1800,
        "max_ttl": 3600,
    }


def test_roles_read_of_a_minimal_role_shows_defaults(ssh):
    ssh.write_role("min")

    data = ssh.request("GET", "roles/min").json["data"]

    assert data == {
        "key_type": "otp",
        "default_user": "alice",
        "cidr_list": "192.0.2.0/24",
        "exclude_cidr_list": "",
        "port": 22,
        "allowed_users": "",
        "ttl": 0,
        "max_ttl": 0,
    }


def test_roles_write_replaces_the_whole_role(ssh):
    ssh.write_role("r", port=2222, allowed_users="bob")

    ssh.write_role("r", default_user="dave")

    data = ssh.request("GET", "roles/r").json["data"]
    assert (data["default_user"], data["port"], data["allowed_users"]) == (
        "dave",
        22,
        "",
    )


def test_roles_key_type_is_lower_cased(ssh):
    ssh.write_role("upper", key_type="OTP")

    assert ssh.request("GET", "roles/upper").json["data"]["key_type"] == "otp"


def test_roles_port_zero_means_22(ssh):
    ssh.write_role("zero", port=0)

    assert ssh.request("GET", "roles/zero").json["data"]["port"] == 22


def test_roles_cidr_entries_are_trimmed(ssh):
    """Deliberate: OpenBao stores " b/16" and then fails at creds time."""
    ssh.write_role("spaced", cidr_list="192.0.2.0/24, 198.51.100.0/24")

    data = ssh.request("GET", "roles/spaced").json["data"]

    assert data["cidr_list"] == "192.0.2.0/24,198.51.100.0/24"
    assert ssh.creds("spaced", ip="198.51.100.7").json["data"]["ip"] == ("198.51.100.7")


def test_roles_allowed_users_entries_are_trimmed(ssh):
    ssh.write_role("users", allowed_users="bob, carol")

    data = ssh.request("GET", "roles/users").json["data"]

    assert data["allowed_users"] == "bob,carol"
    assert ssh.creds("users", username="carol").json["data"]["username"] == "carol"


def test_roles_ipv6_blocks_serve_ipv6_addresses(ssh):
    ssh.write_role("v6", cidr_list="2001:db8::/32")

    data = ssh.creds("v6", ip="2001:0db8:0:0::5").json["data"]

    assert data["ip"] == "2001:db8::5"


def test_roles_without_cidr_list_warn_that_they_serve_no_host(ssh):
    """Deliberate: the write says what an empty cidr_list means (OpenBao: 204)."""
    reply = ssh.request(
        "POST", "roles/nocidr", {"key_type": "otp", "default_user": "a"}
    )

    assert reply.status == 200
    assert reply.json["warnings"] == [
        "the role has no cidr_list, so it serves no host until it is listed in"
        " config/zeroaddress (an empty cidr_list does not mean 0.0.0.0/0)"
    ]


def test_roles_dynamic_only_fields_are_ignored_on_otp_roles_with_a_warning(ssh):
    """hvac always sends key_bits=1024; an OTP role must still be written."""
    reply = ssh.request(
        "POST", "roles/hv", dict(OTP_ROLE, key_bits=1024, key_option_specs="x")
    )

    assert reply.status == 200
    assert reply.json["warnings"] == [
        "these parameters apply only to dynamic roles and were ignored:"
        " [key_bits key_option_specs]"
    ]
    data = ssh.request("GET", "roles/hv").json["data"]
    assert "key_bits" not in data
    assert "key_option_specs" not in data


def test_roles_list_returns_names_with_key_info(ssh):
    for name in ("b", "a", "c"):
        ssh.write_role(name)

    reply = ssh.request("LIST", "roles")

    assert reply.status == 200
    assert reply.json["data"] == {
        "keys": ["a", "b", "c"],
        "key_info": {name: {"key_type": "otp"} for name in ("a", "b", "c")},
    }


@pytest.mark.parametrize(
    ("method", "path"),
    [("LIST", "roles/"), ("GET", "roles?list=true"), ("GET", "roles/?list=true")],
)
def test_roles_list_answers_the_same_in_every_form(ssh, method, path):
    ssh.write_role("only")

    reply = ssh.request(method, path)

    assert reply.status == 200
    assert reply.json["data"]["keys"] == ["only"]


def test_roles_list_honours_after_and_limit(ssh):
    for name in ("a", "b", "c", "d"):
        ssh.write_role(name)

    limited = ssh.request("LIST", "roles?limit=2").json["data"]["keys"]
    after = ssh.request("LIST", "roles?after=b").json["data"]["keys"]

    assert limited == ["a", "b"]
    assert after == ["c", "d"]


def test_roles_list_of_an_empty_mount_is_404(ssh):
    reply = ssh.request("LIST", "roles")

    assert reply.status == 404
    assert reply.json == {"errors": []}


def test_roles_get_without_list_is_405(ssh):
    ssh.write_role("x")

    reply = ssh.request("GET", "roles")

    assert reply.status == 405
    assert errors(reply) == [UNSUPPORTED_OPERATION]


def test_roles_read_of_a_missing_role_is_404(ssh):
    reply = ssh.request("GET", "roles/nosuch")

    assert reply.status == 404
    assert reply.json == {"errors": []}


def test_roles_delete_removes_the_role(ssh):
    ssh.write_role("gone")

    reply = ssh.request("DELETE", "roles/gone")

    assert reply.status == 204
    assert ssh.request("GET", "roles/gone").status == 404
    creds = ssh.request("POST", "creds/gone", {"ip": "192.0.2.10"})
    assert (creds.status, errors(creds)) == (400, ['Role "gone" not found'])


def test_roles_delete_of_a_missing_role_is_204(ssh):
    assert ssh.request("DELETE", "roles/never-existed").status == 204


def test_roles_delete_revokes_the_otps_it_issued(ssh):
    """Deliberate: OpenBao leaves OTPs of a deleted role usable."""
    ssh.write_role("short-lived")
    otp = ssh.otp("short-lived")

    ssh.request("DELETE", "roles/short-lived")

    assert errors(ssh.verify(otp)) == ["OTP not found"]
    listed = ssh.server.request("LIST", f"sys/leases/lookup/{ssh.path}/creds/")
    assert listed.status == 404


def test_roles_are_separate_per_name(ssh):
    ssh.write_role("one", default_user="alice")
    ssh.write_role("two", default_user="bob")

    assert ssh.creds("one").json["data"]["username"] == "alice"
    assert ssh.creds("two").json["data"]["username"] == "bob"


INVALID = [
    ({"key_type": ""}, "missing key type"),
    ({"key_type": "foo"}, "invalid key type: 'foo' (expected otp or dynamic)"),
    ({"default_user": ""}, "missing default user"),
    (
        {"default_user": "al ice"},
        "'default_user' must be a user name such as alice (letters, digits, '_',"
        " '.', '-', '@'), got 'al ice'",
    ),
    (
        {"default_user": "alice\n"},
        "'default_user' must be a user name such as alice (letters, digits, '_',"
        " '.', '-', '@'), got 'alice\\n'",
    ),
    (
        {"cidr_list": "10.0.0.0/33"},
        "failed to validate cidr_list: invalid CIDR address: 10.0.0.0/33"
        " (expected an address block such as 192.0.2.0/24)",
    ),
    (
        {"cidr_list": "192.0.2.0/24, bogus"},
        "failed to validate cidr_list: invalid CIDR address: bogus"
        " (expected an address block such as 192.0.2.0/24)",
    ),
    (
        {"cidr_list": "192.0.2.1"},
        "failed to validate cidr_list: invalid CIDR address: 192.0.2.1"
        " (expected an address block such as 192.0.2.0/24)",
    ),
    (
        {"exclude_cidr_list": "300.0.0.0/8"},
        "failed to validate exclude_cidr_list: invalid CIDR address: 300.0.0.0/8"
        " (expected an address block such as 192.0.2.0/24)",
    ),
    ({"port": 70000}, "'port' must be between 1 and 65535, got 70000"),
    ({"port": -1}, "'port' must be between 1 and 65535, got -1"),
    (
        {"allowed_users": "bob,b@d user"},
        "'allowed_users' must be a user name such as alice (letters, digits, '_',"
        " '.', '-', '@'), got 'b@d user'",
    ),
    ({"ttl": "3 days"}, "'ttl' must be a duration such as 30m, got '3 days'"),
    ({"ttl": -5}, "'ttl' must not be negative, got -5"),
    (
        {"ttl": "2h", "max_ttl": "1h"},
        '"ttl" value must be less than "max_ttl" when both are specified',
    ),
    ({"admin_user": "root"}, "admin user not required for OTP type"),
]


@pytest.mark.parametrize(
    ("change", "message"), INVALID, ids=[repr(c) for c, _ in INVALID]
)
def test_roles_write_refuses_bad_input_and_keeps_the_old_role(ssh, change, message):
    """Bad CIDRs are a 400 by our choice; OpenBao answers 500."""
    ssh.write_role("keep", allowed_users="bob", port=2200)
    before = ssh.request("GET", "roles/keep").json["data"]

    reply = ssh.request("POST", "roles/keep", dict(OTP_ROLE, **change))

    assert reply.status == 400
    assert errors(reply) == [message]
    assert ssh.request("GET", "roles/keep").json["data"] == before


def test_roles_write_of_a_new_role_with_bad_input_creates_nothing(ssh):
    reply = ssh.request("POST", "roles/new", dict(OTP_ROLE, cidr_list="bad"))

    assert reply.status == 400
    assert ssh.request("GET", "roles/new").status == 404
    assert ssh.request("LIST", "roles").status == 404


@pytest.fixture
def registered_key(ssh):
    """The mount with a shared key 'admin' registered."""
    pem = (
        ed25519.Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
        .decode()
    )
    assert ssh.request("POST", "keys/admin", {"key": pem}).status == 204
    return ssh


@pytest.mark.parametrize(
    ("key_bits", "stored"), [(None, 2048), (0, 2048), (1024, 1024), (4096, 4096)]
)
def test_roles_dynamic_key_bits_default_to_2048(registered_key, key_bits, stored):
    """Deliberate: 2048 by default (the original docs said 1024); 1024 stays."""
    body = {
        "key_type": "dynamic",
        "key": "admin",
        "admin_user": "vaultadmin",
        "default_user": "alice",
        "cidr_list": "192.0.2.0/24",
    }
    if key_bits is not None:
        body["key_bits"] = key_bits

    reply = registered_key.request("POST", "roles/dyn", body)

    assert reply.status in (200, 204), reply.text
    data = registered_key.request("GET", "roles/dyn").json["data"]
    assert data["key_bits"] == stored
    assert (data["key"], data["admin_user"]) == ("admin", "vaultadmin")
