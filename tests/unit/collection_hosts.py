"""Prepare sshd test hosts for the collection's logins: OTP helper or admin user."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml
from unit.collection_env import REPO

HELPER = REPO / "server" / "openvault" / "ssh_helper.py"
HELPER_CONFIG = "/etc/openvault-ssh-helper.d/config.hcl"
# The helper checks OTPs for sshd's keyboard-interactive PAM conversation;
# pam_unix after it is the upstream workaround for pam_exec's cleanup.
PAM_AUTH = (
    "auth requisite pam_exec.so quiet expose_authtok /usr/bin/python3 "
    f"/usr/local/bin/openvault-ssh-helper -dev -config={HELPER_CONFIG}\n"
    "auth optional pam_unix.so not_set_pass use_first_pass nodelay\n"
)
SSHD_OTP = "KbdInteractiveAuthentication yes\nUsePAM yes\nPasswordAuthentication no\n"


def prepare_otp_host(host, server, users=("alice",)):
    """Make host answer OTP logins for users through the helper and server."""
    for user in users:
        host.add_user(user)
    host.write_file(
        "/usr/local/bin/openvault-ssh-helper", HELPER.read_text(), mode=0o755
    )
    host.write_file(
        HELPER_CONFIG,
        f'vault_addr = "{server.addr}"\nssh_mount_point = "ssh"\nallowed_roles = "*"\n',
        parents=True,
    )
    pam = host.read_text("/etc/pam.d/sshd").replace(
        "@include common-auth", "#@include common-auth"
    )
    host.write_file("/etc/pam.d/sshd", PAM_AUTH + pam)
    host.write_file("/etc/ssh/sshd_config.d/00-openvault.conf", SSHD_OTP, parents=True)
    host.reload()


def prepare_dynamic_host(host, admin_public_key, users=("alice",)):
    """Give host an admin user with passwordless sudo that the server logs in as."""
    host.add_user("vaultadmin", sudo=True)
    host.authorize_key("vaultadmin", admin_public_key)
    for user in users:
        host.add_user(user)


def make_admin_key(directory):
    """Create an RSA admin key pair; return (private text, public line)."""
    path = Path(directory) / "vaultadmin"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", str(path)],
        check=True,
    )
    return path.read_text(), path.with_suffix(".pub").read_text().strip()


def write_inventory(path, hosts, **group_vars):
    """Write a YAML inventory of {name: host} with the test-host defaults."""
    inventory = {
        "all": {
            "hosts": {
                name: {"ansible_host": host.ip, "ansible_port": host.port}
                for name, host in hosts.items()
            },
            "vars": dict(
                {
                    "ansible_python_interpreter": "/usr/bin/python3",
                    "ansible_ssh_common_args": "-F /dev/null "
                    "-o UserKnownHostsFile=/dev/null",
                },
                **group_vars,
            ),
        }
    }
    Path(path).write_text(yaml.safe_dump(inventory, sort_keys=False))
    return path
