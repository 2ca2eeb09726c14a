"""auth/token: the root token, child tokens with policies and TTLs, revocation."""

import time

import pytest
from api_support import database_bytes
from api_support import errors

pytestmark = pytest.mark.xdist_group("api_tokens")


def create(server, body=None, token="root"):
    """Create a token and return its auth block."""
    reply = server.request("POST", "auth/token/create", body or {}, token=token)
    assert reply.status == 200, reply.text
    return reply.json["auth"]


def write_policy(server, name, text):
    """Write an ACL policy."""
    reply = server.request("PUT", f"sys/policies/acl/{name}", {"policy": text})
    assert reply.status == 204, reply.text


def test_tokens_root_token_looks_itself_up(api_server):
    reply = api_server.request("GET", "auth/token/lookup-self")

    assert reply.status == 200
    data = reply.json["data"]
    assert data["policies"] == ["root"]
    assert data["id"] == api_server.root_token
    assert data["ttl"] == 0
    assert data["expire_time"] is None
    assert data["path"] == "auth/token/root"


def test_tokens_create_returns_an_auth_block(api_server):
    write_policy(api_server, "tok-reader", 'path "x/*" { capabilities = ["read"] }')

    reply = api_server.request(
        "POST", "auth/token/create", {"policies": ["tok-reader"], "ttl": "1h"}
    )

    assert reply.status == 200
    assert reply.json["data"] is None
    auth = reply.json["auth"]
    assert auth["client_token"].startswith("s.")
    assert auth["policies"] == ["default", "tok-reader"]
    assert auth["token_policies"] == ["default", "tok-reader"]
    assert auth["lease_duration"] == 3600
    assert auth["renewable"] is True
    assert auth["accessor"] and auth["accessor"] != auth["client_token"]


def test_tokens_policies_may_be_a_comma_string(api_server):
    auth = create(api_server, {"policies": "tok-a, tok-b"})

    assert auth["policies"] == ["default", "tok-a", "tok-b"]


def test_tokens_lookup_self_describes_a_child_token(api_server):
    auth = create(api_server, {"policies": ["tok-reader"], "ttl": "30m"})

    reply = api_server.request(
        "GET", "auth/token/lookup-self", token=auth["client_token"]
    )

    assert reply.status == 200
    data = reply.json["data"]
    assert data["id"] == auth["client_token"]
    assert data["accessor"] == auth["accessor"]
    assert data["policies"] == ["default", "tok-reader"]
    assert data["creation_ttl"] == 1800
    assert 1790 <= data["ttl"] <= 1800
    assert data["orphan"] is False


def test_tokens_default_ttl_is_the_system_default(api_server):
    assert create(api_server)["lease_duration"] == 0

    auth = create(api_server, {"policies": "default"})

    assert auth["lease_duration"] == 2764800


def test_tokens_revoke_self_ends_the_token(api_server):
    token = create(api_server, {"policies": "default"})["client_token"]

    reply = api_server.request("POST", "auth/token/revoke-self", token=token)

    assert reply.status == 204
    after = api_server.request("GET", "auth/token/lookup-self", token=token)
    assert after.status == 403
    assert errors(after) == ["permission denied"]


def test_tokens_revoking_a_parent_revokes_its_children(api_server):
    write_policy(
        api_server,
        "tok-maker",
        'path "auth/token/create" { capabilities = ["update"] }',
    )
    parent = create(api_server, {"policies": "tok-maker"})["client_token"]
    child = create(api_server, {"policies": "default"}, token=parent)["client_token"]

    api_server.request("POST", "auth/token/revoke-self", token=parent)

    assert api_server.request("GET", "auth/token/lookup-self", token=child).status == (
        403
    )


def test_tokens_child_policies_must_be_a_subset_of_the_parents(api_server):
    write_policy(
        api_server,
        "tok-maker",
        'path "auth/token/create" { capabilities = ["update"] }',
    )
    parent = create(api_server, {"policies": "tok-maker"})["client_token"]

    reply = api_server.request(
        "POST", "auth/token/create", {"policies": "root"}, token=parent
    )

    assert reply.status == 400
    assert errors(reply) == ["child policies must be subset of parent"]


def test_tokens_default_policy_cannot_create_tokens(api_server):
    token = create(api_server, {"policies": "default"})["client_token"]

    reply = api_server.request("POST", "auth/token/create", {}, token=token)

    assert reply.status == 403


def test_tokens_child_ttl_is_bounded_by_the_parents(api_server):
    write_policy(
        api_server,
        "tok-maker",
        'path "auth/token/create" { capabilities = ["update"] }',
    )
    parent = create(api_server, {"policies": "tok-maker", "ttl": "1m"})["client_token"]

    child = create(api_server, {"policies": "default", "ttl": "1h"}, token=parent)

    assert child["lease_duration"] <= 60


def test_tokens_expire_after_their_ttl(api_server):
    token = create(api_server, {"policies": "default", "ttl": "1s"})["client_token"]
    assert api_server.request("GET", "auth/token/lookup-self", token=token).status == (
        200
    )

    time.sleep(1.2)

    assert api_server.request("GET", "auth/token/lookup-self", token=token).status == (
        403
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"ttl": "soon"}, "'ttl' must be a duration such as 30m, got 'soon'"),
        ({"num_uses": 3}, "'num_uses' is not supported by this server"),
        (
            {"type": "batch"},
            "'type' must be \"service\": batch tokens are not supported",
        ),
        (
            {"policies": 5},
            'Field validation failed: error converting input for field "policies":'
            " expected a comma-separated string or a list of strings, got a number",
        ),
    ],
)
def test_tokens_create_refuses_bad_input(api_server, body, message):
    reply = api_server.request("POST", "auth/token/create", body)

    assert reply.status == 400
    assert errors(reply) == [message]


def test_tokens_are_stored_only_as_keyed_hashes(api_server):
    token = create(api_server, {"policies": "default"})["client_token"]

    stored = database_bytes(api_server)

    assert token.encode() not in stored
    assert api_server.root_token.encode() not in stored


def test_tokens_ttl_above_the_system_maximum_is_capped_with_a_warning(api_server):
    reply = api_server.request(
        "POST", "auth/token/create", {"policies": "default", "ttl": "10000h"}
    )

    assert reply.status == 200
    assert reply.json["auth"]["lease_duration"] == 2764800
    assert reply.json["warnings"] == [
        'TTL of "36000000s" exceeded the effective max_ttl of "2764800s"; TTL value'
        " is capped accordingly"
    ]


def test_tokens_renew_self_extends_up_to_the_system_maximum(api_server):
    auth = create(api_server, {"policies": "default", "ttl": "1m"})
    token = auth["client_token"]

    short = api_server.request("POST", "auth/token/renew-self", {}, token=token)
    long = api_server.request(
        "POST", "auth/token/renew-self", {"increment": "10000h"}, token=token
    )

    assert short.status == 200
    assert 55 <= short.json["auth"]["lease_duration"] <= 60
    assert 2764700 <= long.json["auth"]["lease_duration"] <= 2764800
