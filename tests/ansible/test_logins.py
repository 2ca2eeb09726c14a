"""Real logins into sshd test hosts: OTP lookup, dynamic keys, the connection."""

from __future__ import annotations

import pytest
from unit.collection_env import ansible_env
from unit.collection_env import audited_requests
from unit.collection_env import run_shipped_playbook
from unit.collection_hosts import make_admin_key
from unit.collection_hosts import prepare_dynamic_host
from unit.collection_hosts import prepare_otp_host
from unit.collection_hosts import write_inventory

pytestmark = [pytest.mark.root, pytest.mark.slow]

OTP_ROLE = {
    "key_type": "otp",
    "default_user": "alice",
    "cidr_list": "198.51.100.0/24",
}
TEN_TASKS = "\n".join(
    f"    - name: Task {number}\n      ansible.builtin.command: id -un\n"
    "      changed_when: false"
    for number in range(1, 11)
)


@pytest.fixture
def otp_setup(testhost_factory, ov_server_factory, collection_tree, tmp_path):
    """A test host that checks OTPs with a server listening on the gateway."""
    host = testhost_factory("otp")
    server = ov_server_factory(listen="198.51.100.1:0")
    server.mount_ssh()
    assert server.request("POST", "ssh/roles/otp_key_role", OTP_ROLE).status in (
        200,
        204,
    )
    prepare_otp_host(host, server)
    env = ansible_env(collection_tree, tmp_path, server)
    return host, server, env


@pytest.fixture
def dynamic_setup(testhost_factory, ov_server_factory, collection_tree, tmp_path):
    """A test host with an admin user; a server with a dynamic-key role."""
    host = testhost_factory("dyn")
    server = ov_server_factory(listen="198.51.100.1:0")
    server.mount_ssh()
    private, public = make_admin_key(tmp_path)
    prepare_dynamic_host(host, public)
    assert server.request("POST", "ssh/keys/dev_key", {"key": private}).status == 204
    role = {
        "key_type": "dynamic",
        "key": "dev_key",
        "admin_user": "vaultadmin",
        "default_user": "alice",
        "cidr_list": "198.51.100.0/24",
    }
    assert server.request("POST", "ssh/roles/dynamic_key_role", role).status in (
        200,
        204,
    )
    env = ansible_env(collection_tree, tmp_path, server)
    return host, server, env


def creds_requests(server, role):
    """Return the audit log's credential requests for role."""
    return audited_requests(server, f"ssh/creds/{role}", operations=("update",))


def leases_left(server, role):
    """Return the lease ids still held under role."""
    reply = server.request("LIST", f"sys/leases/lookup/ssh/creds/{role}/")
    if reply.status == 404:
        return []
    return reply.json["data"]["keys"]


def test_otp_login_playbook_makes_one_otp_per_host(otp_setup, tmp_path):
    """playbooks/otp_login.yml logs in as alice with one OTP for its tasks."""
    host, server, env = otp_setup
    inventory = write_inventory(
        tmp_path / "hosts.yml", {"web1": host}, ansible_user="alice"
    )

    run = run_shipped_playbook(env, tmp_path, "openvault.ssh.otp_login", inventory)

    assert run.returncode == 0, run.stdout + run.stderr
    assert "web1: logged in as alice" in run.stdout
    assert len(creds_requests(server, "otp_key_role")) == 1


def test_connection_plugin_makes_one_credential_for_ten_tasks(otp_setup, tmp_path):
    """Ten tasks on one host through openvault.ssh.ssh issue exactly one OTP."""
    host, server, env = otp_setup
    inventory = write_inventory(
        tmp_path / "hosts.yml",
        {"web1": host},
        ansible_connection="openvault.ssh.ssh",
        ansible_openvault_ssh_role="otp_key_role",
    )
    playbook = tmp_path / "ten.yml"
    playbook.write_text(f"- hosts: all\n  gather_facts: false\n  tasks:\n{TEN_TASKS}\n")

    run = run_shipped_playbook(env, tmp_path, playbook, inventory)

    assert run.returncode == 0, run.stdout + run.stderr
    assert "ok=10" in run.stdout
    assert len(creds_requests(server, "otp_key_role")) == 1
    # The OTP's lease was revoked once its login was over.
    assert leases_left(server, "otp_key_role") == []


