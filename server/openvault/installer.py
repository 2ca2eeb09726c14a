"""The dynamic-key installer: SSH to a host as its admin user, run the install script.

One connection per install or uninstall, authenticated with the registered
admin key: look the target user's home up on the host, check that sudo needs
no password, upload the public key line and the script into a fresh private
directory in the admin's home, run the script with `sudo -n`, and remove the
directory. Every failure raises InstallError, whose message names the host,
the step and the reason, and never holds key material.
"""

import contextlib
import io
import logging
import shlex
import threading
import time
from dataclasses import dataclass
from dataclasses import field
from importlib import resources

import paramiko

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
UPLOAD_FAILED = 90

# What went wrong, for callers that answer differently (nothing of these
# kinds changed the host, except UNCERTAIN).
UNREACHABLE = "unreachable"
REFUSED = "refused"
HOST_KEY = "host-key"
NO_USER = "no-user"
SUDO = "sudo"
UPLOAD = "upload"
SCRIPT = "script"
UNCERTAIN = "uncertain"

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
    admin_key: paramiko.PKey = field(repr=False)

    @property
    def address(self):
        """The host as people write it: ip:port, [ip]:port for IPv6."""
        host = f"[{self.ip}]" if ":" in self.ip else self.ip
        return f"{host}:{self.port}"


def load_admin_key(pem, key_type):
    """Return the paramiko key for a registered key's PEM text."""
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
        path = session.authorized_keys_path(username)
        session.check_sudo()
        session.run_script("install", key_line, path, script)
        return path, session.host_key


def uninstall(target, username, key_line, script="", authorized_keys="", host_key=""):
    """Remove the lines holding `key_line`'s key from the user's authorized_keys.

    `authorized_keys` is the path install() returned (looked up again when
    empty); `host_key`, when given, must be the host key install() saw.
    """
    with _session(target, host_key) as session:
        path = authorized_keys or session.authorized_keys_path(username)
        session.check_sudo()
        session.run_script("uninstall", key_line, path, script)


class _RememberHostKey(paramiko.MissingHostKeyPolicy):
    """Accept the host's key and remember it.

    Limitation: host keys are not verified when a key is installed, which is
    what Vault did: the server has no list of its hosts' keys. A host that
    impersonates the target can receive a public key (harmless) but could
    also pretend to remove one, so uninstall() insists on the host key seen
    at install time; a changed host key leaves the revocation pending, with
    the reason in sys/leases/lookup.
    """

    def __init__(self):
        self.key = None

    def missing_host_key(self, client, hostname, key):
        self.key = key


class _Session:
    """One authenticated connection to a host, running commands by step."""

    def __init__(self, target, client, host_key):
        self.target = target
        self.client = client
        self.host_key = host_key

    def fail(self, step, reason, kind):
        return InstallError(self.target.address, step, reason, kind)

    def authorized_keys_path(self, username):
        """Return <home>/.ssh/authorized_keys of `username` as the host knows it."""
        step = f"looking up user '{username}'"
        code, out, err = self.run(step, f"getent passwd {shlex.quote(username)}")
        if code == 2:
            raise self.fail(step, f"user '{username}' does not exist", NO_USER)
        if code != 0:
            raise self.fail(step, _brief(err) or f"getent exited {code}", NO_USER)
        fields = out.decode(errors="replace").strip().split(":")
        home = fields[5] if len(fields) >= 7 else ""
        if not home.startswith("/") or "\n" in home:
            raise self.fail(
                step, f"user '{username}' has no usable home directory", NO_USER
            )
        return home.rstrip("/") + "/.ssh/authorized_keys"

    def check_sudo(self):
        """Fail at once, and clearly, when sudo would ask for a password."""
        step = "checking sudo"
        code, _, err = self.run(step, "sudo -n true")
        if code == 0:
            return
        text = err.decode(errors="replace")
        if "password" in text.lower():
            reason = (
                f"sudo asks '{self.target.admin_user}' for a password; the backend"
                " needs a NOPASSWD sudoers entry for the admin user"
            )
        elif code == 127:
            reason = "sudo is not installed"
        else:
            reason = _brief(err) or f"sudo -n true exited {code}"
        raise self.fail(step, reason, SUDO)

    def run_script(self, action, key_line, authorized_keys, script):
        """Upload the key line and the script, run it with sudo, clean up."""
        step = f"running the install script ({action})"
        command = (
            "umask 077;"
            ' dir=$(mktemp -d "$HOME/.openvault-XXXXXXXXXX")'
            f" || exit {UPLOAD_FAILED};"
            " trap 'rm -rf \"$dir\"' EXIT;"
            ' cat > "$dir/install.sh" && chmod 0700 "$dir/install.sh"'
            f" || exit {UPLOAD_FAILED};"
            f' printf "%s\\n" {shlex.quote(key_line)} > "$dir/key.pub"'
            f" || exit {UPLOAD_FAILED};"
            f' sudo -n -- "$dir/install.sh" {action} "$dir/key.pub"'
            f" {shlex.quote(authorized_keys)}"
        )
        started = time.monotonic()
        code, out, err = self.run(
            step, command, (script or DEFAULT_INSTALL_SCRIPT).encode(), lost=UNCERTAIN
        )
        if code == UPLOAD_FAILED:
            raise self.fail(
                "uploading the key and script",
                f"cannot write in the home directory of '{self.target.admin_user}'",
                UPLOAD,
            )
        if code != 0:
            reason = f"exit status {code}: {_brief(err) or 'no error output'}"
            raise self.fail(step, reason, SCRIPT)
        logger.debug(
            "install script %s on %s done in %.2fs: %s",
            action,
            self.target.address,
            time.monotonic() - started,
            _brief(out),
        )

    def run(self, step, command, stdin=b"", lost=UNREACHABLE):
        """Run `command` as the admin user; return (exit code, stdout, stderr)."""
        try:
            channel = self.client.get_transport().open_session(timeout=CONNECT_TIMEOUT)
            channel.settimeout(COMMAND_TIMEOUT)
            channel.exec_command(command)
            if stdin:
                channel.sendall(stdin)
            channel.shutdown_write()
            out = channel.makefile("rb").read()
            err = channel.makefile_stderr("rb").read()
            if not channel.status_event.wait(COMMAND_TIMEOUT):
                raise TimeoutError("no exit status")
            code = channel.exit_status
        except TimeoutError:
            raise self.fail(
                step, f"no answer within {COMMAND_TIMEOUT}s", lost
            ) from None
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise self.fail(step, f"connection lost: {exc}", lost) from None
        if code == -1:
            raise self.fail(step, "the command ended without an exit status", lost)
        return code, out, err


@contextlib.contextmanager
def _session(target, expected_host_key=""):
    with _host_slot(target.address):
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
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(_RememberHostKey())
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
    return client


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
