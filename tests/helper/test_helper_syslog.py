"""Decisions reach syslog with facility AUTH, and never carry the OTP."""

import os
import re
import shutil
import socket

import pytest
from helper_support import LOOPBACK_CIDRS
from helper_support import OTP
from helper_support import pam_env
from helper_support import run

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="needs root and unshare to give the helper its own /dev/log",
)

# Run the helper in its own mount namespace whose /dev/log is our socket, so
# the test reads exactly what the helper sends to syslog and the machine's
# /dev is untouched.
PRIVATE_DEV_LOG = """
set -e
work="$1"; shift
mkdir -p "$work/hostdev"
mount --bind /dev "$work/hostdev"
mount -t tmpfs -o mode=755 ovtest-dev /dev
for name in null zero random urandom; do
    touch "/dev/$name"
    mount --bind "$work/hostdev/$name" "/dev/$name"
done
touch /dev/log
mount --bind "$work/log.sock" /dev/log
exec "$@"
"""

LOG_AUTH = 4
SEVERITY = {"warning": 4, "info": 6}


def run_with_syslog(tmp_path, helper_path, args, stdin, env=None):
    """Run the helper with /dev/log bound to a socket; return (result, messages)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(tmp_path / "log.sock"))
        command = ["unshare", "--mount", "sh", "-c", PRIVATE_DEV_LOG, "sh"]
        command += [str(tmp_path), str(helper_path)]

        result = run(command, args, stdin, env)

        sock.setblocking(False)
        messages = []
        while True:
            try:
                messages.append(sock.recv(65536).decode("utf-8", "replace"))
            except BlockingIOError:
                return result, messages


def parse(message):
    """Split a syslog datagram into (facility, severity, text)."""
    match = re.match(r"<(\d+)>(.*)", message, re.DOTALL)
    assert match, message
    priority = int(match.group(1))
    return priority >> 3, priority & 7, match.group(2)


def write_config(tmp_path, standin, extra='allowed_roles = "*"'):
    """Write a dev-mode config for the stand-in server."""
    config = tmp_path / "config.hcl"
    config.write_text(f'vault_addr = "{standin.addr}"\n{LOOPBACK_CIDRS}\n{extra}\n')
    return config


def test_syslog_allowed_login_is_logged_to_auth_at_info(tmp_path, helper_path, standin):
    config = write_config(tmp_path, standin)

    result, messages = run_with_syslog(
        tmp_path, helper_path, [f"-config={config}", "-dev"], f"{OTP}\0".encode()
    )

    assert result.returncode == 0, result.stderr
    decisions = [parse(m) for m in messages if "login allowed" in m]
    assert len(decisions) == 1
    facility, severity, text = decisions[0]
    assert (facility, severity) == (LOG_AUTH, SEVERITY["info"])
    assert re.search(r"openvault-ssh-helper\[\d+\]: login allowed: user=alice", text)
    assert "rhost=198.51.100.77 ip=127.0.0.1 role=web.prod" in text
    assert all(OTP not in m for m in messages)


def test_syslog_denied_login_is_logged_to_auth_at_warning(
    tmp_path, helper_path, standin
):
    config = write_config(tmp_path, standin)

    result, messages = run_with_syslog(
        tmp_path,
        helper_path,
        [f"-config={config}", "-dev"],
        f"{OTP}\0".encode(),
        env=pam_env(user="mallory"),
    )

    assert result.returncode == 1
    decisions = [parse(m) for m in messages if "login denied" in m]
    assert [(f, s) for f, s, _ in decisions] == [(LOG_AUTH, SEVERITY["warning"])]
    expected = "user=mallory rhost=198.51.100.77 ip=127.0.0.1 role=web.prod"
    assert f'{expected} reason="username mismatch"' in decisions[0][2]
    assert all(OTP not in m for m in messages)


def test_syslog_a_mistyped_password_never_reaches_syslog(
    tmp_path, helper_path, standin
):
    config = write_config(tmp_path, standin)

    result, messages = run_with_syslog(
        tmp_path, helper_path, [f"-config={config}", "-dev"], b"correct horse\0"
    )

    assert result.returncode == 1
    assert any("not shaped like an OTP" in m for m in messages)
    assert all("correct horse" not in m for m in messages)


def test_syslog_log_level_off_sends_nothing(tmp_path, helper_path, standin):
    config = write_config(tmp_path, standin)

    result, messages = run_with_syslog(
        tmp_path,
        helper_path,
        [f"-config={config}", "-dev", "-log-level=off"],
        f"{OTP}\0".encode(),
    )

    assert result.returncode == 0
    assert messages == []
