"""The dynamic-key installer: SSH to a host as its admin user, run the install script.

One connection and one command per install or uninstall, authenticated with
the registered admin key: look the target user's home up on the host, check
that sudo needs no password, upload the public key line and the script into
a fresh private directory in the admin's home, run the script with `sudo -n`,
and remove the directory. Every failure raises InstallError, whose message
names the host, the step and the reason, and never holds key material.
"""

import contextlib
import importlib
import io
import logging
import shlex
import threading
import time
from dataclasses import dataclass
from dataclasses import field
from importlib import resources

from openvault import sshkeys

logger = logging.getLogger(__name__)

DEFAULT_INSTALL_SCRIPT = (
    resources.files("openvault").joinpath("install_script.sh").read_text()
)

CONNECT_TIMEOUT = 5
COMMAND_TIMEOUT = 60
# sshd drops unauthenticated connections beyond MaxStartups (10 by default):
# a burst of creds for one host must not trip it.
MAX_SESSIONS_PER_HOST = 4
ERROR_OUTPUT_LIMIT = 400

# What went wrong, for callers that answer differently (nothing of these
# kinds changed the host, except UNCERTAIN).
UNREACHABLE = "unreachable"
REFUSED = "refused"
HOST_KEY = "host-key"
NO_USER = "no-user"
SUDO = "sudo"
UPLOAD = "upload"
HOST = "host"
SCRIPT = "script"
UNCERTAIN = "uncertain"


def _paramiko():
    """Return paramiko, imported on first use.

    A server that only issues OTPs never loads it: about 9 MB less in each
    of its processes.
    """
    return importlib.import_module("paramiko")


# paramiko logs every connection at INFO and the protocol at DEBUG; its
# messages hold no secrets, but a creds burst would drown the server log.
logging.getLogger("paramiko").setLevel(logging.WARNING)


class InstallError(Exception):
    """Installing or removing a key on a host failed at one step."""

    def __init__(self, host, step, reason, kind):
        super().__init__(f"{step} on {host} failed: {reason}")
        self.host = host
        self.step = step
        self.reason = reason
        self.kind = kind


@dataclass(frozen=True)
class Target:
    """Where to connect and as whom: the host and its admin account."""

    ip: str
    port: int
    admin_user: str
    # A paramiko PKey.
    admin_key: object = field(repr=False)

    @property
    def address(self):
        """The host as people write it: ip:port, [ip]:port for IPv6."""
        host = f"[{self.ip}]" if ":" in self.ip else self.ip
        return f"{host}:{self.port}"


def load_admin_key(pem, key_type):
    """Return the paramiko key for a registered key's PEM text."""
    paramiko = _paramiko()
    if key_type.startswith("ecdsa-"):
        cls = paramiko.ECDSAKey
    elif key_type == "ssh-ed25519":
        cls = paramiko.Ed25519Key
    else:
        cls = paramiko.RSAKey
    return cls.from_private_key(io.StringIO(pem))


def install(target, username, key_line, script=""):
    """Install `key_line` for `username`; return (authorized_keys path, host key).

    The host key is returned as its SHA256 fingerprint, for uninstall() to
    check that it talks to the same host.
    """
    with _session(target) as session:
        path = session.apply("install", key_line, script, username)
        return path, session.host_key


def uninstall(target, username, key_line, script="", authorized_keys="", host_key=""):
    """Remove the lines holding `key_line`'s key from the user's authorized_keys.

    `authorized_keys` is the path install() returned (looked up again when
    empty); `host_key`, when given, must be the host key install() saw.
    """
    with _session(target, host_key, fail_fast=True) as session:
        session.apply("uninstall", key_line, script, username, authorized_keys)


# Limitation: host keys are not verified when a key is installed, as in
# Vault: the server keeps no list of its hosts' keys. Whatever answers on the
# address gets the public key (harmless), and could pretend to remove it, so
# uninstall() insists on the host key seen at install time; a changed host
# key leaves the revocation pending, with the reason in sys/leases/lookup.
class _AcceptHostKey:
    """Accept any host key on first contact; the caller checks it if it can.

    paramiko's missing-host-key policy interface: one method.
    """

    def missing_host_key(self, client, hostname, key):
        return None


