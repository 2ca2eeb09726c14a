"""The openvault.ssh.ssh connection: ansible-core's ssh options, plus ours."""

from __future__ import annotations

import pytest


@pytest.fixture
def connection(collection_imports):
    """Return make(name, **options) -> a configured connection plugin."""
    from ansible.playbook.play_context import PlayContext
    from ansible.plugins.loader import connection_loader

    def make(name="openvault.ssh.ssh", **options):
        plugin = connection_loader.get(name, PlayContext())
        options.setdefault("host", "198.51.100.10")
        plugin.set_options(direct=options)
        plugin.host = options["host"]
        return plugin

    return make


def test_connection_has_every_option_of_core_ssh(connection):
    """Each ansible.builtin.ssh option is an option of ours, same default."""
    ours = connection()
    core = connection("ansible.builtin.ssh")

    for option in core._options:
        assert ours.get_option(option) == core.get_option(option), option
    assert ours.get_option("password_mechanism") == "ssh_askpass"
    assert ours.get_option("vault_timeout") == 30
    assert ours.get_option("mount_point") == "ssh"
    assert ours.get_option("revoke_after_login") is True


def test_connection_without_a_role_builds_core_ssh_commands(connection, tmp_path):
    """No role: the ssh command is exactly the one ansible.builtin.ssh builds."""
    options = dict(remote_user="alice", control_path_dir=str(tmp_path))
    ours = connection(**options)
    core = connection("ansible.builtin.ssh", **options)

    assert ours._build_command("ssh", "ssh", "198.51.100.10", "id") == (
        core._build_command("ssh", "ssh", "198.51.100.10", "id")
    )


def test_connection_keys_the_control_socket_by_role_without_a_user(
    connection, tmp_path
):
    """Without remote_user the control path is the same before and after login."""
    plugin = connection(role="otp_key_role", control_path_dir=str(tmp_path))

    plugin._pin_control_path()
    pinned = plugin.get_option("control_path")
    plugin.set_option("remote_user", "alice")
    plugin._pin_control_path()

    assert plugin.get_option("control_path") == pinned
    assert not plugin._master_alive()


def test_connection_refuses_otp_roles_with_password_mechanism_disable(
    connection, ssh_server
):
    """An OTP cannot reach ssh without a password mechanism: a clear error."""
    from ansible.errors import AnsibleError

    role = {"key_type": "otp", "default_user": "alice", "cidr_list": "198.51.100.0/24"}
    ssh_server.request("POST", "ssh/roles/otp_key_role", role)
    plugin = connection(
        role="otp_key_role",
        url=ssh_server.addr,
        token=ssh_server.root_token,
        password_mechanism="disable",
    )

    with pytest.raises(AnsibleError, match="password_mechanism=disable"):
        plugin._fetch_credential()

    revoked = [
        entry
        for entry in ssh_server.audit_entries()
        if entry["type"] == "request"
        and entry["request"]["path"] == "sys/leases/revoke"
    ]
    assert len(revoked) == 1
