"""Config file parsing of the OTP helper: HCL and JSON forms, keys, errors."""

import ipaddress
import json

import pytest
from openvault.ssh_helper import ConfigError
from openvault.ssh_helper import parse_config

# The example config of vault-ssh-helper's README, byte for byte in spirit:
# an existing config must keep working unchanged.
UPSTREAM_CONFIG = """\
vault_addr = "https://vault.example.com:8200"
tls_skip_verify = false
ca_cert = "/etc/vault-ssh-helper.d/vault.crt"
ssh_mount_point = "ssh"
allowed_roles = "*"
"""

EVERY_KEY_HCL = """\
# comment line
// another comment line
/* a block
   comment */
vault_addr = "https://vault.example.com:8200"  # trailing comment
ssh_mount_point = "team/ssh"                 // trailing comment
namespace = "ns1/"
ca_cert = "/etc/openvault-ssh-helper.d/ca.pem"
ca_path = "/etc/openvault-ssh-helper.d/cas"
tls_skip_verify = true
tls_server_name = "vault.internal"
allowed_cidr_list = "10.0.0.0/8, 192.168.1.0/24,2001:db8::/32"
allowed_roles = "db, web.prod"
"""


def test_config_hcl_reads_every_key():
    config = parse_config(EVERY_KEY_HCL)

    assert config.vault_addr == "https://vault.example.com:8200"
    assert config.ssh_mount_point == "team/ssh"
    assert config.namespace == "ns1/"
    assert config.ca_cert == "/etc/openvault-ssh-helper.d/ca.pem"
    assert config.ca_path == "/etc/openvault-ssh-helper.d/cas"
    assert config.tls_skip_verify is True
    assert config.tls_server_name == "vault.internal"
    assert config.allowed_cidr_list == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("192.168.1.0/24"),
        ipaddress.ip_network("2001:db8::/32"),
    )
    assert config.allowed_roles == ("db", "web.prod")


def test_config_json_reads_every_key():
    document = {
        "vault_addr": "https://vault.example.com:8200",
        "ssh_mount_point": "team/ssh",
        "namespace": "ns1/",
        "ca_cert": "/etc/openvault-ssh-helper.d/ca.pem",
        "ca_path": "/etc/openvault-ssh-helper.d/cas",
        "tls_skip_verify": True,
        "tls_server_name": "vault.internal",
        "allowed_cidr_list": "10.0.0.0/8, 192.168.1.0/24,2001:db8::/32",
        "allowed_roles": "db, web.prod",
    }

    assert parse_config(json.dumps(document, indent=2)) == parse_config(EVERY_KEY_HCL)


def test_config_upstream_example_works_unchanged():
    config = parse_config(UPSTREAM_CONFIG)

    assert config.vault_addr == "https://vault.example.com:8200"
    assert config.tls_skip_verify is False
    assert config.allowed_roles == ("*",)


@pytest.mark.parametrize(
    "text",
    [
        'vault_addr = "https://v:8200"\n',
        'vault_addr = "https://v:8200"\nssh_mount_point = ""\n',
        '{"vault_addr": "https://v:8200"}',
    ],
)
def test_config_mount_point_defaults_to_ssh(text):
    assert parse_config(text).ssh_mount_point == "ssh"


def test_config_defaults_when_keys_are_absent():
    config = parse_config('vault_addr = "https://v:8200"')

    assert config.namespace == ""
    assert config.ca_cert == ""
    assert config.ca_path == ""
    assert config.tls_skip_verify is False
    assert config.tls_server_name == ""
    assert config.allowed_cidr_list == ()
    assert config.allowed_roles == ()


@pytest.mark.parametrize(
    "text",
    [
        "",
        "# only a comment\n",
        'ssh_mount_point = "ssh"\n',
        'vault_addr = ""\n',
        '{"allowed_roles": "*"}',
    ],
)
def test_config_rejects_missing_vault_addr(text):
    with pytest.raises(ConfigError) as caught:
        parse_config(text)

    assert str(caught.value) == 'missing config "vault_addr"'


