"""hvac, the Vault client library, used unchanged against the server."""

import itertools

import hvac
import hvac.exceptions
import pytest
from api_support import UUID

pytestmark = pytest.mark.xdist_group("api_hvac")

_paths = itertools.count(1)


@pytest.fixture
def client(api_server):
    """An hvac client holding the root token."""
    return hvac.Client(url=api_server.addr, token=api_server.root_token)


@pytest.fixture
def mount(client):
    """A fresh ssh mount enabled through hvac, with role otp1."""
    path = f"hvac-{next(_paths)}"
    client.sys.enable_secrets_engine("ssh", path=path)
    client.secrets.ssh.create_role(
        "otp1",
        key_type="otp",
        default_user="alice",
        cidr_list="192.0.2.0/24",
        mount_point=path,
    )
    return path


def test_hvac_is_authenticated_with_the_root_token(client):
    assert client.is_authenticated()


def test_hvac_enable_secrets_engine_mounts_ssh(client):
    client.sys.enable_secrets_engine("ssh", path="hvac-enabled")

    mounts = client.sys.list_mounted_secrets_engines()

    assert mounts["data"]["hvac-enabled/"]["type"] == "ssh"
    assert (
        client.sys.read_mount_configuration("hvac-enabled")["data"]["default_lease_ttl"]
        == 2764800
    )


def test_hvac_create_role_writes_an_otp_role(client, mount):
    role = client.secrets.ssh.read_role("otp1", mount_point=mount)

    assert role["data"]["key_type"] == "otp"
    assert role["data"]["default_user"] == "alice"
    assert role["data"]["cidr_list"] == "192.0.2.0/24"
    assert role["data"]["port"] == 22


def test_hvac_list_roles(client, mount):
    client.secrets.ssh.create_role(
        "otp2",
        key_type="otp",
        default_user="bob",
        cidr_list="10.0.0.0/8",
        mount_point=mount,
    )

    listed = client.secrets.ssh.list_roles(mount_point=mount)

    assert listed["data"]["keys"] == ["otp1", "otp2"]
    assert listed["data"]["key_info"]["otp2"] == {"key_type": "otp"}


def test_hvac_generic_list_sends_list_true_and_gets_the_keys(client, mount):
    """hvac's Client.list sends ?list=True, which Vault reads like ParseBool."""
    listed = client.list(f"{mount}/roles")

    assert "otp1" in listed["data"]["keys"]


def test_hvac_generate_credentials_and_verify_once(client, mount):
    creds = client.secrets.ssh.generate_ssh_credentials(
        "otp1", username="alice", ip="192.0.2.10", mount_point=mount
    )

    otp = creds["data"]["key"]
    assert UUID.match(otp)
    assert creds["lease_id"].startswith(f"{mount}/creds/otp1/")
    verified = client.secrets.ssh.verify_ssh_otp(otp, mount_point=mount)
    assert verified["data"] == {
        "username": "alice",
        "ip": "192.0.2.10",
        "role_name": "otp1",
    }
    with pytest.raises(hvac.exceptions.InvalidRequest, match="OTP not found"):
        client.secrets.ssh.verify_ssh_otp(otp, mount_point=mount)


def test_hvac_verify_works_without_a_token(api_server, client, mount):
    otp = client.secrets.ssh.generate_ssh_credentials(
        "otp1", ip="192.0.2.10", mount_point=mount
    )["data"]["key"]
    anonymous = hvac.Client(url=api_server.addr)

    verified = anonymous.secrets.ssh.verify_ssh_otp(otp, mount_point=mount)

    assert verified["data"]["username"] == "alice"


def test_hvac_list_roles_by_ip(client, mount):
    found = client.secrets.ssh.list_roles_by_ip("192.0.2.10", mount_point=mount)
    none = client.secrets.ssh.list_roles_by_ip("203.0.113.1", mount_point=mount)

    assert found["data"]["roles"] == ["otp1"]
    assert none["data"]["roles"] is None


def test_hvac_configure_zeroaddress_roles(client, mount):
    client.secrets.ssh.configure_zeroaddress_roles("otp1", mount_point=mount)

    listed = client.secrets.ssh.list_zeroaddress_roles(mount_point=mount)
    creds = client.secrets.ssh.generate_ssh_credentials(
        "otp1", ip="203.0.113.9", mount_point=mount
    )

    assert listed["data"]["roles"] == ["otp1"]
    assert creds["data"]["ip"] == "203.0.113.9"
    client.secrets.ssh.delete_zeroaddress_role(mount_point=mount)
    with pytest.raises(hvac.exceptions.InvalidPath):
        client.secrets.ssh.list_zeroaddress_roles(mount_point=mount)


def test_hvac_delete_role(client, mount):
    client.secrets.ssh.delete_role("otp1", mount_point=mount)

    with pytest.raises(hvac.exceptions.InvalidPath):
        client.secrets.ssh.read_role("otp1", mount_point=mount)


