#!/usr/bin/python
# Copyright (c) 2026, openvault.ssh maintainers
# Mozilla Public License 2.0 (see LICENSE or https://mozilla.org/MPL/2.0/)
# SPDX-License-Identifier: MPL-2.0
# ruff: noqa: E402 - Ansible wants DOCUMENTATION, EXAMPLES and RETURN first.
"""Module openvault.ssh.role: create, update or delete an ssh backend role."""

from __future__ import annotations

DOCUMENTATION = r"""
module: role
short_description: Manage a role of the ssh secret backend
version_added: 0.1.0
author: openvault.ssh maintainers (@openvault)
description:
  - Creates, updates or deletes a role at C(<mount_point>/roles/<name>), for
    one-time passwords (O(key_type=otp)) or dynamic keys (O(key_type=dynamic)).
  - The module reads the role first and writes only when the stored role
    differs from the requested one, so a second run reports no change.
  - A role write replaces the whole role. The module always sends the complete
    role, so an option left out is reset to the server's default (for example
    O(port) back to V(22)) and the diff shows it.
  - Values are compared the way the server stores them. Durations become
    seconds (V(30m) equals V(1800)); comma lists are trimmed
    (V(alice, bob) equals V(alice,bob)).
notes:
  - The server checks the values. An unknown O(key_type) or a bad CIDR fails
    the task with the server's error message.
  - O(install_script) is compared only when it is given. A custom script that
    is later removed from the task is not noticed, because the module cannot
    know the server's built-in script.
seealso:
  - module: openvault.ssh.key
  - module: openvault.ssh.mount
  - plugin: openvault.ssh.otp
    plugin_type: lookup
extends_documentation_fragment:
  - openvault.ssh.connection
  - openvault.ssh.attributes
options:
  name:
    description:
      - Name of the role, such as V(otp_key_role) or V(ops@example.com).
    type: str
    required: true
  state:
    description:
      - V(present) creates or updates the role, V(absent) deletes it.
      - Deleting a role revokes the credentials it issued.
    type: str
    choices: [present, absent]
    default: present
  key_type:
    description:
      - Type of credential the role issues, V(otp) or V(dynamic).
      - Required when O(state=present).
    type: str
  default_user:
    description:
      - User a credential is made for when the request names none.
      - Required by the server for both key types.
    type: str
  cidr_list:
    description:
      - CIDR blocks of the hosts the role serves, as a list or a comma string.
      - Empty means no host, unless the role is in C(config/zeroaddress).
    type: list
    elements: str
  exclude_cidr_list:
    description:
      - CIDR blocks refused even when O(cidr_list) contains them.
    type: list
    elements: str
  port:
    description:
      - SSH port returned with each credential. The server defaults to V(22).
    type: int
  allowed_users:
    description:
      - Users a credential may be made for, besides O(default_user).
      - V(*) allows any user; empty allows O(default_user) only.
    type: list
    elements: str
  key:
    description:
      - Name of the registered admin key (see M(openvault.ssh.key)) used to
        install dynamic keys. Dynamic roles only.
    type: str
  admin_user:
    description:
      - User the server logs in as to install dynamic keys. Dynamic roles only.
    type: str
  key_bits:
    description:
      - Size of the generated RSA keys. Dynamic roles only.
      - The server defaults to V(2048).
    type: int
  install_script:
    description:
      - Script that installs and removes public keys on the host, replacing the
        server's built-in script. Dynamic roles only.
    type: str
  key_option_specs:
    description:
      - Options written before each installed key in C(authorized_keys), such
        as V(no-port-forwarding). Dynamic roles only.
    type: str
  ttl:
    description:
      - Lease duration of the credentials, in seconds or as a duration such as
        V(30m). V(0) uses the mount's default.
    type: raw
  max_ttl:
    description:
      - Longest lease a credential of this role may have, in seconds or as a
        duration. V(0) uses the mount's maximum.
    type: raw
"""

EXAMPLES = r"""
- name: Create an OTP role for the web hosts
  openvault.ssh.role:
    url: https://vault.example.com:8200
    token: "{{ vault_token }}"
    name: otp_key_role
    key_type: otp
    default_user: alice
    allowed_users: [alice, bob]
    cidr_list: [198.51.100.0/24]
    ttl: 10m

- name: Create a dynamic-key role, setting the connection once for the group
  module_defaults:
    group/openvault.ssh.ssh:
      url: https://vault.example.com:8200
      token: "{{ vault_token }}"
  block:
    - name: Register the admin key
      openvault.ssh.key:
        name: dev_key
        key: "{{ lookup('ansible.builtin.file', 'dev_shared_key.pem') }}"

    - name: Create the role that uses it
      openvault.ssh.role:
        name: dynamic_key_role
        key_type: dynamic
        key: dev_key
        admin_user: vaultadmin
        default_user: alice
        cidr_list: 198.51.100.0/24
        key_bits: 4096
        key_option_specs: no-port-forwarding

- name: Delete a role
  openvault.ssh.role:
    name: old_role
    state: absent
"""

