"""The OTP cases from real users (cases.md: OTP-01, 02, 04, 05, 07, 08)."""

import time

import pytest
from api_support import UUID
from api_support import errors
from api_support import new_mount
from api_support import race

pytestmark = pytest.mark.xdist_group("api_cases_otp")

NOT_IN_ROLE = "Error validating IP: IP does not belong to role"


def test_case_otp01_empty_cidr_list_serves_no_host(ssh):
    """OTP-01 step 1: an empty cidr_list matches no address. Deliberate: our
    error also says which of the two settings to make."""
    ssh.request(
        "POST",
        "roles/nocidr",
        {"key_type": "otp", "default_user": "alice", "allowed_users": "alice"},
    )
    ssh.write_role("v4")

    reply = ssh.request("POST", "creds/nocidr", {"ip": "192.0.2.10"})

    assert reply.status == 400
    assert errors(reply)[0].startswith(NOT_IN_ROLE)


def test_case_otp01_zero_address_list_serves_every_host(ssh):
    """OTP-01 steps 2 and 3: listed in config/zeroaddress, the role issues for
    any IP, and lookup lists it (alone) for an IP no cidr_list holds."""
    ssh.request(
        "POST",
        "roles/nocidr",
        {"key_type": "otp", "default_user": "alice", "allowed_users": "alice"},
    )
    ssh.write_role("v4")

    written = ssh.request("POST", "config/zeroaddress", {"roles": "nocidr"})
    creds = ssh.creds("nocidr", ip="192.0.2.10")
    lookup = ssh.request("POST", "lookup", {"ip": "203.0.113.5"})

    assert written.status == 204
    data = creds.json["data"]
    assert (data["ip"], data["username"], data["port"], data["key_type"]) == (
        "192.0.2.10",
        "alice",
        22,
        "otp",
    )
    assert UUID.match(data["key"])
    assert lookup.status == 200
    assert set(lookup.json["data"]["roles"]) == {"nocidr"}


def test_case_otp01_lookup_after_zero_address_list_is_deleted(ssh):
    """OTP-01 step 4: with the list deleted, lookup answers 200 with null."""
    ssh.request("POST", "roles/nocidr", {"key_type": "otp", "default_user": "alice"})
    ssh.request("POST", "config/zeroaddress", {"roles": "nocidr"})

    deleted = ssh.request("DELETE", "config/zeroaddress")
    lookup = ssh.request("POST", "lookup", {"ip": "203.0.113.5"})

    assert deleted.status == 204
    assert lookup.status == 200
    assert lookup.json["data"]["roles"] is None


def test_case_otp01_zero_address_list_of_an_unknown_role_is_refused(ssh):
    """OTP-01 step 5: every role named must exist."""
    reply = ssh.request("POST", "config/zeroaddress", {"roles": "doesnotexist"})

    assert reply.status == 400
    assert errors(reply) == ['Role "doesnotexist" does not exist']


@pytest.fixture
def case2(ssh):
    """The roles of OTP-02, all for 192.0.2.0/24."""
    ssh.write_role("otp1", default_user="alice")
    ssh.write_role("otp2", default_user="alice", allowed_users="bob, carol", port=2222)
    ssh.write_role("otp3", default_user="alice", allowed_users="*")
    return ssh


def test_case_otp02_empty_allowed_users_means_default_user_only(case2):
    """OTP-02 steps 1 and 2 (Vault's fix of #1116; DESIGN.md's choice too)."""
    refused = case2.request(
        "POST", "creds/otp1", {"ip": "192.0.2.10", "username": "bob"}
    )
    allowed = case2.creds("otp1", username="alice")

    assert refused.status == 400
    assert errors(refused) == [
        "Username has to be either in allowed users list or has to be a default"
        " username"
    ]
    assert allowed.json["data"]["username"] == "alice"


def test_case_otp02_allowed_users_list_is_trimmed_and_keeps_default_user(case2):
    """OTP-02 steps 3 and 4."""
    carol = case2.creds("otp2", username="carol").json["data"]
    default = case2.creds("otp2").json["data"]

    assert (carol["username"], carol["port"]) == ("carol", 2222)
    assert default["username"] == "alice"


