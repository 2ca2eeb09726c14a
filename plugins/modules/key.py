#!/usr/bin/python
# Copyright (c) 2026, openvault.ssh maintainers
# Mozilla Public License 2.0 (see LICENSE or https://mozilla.org/MPL/2.0/)
# SPDX-License-Identifier: MPL-2.0
# ruff: noqa: E402 - Ansible wants DOCUMENTATION, EXAMPLES and RETURN first.
"""Module openvault.ssh.key: register or delete a shared admin key."""

from __future__ import annotations

DOCUMENTATION = r"""
module: key
short_description: Register the admin key that dynamic-key roles install with
version_added: 0.1.0
author: openvault.ssh maintainers (@openvault)
description:
  - Registers, replaces or deletes the private key stored at
    C(<mount_point>/keys/<name>). Dynamic-key roles name it in their C(key)
    option; the server logs in to hosts with it to install generated keys.
  - The server never returns a stored key. It returns the SHA256 fingerprint
    of the key's public half, and the module compares that with the
    fingerprint of O(key), so it writes only when the key really differs.
  - The fingerprint of O(key) is computed with the Python C(cryptography)
    package when it is installed, otherwise with C(ssh-keygen -y).
    The key is never shown, logged or returned.
notes:
  - The fingerprint read (C(GET <mount_point>/keys/<name>) answering
    C(fingerprint) and C(key_type)) is an openvault extension. Against a server
    without it the module cannot compare, so it rewrites the key on every run
    and warns.
requirements:
  - The Python package C(cryptography), or the C(ssh-keygen) program, where
    the module runs.
seealso:
  - module: openvault.ssh.role
extends_documentation_fragment:
  - openvault.ssh.connection
  - openvault.ssh.attributes
options:
  name:
    description:
      - Name of the key, such as V(dev_key).
    type: str
    required: true
  key:
    description:
      - The unencrypted SSH private key, in PEM or OpenSSH format.
      - Required when O(state=present).
    type: str
  state:
    description:
      - V(present) registers or replaces the key, V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
"""

EXAMPLES = r"""
- name: Register the admin key from a file on the controller
  openvault.ssh.key:
    url: https://vault.example.com:8200
    token: "{{ vault_token }}"
    name: dev_key
    key: "{{ lookup('ansible.builtin.file', 'dev_shared_key.pem') }}"

- name: Delete it
  openvault.ssh.key:
    name: dev_key
    state: absent
"""

RETURN = r"""
fingerprint:
  description:
    - SHA256 fingerprint of the public half of the registered key, as
      C(ssh-keygen -l) prints it. Empty after O(state=absent).
  returned: always
  type: str
  sample: SHA256:2mUpWmRsXQ3dlIv9NzCWq6RW6YTXHcsYmY4N9fsCNn8
key_type:
  description: SSH key type of the registered key.
  returned: when O(state=present)
  type: str
  sample: ssh-rsa
"""

from ansible.module_utils.basic import AnsibleModule

from ..module_utils._client import VaultSSHError
from ..module_utils._fingerprint import FingerprintError
from ..module_utils._fingerprint import private_key_fingerprint
from ..module_utils._module import argument_spec
from ..module_utils._module import client_for
from ..module_utils._module import fail


def keygen_runner(module):
    """Return a run_command for ssh-keygen, or None when it is not installed."""
    ssh_keygen = module.get_bin_path("ssh-keygen")
    if not ssh_keygen:
        return None

    def run(args):
        return module.run_command([ssh_keygen] + args[1:])

    return run


def read_fingerprint(module, client, name):
    """Return the stored key's fingerprint, "" when absent, None when unknown."""
    try:
        stored = client.read_key(name)
    except VaultSSHError as error:
        # A server without the fingerprint read does not route GET here.
        if error.status != 405:
            raise
        module.warn(
            f"the server does not report key fingerprints, so whether key '{name}' "
            "changed is unknown and it is written on every run"
        )
        return None
    if stored is None:
        return ""
    return stored.get("fingerprint")


def main():
    """Run the module."""
    module = AnsibleModule(
        argument_spec=argument_spec(
            name=dict(type="str", required=True),
            key=dict(type="str", no_log=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        required_if=[("state", "present", ["key"])],
        supports_check_mode=True,
    )
    name = module.params["name"]
    state = module.params["state"]

    wanted, key_type = "", None
    if state == "present":
        try:
            wanted, key_type = private_key_fingerprint(
                module.params["key"], keygen_runner(module)
            )
        except FingerprintError as error:
            module.fail_json(msg=f"option 'key': {error}")

    try:
        client = client_for(module)
        stored = read_fingerprint(module, client, name)
        changed = stored != wanted
        if changed and not module.check_mode:
            if state == "present":
                client.write_key(name, module.params["key"])
            else:
                client.delete_key(name)
    except VaultSSHError as error:
        fail(module, error)

    result = dict(
        changed=changed,
        fingerprint=wanted,
        diff=dict(
            before=dict(fingerprint=stored or ""), after=dict(fingerprint=wanted)
        ),
    )
    if key_type:
        result["key_type"] = key_type
    module.exit_json(**result)


if __name__ == "__main__":
    main()
