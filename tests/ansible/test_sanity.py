"""ansible-test sanity over a copy of the collection laid out as Ansible wants it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from unit.collection_env import BIN
from unit.collection_env import COLLECTION_PARTS
from unit.collection_env import REPO
from unit.collection_env import copy_collection

# ansible-test bootstraps pip in each sanity venv from a get-pip script that
# it downloads from a host this machine cannot reach. This stand-in, found in
# ansible-test's cache, does the same with ensurepip and the package index.
GET_PIP_STAND_IN = '''"""Offline stand-in for get-pip: ensurepip, then pip install."""
import subprocess
import sys

GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}
args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY]
python = sys.executable
subprocess.check_call([python, "-m", "ensurepip", "--upgrade", "--default-pip"])
subprocess.check_call([python, "-m", "pip", "install", *args])
'''
PIP_VERSION_FILE = "get_pip_25_2.py"
SANITY_TIMEOUT = 900


def sanity_environment(home):
    """Return an environment with a private HOME and no Ansible settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ANSIBLE_", "VAULT_", "PYTHON"))
    }
    env.update(HOME=str(home), PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}")
    return env


@pytest.mark.slow
@pytest.mark.xdist_group("ansible-sanity")
def test_sanity_passes_on_the_collection(tmp_path):
    """ansible-test sanity --python 3.12 passes every test on our files."""
    if sys.version_info[:2] != (3, 12):
        pytest.skip("the sanity run is pinned to Python 3.12, the venv's version")
    collection = copy_collection(tmp_path / "tree")
    sanity_ignores = REPO / "tests" / "sanity"
    for ignore_file in sanity_ignores.glob("ignore-*.txt"):
        target = collection / "tests" / "sanity" / ignore_file.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(ignore_file.read_text())
    home = tmp_path / "home"
    cache = home / ".ansible" / "test" / "cache"
    cache.mkdir(parents=True)
    (cache / PIP_VERSION_FILE).write_text(GET_PIP_STAND_IN)

    completed = subprocess.run(
        [str(BIN / "ansible-test"), "sanity", "--python", "3.12", "--color", "no"],
        cwd=collection,
        env=sanity_environment(home),
        capture_output=True,
        text=True,
        timeout=SANITY_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )

    report = "\n".join(
        line
        for line in (completed.stdout + completed.stderr).splitlines()
        if line.startswith(("ERROR", "FATAL", "Running sanity test"))
    )
    assert completed.returncode == 0, report
    assert 'Running sanity test "validate-modules"' in completed.stdout, report
    # The copy holds the collection parts and nothing of the server or tests.
    copied = {path.relative_to(collection).parts[0] for path in collection.iterdir()}
    assert copied <= set(COLLECTION_PARTS) | {"tests"}, copied
    assert not (collection / "server").exists()
    assert Path(collection, "plugins", "modules", "role.py").is_file()
