"""The ssh command: get a credential for a host and log in with it."""

import dataclasses
import ipaddress
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

from openvault.cli.base import EXIT_API
from openvault.cli.base import EXIT_USAGE
from openvault.cli.base import Command
from openvault.cli.base import fail
from openvault.cli.client import VaultAPIError
from openvault.cli.flags import UsageError

MODES = ("otp", "dynamic")
HOST_KEY_CHECKING = ("ask", "yes", "no", "accept-new", "off")

# OpenSSH options that take a value, so "-p" inside "-l p" is not a port.
SSH_OPTIONS_WITH_VALUE = set("BbcDEeFIiJLlmOoPpQRSWw")


class SSHFailure(Exception):
    """The ssh command cannot go on; carries the message and exit code."""

    def __init__(self, message, code=EXIT_API):
        super().__init__(message)
        self.code = code


@dataclasses.dataclass
class Target:
    """Who to log in as, and where: the host as typed and its IP."""

    username: str
    host: str
    ip: str


@dataclasses.dataclass
class Credential:
    """A credential issued by creds/<role>, with the reply it came in."""

    reply: dict

    @property
    def data(self):
        """The credential's fields: key, key_type, port, username, ip."""
        return self.reply.get("data") or {}

    @property
    def lease_id(self):
        """The lease to revoke once the session is over."""
        return self.reply.get("lease_id") or ""


@dataclasses.dataclass
class Session:
    """Everything one `openvault ssh` run needs to talk to the server."""

    ctx: object
    mount: str
    target: Target
    role: str = ""

    @property
    def client(self):
        """The API client of the invocation."""
        return self.ctx.client

    def issue(self):
        """POST creds/<role> {ip, username} and return the credential."""
        body = {"ip": self.target.ip, "username": self.target.username}
        path = f"{self.mount}/creds/{self.role}"
        try:
            reply = self.client.write(path, body)
        except VaultAPIError as error:
            message = f"Error getting credential from {path}: {error}"
            raise SSHFailure(message) from None
        credential = Credential(reply or {})
        if not credential.data.get("key"):
            raise SSHFailure(f"Error getting credential from {path}: no key returned")
        return credential

    def revoke(self, credential):
        """Revoke the credential's lease; report, but survive, a failure."""
        if credential is None or not credential.lease_id:
            return True
        body = {"lease_id": credential.lease_id}
        try:
            self.client.write("sys/leases/revoke", body)
        except VaultAPIError as error:
            print(
                "failed to revoke the credential (it stays valid until used or "
                f"until its lease ends): {error}",
                file=sys.stderr,
            )
            return False
        return True


def add_ssh_flags(flags):
    """Declare the flags of the ssh command."""
    flags.add("role", usage="Role to get the credential from.")
    flags.add("mode", usage="otp or dynamic; read from the role when omitted.")
    flags.add("mount-point", default="ssh", usage="Mount of the ssh backend.")
    flags.add("no-exec", kind="bool", usage="Print the credential, do not log in.")
    flags.add(
        "strict-host-key-checking",
        default="ask",
        env="VAULT_SSH_STRICT_HOST_KEY_CHECKING",
        usage="Value of ssh's StrictHostKeyChecking option.",
    )
    flags.add(
        "user-known-hosts-file",
        env="VAULT_SSH_USER_KNOWN_HOSTS_FILE",
        usage="Value of ssh's UserKnownHostsFile option.",
    )
    flags.add("ssh-executable", default="ssh", usage="The ssh program to run.")


def local_username():
    """Return the name of the user running the command."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return os.environ.get("USER", "")


def resolve(host):
    """Return the host's IP; an IP literal is returned as it is."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    for family in (socket.AF_INET, socket.AF_UNSPEC):
        try:
            return socket.getaddrinfo(host, None, family)[0][4][0]
        except (socket.gaierror, IndexError):
            continue
    raise UsageError(f"Error parsing user and IP: cannot resolve host {host!r}")


