"""Revoking dynamic keys when the host is down or the install was cut short.

Each test has a lab of its own (it stops the host or restarts the server),
so these tests can run beside the shared-lab ones.
"""

import concurrent.futures
import time

import pytest
from dynamic_support import INSTALL_SCRIPT
from dynamic_support import authorized_keys
from dynamic_support import creds
from dynamic_support import issue
from dynamic_support import key_file
from dynamic_support import lease_status
from dynamic_support import leases_under
from dynamic_support import ssh
from dynamic_support import wait_for
from dynamic_support import write_role
from testhost import GATEWAY

pytestmark = pytest.mark.root


def test_dynamic_revocation_is_retried_until_the_host_returns(lab, tmp_path):
    """Host down at revoke: the lease stays pending and the key goes later."""
    server, host = lab.server, lab.host
    before = authorized_keys(host)
    role = write_role(server, "retry", host.ip)
    reply = issue(server, role, host.ip)
    lease_id = reply["lease_id"]
    host.stop()

    revoked = server.request("PUT", "sys/leases/revoke", {"lease_id": lease_id})

    assert revoked.status == 200, revoked.text
    assert "retried in the background" in revoked.json["warnings"][0]
    pending = lease_status(server, lease_id)
    assert pending["revocation_pending"] is True
    assert "host unreachable" in pending["revocation_error"]
    wait_for(
        lambda: lease_status(server, lease_id)["revocation_attempts"] >= 2,
        message="a second attempt",
    )
    host.start()
    wait_for(lambda: lease_status(server, lease_id) is None, 30, message="revocation")
    assert authorized_keys(host) == before
    path = key_file(tmp_path, reply["data"]["key"])
    assert ssh(host, "alice", path, "true").returncode == 255
    server.assert_never_logged(reply["data"]["key"])


def test_dynamic_revocation_survives_a_server_restart(lab, tmp_path):
    """Pending revocations are kept in storage and finished after a restart."""
    server, host = lab.server, lab.host
    role = write_role(server, "restart", host.ip)
    replies = [issue(server, role, host.ip) for _ in range(2)]
    host.stop()

    revoked = server.request("PUT", f"sys/leases/revoke-prefix/ssh/creds/{role}")
    assert revoked.status == 200, revoked.text
    assert "2 of 2 leases could not be revoked yet" in revoked.json["warnings"][0]
    assert server.stop() == 0
    host.start()
    server.start()

    for reply in replies:
        wait_for(
            lambda lease_id=reply["lease_id"]: lease_status(server, lease_id) is None,
            30,
            message="revocation after the restart",
        )
    assert authorized_keys(host) == b""
    path = key_file(tmp_path, replies[0]["data"]["key"])
    assert ssh(host, "alice", path, "true").returncode == 255


def test_dynamic_lost_connection_during_install_leaves_nothing(lab):
    """The host drops the connection while the script runs: the key goes again."""
    server, host = lab.server, lab.host
    # The default script, then the session's sshd killed: the key is in place
    # but the server never hears the exit status.
    script = INSTALL_SCRIPT.read_text() + (
        'if [ "$1" = install ]; then\n'
        "    shell=$(cut -d' ' -f4 /proc/$PPID/stat)\n"
        "    kill -9 \"$(cut -d' ' -f4 /proc/$shell/stat)\"\n"
        "fi\n"
    )
    role = write_role(server, "lost", host.ip, install_script=script)

    reply = creds(server, role, host.ip)

    assert reply.status == 502, reply.text
    assert "is being removed again" in reply.json["errors"][0]
    wait_for(
        lambda: leases_under(server, f"ssh/creds/{role}/") == [],
        30,
        message="the sweeper's revocation",
    )
    assert authorized_keys(host) == b""


def test_dynamic_key_stays_while_a_revocation_needs_it(lab):
    """A registered key cannot be deleted while a pending revocation needs it."""
    server, host = lab.server, lab.host
    role = write_role(server, "keep", host.ip)
    lease_id = issue(server, role, host.ip)["lease_id"]
    host.stop()
    assert server.request("DELETE", f"ssh/roles/{role}").status == 204
    assert lease_status(server, lease_id)["revocation_pending"] is True

    refused = server.request("DELETE", "ssh/keys/dev_key")

    assert refused.status == 400
    assert "still needed to remove 1 dynamic keys" in refused.json["errors"][0]
    host.start()
    wait_for(lambda: lease_status(server, lease_id) is None, 30, message="revocation")
    assert server.request("DELETE", "ssh/keys/dev_key").status == 204
    assert authorized_keys(host) == b""


def test_dynamic_bulk_revocation_for_a_silent_host_does_not_wait_per_lease(lab):
    """A host that drops packets costs one connect timeout, not one per lease."""
    server, host = lab.server, lab.host
    role = write_role(server, "silent", host.ip)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda _: issue(server, role, host.ip), range(8)))
    # The host's answers to the server never leave it: connections time out.
    host.run(["ip", "route", "add", "blackhole", f"{GATEWAY}/32"])

    started = time.monotonic()
    revoked = server.request("PUT", f"sys/leases/revoke-prefix/ssh/creds/{role}")
    elapsed = time.monotonic() - started

    assert revoked.status == 200, revoked.text
    assert "8 of 8 leases could not be revoked yet" in revoked.json["warnings"][0]
    assert elapsed < 9
    error = lease_status(server, replies[0]["lease_id"])["revocation_error"]
    assert "host unreachable: no answer within 5s" in error
    host.run(["ip", "route", "del", "blackhole", f"{GATEWAY}/32"])
    wait_for(
        lambda: leases_under(server, f"ssh/creds/{role}/") == [],
        40,
        message="the retried revocations",
    )
    assert authorized_keys(host) == b""