def test_case_otp02_star_allows_any_user(case2):
    """OTP-02 step 5."""
    assert case2.creds("otp3", username="root").json["data"]["username"] == "root"


def test_case_otp02_role_without_default_user_is_refused(ssh):
    """OTP-02 step 6."""
    reply = ssh.request(
        "POST",
        "roles/x",
        {"key_type": "otp", "allowed_users": "*", "cidr_list": "192.0.2.0/24"},
    )

    assert reply.status == 400
    assert errors(reply) == ["missing default user"]


def test_case_otp02_templates_are_not_expanded_on_otp_roles(ssh):
    """OTP-02 step 7: no template expansion, never a wildcard. Ours refuses the
    template text at write time (not a user name), where OpenBao stores it and
    refuses at creds time; allowed_users_template is ignored with a warning."""
    template = "{{identity.entity.aliases.auth_userpass_1.name}}"

    written = ssh.request(
        "POST",
        "roles/otptpl",
        {
            "key_type": "otp",
            "default_user": "nobody",
            "cidr_list": "192.0.2.0/24",
            "allowed_users": template,
            "allowed_users_template": True,
        },
    )
    literal = ssh.request(
        "POST",
        "roles/otptpl",
        {
            "key_type": "otp",
            "default_user": "nobody",
            "cidr_list": "192.0.2.0/24",
            "allowed_users": "bob",
            "allowed_users_template": True,
        },
    )
    creds = ssh.request(
        "POST", "creds/otptpl", {"ip": "192.0.2.10", "username": "alice"}
    )

    assert written.status == 400
    assert errors(written)[0].startswith("'allowed_users' must be a user name")
    assert literal.status == 200
    assert literal.json["warnings"] == [
        "Endpoint ignored these unrecognized parameters: [allowed_users_template]"
    ]
    assert creds.status == 400
    assert errors(creds) == ["Username is not present in allowed users list"]
    read = ssh.request("GET", "roles/otptpl").json["data"]
    assert "allowed_users_template" not in read


def test_case_otp04_otp_is_single_use_and_needs_no_token(ssh):
    """OTP-04 steps 1 to 3."""
    ssh.write_role("otp1")
    otp = ssh.creds("otp1").json["data"]["key"]

    first = ssh.verify(otp)
    second = ssh.verify(otp)

    assert first.status == 200
    assert first.json["data"] == {
        "username": "alice",
        "ip": "192.0.2.10",
        "role_name": "otp1",
    }
    assert second.status == 400
    assert errors(second) == ["OTP not found"]


def test_case_otp04_four_racing_verifies_have_one_winner(ssh):
    """OTP-04 step 4, repeated as OpenBao was (60 runs)."""
    ssh.write_role("otp1")
    for _ in range(60):
        otp = ssh.otp("otp1")

        statuses = sorted(r.status for r in race(4, lambda otp=otp: ssh.verify(otp)))

        assert statuses == [200, 400, 400, 400]


def test_case_otp04_echo_and_ping(ssh):
    """OTP-04 step 5: the echo probe uses nothing up; "ping" is not found."""
    ssh.write_role("otp1")
    otp = ssh.otp("otp1")

    echo = ssh.verify("verify-echo-request")
    ping = ssh.verify("ping")

    assert echo.status == 200
    assert echo.json["data"] == {"message": "verify-echo-response"}
    assert (ping.status, errors(ping)) == (400, ["OTP not found"])
    assert ssh.verify(otp).status == 200


def test_case_otp04_lookup_is_exact_with_no_case_folding(ssh):
    """OTP-04 step 6."""
    ssh.write_role("otp1")
    otp = ssh.otp("otp1")

    assert errors(ssh.verify(otp.upper())) == ["OTP not found"]


def test_case_otp05_default_lease_is_the_system_default(ssh):
    """OTP-05 steps 1 and 2."""
    ssh.write_role("otp1")

    creds = ssh.creds("otp1").json
    renew = ssh.server.request(
        "PUT", "sys/leases/renew", {"lease_id": creds["lease_id"]}
    )

    assert creds["lease_duration"] == 2764800
    assert creds["renewable"] is False
    assert creds["lease_id"].startswith(f"{ssh.path}/creds/otp1/")
    assert (renew.status, errors(renew)) == (400, ["lease is not renewable"])