def parse_target(text):
    """Split user@host (user defaults to the local user) and resolve host."""
    parts = text.split("@")
    if len(parts) == 1:
        username, host = local_username(), parts[0]
    elif len(parts) == 2 and all(parts):
        username, host = parts
    else:
        raise UsageError(f"Error parsing user and IP: invalid target {text!r}")
    return Target(username, host, resolve(host))


def user_gave_port(ssh_args):
    """Tell whether the extra ssh arguments already choose a port (-p)."""
    args = iter(ssh_args)
    for arg in args:
        if arg == "--" or not arg.startswith("-") or arg == "-":
            return False
        letters = arg[1:]
        for index, letter in enumerate(letters):
            if letter not in SSH_OPTIONS_WITH_VALUE:
                continue
            if letter == "p":
                return True
            if index == len(letters) - 1:
                next(args, None)
            break
    return False


def ssh_command(ctx, credential, target, ssh_args):
    """Build the ssh argv: port, host key options, user@ip, extra args."""
    argv = [ctx["ssh-executable"]]
    if not user_gave_port(ssh_args):
        argv += ["-p", str(credential.data.get("port") or 22)]
    argv += ["-o", f"StrictHostKeyChecking={ctx['strict-host-key-checking']}"]
    known_hosts = ctx["user-known-hosts-file"]
    if known_hosts:
        argv += ["-o", f"UserKnownHostsFile={os.path.expanduser(known_hosts)}"]
    return argv + [f"{target.username}@{target.ip}"] + list(ssh_args)


def run_interactive(argv, env=None):
    """Run ssh in the foreground and return its exit code."""
    try:
        child = subprocess.Popen(argv, env=env)
    except OSError as error:
        message = f"failed to run ssh command {argv[0]!r}: {error.strerror}"
        raise SSHFailure(message) from None

    # Ctrl-C belongs to the ssh session; this process must live on to
    # revoke the credential once ssh is gone.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        code = child.wait()
    finally:
        signal.signal(signal.SIGINT, previous)
    return code if code >= 0 else 128 - code


def connect_otp(session, credential, ssh_args):
    """Log in with a one-time password, typed by sshpass when installed."""
    credential = credential or session.issue()
    argv = ssh_command(session.ctx, credential, session.target, ssh_args)
    otp = credential.data["key"]
    sshpass = shutil.which("sshpass")

    try:
        if sshpass:
            # sshpass -e reads the password from $SSHPASS, so the OTP never
            # shows in the process list the way an argv would.
            env = dict(os.environ, SSHPASS=otp)
            code = run_interactive([sshpass, "-e"] + argv, env)
        else:
            print(f"OTP for the session is: {otp}", flush=True)
            note = "[Note: Install 'sshpass' to automate typing in OTP]"
            print(note, file=sys.stderr, flush=True)
            code = run_interactive(argv)
    finally:
        # Vault revokes only after a clean exit; a failed login would leave
        # a valid OTP behind until its lease ends, so revoke in every case.
        revoked = session.revoke(credential)

    if code == 0 and not revoked:
        return EXIT_API
    return code


def connect_dynamic(session, credential, ssh_args):
    """Log in with a dynamic key kept in a private temp file, then revoke it."""
    credential = credential or session.issue()
    key_type = credential.data.get("key_type", "")
    if key_type != "dynamic":
        session.revoke(credential)
        raise SSHFailure(
            f"-mode dynamic: role {session.role!r} issued a {key_type!r} credential,"
            " not a dynamic key; use the role's own mode",
            EXIT_USAGE,
        )
    key_dir = None
    try:
        # Limitation: a SIGKILL of this process leaves the key file in the
        # temp directory (mode 0600, in a 0700 directory); the key itself
        # still ends with its lease.
        key_dir = tempfile.mkdtemp(prefix="openvault-ssh-")
        key_path = os.path.join(key_dir, "dynamic_key.pem")
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(credential.data["key"])
        argv = ssh_command(session.ctx, credential, session.target, ssh_args)
        argv[1:1] = ["-i", key_path, "-o", "IdentitiesOnly=yes"]
        code = run_interactive(argv)
    finally:
        if key_dir is not None:
            shutil.rmtree(key_dir, ignore_errors=True)
        # As for OTPs, revoke whatever ssh did: the key is of no use once
        # its file is gone, and it must not stay on the host.
        revoked = session.revoke(credential)

    if code == 0 and not revoked:
        return EXIT_API
    return code


