"""config/zeroaddress: roles that serve every IP address."""

import pytest
from api_support import errors
from api_support import new_mount

pytestmark = pytest.mark.xdist_group("api_zeroaddress")


def test_zeroaddress_read_before_any_write_is_404(ssh):
    reply = ssh.request("GET", "config/zeroaddress")

    assert reply.status == 404
    assert reply.json == {"errors": []}


@pytest.mark.parametrize("roles", ["a,b", ["a", "b"], "a, b", "a,b,a"])
def test_zeroaddress_write_takes_a_comma_string_or_a_list(ssh, roles):
    ssh.write_role("a")
    ssh.write_role("b")

    reply = ssh.request("POST", "config/zeroaddress", {"roles": roles})

    assert reply.status == 204
    assert ssh.request("GET", "config/zeroaddress").json["data"] == {
        "roles": ["a", "b"]
    }


def test_zeroaddress_role_serves_any_ip(ssh):
    ssh.write_role("anywhere", cidr_list="192.0.2.0/24")
    before = ssh.request("POST", "creds/anywhere", {"ip": "203.0.113.5"})

    ssh.request("POST", "config/zeroaddress", {"roles": "anywhere"})

    assert before.status == 400
    assert ssh.creds("anywhere", ip="203.0.113.5").json["data"]["ip"] == ("203.0.113.5")
    assert ssh.creds("anywhere", ip="2001:db8::7").status == 200


def test_zeroaddress_role_still_honours_exclude_cidr_list(ssh):
    """Deliberate: OpenBao lets a zero-address role bypass its exclusions."""
    ssh.write_role("anywhere", exclude_cidr_list="203.0.113.0/24")
    ssh.request("POST", "config/zeroaddress", {"roles": "anywhere"})

    reply = ssh.request("POST", "creds/anywhere", {"ip": "203.0.113.5"})

    assert reply.status == 400
    assert errors(reply) == ["Error validating IP: IP does not belong to role"]


def test_zeroaddress_role_still_checks_the_username(ssh):
    ssh.write_role("anywhere")
    ssh.request("POST", "config/zeroaddress", {"roles": "anywhere"})

    reply = ssh.request(
        "POST", "creds/anywhere", {"ip": "203.0.113.5", "username": "root"}
    )

    assert reply.status == 400


def test_zeroaddress_write_replaces_the_list(ssh):
    ssh.write_role("a")
    ssh.write_role("b")
    ssh.request("POST", "config/zeroaddress", {"roles": "a"})

    ssh.request("POST", "config/zeroaddress", {"roles": "b"})

    assert ssh.request("GET", "config/zeroaddress").json["data"]["roles"] == ["b"]
    assert ssh.request("POST", "creds/a", {"ip": "203.0.113.5"}).status == 400


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Missing roles"),
        ({"roles": ""}, "Missing roles"),
        ({"roles": "a,nosuch"}, 'Role "nosuch" does not exist'),
        (
            {"roles": 5},
            'Field validation failed: error converting input for field "roles":'
            " expected a comma-separated string or a list of strings, got a number",
        ),
    ],
)
def test_zeroaddress_write_refuses_bad_input_and_keeps_the_list(ssh, body, message):
    ssh.write_role("a")
    ssh.request("POST", "config/zeroaddress", {"roles": "a"})

    reply = ssh.request("POST", "config/zeroaddress", body)

    assert reply.status == 400
    assert errors(reply) == [message]
    assert ssh.request("GET", "config/zeroaddress").json["data"]["roles"] == ["a"]


def test_zeroaddress_delete_forgets_the_list(ssh):
    ssh.write_role("a")
    ssh.request("POST", "config/zeroaddress", {"roles": "a"})

    reply = ssh.request("DELETE", "config/zeroaddress")

    assert reply.status == 204
    assert ssh.request("GET", "config/zeroaddress").status == 404
    assert ssh.request("POST", "creds/a", {"ip": "203.0.113.5"}).status == 400


def test_zeroaddress_deleting_a_role_removes_it_from_the_list(ssh):
    ssh.write_role("a")
    ssh.write_role("b")
    ssh.request("POST", "config/zeroaddress", {"roles": "a,b"})

    ssh.request("DELETE", "roles/b")

    assert ssh.request("GET", "config/zeroaddress").json["data"]["roles"] == ["a"]


def test_zeroaddress_recreated_role_is_not_zero_address_again(ssh):
    ssh.write_role("a")
    ssh.request("POST", "config/zeroaddress", {"roles": "a"})
    ssh.request("DELETE", "roles/a")

    ssh.write_role("a")

    assert ssh.request("POST", "creds/a", {"ip": "203.0.113.5"}).status == 400


def test_zeroaddress_lists_are_per_mount(ssh, api_server):
    other = new_mount(api_server)
    for mount in (ssh, other):
        mount.write_role("a")
    ssh.request("POST", "config/zeroaddress", {"roles": "a"})

    assert other.request("GET", "config/zeroaddress").status == 404
    assert other.request("POST", "creds/a", {"ip": "203.0.113.5"}).status == 400
