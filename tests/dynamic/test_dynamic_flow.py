"""Dynamic keys end to end: creds install a key a real sshd accepts, revoke removes it.

All tests share one server and one host (shared_lab); each uses its own
user and role, so they do not see each other's keys.
"""

import concurrent.futures
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from dynamic_support import ADMIN
from dynamic_support import authorized_keys
from dynamic_support import issue
from dynamic_support import key_file
from dynamic_support import lease_status
from dynamic_support import leases_under
from dynamic_support import make_admin_key
from dynamic_support import register
from dynamic_support import ssh
from dynamic_support import wait_for
from dynamic_support import write_role

pytestmark = [pytest.mark.root, pytest.mark.xdist_group("dynamic-flow")]


def public_of(pem):
    """Return the "ssh-rsa AAAA..." line of a returned private key."""
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return public.decode()


def own_key(tmp_path, name="own"):
    """Return (path, public line) of a user's own ed25519 key."""
    path = tmp_path / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{name}@laptop"]
        + ["-f", str(path)],
        check=True,
    )
    return path, path.with_suffix(".pub").read_text().strip()


def test_dynamic_creds_key_logs_in_as_the_user(shared_lab, add_user, tmp_path):
    """The documented flow: register key, create role, get creds, ssh -i."""
    server, host = shared_lab.server, shared_lab.host
    user = add_user("flow")
    role = write_role(server, "flow", host.ip, default_user=user)

    reply = issue(server, role, host.ip)

    data = reply["data"]
    assert set(data) == {"key", "key_type", "username", "ip", "port"}
    assert data["key_type"] == "dynamic"
    assert (data["username"], data["ip"], data["port"]) == (user, host.ip, 22)
    assert data["key"].startswith("-----BEGIN RSA PRIVATE KEY-----\n")
    assert reply["lease_id"].startswith(f"ssh/creds/{role}/")
    assert reply["renewable"] is True
    assert reply["lease_duration"] == 768 * 3600
    installed = authorized_keys(host, user).decode()
    assert installed == public_of(data["key"]) + "\n"
    login = ssh(host, user, key_file(tmp_path, data["key"]), "id", "-un")
    assert login.returncode == 0, login.stderr
    assert login.stdout.strip() == user
    leftovers = host.run(["ls", "-A", host.home(ADMIN)]).stdout.split()
    assert not [name for name in leftovers if name.startswith(".openvault")]


def test_dynamic_key_option_specs_are_enforced_by_sshd(shared_lab, add_user, tmp_path):
    """key_option_specs lead the installed line, and sshd applies them."""
    server, host = shared_lab.server, shared_lab.host
    user = add_user("opts")
    specs = 'command="echo forced",no-port-forwarding,no-pty'
    role = write_role(
        server, "opts", host.ip, default_user=user, key_option_specs=specs
    )

    data = issue(server, role, host.ip)["data"]

    line = authorized_keys(host, user).decode()
    assert line == f"{specs} {public_of(data['key'])}\n"
    login = ssh(host, user, key_file(tmp_path, data["key"]), "id", "-un")
    assert login.returncode == 0, login.stderr
    assert login.stdout.strip() == "forced"


def test_dynamic_revoke_removes_exactly_the_key(shared_lab, add_user, tmp_path):
    """After revoke the key is refused and authorized_keys is as it was."""
    server, host = shared_lab.server, shared_lab.host
    user = add_user("revoke")
    own_path, own_public = own_key(tmp_path)
    host.authorize_key(user, own_public)
    host.run(["sh", "-c", f"echo '# keep me' >> ~{user}/.ssh/authorized_keys"])
    host.run(["chmod", "0640", f"{host.home(user)}/.ssh/authorized_keys"])
    before = authorized_keys(host, user)
    role = write_role(server, "revoke", host.ip, default_user=user)
    reply = issue(server, role, host.ip)
    path = key_file(tmp_path, reply["data"]["key"])
    assert ssh(host, user, path, "true").returncode == 0

    revoked = server.request(
        "PUT", "sys/leases/revoke", {"lease_id": reply["lease_id"]}
    )

    assert revoked.status == 204, revoked.text
    refused = ssh(host, user, path, "true")
    assert refused.returncode == 255
    assert "Permission denied" in refused.stderr
    assert authorized_keys(host, user) == before
    mode = host.run(["stat", "-c", "%U %a", f"{host.home(user)}/.ssh/authorized_keys"])
    assert mode.stdout.split() == [user, "640"]
    assert ssh(host, user, own_path, "true").returncode == 0
    assert lease_status(server, reply["lease_id"]) is None