CONNECTORS = {"otp": connect_otp, "dynamic": connect_dynamic}


def check_mode(mode, origin):
    """Return the mode in lower case if this command can log in with it."""
    mode = mode.lower()
    if mode == "ca":
        raise SSHFailure(
            f"{origin} is 'ca', which 'openvault ssh' does not support; "
            "accepted: otp, dynamic",
            EXIT_USAGE,
        )
    if mode not in MODES:
        raise SSHFailure(f"Unknown SSH mode: {mode}; accepted: otp, dynamic", 1)
    return mode


def choose_role(session):
    """Pick the one role that lookup returns for the target IP."""
    ip = session.target.ip
    path = f"{session.mount}/lookup"
    try:
        reply = session.client.write(path, {"ip": ip})
    except VaultAPIError as error:
        raise SSHFailure(f"Error finding roles for IP {ip!r}: {error}") from None

    roles = sorted(set(((reply or {}).get("data") or {}).get("roles") or []))
    if len(roles) == 1:
        print(f"openvault ssh: using role {roles[0]!r}", file=sys.stderr)
        return roles[0]
    if not roles:
        raise SSHFailure(
            f"Error choosing role: no role on {session.mount}/ matches IP "
            f"{ip!r}; name one with -role",
            EXIT_USAGE,
        )
    raise SSHFailure(
        f"Error choosing role: roles matching IP {ip!r}: {', '.join(roles)}. "
        "Select one with -role (your policies may allow only some of them).",
        EXIT_USAGE,
    )


def choose_mode(session):
    """Return (mode, credential): from -mode, the role's key_type, or else
    the key_type of a credential issued for the purpose, as Vault does when
    the token may not read roles. That credential is then used."""
    if session.ctx["mode"]:
        return check_mode(session.ctx["mode"], "-mode"), None

    try:
        reply = session.client.read(f"{session.mount}/roles/{session.role}")
    except VaultAPIError:
        reply = None
    key_type = ((reply or {}).get("data") or {}).get("key_type")
    if key_type:
        return check_mode(key_type, f"the key_type of role {session.role!r}"), None

    credential = session.issue()
    try:
        key_type = credential.data.get("key_type", "")
        return check_mode(key_type, f"the key_type of role {session.role!r}"), (
            credential
        )
    except SSHFailure:
        session.revoke(credential)
        raise


def check_options(ctx):
    """Refuse host key checking values ssh would not accept."""
    value = ctx["strict-host-key-checking"]
    if value not in HOST_KEY_CHECKING:
        raise UsageError(
            f"invalid value {value!r} for -strict-host-key-checking: "
            f"use one of {', '.join(HOST_KEY_CHECKING)}"
        )


def ssh(ctx):
    """Get a credential for user@host and log in, or print it (-no-exec)."""
    ctx.expect_args(1, None)
    check_options(ctx)
    target = parse_target(ctx.args[0])
    session = Session(ctx, ctx["mount-point"].strip("/"), target, ctx["role"])

    try:
        if ctx["mode"]:
            check_mode(ctx["mode"], "-mode")
        session.role = session.role or choose_role(session)
        if ctx["no-exec"]:
            return ctx.show(session.issue().reply)
        mode, credential = choose_mode(session)
        return CONNECTORS[mode](session, credential, ctx.args[1:])
    except SSHFailure as failure:
        return fail(str(failure), failure.code)


COMMANDS = [
    Command(
        ("ssh",),
        "Get a credential for a host and log in with ssh.",
        "openvault ssh [options] [user@]host [ssh arguments...]",
        ssh,
        add_ssh_flags,
    ),
]
