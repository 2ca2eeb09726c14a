"""Collection fixtures: a laid-out tree, a server with ssh mounted, Ansible runs."""

from __future__ import annotations

import pytest
from unit.collection_env import ansible_env
from unit.collection_env import link_collection
from unit.collection_env import run_playbook


@pytest.fixture(scope="session")
def collection_tree(tmp_path_factory):
    """A directory holding ansible_collections/openvault/ssh (this repository)."""
    root = tmp_path_factory.mktemp("collections")
    link_collection(root)
    return root


@pytest.fixture(scope="session")
def collection_imports(collection_tree):
    """Make ansible_collections.openvault.ssh importable and loadable here."""
    from ansible.plugins.loader import init_plugin_loader

    init_plugin_loader([str(collection_tree)])
    return collection_tree


@pytest.fixture
def ssh_server(ov_server):
    """A fresh server with the ssh backend mounted at ssh/."""
    ov_server.mount_ssh()
    return ov_server


@pytest.fixture
def play(collection_tree, ssh_server, tmp_path):
    """Run a localhost play of tasks against ssh_server; return PlaybookRun."""
    env = ansible_env(collection_tree, tmp_path, ssh_server)
    runs = []

    def run(tasks, *args, **kwargs):
        workdir = tmp_path / f"run{len(runs) + 1}"
        workdir.mkdir()
        result = run_playbook(env, workdir, tasks, *args, **kwargs)
        runs.append(result)
        return result

    run.env = env
    return run
