"""Normalising role values so read-back and desired state compare (ANS-02)."""

from __future__ import annotations

import importlib

import pytest


@pytest.fixture(scope="module")
def normalise(collection_imports):
    """The _normalise module."""
    return importlib.import_module(
        "ansible_collections.openvault.ssh.plugins.module_utils._normalise"
    )


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("30m0s", 1800),
        ("30m", 1800),
        ("1h30m", 5400),
        ("90s", 90),
        ("1.5h", 5400),
        ("2d", 172800),
        ("600", 600),
        (600, 600),
        (None, 0),
        ("", 0),
    ],
)
def test_parse_duration_gives_seconds(normalise, value, seconds):
    """Go-style durations and plain numbers become integer seconds."""
    assert normalise.parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["3 days", "1x", "m30", "-5m", True])
def test_parse_duration_rejects_bad_values_naming_the_field(normalise, value):
    """A bad duration names the field and shows the value."""
    with pytest.raises(ValueError, match="'max_ttl' must be a duration such as 30m"):
        normalise.parse_duration(value, "max_ttl")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("bob, carol", "bob,carol"),
        (["bob ", " carol"], "bob,carol"),
        ("198.51.100.0/24, ,203.0.113.0/24,", "198.51.100.0/24,203.0.113.0/24"),
        ("*", "*"),
        ([], ""),
        (None, ""),
    ],
)
def test_normalise_list_trims_entries_and_keeps_order(normalise, value, expected):
    """Comma lists compare trimmed, without blanks, in the order given."""
    assert normalise.normalise_list(value) == expected


def test_normalise_map_merges_a_list_of_maps(normalise):
    """ANS-02: [{"permit-pty": ""}, {"permit-port-forwarding": ""}] is one map."""
    value = [{"permit-pty": ""}, {"permit-port-forwarding": ""}]

    assert normalise.normalise_map(value) == {
        "permit-pty": "",
        "permit-port-forwarding": "",
    }
    assert normalise.normalise_map({"a": "1"}) == {"a": "1"}
    assert normalise.normalise_map(None) == {}
    with pytest.raises(ValueError, match="expected a map"):
        normalise.normalise_map(["permit-pty"])


def test_desired_role_is_the_full_role_with_server_defaults(normalise):
    """A role write replaces the role, so left-out fields get the defaults."""
    params = dict.fromkeys(normalise.COMMON_FIELDS + normalise.DYNAMIC_FIELDS)
    params.update(key_type="OTP", default_user="alice", ttl="30m0s")

    assert normalise.desired_role(params) == {
        "key_type": "otp",
        "default_user": "alice",
        "cidr_list": "",
        "exclude_cidr_list": "",
        "port": 22,
        "allowed_users": "",
        "ttl": 1800,
        "max_ttl": 0,
    }


def test_desired_dynamic_role_leaves_out_an_unset_install_script(normalise):
    """The server keeps its built-in script when none is given."""
    params = dict.fromkeys(normalise.COMMON_FIELDS + normalise.DYNAMIC_FIELDS)
    params.update(key_type="dynamic", key="dev_key", admin_user="vaultadmin")

    role = normalise.desired_role(params)

    assert "install_script" not in role
    assert role["key_bits"] == 2048
    assert role["key_option_specs"] == ""


def test_role_differences_after_normalising_the_read_back(normalise):
    """ANS-02 step 3: the server's read-back equals the request it came from."""
    params = dict.fromkeys(normalise.COMMON_FIELDS)
    params.update(
        key_type="otp",
        default_user="alice",
        allowed_users=["bob", " carol"],
        cidr_list="198.51.100.0/24, 203.0.113.0/24",
        ttl="30m0s",
    )
    desired = normalise.desired_role(params)
    read_back = {
        "key_type": "otp",
        "default_user": "alice",
        "allowed_users": "bob,carol",
        "cidr_list": "198.51.100.0/24,203.0.113.0/24",
        "exclude_cidr_list": "",
        "port": 22,
        "ttl": 1800,
        "max_ttl": 0,
    }

    current = normalise.current_role(read_back, list(desired))
    assert normalise.role_differences(current, desired) == []

    read_back["port"] = 2222
    current = normalise.current_role(read_back, list(desired))
    assert normalise.role_differences(current, desired) == ["port"]
