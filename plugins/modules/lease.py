#!/usr/bin/python
# Copyright (c) 2026, openvault.ssh maintainers
# Mozilla Public License 2.0 (see LICENSE or https://mozilla.org/MPL/2.0/)
# SPDX-License-Identifier: MPL-2.0
# ruff: noqa: E402 - Ansible wants DOCUMENTATION, EXAMPLES and RETURN first.
"""Module openvault.ssh.lease: revoke a credential's lease, or all under a prefix."""

from __future__ import annotations

DOCUMENTATION = r"""
module: lease
short_description: Revoke credential leases
version_added: 0.1.0
author: openvault.ssh maintainers (@openvault)
description:
  - Revokes one lease (O(lease_id)) or every lease under a prefix
    (O(prefix)), such as all credentials of one role.
  - Revoking an OTP deletes it, so it can no longer log in. Revoking a dynamic
    key removes it from the host's C(authorized_keys).
  - The module looks the lease up first and reports a change only when there
    was something to revoke.
notes:
  - O(mount_point) is not used, lease ids already name their mount; it is
    accepted so that C(module_defaults) for the action group can set it.
seealso:
  - plugin: openvault.ssh.creds
    plugin_type: lookup
extends_documentation_fragment:
  - openvault.ssh.connection
  - openvault.ssh.attributes
options:
  lease_id:
    description:
      - Lease id as returned with the credential, such as
        V(ssh/creds/otp_key_role/73bbf513-9606-4bec-816c-5a2f009765a5).
    type: str
  prefix:
    description:
      - Revoke every lease whose id starts with this path, such as
        V(ssh/creds/otp_key_role).
    type: str
  state:
    description:
      - Only V(absent) (revoked) is supported; leases are created by
        requesting credentials.
    type: str
    choices: [absent]
    default: absent
"""

EXAMPLES = r"""
- name: Revoke the credential fetched earlier
  openvault.ssh.lease:
    lease_id: "{{ credential.lease_id }}"

- name: Revoke every credential of a role
  openvault.ssh.lease:
    prefix: ssh/creds/otp_key_role
"""

RETURN = r"""
revoked:
  description:
    - Lease ids that were (or in check mode would be) revoked.
  returned: always
  type: list
  elements: str
  sample: [ssh/creds/otp_key_role/73bbf513-9606-4bec-816c-5a2f009765a5]
"""

from ansible.module_utils.basic import AnsibleModule

from ..module_utils._client import VaultSSHError
from ..module_utils._module import argument_spec
from ..module_utils._module import client_for
from ..module_utils._module import fail


def main():
    """Run the module."""
    module = AnsibleModule(
        argument_spec=argument_spec(
            lease_id=dict(type="str"),
            prefix=dict(type="str"),
            state=dict(type="str", choices=["absent"], default="absent"),
        ),
        mutually_exclusive=[("lease_id", "prefix")],
        required_one_of=[("lease_id", "prefix")],
        supports_check_mode=True,
    )
    lease_id = module.params["lease_id"]
    prefix = module.params["prefix"]

    try:
        client = client_for(module)
        if lease_id:
            found = [lease_id] if client.lookup_lease(lease_id) is not None else []
        else:
            base = prefix.strip("/")
            found = [f"{base}/{key}" for key in client.list_leases(base)]
        if found and not module.check_mode:
            if lease_id:
                client.revoke_lease(lease_id)
            else:
                client.revoke_prefix(prefix)
    except VaultSSHError as error:
        fail(module, error)

    module.exit_json(
        changed=bool(found),
        revoked=found,
        diff=dict(before=dict(leases=found), after=dict(leases=[])),
    )


if __name__ == "__main__":
    main()
