"""ansible-galaxy collection build: the artifact holds the collection only."""

from __future__ import annotations

import subprocess
import tarfile

from unit.collection_env import BIN
from unit.collection_env import REPO
from unit.collection_env import ansible_env


def test_build_artifact_holds_only_the_collection(tmp_path, collection_tree):
    """The tarball has plugins, meta, playbooks and README; no server or tests."""
    env = ansible_env(collection_tree, tmp_path)
    subprocess.run(
        [
            str(BIN / "ansible-galaxy"),
            "collection",
            "build",
            str(REPO),
            "--output-path",
            str(tmp_path / "dist"),
        ],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )

    with tarfile.open(tmp_path / "dist" / "openvault-ssh-0.1.0.tar.gz") as artifact:
        names = artifact.getnames()

    tops = {name.split("/")[0] for name in names}
    assert tops <= {
        "MANIFEST.json",
        "FILES.json",
        "README.md",
        "meta",
        "plugins",
        "playbooks",
        "roles",
    }, tops
    assert {"plugins", "meta", "playbooks", "README.md"} <= tops
    assert "plugins/connection/ssh.py" in names
    assert "meta/runtime.yml" in names
    assert not [name for name in names if "__pycache__" in name or "/." in name]
