# Copyright (c) 2026, openvault.ssh maintainers
# Mozilla Public License 2.0 (see LICENSE or https://mozilla.org/MPL/2.0/)
# SPDX-License-Identifier: MPL-2.0
"""The options of ansible-core's own ssh connection, read from ansible-core."""

from __future__ import annotations

import yaml
from ansible.plugins.connection import ssh as core_ssh


def _without_versions(value):
    """Drop version_added keys: they are ansible-core's versions, not ours."""
    if isinstance(value, dict):
        return {
            key: _without_versions(item)
            for key, item in value.items()
            if key not in ("version_added", "version_added_collection")
        }
    if isinstance(value, list):
        return [_without_versions(item) for item in value]
    return value


def core_ssh_options():
    """Return the installed ansible-core ssh connection's options as YAML."""
    options = yaml.safe_load(core_ssh.DOCUMENTATION).get("options") or {}
    return yaml.safe_dump({"options": _without_versions(options)}, sort_keys=False)


class ModuleDocFragment:
    """Every option of ansible.builtin.ssh, so the subclass accepts them all."""


# Read at import time rather than copied, so the options always match the
# ansible-core the plugin runs on.
ModuleDocFragment.DOCUMENTATION = core_ssh_options()