class _Session:
    """One authenticated connection to a host."""

    def __init__(self, target, client, host_key):
        self.target = target
        self.client = client
        self.host_key = host_key

    def fail(self, step, reason, kind):
        return InstallError(self.target.address, step, reason, kind)

    def apply(self, action, key_line, script, username, authorized_keys=""):
        """Run the install script for `action`; return the authorized_keys path.

        Every step runs in one command on the host (each command costs a
        session setup there), printing a marker line as it starts, so a
        failure is known by its step.
        """
        command = _COMMAND.format(
            user=shlex.quote(username),
            path=shlex.quote(authorized_keys),
            key=shlex.quote(key_line),
            action=action,
        )
        started = time.monotonic()
        code, markers, output = self._run(command, script or DEFAULT_INSTALL_SCRIPT)
        step = markers.get("step", "connect")
        if code != 0:
            raise self._failure(action, step, code, output, username)
        logger.debug(
            "install script %s on %s done in %.2fs: %s",
            action,
            self.target.address,
            time.monotonic() - started,
            _brief(output),
        )
        return markers["path"]

    def _failure(self, action, step, code, output, username):
        text = _brief(output)
        if step == "user":
            # getent exits 2 for an unknown name; the home check prints why.
            known = code == 2 or "home directory" in text
            reason = f"user '{username}' does not exist" if code == 2 else text
            kind = NO_USER if known else HOST
            return self.fail(f"looking up user '{username}'", reason, kind)
        if step == "sudo":
            if "password" in text.lower():
                text = (
                    f"sudo asks '{self.target.admin_user}' for a password; the"
                    " backend needs a NOPASSWD sudoers entry for the admin user"
                )
            elif code == 127:
                text = "sudo is not installed"
            return self.fail("checking sudo", text or f"exit status {code}", SUDO)
        if step == "script":
            reason = f"exit status {code}: {text or 'no error output'}"
            return self.fail(f"running the install script ({action})", reason, SCRIPT)
        reason = f"cannot write in the home directory of '{self.target.admin_user}'"
        if step != "upload":
            reason = f"the admin user's shell did not run the commands: {text}"
        return self.fail("uploading the key and script", reason, UPLOAD)

    def _run(self, command, script):
        """Run the command with the script on stdin; return (code, markers, output)."""
        paramiko = _paramiko()
        output = bytearray()
        code = None
        try:
            channel = self.client.get_transport().open_session(timeout=CONNECT_TIMEOUT)
            channel.settimeout(COMMAND_TIMEOUT)
            channel.set_combine_stderr(True)
            channel.exec_command(command)
            channel.sendall(script.encode())
            channel.shutdown_write()
            while chunk := channel.recv(32768):
                output += chunk
            if channel.status_event.wait(COMMAND_TIMEOUT):
                code = channel.exit_status
        except TimeoutError:
            lost = f"no answer within {COMMAND_TIMEOUT}s"
        except (paramiko.SSHException, OSError, EOFError) as exc:
            lost = f"connection lost: {exc}"
        else:
            lost = None if code not in (None, -1) else "no exit status"
        markers, rest = _markers(output)
        if lost is not None:
            step = markers.get("step", "connect")
            # Once the script started, the host may have changed.
            kind = UNCERTAIN if step == "script" else UNREACHABLE
            raise self.fail(_STEP_NAMES.get(step, step), lost, kind)
        return code, markers, rest


# One command per operation, POSIX sh. An empty path means: look the home
# directory up on the host (Vault assumed /home/<user>, wrong for root and
# for users elsewhere). stdin carries the install script.
_COMMAND = """umask 077
mark() {{ printf '@openvault %s\\n' "$1"; }}
path={path}
if [ -z "$path" ]; then
    mark step=user
    entry=$(getent passwd {user}) || exit $?
    home=$(printf '%s\\n' "$entry" | cut -d: -f6)
    case "$home" in
    /*) path="${{home%/}}/.ssh/authorized_keys" ;;
    *) echo "the user has no usable home directory"; exit 1 ;;
    esac
fi
mark "path=$path"
mark step=sudo
sudo -n true 2>&1 || exit $?
mark step=upload
dir=$(mktemp -d "$HOME/.openvault-XXXXXXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
cat > "$dir/install.sh" && chmod 0700 "$dir/install.sh" || exit 1
printf '%s\\n' {key} > "$dir/key.pub" || exit 1
mark step=script
sudo -n -- "$dir/install.sh" {action} "$dir/key.pub" "$path"
"""
_STEP_NAMES = {
    "connect": "starting the install command",
    "user": "looking up the user",
    "sudo": "checking sudo",
    "upload": "uploading the key and script",
    "script": "running the install script",
}


