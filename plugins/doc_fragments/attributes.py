# Copyright (c) 2026, openvault.ssh maintainers
# Mozilla Public License 2.0 (see LICENSE or https://mozilla.org/MPL/2.0/)
# SPDX-License-Identifier: MPL-2.0
"""Attributes every module of the collection shares."""

from __future__ import annotations


class ModuleDocFragment:
    """Full check and diff mode, and membership of the ssh action group."""

    DOCUMENTATION = r"""
attributes:
  check_mode:
    description:
      - Reads the current state from the server and reports what would change,
        without writing anything.
    support: full
  diff_mode:
    description:
      - Shows the stored state before and after the change; secrets are never
        part of it.
    support: full
  action_group:
    description:
      - Part of the C(openvault.ssh.ssh) action group, so one
        C(module_defaults) entry for C(group/openvault.ssh.ssh) sets the
        connection options for all its modules.
    support: full
    membership:
      - openvault.ssh.ssh
"""
