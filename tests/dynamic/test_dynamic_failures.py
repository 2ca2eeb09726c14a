"""Dynamic keys when installing fails: a clear error, and no lease left behind.

The tests use the shared lab, with extra users, admin keys and hosts.
"""

import time

import pytest
from dynamic_support import ADMIN
from dynamic_support import creds
from dynamic_support import issue
from dynamic_support import key_file
from dynamic_support import leases_under
from dynamic_support import make_admin_key
from dynamic_support import register
from dynamic_support import ssh
from dynamic_support import write_role

pytestmark = [pytest.mark.root, pytest.mark.xdist_group("dynamic-failures")]


def refused_creds(server, role, ip, status, *fragments, username=None):
    """Ask for creds that must fail; check status, message and that no lease is left."""
    started = time.monotonic()
    reply = creds(server, role, ip, username)
    elapsed = time.monotonic() - started
    assert reply.status == status, reply.text
    message = reply.json["errors"][0]
    assert message.startswith(
        "failed to add public key to authorized_keys file in target: "
    )
    for fragment in fragments:
        assert fragment in message
    assert leases_under(server, f"ssh/creds/{role}/") == []
    return message, elapsed


def test_dynamic_creds_for_a_down_host_fail_without_a_lease(
    shared_lab, testhost_factory
):
    server = shared_lab.server
    host = testhost_factory("down")
    host.stop()
    role = write_role(server, "down", host.ip)

    message, elapsed = refused_creds(
        server, role, host.ip, 502, f"{host.ip}:22", "host unreachable"
    )

    assert "connecting as 'vaultadmin'" in message
    assert elapsed < 10


def test_dynamic_creds_with_an_unknown_admin_key_fail_without_a_lease(shared_lab):
    server, host = shared_lab.server, shared_lab.host
    register(server, make_admin_key("ed25519"), name="stranger")
    role = write_role(server, "stranger", host.ip, key="stranger")

    refused_creds(server, role, host.ip, 502, f"{host.ip}:22", "refused the admin key")


def test_dynamic_creds_fail_fast_when_sudo_asks_for_a_password(shared_lab):
    server, host = shared_lab.server, shared_lab.host
    host.add_user("sudopw", password="not-used-by-vault")
    host.write_file("/etc/sudoers.d/sudopw", "sudopw ALL=(ALL) ALL\n", mode=0o440)
    host.authorize_key("sudopw", shared_lab.admin_key.public)
    role = write_role(server, "sudopw", host.ip, admin_user="sudopw")

    message, elapsed = refused_creds(
        server, role, host.ip, 502, "checking sudo", "asks 'sudopw' for a password"
    )

    assert "NOPASSWD" in message
    assert elapsed < 10


def test_dynamic_creds_fail_when_the_admin_may_not_sudo(shared_lab):
    server, host = shared_lab.server, shared_lab.host
    host.add_user("nosudo")
    host.authorize_key("nosudo", shared_lab.admin_key.public)
    role = write_role(server, "nosudo", host.ip, admin_user="nosudo")

    refused_creds(server, role, host.ip, 502, "checking sudo", "nosudo")


def test_dynamic_creds_for_a_user_missing_on_the_host_are_refused(shared_lab):
    server, host = shared_lab.server, shared_lab.host
    role = write_role(server, "ghost", host.ip, allowed_users="*")

    refused_creds(
        server, role, host.ip, 400, "user 'ghost' does not exist", username="ghost"
    )


def test_dynamic_creds_report_a_failing_install_script(shared_lab):
    server, host = shared_lab.server, shared_lab.host
    script = "#!/bin/sh\necho 'cannot do that here' >&2\nexit 3\n"
    role = write_role(server, "badscript", host.ip, install_script=script)

    refused_creds(server, role, host.ip, 502, "exit status 3: cannot do that here")

    leftovers = host.run(["ls", "-A", host.home(ADMIN)]).stdout.split()
    assert not [name for name in leftovers if name.startswith(".openvault")]


def test_dynamic_creds_use_the_home_directory_the_host_knows(shared_lab, tmp_path):
    """A user whose home is outside /home gets the key in that home."""
    server, host = shared_lab.server, shared_lab.host
    host.run(["useradd", "--create-home", "-d", "/srv/svc", "-s", "/bin/sh", "svc"])
    role = write_role(server, "svc", host.ip, default_user="svc")

    data = issue(server, role, host.ip)["data"]

    assert host.exists("/srv/svc/.ssh/authorized_keys")
    login = ssh(host, "svc", key_file(tmp_path, data["key"]), "pwd")
    assert login.stdout.strip() == "/srv/svc", login.stderr
