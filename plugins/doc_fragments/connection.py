# Copyright (c) 2026, openvault.ssh maintainers
# Mozilla Public License 2.0 (see LICENSE or https://mozilla.org/MPL/2.0/)
# SPDX-License-Identifier: MPL-2.0
"""Server connection options shared by every module and plugin."""

from __future__ import annotations


class ModuleDocFragment:
    """Options for reaching the server; PLUGINS adds env, ini and vars sources."""

    DOCUMENTATION = r"""
options:
  url:
    description:
      - Address of the server, such as V(https://vault.example.com:8200).
      - When not set, the E(ANSIBLE_HASHI_VAULT_ADDR) environment variable is
        used, then E(VAULT_ADDR).
    type: str
  token:
    description:
      - Token sent in the C(X-Vault-Token) header.
      - When not set, the E(ANSIBLE_HASHI_VAULT_TOKEN) environment variable is
        used, then E(VAULT_TOKEN).
    type: str
  mount_point:
    description:
      - Path where the ssh backend is mounted.
    type: str
    default: ssh
  validate_certs:
    description:
      - Verify the server's TLS certificate.
    type: bool
    default: true
  ca_cert:
    description:
      - PEM file of the certificate authority that signed the server's
        certificate.
      - When not set, the E(ANSIBLE_HASHI_VAULT_CA_CERT) environment variable is
        used, then E(VAULT_CACERT).
    type: path
    aliases: [cacert]
  timeout:
    description:
      - Seconds to wait for each reply from the server.
    type: int
    default: 30
"""

    PLUGINS = r"""
options:
  url:
    description:
      - Address of the server, such as V(https://vault.example.com:8200).
    type: str
    env:
      - name: VAULT_ADDR
      - name: ANSIBLE_HASHI_VAULT_ADDR
    ini:
      - section: openvault_ssh
        key: url
    vars:
      - name: ansible_hashi_vault_url
      - name: ansible_hashi_vault_addr
  token:
    description:
      - Token sent in the C(X-Vault-Token) header.
    type: str
    env:
      - name: VAULT_TOKEN
      - name: ANSIBLE_HASHI_VAULT_TOKEN
    vars:
      - name: ansible_hashi_vault_token
  mount_point:
    description:
      - Path where the ssh backend is mounted.
    type: str
    default: ssh
    env:
      - name: OPENVAULT_SSH_MOUNT_POINT
    ini:
      - section: openvault_ssh
        key: mount_point
    vars:
      - name: ansible_openvault_ssh_mount_point
  validate_certs:
    description:
      - Verify the server's TLS certificate.
    type: bool
    default: true
    env:
      - name: ANSIBLE_HASHI_VAULT_VALIDATE_CERTS
    ini:
      - section: openvault_ssh
        key: validate_certs
    vars:
      - name: ansible_hashi_vault_validate_certs
  ca_cert:
    description:
      - PEM file of the certificate authority that signed the server's
        certificate.
    type: path
    aliases: [cacert]
    env:
      - name: VAULT_CACERT
      - name: ANSIBLE_HASHI_VAULT_CA_CERT
    ini:
      - section: openvault_ssh
        key: ca_cert
    vars:
      - name: ansible_hashi_vault_ca_cert
  timeout:
    description:
      - Seconds to wait for each reply from the server.
    type: int
    default: 30
    env:
      - name: ANSIBLE_HASHI_VAULT_TIMEOUT
    ini:
      - section: openvault_ssh
        key: timeout
    vars:
      - name: ansible_hashi_vault_timeout
"""

    # For the connection plugin, which also has ansible-core's ssh options:
    # their 'timeout' is the ssh connect timeout, so the server's is renamed.
    CONNECTION_PLUGIN = r"""
options:
  url:
    description:
      - Address of the server, such as V(https://vault.example.com:8200).
    type: str
    env:
      - name: VAULT_ADDR
      - name: ANSIBLE_HASHI_VAULT_ADDR
    ini:
      - section: openvault_ssh
        key: url
    vars:
      - name: ansible_hashi_vault_url
      - name: ansible_hashi_vault_addr
  token:
    description:
      - Token sent in the C(X-Vault-Token) header.
    type: str
    env:
      - name: VAULT_TOKEN
      - name: ANSIBLE_HASHI_VAULT_TOKEN
    vars:
      - name: ansible_hashi_vault_token
  mount_point:
    description:
      - Path where the ssh backend is mounted.
    type: str
    default: ssh
    env:
      - name: OPENVAULT_SSH_MOUNT_POINT
    ini:
      - section: openvault_ssh
        key: mount_point
    vars:
      - name: ansible_openvault_ssh_mount_point
  validate_certs:
    description:
      - Verify the server's TLS certificate.
    type: bool
    default: true
    env:
      - name: ANSIBLE_HASHI_VAULT_VALIDATE_CERTS
    ini:
      - section: openvault_ssh
        key: validate_certs
    vars:
      - name: ansible_hashi_vault_validate_certs
  ca_cert:
    description:
      - PEM file of the certificate authority that signed the server's
        certificate.
    type: path
    aliases: [cacert]
    env:
      - name: VAULT_CACERT
      - name: ANSIBLE_HASHI_VAULT_CA_CERT
    ini:
      - section: openvault_ssh
        key: ca_cert
    vars:
      - name: ansible_hashi_vault_ca_cert
  vault_timeout:
    description:
      - Seconds to wait for each reply from the server.
      - Named so because O(timeout) is the ssh connect timeout.
    type: int
    default: 30
    env:
      - name: ANSIBLE_HASHI_VAULT_TIMEOUT
    ini:
      - section: openvault_ssh
        key: timeout
    vars:
      - name: ansible_hashi_vault_timeout
"""
