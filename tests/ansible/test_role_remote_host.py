"""The role openvault.ssh.remote_host, run by molecule on real sshd test hosts."""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from unit.collection_env import copy_collection

logger = logging.getLogger(__name__)

pytestmark = [pytest.mark.root, pytest.mark.slow, pytest.mark.xdist_group("molecule")]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TESTHOST = ROOT / "tests" / "testhost.py"
# Each scenario's one platform; the test host is "<platform>-<suffix>".
PLATFORMS = {"remote_host": "remote-host", "remote_host_absent": "remote-host-absent"}
MOLECULE_TIMEOUT = 900
# The steps each scenario must report as successful.
STEPS = {
    "remote_host": ("create", "check", "converge", "idempotence", "verify"),
    "remote_host_absent": ("create", "prepare", "converge", "idempotence", "verify"),
}

OTP_ROLE = "otp_key_role"
DYNAMIC_ROLE = "dynamic_key_role"
ADMIN_USER = "ovadmin"  # extensions/molecule/resources/vars/scenario.yml: ov_admin_user
OTP_USER = "alice"  # ... and ov_otp_user


def set_up_server(server, directory: Path) -> Path:
    """Mount ssh, write the OTP and dynamic roles, register the shared key.

    Return the shared key's private key file (its .pub lies beside it).
    """
    server.mount_ssh()

    otp_role = {
        "key_type": "otp",
        "default_user": OTP_USER,
        "allowed_users": OTP_USER,
        "cidr_list": "198.51.100.0/24",
    }
    reply = server.request("POST", f"ssh/roles/{OTP_ROLE}", otp_role)
    assert reply.status in (200, 204), reply.text

    admin_key = directory / "admin_key"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", ADMIN_USER]
        + ["-f", str(admin_key)],
        check=True,
    )
    reply = server.request("POST", "ssh/keys/dev_key", {"key": admin_key.read_text()})
    assert reply.status == 204, reply.text
    dynamic_role = {
        "key_type": "dynamic",
        "key": "dev_key",
        "admin_user": ADMIN_USER,
        "default_user": OTP_USER,
        "allowed_users": OTP_USER,
        "cidr_list": "198.51.100.0/24",
    }
    reply = server.request("POST", f"ssh/roles/{DYNAMIC_ROLE}", dynamic_role)
    assert reply.status in (200, 204), reply.text
    return admin_key


@pytest.fixture
def molecule_server(testhost_factory, ov_server_factory, tmp_path):
    """A server on the test network's gateway, set up as the scenarios expect."""
    if shutil.which("sshpass") is None:
        pytest.skip("the login checks need sshpass (apt-get install sshpass)")
    # The gateway address exists only while some test host does; this one
    # holds it for the whole test, whatever molecule creates and destroys.
    testhost_factory("rh-anchor")
    server = ov_server_factory(listen="198.51.100.1:0")
    return server, set_up_server(server, tmp_path)


def molecule_env(workdir: Path, collections: Path, server, admin_key: Path, suffix):
    """Return molecule's environment: the server, our collection, a private home."""
    home = workdir / "home"
    home.mkdir(parents=True)
    # ssh's control sockets need a short path (108 bytes at most, with
    # ssh's own suffix); the pytest tmp_path is far too deep for that.
    control_dir = tempfile.mkdtemp(prefix="ovmol-")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ANSIBLE_", "MOLECULE_", "VAULT_", "XDG_"))
    }
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        # Molecule and ansible-compat keep caches and state under the home.
        HOME=str(home),
        ANSIBLE_COLLECTIONS_PATH=str(collections),
        ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="False",
        ANSIBLE_SSH_CONTROL_PATH_DIR=control_dir,
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_DEPRECATION_WARNINGS="False",
        NO_COLOR="1",
        VAULT_ADDR=server.addr,
        VAULT_TOKEN=server.root_token,
        OV_MOLECULE_OTP_ROLE=OTP_ROLE,
        OV_MOLECULE_DYNAMIC_ROLE=DYNAMIC_ROLE,
        OV_MOLECULE_ADMIN_KEY=str(admin_key),
        OV_MOLECULE_HOST_SUFFIX=suffix,
    )
    return env


def destroy_host(name: str) -> None:
    """Remove a test host molecule may have left behind (no-op when gone)."""
    subprocess.run(
        [sys.executable, str(TESTHOST), "down", name], capture_output=True, timeout=120
    )


def start_molecule(request, workdir, collections, molecule_server, scenario):
    """Start `molecule test -s scenario`; return the process and its log path."""
    server, admin_key = molecule_server
    suffix = secrets.token_hex(3)
    host = f"{PLATFORMS[scenario]}-{suffix}"
    # Whatever happens to molecule, no test host outlives the test.
    request.addfinalizer(lambda: destroy_host(host))

    log_path = workdir / "molecule.log"
    env = molecule_env(workdir, collections, server, admin_key, suffix)
    request.addfinalizer(
        lambda: shutil.rmtree(env["ANSIBLE_SSH_CONTROL_PATH_DIR"], ignore_errors=True)
    )
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(BIN / "molecule"), "test", "-s", scenario],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    request.addfinalizer(lambda: stop(process))
    return process, log_path


def stop(process) -> None:
    """Kill a molecule run that is still going (after a timeout or an error)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_for(process, deadline) -> int | None:
    """Wait until process ends or deadline passes; return its exit code or None."""
    try:
        return process.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        return None


def failure(scenario, code, log_path) -> str | None:
    """Describe how a scenario failed, or return None when it passed."""
    output = log_path.read_text(errors="replace")
    if code == 0 and all(
        f"{scenario} > {step}: Executed: Successful" in output
        for step in STEPS[scenario]
    ):
        return None
    state = "timed out" if code is None else f"exited {code}"
    # Molecule prints this line right after the playbook that failed; show
    # what led up to it (the failed task), then the summary at the end.
    failed_at = output.find("CRITICAL Ansible return code")
    if failed_at < 0:
        failed_at = len(output)
    return (
        f"molecule test -s {scenario} {state}; log {log_path}\n"
        f"{output[max(0, failed_at - 5000) : failed_at]}\n...\n{output[-2000:]}"
    )


def test_role_remote_host_molecule_scenarios_pass(request, tmp_path, molecule_server):
    """Both scenarios pass: set-up with real logins, and absent restoring the host.

    remote_host: check mode on a fresh host, converge, idempotence, then a
    fresh OTP logs in once through the real sshd, a Unix password does not,
    the admin user's sudo needs no password, a dynamic key logs in.
    remote_host_absent: mixed OTP/password mode, a switch to OTP only, then
    absent (twice): OTP logins are gone and the files are back byte for byte.
    """
    collections = tmp_path / "collections"
    copy_collection(collections)
    # The two scenarios use two hosts and share the server: run them at once.
    started = time.monotonic()
    runs = {
        scenario: start_molecule(
            request, tmp_path / scenario, collections, molecule_server, scenario
        )
        for scenario in PLATFORMS
    }

    deadline = started + MOLECULE_TIMEOUT
    codes = {scenario: wait_for(run[0], deadline) for scenario, run in runs.items()}
    logger.info("both molecule scenarios took %.1f s", time.monotonic() - started)

    failures = [
        text
        for scenario, (_, log_path) in runs.items()
        if (text := failure(scenario, codes[scenario], log_path))
    ]
    assert not failures, "\n\n".join(failures)