def test_case_otp05_tuned_mount_ttl_expires_the_otp(api_server):
    """OTP-05 step 3: ssh-short/ tuned to 3s and 10s; once expired (OpenBao's
    run waited 6s), verify fails."""
    short = new_mount(api_server, prefix="ssh-short")
    api_server.request(
        "POST",
        f"sys/mounts/{short.path}/tune",
        {"default_lease_ttl": "3s", "max_lease_ttl": "10s"},
    )
    short.write_role("o")

    creds = short.creds("o").json
    time.sleep(3.5)

    assert creds["lease_duration"] == 3
    assert errors(short.verify(creds["data"]["key"])) == ["OTP not found"]


def test_case_otp05_revoked_otp_fails_verify(ssh):
    """OTP-05 step 4."""
    ssh.write_role("otp1")
    creds = ssh.creds("otp1").json

    revoked = ssh.server.request(
        "PUT", "sys/leases/revoke", {"lease_id": creds["lease_id"]}
    )

    assert revoked.status == 204
    assert errors(ssh.verify(creds["data"]["key"])) == ["OTP not found"]


def test_case_otp05_there_is_no_config_lease_path(ssh):
    """OTP-05 step 5: the TTL comes from mount tuning (or, ours, the role)."""
    reply = ssh.request("POST", "config/lease", {"ttl": "1h"})

    assert reply.status == 404


def test_case_otp07_deletes_after_zero_address_listing_keep_working(ssh):
    """OTP-07: every delete is 204 and the middle read shows roles []. The role
    writes answer 200, not 204: deliberately, a role without cidr_list warns."""
    statuses = [
        ssh.request(
            "POST", "roles/everyone", {"key_type": "otp", "default_user": "alice"}
        ).status,
        ssh.request("POST", "config/zeroaddress", {"roles": "everyone"}).status,
        ssh.request("DELETE", "roles/everyone").status,
    ]
    middle = ssh.request("GET", "config/zeroaddress")
    statuses += [
        ssh.request(
            "POST", "roles/everyone", {"key_type": "otp", "default_user": "alice"}
        ).status,
        ssh.request("DELETE", "roles/everyone").status,
    ]

    assert statuses == [200, 204, 204, 200, 204]
    assert middle.status == 200
    assert middle.json["data"]["roles"] == []


@pytest.mark.parametrize("name", ["web.prod", "ops@example.com", "a_b-c"])
def test_case_otp08_role_names_with_dots_and_at_signs(ssh, name):
    """OTP-08 steps 1 and 2, and lookup with such names."""
    written = ssh.request(
        "POST",
        f"roles/{name}",
        {"key_type": "otp", "default_user": "alice", "cidr_list": "192.0.2.0/24"},
    )

    creds = ssh.request("POST", f"creds/{name}", {"ip": "192.0.2.10"})
    lookup = ssh.request("POST", "lookup", {"ip": "192.0.2.10"})

    assert written.status == 204
    assert creds.status == 200
    assert lookup.json["data"]["roles"] == [name]


def test_case_otp08_list_shows_the_names_as_written(ssh):
    """OTP-08 step 3."""
    for name in ("web.prod", "ops@example.com", "a_b-c"):
        ssh.write_role(name)

    keys = ssh.request("LIST", "roles").json["data"]["keys"]

    assert sorted(keys) == sorted(["web.prod", "ops@example.com", "a_b-c"])


@pytest.mark.parametrize(
    "name", ["trailing.", "bad%20name", ".leading", "a/b", "r%C3%B6le"]
)
def test_case_otp08_names_must_end_in_a_letter_or_digit(ssh, name):
    """OTP-08 step 4: the route pattern refuses these with 404 (like Vault's
    pattern, only ASCII letters and digits count as word characters)."""
    reply = ssh.request("GET", f"roles/{name}")
    written = ssh.request(
        "POST",
        f"roles/{name}",
        {"key_type": "otp", "default_user": "alice", "cidr_list": "192.0.2.0/24"},
    )

    assert reply.status == 404
    assert written.status == 404
