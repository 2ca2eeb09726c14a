# Copyright (c) 2026, openvault.ssh maintainers
# Mozilla Public License 2.0 (see LICENSE or https://mozilla.org/MPL/2.0/)
# SPDX-License-Identifier: MPL-2.0
# ruff: noqa: E402 - Ansible wants DOCUMENTATION, EXAMPLES and RETURN first.
"""Connection openvault.ssh.ssh: ansible-core's ssh with credentials on demand."""

from __future__ import annotations

DOCUMENTATION = r"""
name: ssh
short_description: ssh with a one-time password or dynamic key made per login
version_added: 0.1.0
author: openvault.ssh maintainers (@openvault)
description:
  - ansible-core's own C(ssh) connection (every option of
    P(ansible.builtin.ssh#connection) works the same), which asks the server
    for a credential of O(role) only when ssh really has to log in.
  - Before each ssh, scp or sftp run the plugin checks the ControlPersist
    master of the host with C(ssh -O check). While a master is alive, ssh
    reuses it and no credential is made. Otherwise the plugin creates one
    (C(POST <mount_point>/creds/<role>)) for the host's address and the
    O(remote_user) (the role's C(default_user) when unset).
  - An OTP becomes the ssh password; a dynamic key is written to a private
    file (mode 0600, removed after use) and used as the identity.
  - With the default ControlPersist (C(-o ControlMaster=auto
    -o ControlPersist=60s) in O(ssh_args)), a play makes one credential per
    host; another is made only after the master has exited (idle for the
    ControlPersist time, or after C(meta) V(reset_connection)). Without ControlPersist
    every ssh run logs in anew and needs its own credential.
  - After the run that logged in, the credential's lease is revoked. For an
    OTP this removes it from the server whether or not ssh used it. For a
    dynamic key it removes the key from the host; the master stays logged in.
    With O(revoke_after_login=false) a dynamic key that logged in is kept
    until its lease ends; a credential that was never used is always revoked.
notes:
  - Passwords reach ssh through O(password_mechanism). The default in
    ansible-core 2.19 and later, V(ssh_askpass), needs no extra program;
    V(sshpass) works too when C(sshpass) is installed. V(disable) cannot pass an
    OTP, so the plugin refuses OTP roles with it.
  - The host must answer the OTP through PAM keyboard-interactive or password
    authentication (the openvault-ssh-helper); ansible-core does not turn off
    keyboard-interactive while a password is set.
  - The credential is made for O(ip), by default the address ssh connects to
    (a host name is resolved on the controller). The server only accepts
    addresses in the role's CIDR list.
  - The control socket is keyed by host, port and O(remote_user) or, when no
    user is set, O(role), so the check finds the master of the earlier login.
seealso:
  - plugin: openvault.ssh.otp
    plugin_type: lookup
  - plugin: ansible.builtin.ssh
    plugin_type: connection
extends_documentation_fragment:
  - openvault.ssh.ssh_connection
  - ansible.builtin.connection_pipelining
  - openvault.ssh.connection.connection_plugin
options:
  role:
    description:
      - Role to make credentials with, OTP or dynamic key. Without it the plugin
        behaves exactly like P(ansible.builtin.ssh#connection).
    type: str
    env:
      - name: OPENVAULT_SSH_ROLE
    ini:
      - section: openvault_ssh
        key: role
    vars:
      - name: ansible_openvault_ssh_role
  ip:
    description:
      - Address the credential is made for, when it differs from the address
        ssh connects to (for example behind NAT).
    type: str
    env:
      - name: OPENVAULT_SSH_IP
    vars:
      - name: ansible_openvault_ssh_ip
  revoke_after_login:
    description:
      - Revoke a dynamic key's lease once the ssh run that logged in with it
        has finished, removing the key from the host.
      - OTP leases are always revoked after their login, and credentials that
        were never used are always revoked.
    type: bool
    default: true
    env:
      - name: OPENVAULT_SSH_REVOKE_AFTER_LOGIN
    ini:
      - section: openvault_ssh
        key: revoke_after_login
    vars:
      - name: ansible_openvault_ssh_revoke_after_login
"""

EXAMPLES = r"""
# inventory.yml: every login into these hosts uses a fresh OTP of otp_key_role.
all:
  hosts:
    web1:
      ansible_host: 198.51.100.10
  vars:
    ansible_connection: openvault.ssh.ssh
    ansible_user: alice
    ansible_openvault_ssh_role: otp_key_role
    ansible_hashi_vault_url: https://vault.example.com:8200
    # The token comes from VAULT_TOKEN in the controller's environment.
"""

import ipaddress
import os
import shutil
import socket
import subprocess
import tempfile

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.connection.ssh import Connection as SSHConnection
from ansible.utils.display import Display
from ansible.utils.path import unfrackpath

from ..module_utils._client import VaultSSHError
from ..plugin_utils._credentials import client_for
from ..plugin_utils._credentials import issue

display = Display()

CHECK_TIMEOUT = 15


