"""community.hashi_vault, unchanged, against our server in a real playbook run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from unit.collection_hosts import write_inventory

BIN = Path(sys.executable).parent
# The ansible package installs its collections next to ansible-core.
HASHI_VAULT = (
    Path(sysconfig.get_paths()["purelib"])
    / "ansible_collections"
    / "community"
    / "hashi_vault"
)

pytestmark = [
    pytest.mark.root,
    pytest.mark.xdist_group("clients_ansible"),
    pytest.mark.skipif(
        not (HASHI_VAULT / "MANIFEST.json").is_file(),
        reason="needs community.hashi_vault (the ansible package, in the test extra)",
    ),
]

ROLE = "ans-otp"
PLAYBOOK = """
- name: community.hashi_vault on ssh/roles and ssh/creds
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    host_ip: "{{ hostvars['web1'].ansible_host }}"
  tasks:
    - name: Write the role with the vault_write module
      community.hashi_vault.vault_write:
        path: ssh/roles/ans-otp
        data:
          key_type: otp
          default_user: alice
          cidr_list: "{{ host_ip }}/32"
      register: role_write
    - name: Read the role with the vault_read module
      community.hashi_vault.vault_read:
        path: ssh/roles/ans-otp
      register: role_read
    - name: Issue an OTP with the vault_write module
      community.hashi_vault.vault_write:
        path: ssh/creds/ans-otp
        data:
          ip: "{{ host_ip }}"
          username: alice
      register: creds_module
    - name: Read the role and issue an OTP with the lookups
      ansible.builtin.set_fact:
        role_lookup: >-
          {{ lookup('community.hashi_vault.vault_read', 'ssh/roles/ans-otp') }}
        creds_lookup: >-
          {{ lookup('community.hashi_vault.vault_write', 'ssh/creds/ans-otp',
                    data={'ip': host_ip}) }}
    - name: Save what the plugins answered
      ansible.builtin.copy:
        content: "{{ {'role_write': role_write, 'role_read': role_read,
                      'creds_module': creds_module, 'role_lookup': role_lookup,
                      'creds_lookup': creds_lookup} | to_json }}"
        dest: "{{ results }}"
        mode: "0600"

- name: Log in with an OTP from the vault_write lookup
  hosts: web1
  gather_facts: false
  tasks:
    - name: Take the password from ssh/creds
      ansible.builtin.set_fact:
        ansible_password: >-
          {{ lookup('community.hashi_vault.vault_write', 'ssh/creds/ans-otp',
                    data={'ip': ansible_host}).data.key }}
    - name: Run a command on the host as alice
      ansible.builtin.command: id -un
      register: whoami
      changed_when: false
    - name: Show who logged in
      ansible.builtin.debug:
        msg: "logged in as {{ whoami.stdout }}"
"""


def playbook_env(lab, workdir):
    """Return ansible's environment: Vault's own variables point at our server."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ANSIBLE_", "VAULT_"))
    }
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        VAULT_ADDR=lab.server.addr,
        VAULT_TOKEN=lab.server.root_token,
        VAULT_CACERT=lab.ca_cert,
        ANSIBLE_COLLECTIONS_PATH=str(workdir / "no-collections"),
        # community.hashi_vault comes from the ansible package's site-packages.
        ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="True",
        ANSIBLE_HOME=str(workdir / "ansible-home"),
        ANSIBLE_LOCAL_TEMP=str(workdir / "ansible-tmp"),
        ANSIBLE_SSH_CONTROL_PATH_DIR=str(workdir / "cp"),
        ANSIBLE_HOST_KEY_CHECKING="False",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_LOCALHOST_WARNING="False",
        ANSIBLE_RETRY_FILES_ENABLED="False",
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
    )
    return env


@pytest.mark.skipif(shutil.which("sshpass") is None, reason="needs sshpass")
def test_clients_ansible_hashi_vault_modules_and_lookups(client_lab, tmp_path):
    host = client_lab.host
    server = client_lab.server
    server.mount_ssh()
    results = tmp_path / "results.json"
    playbook = tmp_path / "playbook.yml"
    playbook.write_text(PLAYBOOK)
    inventory = write_inventory(
        tmp_path / "hosts.yml", {"web1": host}, ansible_user="alice"
    )

    run = subprocess.run(
        [
            str(BIN / "ansible-playbook"),
            "-i",
            str(inventory),
            str(playbook),
            "-e",
            f"results={results}",
        ],
        env=playbook_env(client_lab, tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )

    assert run.returncode == 0, run.stdout + run.stderr
    saved = json.loads(results.read_text())
    assert saved["role_write"]["changed"] is True
    role = saved["role_read"]["data"]["data"]
    assert (role["key_type"], role["default_user"]) == ("otp", "alice")
    assert role["cidr_list"] == f"{host.ip}/32"
    assert saved["role_lookup"]["data"]["cidr_list"] == f"{host.ip}/32"
    for creds in (saved["creds_module"]["data"], saved["creds_lookup"]):
        assert creds["lease_id"].startswith(f"ssh/creds/{ROLE}/")
        assert creds["data"]["ip"] == host.ip
        assert creds["data"]["username"] == "alice"
    assert "logged in as alice" in run.stdout
    assert "Accepted keyboard-interactive/pam for alice" in host.sshd_log()
    issued = [
        entry
        for entry in server.audit_entries()
        if entry["type"] == "response"
        and entry["request"]["path"] == f"ssh/creds/{ROLE}"
        and entry["response"].get("status") == 200
    ]
    assert len(issued) == 3, "module, lookup, login: one OTP each"