def test_dynamic_private_key_is_never_logged(shared_lab, add_user):
    """Neither the issued key nor the admin key appears in the log or audit."""
    server, host = shared_lab.server, shared_lab.host
    user = add_user("nolog")
    role = write_role(server, "nolog", host.ip, default_user=user)

    reply = issue(server, role, host.ip)
    server.request("PUT", "sys/leases/revoke", {"lease_id": reply["lease_id"]})

    key = reply["data"]["key"]
    body_lines = [line for line in key.splitlines() if "PRIVATE KEY" not in line]
    admin_lines = [
        line for line in shared_lab.admin_key.pem.splitlines() if "KEY" not in line
    ]
    server.assert_never_logged(key, *body_lines, *admin_lines)
    responses = [
        entry
        for entry in server.audit_entries()
        if entry["type"] == "response"
        and entry["request"]["path"] == f"ssh/creds/{role}"
    ]
    assert responses
    assert responses[-1]["response"]["data"]["key"].startswith("hmac-sha256:")


def test_dynamic_concurrent_creds_for_one_user(shared_lab, add_user, tmp_path):
    """20 creds at once for one user: every key logs in, revoke-prefix removes all."""
    server, host = shared_lab.server, shared_lab.host
    user = add_user("burst")
    host.authorize_key(user, own_key(tmp_path)[1])
    before = authorized_keys(host, user)
    role = write_role(server, "burst", host.ip, default_user=user)

    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        replies = list(pool.map(lambda _: issue(server, role, host.ip), range(20)))

    keys = [reply["data"]["key"] for reply in replies]
    lines = authorized_keys(host, user).decode().splitlines()
    assert sorted(lines[1:]) == sorted(public_of(key) for key in keys)
    paths = [key_file(tmp_path, key, f"k{n}") for n, key in enumerate(keys)]
    with concurrent.futures.ThreadPoolExecutor(5) as pool:
        logins = list(pool.map(lambda p: ssh(host, user, p, "id", "-un"), paths))
    assert [login.stdout.strip() for login in logins] == [user] * 20

    revoked = server.request("PUT", f"sys/leases/revoke-prefix/ssh/creds/{role}")

    assert revoked.status == 204, revoked.text
    assert authorized_keys(host, user) == before
    assert leases_under(server, f"ssh/creds/{role}/") == []
    assert ssh(host, user, paths[0], "true").returncode == 255


def test_dynamic_role_delete_revokes_its_keys(shared_lab, add_user, tmp_path):
    """Deleting a dynamic role removes the keys it installed."""
    server, host = shared_lab.server, shared_lab.host
    user = add_user("roledel")
    role = write_role(server, "roledel", host.ip, default_user=user)
    reply = issue(server, role, host.ip)

    deleted = server.request("DELETE", f"ssh/roles/{role}")

    assert deleted.status == 204, deleted.text
    assert authorized_keys(host, user) == b""
    path = key_file(tmp_path, reply["data"]["key"])
    assert ssh(host, user, path, "true").returncode == 255
    assert lease_status(server, reply["lease_id"]) is None


def test_dynamic_lease_expiry_removes_the_key(shared_lab, add_user, tmp_path):
    """On a mount tuned to a 2s TTL the sweeper removes the key by itself."""
    server, host = shared_lab.server, shared_lab.host
    server.mount_ssh("ssh-short", {"default_lease_ttl": "2s", "max_lease_ttl": "4s"})
    register(server, shared_lab.admin_key, mount="ssh-short")
    user = add_user("expiry")
    role = write_role(server, "expiry", host.ip, mount="ssh-short", default_user=user)
    reply = issue(server, role, host.ip, mount="ssh-short")
    assert reply["lease_duration"] == 2
    path = key_file(tmp_path, reply["data"]["key"])
    assert ssh(host, user, path, "true").returncode == 0

    wait_for(lambda: authorized_keys(host, user) == b"", 15, message="key removal")

    assert ssh(host, user, path, "true").returncode == 255
    assert lease_status(server, reply["lease_id"]) is None