def _markers(output):
    """Split the command's output into its marker values and everything else."""
    markers = {}
    rest = []
    for line in bytes(output).decode(errors="replace").splitlines():
        if line.startswith("@openvault "):
            name, _, value = line[len("@openvault ") :].partition("=")
            markers[name] = value
            rest = []
        else:
            rest.append(line)
    return markers, "\n".join(rest)


@contextlib.contextmanager
def _session(target, expected_host_key="", fail_fast=False):
    with _host_slot(target.address):
        if fail_fast:
            _check_recently_unanswered(target)
        client = _connect(target)
        try:
            session = _Session(target, client, _host_key(client))
            if expected_host_key and session.host_key != expected_host_key:
                raise session.fail(
                    "checking the host key",
                    f"the host key changed since the key was installed (now"
                    f" {session.host_key}, was {expected_host_key})",
                    HOST_KEY,
                )
            yield session
        finally:
            client.close()


def _connect(target):
    paramiko = _paramiko()
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(_AcceptHostKey())
    step = f"connecting as '{target.admin_user}'"
    try:
        client.connect(
            target.ip,
            port=target.port,
            username=target.admin_user,
            pkey=target.admin_key,
            timeout=CONNECT_TIMEOUT,
            banner_timeout=2 * CONNECT_TIMEOUT,
            auth_timeout=2 * CONNECT_TIMEOUT,
            channel_timeout=2 * CONNECT_TIMEOUT,
            allow_agent=False,
            look_for_keys=False,
        )
    except paramiko.AuthenticationException:
        client.close()
        raise InstallError(
            target.address,
            step,
            f"the host refused the admin key for '{target.admin_user}' (is its"
            " public half in that user's authorized_keys?)",
            REFUSED,
        ) from None
    except TimeoutError:
        client.close()
        _unanswered[target.address] = time.monotonic()
        raise InstallError(
            target.address,
            step,
            f"host unreachable: no answer within {CONNECT_TIMEOUT}s",
            UNREACHABLE,
        ) from None
    except paramiko.ssh_exception.NoValidConnectionsError as exc:
        client.close()
        errors = list(exc.errors.values())
        reason = (errors[0].strerror if errors else "") or "connection refused"
        raise InstallError(
            target.address, step, f"host unreachable: {reason}", UNREACHABLE
        ) from None
    except (paramiko.SSHException, OSError, EOFError) as exc:
        client.close()
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise InstallError(
            target.address, step, f"host unreachable: {reason}", UNREACHABLE
        ) from None
    _unanswered.pop(target.address, None)
    return client


# A host that just let a connection time out is not tried again by removals
# for CONNECT_TIMEOUT seconds: a bulk revocation for a host that is gone
# then fails its leases at once (they are retried later) instead of waiting
# out one timeout per lease. Installs always try.
_unanswered = {}


def _check_recently_unanswered(target):
    since = _unanswered.get(target.address)
    if since is None:
        return
    ago = time.monotonic() - since
    if ago < CONNECT_TIMEOUT:
        raise InstallError(
            target.address,
            f"connecting as '{target.admin_user}'",
            f"host unreachable: no answer within {CONNECT_TIMEOUT}s, {ago:.1f}s ago",
            UNREACHABLE,
        )


def _host_key(client):
    key = client.get_transport().get_remote_server_key()
    return sshkeys.fingerprint(f"{key.get_name()} {key.get_base64()}")


_slots = {}
_slots_lock = threading.Lock()


@contextlib.contextmanager
def _host_slot(address):
    with _slots_lock:
        slot = _slots.setdefault(
            address, threading.BoundedSemaphore(MAX_SESSIONS_PER_HOST)
        )
    with slot:
        yield


def _brief(data):
    text = data.decode(errors="replace") if isinstance(data, bytes) else data
    text = " ".join(text.split())
    if len(text) > ERROR_OUTPUT_LIMIT:
        text = "..." + text[-ERROR_OUTPUT_LIMIT:]
    return text