RETURN = r"""
role:
  description:
    - The role as the server stores it after the task, normalised (durations
      in seconds, comma lists trimmed). Empty after O(state=absent).
  returned: always
  type: dict
  sample:
    key_type: otp
    default_user: alice
    cidr_list: 198.51.100.0/24
    exclude_cidr_list: ""
    allowed_users: alice,bob
    port: 22
    ttl: 600
    max_ttl: 0
changes:
  description: Names of the role fields that differ (or would differ).
  returned: always
  type: list
  elements: str
  sample: [port, ttl]
data:
  description:
    - Reply of the write request. A role write answers 204, so this is an empty
      dict, also in check mode.
  returned: always
  type: dict
  sample: {}
"""

from ansible.module_utils.basic import AnsibleModule

from ..module_utils._client import VaultSSHError
from ..module_utils._module import argument_spec
from ..module_utils._module import client_for
from ..module_utils._module import fail
from ..module_utils._normalise import DYNAMIC_FIELDS
from ..module_utils._normalise import current_role
from ..module_utils._normalise import desired_role
from ..module_utils._normalise import role_differences


def module_spec():
    """Return the module's argument spec."""
    return argument_spec(
        name=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        key_type=dict(type="str"),
        default_user=dict(type="str"),
        cidr_list=dict(type="list", elements="str"),
        exclude_cidr_list=dict(type="list", elements="str"),
        port=dict(type="int"),
        allowed_users=dict(type="list", elements="str"),
        key=dict(type="str", no_log=False),
        admin_user=dict(type="str"),
        key_bits=dict(type="int"),
        install_script=dict(type="str"),
        key_option_specs=dict(type="str", no_log=False),
        ttl=dict(type="raw"),
        max_ttl=dict(type="raw"),
    )


def check_key_type_options(module):
    """Refuse dynamic-only options on an OTP role instead of dropping them."""
    if str(module.params["key_type"]).lower() == "dynamic":
        return
    given = [field for field in DYNAMIC_FIELDS if module.params[field] is not None]
    if given:
        names = ", ".join(f"'{field}'" for field in given)
        key_type = module.params["key_type"]
        module.fail_json(
            msg=f"{names} only apply to key_type=dynamic, got key_type={key_type}"
        )


def delete(module, client, name, current):
    """Delete the role when it exists."""
    before = current_role(current, sorted(current)) if current else {}
    changed = current is not None
    if changed and not module.check_mode:
        client.delete_role(name)
    module.exit_json(
        changed=changed,
        role={},
        changes=sorted(before),
        data={},
        diff=dict(before=before, after={}),
    )


def ensure(module, client, name, current):
    """Write the full desired role when the stored one differs."""
    try:
        desired = desired_role(module.params)
    except ValueError as error:
        module.fail_json(msg=str(error))
    before = current_role(current, list(desired)) if current is not None else {}
    changes = role_differences(before, desired) if current is not None else []
    changed = current is None or bool(changes)
    if current is None:
        changes = sorted(desired)

    data = {}
    after = desired
    if changed and not module.check_mode:
        data = client.write_role(name, desired)
        for warning in data.get("warnings") or []:
            module.warn(warning)
        stored = client.read_role(name)
        if stored is not None:
            after = current_role(stored, list(desired))

    module.exit_json(
        changed=changed,
        role=after,
        changes=changes,
        data=data,
        diff=dict(before=before, after=desired),
    )


def main():
    """Run the module."""
    module = AnsibleModule(
        argument_spec=module_spec(),
        required_if=[("state", "present", ["key_type"])],
        supports_check_mode=True,
    )
    name = module.params["name"]
    state = module.params["state"]
    if state == "present":
        check_key_type_options(module)

    try:
        client = client_for(module)
        current = client.read_role(name)
        if state == "absent":
            delete(module, client, name, current)
        else:
            ensure(module, client, name, current)
    except VaultSSHError as error:
        fail(module, error)


if __name__ == "__main__":
    main()