def test_dynamic_renew_extends_up_to_max_ttl(shared_lab, add_user):
    """sys/leases/renew extends a dynamic lease, never past max_lease_ttl."""
    server, host = shared_lab.server, shared_lab.host
    server.mount_ssh("ssh-renew", {"default_lease_ttl": "30s", "max_lease_ttl": "90s"})
    register(server, shared_lab.admin_key, mount="ssh-renew")
    user = add_user("renew")
    role = write_role(server, "renew", host.ip, mount="ssh-renew", default_user=user)
    reply = issue(server, role, host.ip, mount="ssh-renew")
    lease_id = reply["lease_id"]
    assert reply["lease_duration"] == 30

    longer = server.request(
        "PUT", "sys/leases/renew", {"lease_id": lease_id, "increment": "60s"}
    )
    capped = server.request(
        "PUT", "sys/leases/renew", {"lease_id": lease_id, "increment": "1h"}
    )

    assert longer.status == 200, longer.text
    assert 58 <= longer.json["lease_duration"] <= 60
    assert capped.status == 200, capped.text
    assert 85 <= capped.json["lease_duration"] <= 90
    assert lease_status(server, lease_id)["ttl"] >= 85
    assert authorized_keys(host, user) != b""


def test_dynamic_key_bits_of_issued_keys_match_the_role(shared_lab, add_user):
    """An issued key is RSA of the role's stored key_bits (1024 and default)."""
    server, host = shared_lab.server, shared_lab.host
    user = add_user("bits")
    small = write_role(server, "bits1024", host.ip, default_user=user, key_bits=1024)
    default = write_role(server, "bitsdefault", host.ip, default_user=user)

    for role, bits in ((small, 1024), (default, 2048)):
        key = serialization.load_pem_private_key(
            issue(server, role, host.ip)["data"]["key"].encode(), password=None
        )
        assert isinstance(key, rsa.RSAPrivateKey)
        assert key.key_size == bits
        stored = server.request("GET", f"ssh/roles/{role}").json["data"]
        assert stored["key_bits"] == bits


def test_dynamic_revoke_after_admin_key_rotation(shared_lab, add_user):
    """Hosts that trust only the role's new admin key still get keys removed."""
    server, host = shared_lab.server, shared_lab.host
    user, admin = add_user("rotated"), add_user("rotadmin")
    host.write_file(f"/etc/sudoers.d/{admin}", f"{admin} ALL=(ALL) NOPASSWD: ALL\n")
    old, new = make_admin_key("ed25519"), make_admin_key("ed25519")
    host.authorize_key(admin, old.public)
    register(server, old, name=f"{admin}-old")
    fields = {"default_user": user, "admin_user": admin, "key": f"{admin}-old"}
    role = write_role(server, "rotated", host.ip, **fields)
    lease_id = issue(server, role, host.ip)["lease_id"]
    register(server, new, name=f"{admin}-new")
    host.write_file(
        f"{host.home(admin)}/.ssh/authorized_keys", new.public + "\n", owner=admin
    )
    write_role(server, "rotated", host.ip, **dict(fields, key=f"{admin}-new"))

    revoked = server.request("PUT", "sys/leases/revoke", {"lease_id": lease_id})

    assert revoked.status == 204, revoked.text
    assert authorized_keys(host, user) == b""
    assert server.request("DELETE", f"ssh/keys/{admin}-old").status == 204


@pytest.mark.parametrize("kind", ["ecdsa", "ed25519"])
def test_dynamic_admin_keys_of_other_types_install(shared_lab, add_user, kind):
    """ECDSA and Ed25519 admin keys work as well as RSA (the shared lab's)."""
    server, host = shared_lab.server, shared_lab.host
    user, admin = add_user(kind), add_user(f"{kind}adm")
    host.write_file(f"/etc/sudoers.d/{admin}", f"{admin} ALL=(ALL) NOPASSWD: ALL\n")
    admin_key = make_admin_key(kind)
    host.authorize_key(admin, admin_key.public)
    register(server, admin_key, name=admin)
    fields = {"default_user": user, "admin_user": admin, "key": admin}
    role = write_role(server, f"{kind}adm", host.ip, **fields)

    data = issue(server, role, host.ip)["data"]

    assert authorized_keys(host, user).decode().startswith("ssh-rsa AAAA")
    assert data["username"] == user
