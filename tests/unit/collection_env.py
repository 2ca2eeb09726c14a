"""Lay out the collection for Ansible and run real ansible commands against it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
COLLECTION_PARTS = ("galaxy.yml", "meta", "plugins", "playbooks", "roles", "README.md")
NAMESPACE_PATH = ("ansible_collections", "openvault", "ssh")
CALLBACKS = Path(__file__).resolve().parent / "callback_plugins"


def collection_files():
    """Return the repository files that belong to the collection (git's view)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "--"]
        + list(COLLECTION_PARTS),
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return [name for name in listed if (REPO / name).is_file()]


def copy_collection(root):
    """Copy the collection under root/ansible_collections/openvault/ssh."""
    target = Path(root).joinpath(*NAMESPACE_PATH)
    for name in collection_files():
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, destination)
    return target


def link_collection(root):
    """Make root/ansible_collections/openvault/ssh a symlink to the repository.

    Ansible loads collections through symlinks; only ansible-test refuses them.
    """
    target = Path(root).joinpath(*NAMESPACE_PATH)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        target.symlink_to(REPO, target_is_directory=True)
    return target


def ansible_env(tree, workdir, server=None, **extra):
    """Return the environment for ansible commands: our tree, private dirs."""
    workdir = Path(workdir)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ANSIBLE_", "VAULT_"))
    }
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        ANSIBLE_COLLECTIONS_PATH=str(tree),
        ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="False",
        ANSIBLE_HOME=str(workdir / "ansible-home"),
        ANSIBLE_LOCAL_TEMP=str(workdir / "ansible-tmp"),
        ANSIBLE_SSH_CONTROL_PATH_DIR=str(workdir / "cp"),
        ANSIBLE_HOST_KEY_CHECKING="False",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_LOCALHOST_WARNING="False",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="False",
        ANSIBLE_DEPRECATION_WARNINGS="False",
        ANSIBLE_RETRY_FILES_ENABLED="False",
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
    )
    if server is not None:
        env.update(VAULT_ADDR=server.addr, VAULT_TOKEN=server.root_token)
    env.update(extra)
    return env


class PlaybookRun:
    """The outcome of one ansible-playbook run."""

    def __init__(self, completed, results_dir):
        self.returncode = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr
        self.results_dir = Path(results_dir)

    def result(self, name):
        """Return the registered result the playbook saved as <name>.json."""
        return json.loads((self.results_dir / f"{name}.json").read_text())

    def recap(self, host="localhost"):
        """Return the PLAY RECAP counters of host, such as {'changed': 1}."""
        for line in self.stdout.splitlines():
            if line.startswith(host + " ") and "ok=" in line:
                pairs = (item.split("=") for item in line.split(":", 1)[1].split())
                return {key: int(value) for key, value in pairs}
        raise AssertionError(f"no recap for {host} in:\n{self.stdout}")


def run_playbook(env, workdir, tasks, *args, inventory=None, play=None):
    """Write a localhost play of tasks, run ansible-playbook, return PlaybookRun.

    The test callback (callback_plugins/) saves every registered result, so
    tests read real module and lookup results back.
    """
    workdir = Path(workdir)
    results_dir = workdir / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    header = {"hosts": "localhost", "connection": "local", "gather_facts": False}
    header.update(play or {})
    header["tasks"] = list(tasks)
    playbook = workdir / "playbook.yml"
    playbook.write_text(yaml.safe_dump([header], sort_keys=False))
    command = [str(BIN / "ansible-playbook"), str(playbook)]
    command += ["-i", str(inventory) if inventory else "localhost,"]
    command += list(args)
    env = dict(
        env,
        OPENVAULT_TEST_RESULTS=str(results_dir),
        ANSIBLE_CALLBACK_PLUGINS=str(CALLBACKS),
        ANSIBLE_CALLBACKS_ENABLED="openvault_results",
    )
    completed = subprocess.run(
        command,
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    return PlaybookRun(completed, results_dir)


def audited_requests(server, path_prefix, operations=("update", "create", "delete")):
    """Return the audit log's requests to paths under path_prefix."""
    return [
        entry["request"]
        for entry in server.audit_entries()
        if entry.get("type") == "request"
        and entry["request"].get("operation") in operations
        and entry["request"].get("path", "").startswith(path_prefix)
    ]


def run_shipped_playbook(env, workdir, playbook, inventory, *args):
    """Run ansible-playbook on a playbook (path or FQCN); return the process."""
    return subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(inventory), str(playbook), *args],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