def test_connection_plugin_logs_in_again_after_a_reset(otp_setup, tmp_path):
    """After reset_connection the master is gone: exactly one more credential."""
    host, server, env = otp_setup
    inventory = write_inventory(
        tmp_path / "hosts.yml",
        {"web1": host},
        ansible_connection="openvault.ssh.ssh",
        ansible_openvault_ssh_role="otp_key_role",
        ansible_ssh_password_mechanism="sshpass",
    )
    playbook = tmp_path / "reset.yml"
    playbook.write_text(
        "- hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.ping:\n"
        "    - ansible.builtin.meta: reset_connection\n"
        "    - ansible.builtin.ping:\n"
        "    - ansible.builtin.ping:\n"
    )

    run = run_shipped_playbook(env, tmp_path, playbook, inventory)

    assert run.returncode == 0, run.stdout + run.stderr
    assert len(creds_requests(server, "otp_key_role")) == 2


def test_connection_plugin_revokes_a_credential_it_could_not_use(otp_setup, tmp_path):
    """An unreachable host: the OTP made for it is revoked, not left valid."""
    host, server, env = otp_setup
    host.stop()
    inventory = write_inventory(
        tmp_path / "hosts.yml",
        {"web1": host},
        ansible_connection="openvault.ssh.ssh",
        ansible_openvault_ssh_role="otp_key_role",
        ansible_ssh_timeout=3,
    )
    playbook = tmp_path / "one.yml"
    playbook.write_text("- hosts: all\n  gather_facts: false\n  tasks:\n    - ping:\n")

    run = run_shipped_playbook(env, tmp_path, playbook, inventory)

    assert "unreachable=1" in run.stdout, run.stdout
    assert len(creds_requests(server, "otp_key_role")) == 1
    assert leases_left(server, "otp_key_role") == []


def test_otp_connection_playbook_runs(otp_setup, tmp_path):
    """playbooks/otp_connection.yml gathers facts and copies over one login."""
    host, server, env = otp_setup
    inventory = write_inventory(tmp_path / "hosts.yml", {"web1": host})

    run = run_shipped_playbook(env, tmp_path, "openvault.ssh.otp_connection", inventory)

    assert run.returncode == 0, run.stdout + run.stderr
    assert "web1: logged in as alice" in run.stdout
    assert host.read_text("/home/alice/openvault-otp.txt").startswith("configured")
    assert len(creds_requests(server, "otp_key_role")) == 1


def test_dynamic_login_playbook_installs_and_removes_the_key(dynamic_setup, tmp_path):
    """playbooks/dynamic_login.yml logs in with a dynamic key, then revokes it."""
    host, server, env = dynamic_setup
    inventory = write_inventory(
        tmp_path / "hosts.yml", {"web1": host}, ansible_user="alice"
    )

    run = run_shipped_playbook(env, tmp_path, "openvault.ssh.dynamic_login", inventory)

    assert run.returncode == 0, run.stdout + run.stderr
    assert "web1: logged in as alice" in run.stdout
    assert len(creds_requests(server, "dynamic_key_role")) == 1
    keys = host.read_text("/home/alice/.ssh/authorized_keys")
    assert keys.strip() == ""


def test_connection_plugin_with_a_dynamic_role(dynamic_setup, tmp_path):
    """A dynamic role through the connection: one key, removed after login."""
    host, server, env = dynamic_setup
    inventory = write_inventory(
        tmp_path / "hosts.yml",
        {"web1": host},
        ansible_connection="openvault.ssh.ssh",
        ansible_openvault_ssh_role="dynamic_key_role",
    )
    playbook = tmp_path / "ten.yml"
    playbook.write_text(f"- hosts: all\n  gather_facts: false\n  tasks:\n{TEN_TASKS}\n")

    run = run_shipped_playbook(env, tmp_path, playbook, inventory)

    assert run.returncode == 0, run.stdout + run.stderr
    assert "ok=10" in run.stdout
    assert len(creds_requests(server, "dynamic_key_role")) == 1
    assert leases_left(server, "dynamic_key_role") == []
    assert host.read_text("/home/alice/.ssh/authorized_keys").strip() == ""
