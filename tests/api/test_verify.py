"""verify: unauthenticated, single use, race-safe, and OTPs kept only as hashes."""

import hashlib

import pytest
from api_support import database_bytes
from api_support import database_rows
from api_support import errors
from api_support import new_mount
from api_support import race

pytestmark = pytest.mark.xdist_group("api_verify")

RACERS = 12
ROUNDS = 20


def test_verify_succeeds_once_without_a_token(otp_role):
    otp = otp_role.otp("otp1")

    reply = otp_role.verify(otp)

    assert reply.status == 200
    assert reply.json["data"] == {
        "username": "alice",
        "ip": "192.0.2.10",
        "role_name": "otp1",
    }


def test_verify_deletes_otp_after_use(otp_role):
    otp = otp_role.otp("otp1")
    otp_role.verify(otp)

    again = otp_role.verify(otp)

    assert again.status == 400
    assert errors(again) == ["OTP not found"]


def test_verify_ignores_an_invalid_token_header(otp_role):
    otp = otp_role.otp("otp1")

    reply = otp_role.request("POST", "verify", {"otp": otp}, token="s.bogus")

    assert reply.status == 200


def test_verify_reports_the_username_the_otp_was_issued_for(ssh):
    ssh.write_role("many", allowed_users="*")
    otp = ssh.otp("many", ip="192.0.2.77", username="bob")

    assert ssh.verify(otp).json["data"] == {
        "username": "bob",
        "ip": "192.0.2.77",
        "role_name": "many",
    }


@pytest.mark.parametrize(
    "body",
    [
        {"otp": "0b8e13d5-7df9-45c4-8298-d05645c3708e"},
        {"otp": "ping"},
        {"otp": ""},
        {},
    ],
    ids=["random-uuid", "ping", "empty", "missing"],
)
def test_verify_refuses_unknown_otps(otp_role, body):
    reply = otp_role.request("POST", "verify", body, token=None)

    assert reply.status == 400
    assert reply.json == {"errors": ["OTP not found"]}


def test_verify_is_case_sensitive_and_a_wrong_case_uses_nothing_up(otp_role):
    otp = otp_role.otp("otp1")

    upper = otp_role.verify(otp.upper())

    assert errors(upper) == ["OTP not found"]
    assert otp_role.verify(otp).status == 200


def test_verify_echo_request_answers_and_uses_nothing_up(otp_role):
    otp = otp_role.otp("otp1")

    reply = otp_role.verify("verify-echo-request")

    assert reply.status == 200
    assert reply.json["data"] == {"message": "verify-echo-response"}
    assert otp_role.verify(otp).status == 200


def test_verify_put_works_like_post(otp_role):
    otp = otp_role.otp("otp1")

    assert otp_role.request("PUT", "verify", {"otp": otp}, token=None).status == 200


def test_verify_otp_belongs_to_the_mount_that_issued_it(otp_role, api_server):
    other = new_mount(api_server)
    other.write_role("otp1")
    otp = otp_role.otp("otp1")

    assert errors(other.verify(otp)) == ["OTP not found"]
    assert otp_role.verify(otp).status == 200


def test_verify_race_has_exactly_one_winner(otp_role):
    for _ in range(ROUNDS):
        otp = otp_role.otp("otp1")

        replies = race(RACERS, lambda otp=otp: otp_role.verify(otp))

        statuses = sorted(reply.status for reply in replies)
        assert statuses == [200] + [400] * (RACERS - 1)
        losers = [reply for reply in replies if reply.status == 400]
        assert all(errors(r) == ["OTP not found"] for r in losers)


def test_verify_otps_are_stored_only_as_keyed_hashes(otp_role):
    otps = [otp_role.otp("otp1") for _ in range(3)]

    rows = database_rows(otp_role.server, "otp")
    stored = database_bytes(otp_role.server)

    for otp in otps:
        assert otp.encode() not in stored
        assert otp.upper().encode() not in stored
        plain_sha = hashlib.sha256(otp.encode()).hexdigest()
        assert all(row["digest"] != plain_sha for row in rows)
    mine = [row for row in rows if row["mount"] == otp_role.path]
    assert len(mine) == 3
    assert all(len(row["digest"]) == 64 for row in mine)


def test_verify_removes_the_stored_hash(otp_role):
    otp = otp_role.otp("otp1")

    otp_role.verify(otp)

    rows = database_rows(otp_role.server, "otp")
    assert [row for row in rows if row["mount"] == otp_role.path] == []
