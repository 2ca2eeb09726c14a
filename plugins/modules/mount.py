#!/usr/bin/python
# Copyright (c) 2026, openvault.ssh maintainers
# Mozilla Public License 2.0 (see LICENSE or https://mozilla.org/MPL/2.0/)
# SPDX-License-Identifier: MPL-2.0
# ruff: noqa: E402 - Ansible wants DOCUMENTATION, EXAMPLES and RETURN first.
"""Module openvault.ssh.mount: mount, tune or unmount the ssh backend."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mount
short_description: Mount and tune the ssh secret backend
version_added: 0.1.0
author: openvault.ssh maintainers (@openvault)
description:
  - Mounts the ssh backend at O(path) (C(POST sys/mounts/<path>)), tunes its
    lease durations and description (C(POST sys/mounts/<path>/tune)) when they
    differ, or unmounts it.
  - Lease durations are compared in seconds, so V(1h) and V(3600) are equal.
  - Credentials take their lease duration from the mount, so this is where an
    OTP's lifetime is set.
notes:
  - Unmounting revokes every credential the mount issued and deletes its roles
    and keys.
seealso:
  - module: openvault.ssh.role
extends_documentation_fragment:
  - openvault.ssh.connection
  - openvault.ssh.attributes
options:
  path:
    description:
      - Path of the mount, such as V(ssh) or V(ssh-prod).
      - Defaults to O(mount_point), so one C(module_defaults) entry can name the
        mount for every module.
    type: str
  state:
    description:
      - V(present) mounts and tunes, V(absent) unmounts.
    type: str
    choices: [present, absent]
    default: present
  description:
    description:
      - Human-readable description of the mount.
    type: str
  default_lease_ttl:
    description:
      - Lease duration of new credentials, in seconds or as a duration such as
        V(10m).
    type: raw
  max_lease_ttl:
    description:
      - Longest lease a credential may have, in seconds or as a duration.
    type: raw
"""

EXAMPLES = r"""
- name: Mount the ssh backend with ten-minute credentials
  openvault.ssh.mount:
    url: https://vault.example.com:8200
    token: "{{ vault_token }}"
    path: ssh
    description: SSH one-time passwords for the web hosts
    default_lease_ttl: 10m
    max_lease_ttl: 1h

- name: Remove a mount that is no longer used
  openvault.ssh.mount:
    path: ssh-old
    state: absent
"""

RETURN = r"""
mount:
  description:
    - The mount after the task. Durations in seconds. Empty after
      O(state=absent).
  returned: always
  type: dict
  sample:
    path: ssh
    type: ssh
    description: SSH one-time passwords for the web hosts
    default_lease_ttl: 600
    max_lease_ttl: 3600
changes:
  description: Names of the settings that differ (or would differ).
  returned: always
  type: list
  elements: str
  sample: [default_lease_ttl]
"""

from ansible.module_utils.basic import AnsibleModule

from ..module_utils._client import VaultSSHError
from ..module_utils._module import argument_spec
from ..module_utils._module import client_for
from ..module_utils._module import fail
from ..module_utils._normalise import parse_duration

TTL_FIELDS = ("default_lease_ttl", "max_lease_ttl")


def wanted_settings(module):
    """Return the settings the task asks for, durations in seconds."""
    wanted = {}
    for field in TTL_FIELDS:
        if module.params[field] is not None:
            try:
                wanted[field] = parse_duration(module.params[field], field)
            except ValueError as error:
                module.fail_json(msg=str(error))
    if module.params["description"] is not None:
        wanted["description"] = module.params["description"]
    return wanted


def stored_settings(client, path, entry):
    """Return the mount's description and effective lease durations."""
    tune = client.read_tune(path)
    config = entry.get("config") or {}
    stored = {"description": entry.get("description") or ""}
    for field in TTL_FIELDS:
        stored[field] = parse_duration(tune.get(field, config.get(field)), field)
    return stored


def main():
    """Run the module."""
    module = AnsibleModule(
        argument_spec=argument_spec(
            path=dict(type="str"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            description=dict(type="str"),
            default_lease_ttl=dict(type="raw"),
            max_lease_ttl=dict(type="raw"),
        ),
        supports_check_mode=True,
    )
    path = (module.params["path"] or module.params["mount_point"]).strip("/")
    wanted = wanted_settings(module)

    try:
        client = client_for(module)
        entry = client.read_mount(path)
        if module.params["state"] == "absent":
            before = stored_settings(client, path, entry) if entry else {}
            changed = entry is not None
            if changed and not module.check_mode:
                client.disable_mount(path)
            module.exit_json(
                changed=changed,
                mount={},
                changes=sorted(before),
                diff=dict(before=before, after={}),
            )

        if entry is None:
            before, changes = {}, sorted(wanted) or ["type"]
            if not module.check_mode:
                config = {
                    field: wanted[field] for field in TTL_FIELDS if field in wanted
                }
                client.enable_mount(path, wanted.get("description"), config)
        else:
            if entry.get("type") not in (None, "ssh"):
                kind = entry["type"]
                module.fail_json(msg=f"mount '{path}' is a '{kind}' backend, not ssh")
            before = stored_settings(client, path, entry)
            changes = sorted(f for f in wanted if before.get(f) != wanted[f])
            if changes and not module.check_mode:
                client.tune_mount(path, {field: wanted[field] for field in changes})

        after = dict(before, **wanted)
        if not module.check_mode:
            after = stored_settings(client, path, client.read_mount(path) or {})
    except VaultSSHError as error:
        fail(module, error)

    module.exit_json(
        changed=bool(changes),
        mount=dict(after, path=path, type="ssh"),
        changes=changes,
        diff=dict(before=before, after=dict(before, **wanted)),
    )


if __name__ == "__main__":
    main()
