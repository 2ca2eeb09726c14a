"""openvault.ssh.key: compared by fingerprint, the key never shown."""

from __future__ import annotations

import subprocess

from unit.collection_env import audited_requests


def make_key(path):
    """Create an ed25519 key; return (private text, ssh-keygen fingerprint)."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True
    )
    listed = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return path.read_text(), listed.stdout.split()[1]


def key_task(register, **options):
    """Return a key task for the key named dev_key."""
    return {"openvault.ssh.key": dict(name="dev_key", **options), "register": register}


def test_key_module_writes_only_when_the_fingerprint_differs(
    play, ssh_server, tmp_path
):
    """Same key: no change; another key: changed, with the diff of fingerprints."""
    first_key, first_fp = make_key(tmp_path / "one")
    second_key, second_fp = make_key(tmp_path / "two")

    run = play(
        [
            key_task("made", key=first_key),
            key_task("same", key=first_key),
            dict(key_task("checked", key=second_key), check_mode=True),
            key_task("replaced", key=second_key),
        ],
        "--diff",
    )

    assert run.returncode == 0, run.stdout
    assert run.result("made")["changed"] is True
    assert run.result("made")["fingerprint"] == first_fp
    assert run.result("same")["changed"] is False
    assert run.result("checked")["changed"] is True
    assert run.result("replaced")["changed"] is True
    assert f'-    "fingerprint": "{first_fp}"' in run.stdout
    assert f'+    "fingerprint": "{second_fp}"' in run.stdout
    stored = ssh_server.request("GET", "ssh/keys/dev_key").json["data"]
    assert stored["fingerprint"] == second_fp

    for text in (run.stdout, ssh_server.log_text()):
        assert "PRIVATE KEY" not in text


def test_key_module_check_mode_sends_no_write(play, ssh_server, tmp_path):
    """Check mode reports the change and leaves the server alone."""
    key, _fingerprint = make_key(tmp_path / "one")

    run = play([key_task("checked", key=key)], "--check")

    assert run.result("checked")["changed"] is True
    assert ssh_server.request("GET", "ssh/keys/dev_key").status == 404
    assert audited_requests(ssh_server, "ssh/keys") == []


def test_key_module_refuses_a_bad_key_without_echoing_it(play, ssh_server):
    """A value that is no private key fails before any request."""
    task = key_task("failed", key="not a key at all: s3cr3t")
    task["ignore_errors"] = True

    run = play([task])

    failed = run.result("failed")
    assert failed["msg"].startswith("option 'key': ")
    assert "s3cr3t" not in run.stdout
    assert audited_requests(ssh_server, "ssh/keys") == []


def test_key_module_deletes_once(play, ssh_server, tmp_path):
    """state=absent deletes the key, then reports no change."""
    key, _fingerprint = make_key(tmp_path / "one")
    assert ssh_server.request("POST", "ssh/keys/dev_key", {"key": key}).status == 204

    run = play([key_task("gone", state="absent"), key_task("again", state="absent")])

    assert run.result("gone")["changed"] is True
    assert run.result("again")["changed"] is False
    assert ssh_server.request("GET", "ssh/keys/dev_key").status == 404
