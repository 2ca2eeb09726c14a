# Copyright (c) 2026, openvault.ssh maintainers
# Mozilla Public License 2.0 (see LICENSE or https://mozilla.org/MPL/2.0/)
# SPDX-License-Identifier: MPL-2.0
"""Controller-side helpers shared by the lookups and the connection plugin.

FOR INTERNAL COLLECTION USE ONLY: names here may change in any release.
"""

from __future__ import annotations

from ansible.errors import AnsibleError
from ansible.utils.display import Display

from ..module_utils._client import Client
from ..module_utils._client import VaultSSHError

display = Display()

LEASE_FIELDS = ("lease_id", "lease_duration", "renewable")


def client_for(plugin, timeout_option="timeout"):
    """Return a Client configured from a plugin's connection options."""
    try:
        return Client(
            url=plugin.get_option("url"),
            token=plugin.get_option("token"),
            mount_point=plugin.get_option("mount_point"),
            validate_certs=plugin.get_option("validate_certs") is not False,
            ca_cert=plugin.get_option("ca_cert"),
            timeout=plugin.get_option(timeout_option),
            warn=display.warning,
        )
    except VaultSSHError as error:
        raise AnsibleError(f"{plugin.ansible_name}: {error}") from None


def issue(plugin, client, role, ip, username=None):
    """Create one credential; return its data with the lease fields added."""
    if not role:
        raise AnsibleError(f"{plugin.ansible_name}: the option 'role' is required")
    if not ip:
        raise AnsibleError(f"{plugin.ansible_name}: the option 'ip' is required")
    try:
        reply = client.issue_creds(role, ip, username)
    except VaultSSHError as error:
        raise AnsibleError(
            f"{plugin.ansible_name}: credential for role '{role}': {error.describe()}"
        ) from None
    credential = dict(reply.get("data") or {})
    for field in LEASE_FIELDS:
        credential[field] = reply.get(field)
    if "key" not in credential:
        raise AnsibleError(
            f"{plugin.ansible_name}: the reply for role '{role}' holds no credential"
        )
    return credential
