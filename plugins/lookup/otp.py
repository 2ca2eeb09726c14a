# Copyright (c) 2026, openvault.ssh maintainers
# Mozilla Public License 2.0 (see LICENSE or https://mozilla.org/MPL/2.0/)
# SPDX-License-Identifier: MPL-2.0
# ruff: noqa: E402 - Ansible wants DOCUMENTATION, EXAMPLES and RETURN first.
"""Lookup openvault.ssh.otp: create a one-time SSH password for a host."""

from __future__ import annotations

DOCUMENTATION = r"""
name: otp
short_description: Create a one-time password for an SSH login
version_added: 0.1.0
author: openvault.ssh maintainers (@openvault)
description:
  - Asks the server for a new one-time password (C(POST <mount_point>/creds/<role>))
    for one user on one host and returns the password.
  - Every call creates a new OTP, and each OTP logs in once. Ansible templates
    connection variables again for every task, so an C(ansible_password) that
    holds this lookup directly makes one OTP per task. Store the password once
    per host with M(ansible.builtin.set_fact), or use the connection plugin
    P(openvault.ssh.ssh#connection), which asks only when ssh logs in.
seealso:
  - plugin: openvault.ssh.creds
    plugin_type: lookup
  - plugin: openvault.ssh.ssh
    plugin_type: connection
extends_documentation_fragment:
  - openvault.ssh.connection.plugins
options:
  role:
    description: Name of the OTP role, such as V(otp_key_role).
    type: str
    required: true
  ip:
    description:
      - IP address of the host the password is for. It must be an address, not
        a host name, and the role's CIDR list must contain it.
    type: str
    required: true
  username:
    description:
      - User to log in as. Defaults to the role's C(default_user).
    type: str
"""

EXAMPLES = r"""
- name: Fetch one OTP per host, then log in with it
  hosts: web
  gather_facts: false
  tasks:
    - name: Store the password so later tasks do not make new ones
      ansible.builtin.set_fact:
        ansible_password: >-
          {{ lookup('openvault.ssh.otp', role='otp_key_role',
                    ip=ansible_host, username=ansible_user) }}
      no_log: true

    - name: Log in
      ansible.builtin.ping:
"""

RETURN = r"""
_raw:
  description: One item, the one-time password.
  type: list
  elements: str
"""

from ansible.errors import AnsibleError
from ansible.plugins.lookup import LookupBase

from ..plugin_utils._credentials import client_for
from ..plugin_utils._credentials import issue


class LookupModule(LookupBase):
    """Return a fresh one-time password."""

    def run(self, terms, variables=None, **kwargs):
        """Create one OTP for the options' role, ip and username."""
        if terms:
            raise AnsibleError(
                "openvault.ssh.otp takes no terms; pass role=, ip= and username="
            )
        self.set_options(var_options=variables, direct=kwargs)
        client = client_for(self)
        credential = issue(
            self,
            client,
            self.get_option("role"),
            self.get_option("ip"),
            self.get_option("username"),
        )
        if credential.get("key_type") not in (None, "otp"):
            raise AnsibleError(
                f"openvault.ssh.otp: role '{self.get_option('role')}' issues "
                f"'{credential.get('key_type')}' credentials, not OTPs; "
                "use the openvault.ssh.creds lookup"
            )
        return [credential["key"]]
