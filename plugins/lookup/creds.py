# Copyright (c) 2026, openvault.ssh maintainers
# Mozilla Public License 2.0 (see LICENSE or https://mozilla.org/MPL/2.0/)
# SPDX-License-Identifier: MPL-2.0
# ruff: noqa: E402 - Ansible wants DOCUMENTATION, EXAMPLES and RETURN first.
"""Lookup openvault.ssh.creds: create an SSH credential and return all of it."""

from __future__ import annotations

DOCUMENTATION = r"""
name: creds
short_description: Create an SSH credential (OTP or dynamic key) with its lease
version_added: 0.1.0
author: openvault.ssh maintainers (@openvault)
description:
  - Asks the server for a new credential (C(POST <mount_point>/creds/<role>))
    and returns the whole of it as a dictionary, lease included.
  - For a dynamic-key role C(key) is a private key that the server has just
    installed on the host; for an OTP role it is the one-time password.
  - Every call creates a new credential. Keep the result in a variable (for
    example with M(ansible.builtin.set_fact)) rather than templating the lookup
    in every task, and revoke it with M(openvault.ssh.lease) when done.
seealso:
  - plugin: openvault.ssh.otp
    plugin_type: lookup
  - module: openvault.ssh.lease
extends_documentation_fragment:
  - openvault.ssh.connection.plugins
options:
  role:
    description: Name of the role, such as V(dynamic_key_role).
    type: str
    required: true
  ip:
    description:
      - IP address of the host the credential is for. The role's CIDR list
        must contain it.
    type: str
    required: true
  username:
    description:
      - User to log in as. Defaults to the role's C(default_user).
    type: str
"""

EXAMPLES = r"""
- name: Log in with a dynamic key
  hosts: web
  gather_facts: false
  tasks:
    - name: Fetch a key once and keep it in a private file
      ansible.builtin.copy:
        content: "{{ credential.key }}"
        dest: "{{ key_file }}"
        mode: "0600"
      delegate_to: localhost
      vars:
        credential: >-
          {{ lookup('openvault.ssh.creds', role='dynamic_key_role',
                    ip=ansible_host) }}
      no_log: true
"""

RETURN = r"""
_raw:
  description: One item, the credential.
  type: list
  elements: dict
  contains:
    key:
      description: The private key (dynamic) or the one-time password (OTP).
      type: str
    key_type:
      description: V(dynamic) or V(otp).
      type: str
    username:
      description: User the credential logs in as.
      type: str
    ip:
      description: Host the credential is for.
      type: str
    port:
      description: SSH port from the role.
      type: int
    lease_id:
      description: Lease to revoke when the credential is no longer needed.
      type: str
    lease_duration:
      description: Seconds until the lease expires.
      type: int
    renewable:
      description: Whether the lease can be renewed.
      type: bool
"""

from ansible.errors import AnsibleError
from ansible.plugins.lookup import LookupBase

from ..plugin_utils._credentials import client_for
from ..plugin_utils._credentials import issue


class LookupModule(LookupBase):
    """Return a fresh credential with its lease."""

    def run(self, terms, variables=None, **kwargs):
        """Create one credential for the options' role, ip and username."""
        if terms:
            raise AnsibleError(
                "openvault.ssh.creds takes no terms; pass role=, ip= and username="
            )
        self.set_options(var_options=variables, direct=kwargs)
        client = client_for(self)
        return [
            issue(
                self,
                client,
                self.get_option("role"),
                self.get_option("ip"),
                self.get_option("username"),
            )
        ]