def test_config_hcl_rejects_unknown_key_naming_it_and_its_line():
    text = 'vault_addr = "https://v:8200"\n\n# note\nallowed_cidrs = "10.0.0.0/8"\n'

    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="/etc/h.hcl")

    message = str(caught.value)
    assert message.startswith("invalid key 'allowed_cidrs' on line 4 of /etc/h.hcl")
    assert "allowed_cidr_list" in message  # the accepted keys are listed


def test_config_json_rejects_unknown_key_naming_it_and_its_line():
    text = '{\n  "vault_addr": "https://v:8200",\n  "allowed_cidrs": "10.0.0.0/8"\n}'

    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="h.json")

    assert str(caught.value).startswith("invalid key 'allowed_cidrs' on line 3")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('vault_addr = "https://v"\nvault_addr = "https://w"\n', "duplicate key"),
        ('vault_addr = "https://v"\ntls_skip_verify = "maybe"\n', "true or false"),
        ('vault_addr = "https://v"\nallowed_roles = true\n', "quoted string"),
        ("vault_addr = https://v\n", "quoted string or true/false"),
        ('vault_addr = "https://v" extra\n', "unexpected text"),
        ('vault_addr "https://v"\n', "not a key = value"),
        ('vault_addr = "https://v"\nallowed_cidr_list = "10.0.0/8"\n', "'10.0.0/8'"),
        ('vault_addr = "https://v"\nssh_mount_point = "a b"\n', "'ssh_mount_point'"),
        ('{"vault_addr": "https://v", "allowed_roles": ["a"]}', "JSON array"),
        ('{"vault_addr": "https://v",}', "not valid JSON"),
    ],
)
def test_config_rejects_bad_input_naming_the_problem(text, expected):
    with pytest.raises(ConfigError) as caught:
        parse_config(text)

    assert expected in str(caught.value)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("tls_skip_verify = true", True),
        ("tls_skip_verify = false", False),
        ('tls_skip_verify = "true"', True),
        ('tls_skip_verify = "False"', False),
    ],
)
def test_config_reads_booleans_bare_or_quoted(line, expected):
    config = parse_config(f'vault_addr = "https://v:8200"\n{line}\n')

    assert config.tls_skip_verify is expected


def test_config_hcl_accepts_quoted_keys_and_escapes():
    config = parse_config('"vault_addr" = "https://v:8200"\nnamespace = "a\\"b"\n')

    assert config.vault_addr == "https://v:8200"
    assert config.namespace == 'a"b'


def test_config_keeps_hash_inside_a_string():
    config = parse_config('vault_addr = "https://v:8200"\nnamespace = "a#b"  # c\n')

    assert config.namespace == "a#b"


def test_config_trims_roles_and_drops_empty_entries():
    config = parse_config('vault_addr = "https://v"\nallowed_roles = " a ,, b ,"\n')

    assert config.allowed_roles == ("a", "b")


def test_config_accepts_cidr_with_host_bits_and_bare_address():
    text = 'vault_addr = "https://v"\nallowed_cidr_list = "10.1.2.3/8, 192.0.2.7"\n'

    config = parse_config(text)

    assert config.allowed_cidr_list == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("192.0.2.7/32"),
    )


def test_config_file_error_names_the_file(helper, tmp_path):
    missing = tmp_path / "nope.hcl"

    result = helper(f"-config={missing}", "-verify-only")

    assert result.returncode == 1
    assert f"cannot read config file {missing}" in result.stderr


def test_config_unknown_key_fails_the_helper_with_exit_1(helper, tmp_path):
    config = tmp_path / "config.hcl"
    config.write_text('vault_addr = "https://v:8200"\nallowed_cidrs = "10.0.0.0/8"\n')

    result = helper(f"-config={config}", "-verify-only")

    assert result.returncode == 1
    assert "invalid key 'allowed_cidrs' on line 2" in result.stderr


def test_config_missing_vault_addr_fails_the_helper_with_exit_1(helper, tmp_path):
    config = tmp_path / "config.hcl"
    config.write_text('allowed_roles = "*"\n')

    result = helper(f"-config={config}", "-verify-only")

    assert result.returncode == 1
    assert 'missing config "vault_addr"' in result.stderr
