# Copyright (c) 2026, openvault.ssh maintainers
# Mozilla Public License 2.0 (see LICENSE or https://mozilla.org/MPL/2.0/)
# SPDX-License-Identifier: MPL-2.0
"""Argument spec and client setup shared by the collection's modules.

FOR INTERNAL COLLECTION USE ONLY: names here may change in any release.
"""

from __future__ import annotations

from ansible.module_utils.basic import env_fallback

from ..module_utils._client import Client


def connection_argument_spec():
    """Return the argspec of the connection options (doc fragment connection)."""
    return dict(
        url=dict(
            type="str",
            fallback=(env_fallback, ["ANSIBLE_HASHI_VAULT_ADDR", "VAULT_ADDR"]),
        ),
        token=dict(
            type="str",
            no_log=True,
            fallback=(env_fallback, ["ANSIBLE_HASHI_VAULT_TOKEN", "VAULT_TOKEN"]),
        ),
        mount_point=dict(type="str", default="ssh"),
        validate_certs=dict(type="bool", default=True),
        ca_cert=dict(
            type="path",
            aliases=["cacert"],
            fallback=(env_fallback, ["ANSIBLE_HASHI_VAULT_CA_CERT", "VAULT_CACERT"]),
        ),
        timeout=dict(type="int", default=30),
    )


def argument_spec(**module_options):
    """Return the connection argspec merged with a module's own options."""
    spec = connection_argument_spec()
    spec.update(module_options)
    return spec


def client_for(module):
    """Return a Client configured from the module's connection parameters."""
    params = module.params
    return Client(
        url=params["url"],
        token=params["token"],
        mount_point=params["mount_point"],
        validate_certs=params["validate_certs"],
        ca_cert=params["ca_cert"],
        timeout=params["timeout"],
        warn=module.warn,
    )


def fail(module, error, **result):
    """Fail the module with the request, its status and the server's message."""
    module.fail_json(
        msg=error.describe(), status=error.status, errors=error.errors, **result
    )