class Connection(SSHConnection):
    """ssh that fetches an OTP or dynamic key only when it has to log in."""

    transport = "openvault.ssh.ssh"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._client = None
        self._credential = None
        self._key_dir = None

    # Hooks into ansible-core's ssh connection

    def _build_command(self, binary, subsystem, *other_args):
        """Build the ssh command, with a fresh credential when a login is due."""
        if self.get_option("role"):
            self._pin_control_path()
            # 'ssh -O check|stop' (reset, our own check) never authenticates.
            if "-O" not in (to_text(arg) for arg in other_args):
                self._prepare_credential()
        return super()._build_command(binary, subsystem, *other_args)

    def _bare_run(self, cmd, in_data, sudoable=True, checkrc=True):
        """Run the command, then settle the credential it was built with."""
        # Limitation: ansible-core's reconnection retries rerun the command
        # built for the first try, so a retry after a failed login offers the
        # spent OTP (or a removed key file) and fails too; the next ssh run
        # fetches a new credential.
        returncode = None
        try:
            result = super()._bare_run(cmd, in_data, sudoable=sudoable, checkrc=checkrc)
            returncode = result[0]
            return result
        finally:
            self._settle_credential(returncode)

    def close(self):
        """Revoke a credential that no command used and remove key files."""
        try:
            if self._credential is not None:
                self._revoke(self._credential, "it was not used")
                self._credential = None
            if self._key_dir:
                shutil.rmtree(self._key_dir, ignore_errors=True)
                self._key_dir = None
        finally:
            super().close()

    # Credentials

    def _pin_control_path(self):
        """Key the control socket by host, port and user or role.

        ansible-core hashes host, port and user. When the user comes from the
        role's default_user it is unknown before the first credential, so the
        user part is replaced by the role to find the same master every task.
        """
        if self.get_option("control_path"):
            return
        owner = self.get_option("remote_user") or "role:" + self.get_option("role")
        self.set_option(
            "control_path",
            self._create_control_path(
                self.get_option("host") or self.host, self.get_option("port"), owner
            ),
        )

    def _master_alive(self):
        """Return whether a ControlPersist master for this host is running."""
        command = super()._build_command(
            self.get_option("ssh_executable"), "ssh", "-O", "check", self.host
        )
        if not self._persistence_controls(command)[0]:
            return False
        if self.control_path and self.control_path_dir:
            socket_path = self.control_path % dict(
                directory=unfrackpath(self.control_path_dir)
            )
            if not os.path.exists(socket_path):
                return False
        try:
            check = subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=CHECK_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return False
        return check.returncode == 0

    def _prepare_credential(self):
        """Fetch a credential unless a live master makes the login unneeded."""
        if self._master_alive():
            display.vvv("OPENVAULT: ControlPersist master alive, no credential")
            self._use_no_credential()
            return
        if self._credential is None:
            self._fetch_credential()

    def _use_no_credential(self):
        """Stop passing an earlier, spent credential to ssh."""
        self.set_option("password", None)
        if self._key_dir:
            self.set_option("private_key_file", None)

    def _credential_ip(self):
        """Return the address to make the credential for."""
        wanted = self.get_option("ip") or self.get_option("host") or self.host
        try:
            return str(ipaddress.ip_address(wanted))
        except ValueError:
            pass
        try:
            return socket.getaddrinfo(wanted, None)[0][4][0]
        except OSError as error:
            raise AnsibleError(
                f"openvault.ssh.ssh: cannot resolve '{wanted}' to an address "
                f"for the credential: {error}; set the 'ip' option"
            ) from None

    def _fetch_credential(self):
        """Create a credential and hand it to the ssh command."""
        if self._client is None:
            self._client = client_for(self, "vault_timeout")
        role = self.get_option("role")
        credential = issue(
            self,
            self._client,
            role,
            self._credential_ip(),
            self.get_option("remote_user"),
        )
        self._credential = credential
        display.vvv(
            f"OPENVAULT: made a {credential.get('key_type')} credential of role "
            f"'{role}', lease {credential.get('lease_id')}"
        )

        if not self.get_option("remote_user") and credential.get("username"):
            self.set_option("remote_user", credential["username"])
        if credential.get("key_type") == "dynamic":
            self.set_option("password", None)
            self.set_option("private_key_file", self._write_key(credential["key"]))
            return
        if self.get_option("password_mechanism") == "disable":
            self._revoke(credential, "password_mechanism is 'disable'")
            self._credential = None
            raise AnsibleError(
                f"openvault.ssh.ssh: role '{role}' issues one-time passwords, which "
                "ssh cannot receive with password_mechanism=disable; use "
                "ssh_askpass (the default) or sshpass"
            )
        self.set_option("password", credential["key"])

    def _write_key(self, key):
        """Write a private key to a new 0600 file; return its path."""
        if self._key_dir is None:
            self._key_dir = tempfile.mkdtemp(prefix="openvault-ssh-")
        fd, path = tempfile.mkstemp(dir=self._key_dir, suffix=".pem")
        with os.fdopen(fd, "w") as handle:
            handle.write(key.rstrip("\n") + "\n")
        os.chmod(path, 0o600)
        return path

    def _settle_credential(self, returncode):
        """After a run that carried a credential: revoke or keep its lease."""
        credential, self._credential = self._credential, None
        if credential is None:
            return
        if credential.get("key_type") == "dynamic":
            key_file = self.get_option("private_key_file")
            if key_file and self._key_dir and key_file.startswith(self._key_dir):
                os.unlink(key_file)
            self.set_option("private_key_file", None)
        used = returncode is not None and returncode != 255
        if credential.get("key_type") != "dynamic":
            self._revoke(credential, "its login is over")
        elif not used:
            self._revoke(credential, "ssh did not log in with it")
        elif self.get_option("revoke_after_login"):
            self._revoke(credential, "its login is over")

    def _revoke(self, credential, reason):
        """Revoke a credential's lease; a failure is a warning, not an error."""
        lease_id = credential.get("lease_id")
        if not lease_id or self._client is None:
            return
        try:
            self._client.revoke_lease(lease_id)
        except VaultSSHError as error:
            display.warning(
                f"openvault.ssh.ssh: could not revoke lease {lease_id}: {error}"
            )
            return
        display.vvv(f"OPENVAULT: revoked lease {lease_id} ({reason})")