@pytest.mark.parametrize(
    ("call", "error", "text"),
    [
        (
            lambda c, m: c.secrets.ssh.generate_ssh_credentials(
                "otp1", ip="203.0.113.1", mount_point=m
            ),
            hvac.exceptions.InvalidRequest,
            "IP does not belong to role",
        ),
        (
            lambda c, m: c.secrets.ssh.generate_ssh_credentials(
                "nosuch", ip="192.0.2.1", mount_point=m
            ),
            hvac.exceptions.InvalidRequest,
            'Role "nosuch" not found',
        ),
        (
            lambda c, m: c.secrets.ssh.create_role(
                "bad", key_type="otp", default_user="a", cidr_list="nope", mount_point=m
            ),
            hvac.exceptions.InvalidRequest,
            "invalid CIDR address: nope",
        ),
        (
            lambda c, m: c.secrets.ssh.read_role("nosuch", mount_point=m),
            hvac.exceptions.InvalidPath,
            None,
        ),
    ],
    ids=["outside-cidr", "unknown-role", "bad-cidr", "missing-role"],
)
def test_hvac_errors_map_to_hvac_exceptions(client, mount, call, error, text):
    with pytest.raises(error) as raised:
        call(client, mount)

    if text:
        assert text in str(raised.value)


def test_hvac_policy_token_issues_only_where_allowed(api_server, client, mount):
    client.sys.create_or_update_policy(
        f"hvac-{mount}",
        f'path "{mount}/creds/otp1" {{ capabilities = ["update"] }}\n'
        f'path "{mount}/roles/*" {{ capabilities = ["list"] }}\n',
    )
    token = client.auth.token.create(policies=[f"hvac-{mount}"], ttl="1h")
    assert token["auth"]["lease_duration"] == 3600
    limited = hvac.Client(url=api_server.addr, token=token["auth"]["client_token"])

    creds = limited.secrets.ssh.generate_ssh_credentials(
        "otp1", ip="192.0.2.10", mount_point=mount
    )

    assert creds["data"]["username"] == "alice"
    assert limited.secrets.ssh.list_roles(mount_point=mount)["data"]["keys"] == ["otp1"]
    with pytest.raises(hvac.exceptions.Forbidden):
        limited.secrets.ssh.read_role("otp1", mount_point=mount)
    with pytest.raises(hvac.exceptions.Forbidden):
        limited.secrets.ssh.create_role(
            "otp1", key_type="otp", default_user="root", mount_point=mount
        )
    assert limited.auth.token.lookup_self()["data"]["policies"] == [
        "default",
        f"hvac-{mount}",
    ]
    limited.auth.token.revoke_self()
    assert not limited.is_authenticated()


def test_hvac_policies_read_list_and_delete(client):
    client.sys.create_or_update_policy(
        "hvac-p", 'path "x/*" { capabilities = ["read"] }'
    )

    assert "hvac-p" in client.sys.list_policies()["data"]["policies"]
    assert client.sys.read_policy("hvac-p")["data"]["rules"] == (
        'path "x/*" { capabilities = ["read"] }'
    )
    client.sys.delete_policy("hvac-p")
    with pytest.raises(hvac.exceptions.InvalidPath):
        client.sys.read_policy("hvac-p")


def test_hvac_leases_read_renew_and_revoke(client, mount):
    creds = client.secrets.ssh.generate_ssh_credentials(
        "otp1", ip="192.0.2.10", mount_point=mount
    )
    lease_id = creds["lease_id"]

    lease = client.sys.read_lease(lease_id)
    listed = client.sys.list_leases(f"{mount}/creds/otp1/")

    assert lease["data"]["id"] == lease_id
    assert lease["data"]["renewable"] is False
    assert listed["data"]["keys"] == [lease_id.rsplit("/", 1)[1]]
    with pytest.raises(hvac.exceptions.InvalidRequest, match="lease is not renewable"):
        client.sys.renew_lease(lease_id)
    client.sys.revoke_lease(lease_id)
    with pytest.raises(hvac.exceptions.InvalidRequest, match="OTP not found"):
        client.secrets.ssh.verify_ssh_otp(creds["data"]["key"], mount_point=mount)


def test_hvac_tune_mount_changes_the_lease_ttl(client, mount):
    client.sys.tune_mount_configuration(mount, default_lease_ttl="10m")

    creds = client.secrets.ssh.generate_ssh_credentials(
        "otp1", ip="192.0.2.10", mount_point=mount
    )

    assert creds["lease_duration"] == 600


def test_hvac_disable_secrets_engine(client, mount):
    client.sys.disable_secrets_engine(mount)

    assert f"{mount}/" not in client.sys.list_mounted_secrets_engines()["data"]


def test_hvac_health_and_audit_hash(client):
    health = client.sys.read_health_status(method="GET")
    hashed = client.sys.calculate_hash("config", "some-value")

    assert health["initialized"] is True
    assert hashed["data"]["hash"].startswith("hmac-sha256:")
    assert "config/" in client.sys.list_enabled_audit_devices()["data"]
