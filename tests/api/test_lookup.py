"""lookup: the roles that would issue a credential for an IP."""

import pytest
from api_support import MULTI_DENIED
from api_support import errors

pytestmark = pytest.mark.xdist_group("api_lookup")


def lookup(mount, ip, token="root"):
    """Return the lookup reply for `ip`."""
    return mount.request("POST", "lookup", {"ip": ip}, token=token)


def test_lookup_lists_the_roles_whose_cidrs_hold_the_ip(ssh):
    ssh.write_role("net24", cidr_list="192.0.2.0/24")
    ssh.write_role("net28", cidr_list="192.0.2.0/28")
    ssh.write_role("other", cidr_list="198.51.100.0/24")

    reply = lookup(ssh, "192.0.2.5")

    assert reply.status == 200
    assert reply.json["data"] == {"roles": ["net24", "net28"]}


def test_lookup_answers_null_when_no_role_serves_the_ip(ssh):
    ssh.write_role("net24")

    reply = lookup(ssh, "203.0.113.9")

    assert reply.status == 200
    assert reply.json["data"] == {"roles": None}


def test_lookup_names_each_role_once(ssh):
    """Deliberate: OpenBao repeats a role for each matching block and again
    when it is also a zero-address role."""
    ssh.write_role("twice", cidr_list="192.0.2.0/24,192.0.2.0/28")
    ssh.request("POST", "config/zeroaddress", {"roles": "twice"})

    assert lookup(ssh, "192.0.2.5").json["data"]["roles"] == ["twice"]


def test_lookup_leaves_out_roles_that_exclude_the_ip(ssh):
    """Deliberate: OpenBao's lookup ignores exclude_cidr_list."""
    ssh.write_role("holey", exclude_cidr_list="192.0.2.0/28")
    ssh.write_role("whole")

    assert lookup(ssh, "192.0.2.5").json["data"]["roles"] == ["whole"]
    assert lookup(ssh, "192.0.2.100").json["data"]["roles"] == ["holey", "whole"]


def test_lookup_includes_zero_address_roles_for_any_ip(ssh):
    ssh.write_role("everyone", cidr_list="")
    ssh.request("POST", "config/zeroaddress", {"roles": "everyone"})

    assert lookup(ssh, "203.0.113.5").json["data"]["roles"] == ["everyone"]
    assert lookup(ssh, "2001:db8::1").json["data"]["roles"] == ["everyone"]


def test_lookup_excludes_win_for_zero_address_roles_too(ssh):
    """Deliberate: in OpenBao a zero-address role bypasses its exclusions."""
    ssh.write_role("everyone", cidr_list="", exclude_cidr_list="203.0.113.0/24")
    ssh.request("POST", "config/zeroaddress", {"roles": "everyone"})

    assert lookup(ssh, "203.0.113.5").json["data"]["roles"] is None
    assert lookup(ssh, "198.51.100.5").json["data"]["roles"] == ["everyone"]


def test_lookup_only_returns_roles_that_really_issue(ssh):
    ssh.write_role("a", exclude_cidr_list="192.0.2.64/26")
    ssh.write_role("b", cidr_list="192.0.2.0/25")

    for ip in ("192.0.2.1", "192.0.2.70", "192.0.2.200"):
        for role in lookup(ssh, ip).json["data"]["roles"] or []:
            assert ssh.request("POST", f"creds/{role}", {"ip": ip}).status == 200


def test_lookup_matches_ipv6_blocks(ssh):
    ssh.write_role("v6", cidr_list="2001:db8::/32")
    ssh.write_role("v4")

    assert lookup(ssh, "2001:db8:0:0::42").json["data"]["roles"] == ["v6"]
    assert lookup(ssh, "2001:db9::1").json["data"]["roles"] is None


def test_lookup_block_edges_are_inclusive(ssh):
    ssh.write_role("edge", cidr_list="192.0.2.16/28")

    assert lookup(ssh, "192.0.2.16").json["data"]["roles"] == ["edge"]
    assert lookup(ssh, "192.0.2.31").json["data"]["roles"] == ["edge"]
    assert lookup(ssh, "192.0.2.15").json["data"]["roles"] is None
    assert lookup(ssh, "192.0.2.32").json["data"]["roles"] is None


def test_lookup_forgets_deleted_and_rewritten_blocks(ssh):
    ssh.write_role("moving", cidr_list="192.0.2.0/24")
    ssh.write_role("moving", cidr_list="198.51.100.0/24")
    ssh.write_role("deleted")
    ssh.request("DELETE", "roles/deleted")

    assert lookup(ssh, "192.0.2.5").json["data"]["roles"] is None
    assert lookup(ssh, "198.51.100.5").json["data"]["roles"] == ["moving"]


def test_lookup_handles_role_names_with_at_signs(ssh):
    ssh.write_role("ops@example.com")

    assert lookup(ssh, "192.0.2.5").json["data"]["roles"] == ["ops@example.com"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Missing ip"),
        ({"ip": "bogus"}, 'Invalid IP "bogus"'),
        ({"ip": "192.0.2.0/24"}, 'Invalid IP "192.0.2.0/24"'),
    ],
)
def test_lookup_refuses_bad_input(ssh, body, message):
    """OpenBao prints 'Invalid IP "<nil>"'; we name the rejected value."""
    reply = ssh.request("POST", "lookup", body)

    assert reply.status == 400
    assert errors(reply) == [message]


def test_lookup_needs_a_token_allowed_on_the_path(ssh, api_server):
    ssh.write_role("r")
    api_server.request(
        "PUT",
        f"sys/policies/acl/creds-only-{ssh.path}",
        {"policy": f'path "{ssh.path}/creds/*" {{ capabilities = ["update"] }}'},
    )
    token = api_server.request(
        "POST", "auth/token/create", {"policies": f"creds-only-{ssh.path}"}
    ).json["auth"]["client_token"]

    reply = lookup(ssh, "192.0.2.5", token=token)

    assert reply.status == 403
    assert errors(reply) == [MULTI_DENIED]
    assert lookup(ssh, "192.0.2.5", token=None).status == 403
