#!/usr/bin/env python3
"""Test hosts: real Debian sshd servers in network namespaces for the test suite.

A test host is the machine's own /usr/sbin/sshd started as PID 1 of a new pid
namespace, inside its own network namespace and its own mount namespace:

- network: one veth pair; the host side is ``eth0`` with one address from
  198.51.100.10-250, the machine side is a port of the bridge ``ovtest0``,
  which holds the gateway address 198.51.100.1/24. Hosts reach each other and
  the gateway, and nothing else: no default route, no NAT, no forwarding.
- files: /etc, /var, /usr, /root, /opt and /srv are overlays over the
  machine's directories, with the upper layer in the host's state directory,
  so users, PAM files, sshd config and sudoers written inside never touch the
  machine. /home is an empty per-host directory. /run, /tmp and /dev/shm are
  fresh tmpfs on every start, as after a reboot.
- sshd: its own host keys (``ssh-keygen -A`` at first start), a baseline
  /etc/ssh/sshd_config listening on the host's address port 22, and its log
  (``sshd -D -e``) in ``<state>/<name>/sshd.log``.

State lives in /run/openvault-testhosts/<name>/ and every object made here
carries the prefix ``ovtest``: netns ``ovtest-<name>``, veth ``ovtest-v<N>``,
bridge ``ovtest0``. Stopping a host kills its PID 1 (the whole pid namespace
dies with it) but keeps its network, address and files, so it can be started
again; destroying it also removes the namespace, the veth and the state, and
the bridge goes with the last host.

Commands (as root; needs ip, unshare, nsenter, setsid, mount, openssh-server):

    testhost.py up NAME [--ip 198.51.100.N]   create and start; prints JSON
    testhost.py down NAME | --all             destroy one, or all of ours
    testhost.py list                          one JSON line per host
    testhost.py exec NAME [-- CMD...]         run as root inside the host
    testhost.py ssh-ready NAME [--timeout S]  wait until sshd answers
    testhost.py stop NAME | start NAME        simulate the host going down

From Python (tests/ is on sys.path): ``TestHost.create(name)``,
``check_test_address(ip)``, ``hold_gateway()``/``release_gateway(id)`` (keep
198.51.100.1 with no host), ``sweep_stale()``, ``destroy_all()``; the pytest
fixtures are in tests/support/hosts.py.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import ipaddress
import json
import logging
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from collections.abc import Sequence
from dataclasses import asdict
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

NETWORK = ipaddress.IPv4Network("198.51.100.0/24")
GATEWAY = "198.51.100.1"
FIRST_HOST = 10
LAST_HOST = 250
SSH_PORT = 22

PREFIX = "ovtest"
BRIDGE = "ovtest0"
NETNS_PREFIX = "ovtest-"
VETH_PREFIX = "ovtest-v"
# Fixed MACs: a reused address keeps its MAC, so no neighbour cache goes stale.
BRIDGE_MAC = "02:6f:76:74:00:01"

STATE_DIR = Path("/run/openvault-testhosts")
# Not a possible host name, so it never collides with a host's directory.
HOLDS_DIR = STATE_DIR / "_gateway-holds"
LOCK_PATH = Path("/run/openvault-testhosts.lock")
NETNS_DIR = Path("/run/netns")
MARKER = "OPENVAULT_TESTHOST"

# Limitation: these are overlays over the live machine directories; if the
# machine changes them while a host runs (apt-get install), overlayfs does not
# say what the host sees: restart the host afterwards.
# Limitation: other top-level directories (/work, /mnt, /media) are the
# machine's own, shared and writable from inside a host.
OVERLAY_DIRS = ("etc", "var", "usr", "root", "opt", "srv")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
INSIDE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
REQUIRED_TOOLS = ("ip", "unshare", "nsenter", "setsid", "mount", "ssh-keygen")
SSHD = "/usr/sbin/sshd"

# Runs as PID 1 of the new pid namespace, then becomes sshd. /proc is still the
# machine's when the first line runs, so /proc/self gives the outer PID.
LAUNCH_SCRIPT = r"""
set -eu
S="$1"
read -r pid _ < /proc/self/stat
echo "$pid" > "$S/pid.tmp"
mv "$S/pid.tmp" "$S/pid"
hostname "$2"
for upper in "$S"/upper/*; do
    d="${upper##*/}"
    mount -t overlay "ovtest-$d" \
        -o "lowerdir=/$d,upperdir=$upper,workdir=$S/work/$d" "/$d"
done
mount --bind "$S/home" /home
mount -t proc proc /proc
mount -t sysfs sysfs /sys
if [ ! -e "$S/host-keys-made" ]; then
    rm -f /etc/ssh/ssh_host_*
    ssh-keygen -A
    : > "$S/host-keys-made"
fi
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
mkdir -m 0755 /run/sshd
mkdir -m 1777 /run/lock
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm
exec /usr/sbin/sshd -D -e -f /etc/ssh/sshd_config
"""

SSHD_CONFIG = """\
# Baseline sshd_config of test host {name}, written by tests/testhost.py.
# Tests may rewrite this file or add drop-ins, then call reload().
Include /etc/ssh/sshd_config.d/*.conf
Port {port}
ListenAddress {ip}
LogLevel VERBOSE
UsePAM yes
KbdInteractiveAuthentication no
X11Forwarding no
PrintMotd no
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
"""


class TestHostError(RuntimeError):
    """A test host could not be created, started, stopped or used."""

    __test__ = False  # not a pytest test class


class TestAddressError(ValueError):
    """An address is not one that this script may point tests at."""

    __test__ = False


@dataclass
class HostRecord:
    """What the state directory remembers about one host."""

    name: str
    ip: str
    token: str
    owner_pid: int | None = None
    owner_start: int | None = None
    created: float = 0.0

    @property
    def dir(self) -> Path:
        return STATE_DIR / self.name

    @property
    def netns(self) -> str:
        return NETNS_PREFIX + self.name

    @property
    def veth(self) -> str:
        return f"{VETH_PREFIX}{self.octet}"

    @property
    def octet(self) -> int:
        return int(self.ip.rsplit(".", 1)[1])

    @property
    def mac(self) -> str:
        return f"02:6f:76:74:00:{self.octet:02x}"

    def save(self) -> None:
        """Write the record atomically into the host's state directory."""
        tmp = self.dir / "host.json.tmp"
        tmp.write_text(json.dumps(asdict(self)) + "\n")
        tmp.replace(self.dir / "host.json")


# ---------------------------------------------------------------- helpers


def _run(
    args: Sequence[str],
    *,
    check: bool = True,
    input: bytes | None = None,
    env: dict | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess:
    """Run a command on the machine, raising TestHostError when it fails."""
    proc = subprocess.run(
        list(args), input=input, capture_output=True, env=env, timeout=timeout
    )
    if check and proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip()
        raise TestHostError(f"{shlex.join(args)} exited {proc.returncode}: {err}")
    return proc


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return _run(["ip", *args], check=check)


@contextlib.contextmanager
def _locked(timeout: float = 120) -> Iterator[None]:
    """Hold the machine-wide lock that guards addresses, names and the bridge."""
    fd = os.open(LOCK_PATH, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TestHostError(f"timed out waiting for {LOCK_PATH}") from None
                time.sleep(0.02)
        yield
    finally:
        os.close(fd)


def _records() -> dict[str, HostRecord]:
    records = {}
    if not STATE_DIR.is_dir():
        return records
    for path in sorted(STATE_DIR.glob("*/host.json")):
        try:
            records[path.parent.name] = HostRecord(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            logger.warning("ignoring unreadable host record %s", path)
    return records


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """Return a process's state letter and start time (which tells reused PIDs
    apart), or None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return fields[0], int(fields[19])


def _proc_start(pid: int) -> int | None:
    stat = _proc_stat(pid)
    return stat[1] if stat else None


def _owner_alive(owner_pid: int | None, owner_start: int | None) -> bool:
    if owner_pid is None:
        return True
    stat = _proc_stat(owner_pid)
    return stat is not None and stat[0] not in "ZX" and stat[1] == owner_start


def _all_pids() -> Iterator[int]:
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            yield int(entry.name)


def _ns_key(path: str | Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _pids_in_netns(netns: str) -> list[int]:
    """Return live processes whose network namespace is NETNS (zombies excluded)."""
    key = _ns_key(NETNS_DIR / netns)
    if key is None:
        return []
    return [pid for pid in _all_pids() if _ns_key(f"/proc/{pid}/ns/net") == key]


def _pids_with_marker(token: str | None = None) -> list[int]:
    """Return processes started by this script (all, or one host's by token)."""
    wanted = f"{MARKER}={token}".encode() if token else f"{MARKER}=".encode()
    found = []
    for pid in _all_pids():
        if pid == os.getpid():
            continue
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(v == wanted if token else v.startswith(wanted) for v in env):
            found.append(pid)
    return found


def _kill_and_wait(find, timeout: float = 10) -> None:
    """SIGKILL whatever FIND() returns, and wait until each is a zombie or gone.

    A process leaves its namespaces before its last files are closed, so an
    empty FIND() alone would not mean that its listening socket is closed.
    """
    deadline = time.monotonic() + timeout
    pending: dict[int, int] = {}
    while True:
        for pid in find():
            start = _proc_start(pid)
            if start is not None:
                pending.setdefault(pid, start)
        for pid, start in list(pending.items()):
            stat = _proc_stat(pid)
            if stat is None or stat[0] in "ZX" or stat[1] != start:
                del pending[pid]
        if not pending:
            return
        if time.monotonic() > deadline:
            raise TestHostError(f"processes {sorted(pending)} would not die")
        for pid in pending:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)


def _link_names() -> list[str]:
    out = _ip("-j", "link", "show").stdout
    return [link["ifname"] for link in json.loads(out or b"[]")]


def _netns_names() -> list[str]:
    try:
        return sorted(os.listdir(NETNS_DIR))
    except FileNotFoundError:
        return []


def _missing_tools() -> list[str]:
    missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]
    if not os.access(SSHD, os.X_OK):
        missing.append(SSHD)
    return missing


def missing_requirements() -> str | None:
    """Say why test hosts cannot run here, or return None when they can."""
    if os.geteuid() != 0:
        return "test hosts need root (network namespaces, mounts)"
    missing = _missing_tools()
    if missing:
        return "test hosts need " + ", ".join(missing) + " (openssh-server, iproute2)"
    if "overlay" not in Path("/proc/filesystems").read_text():
        return "test hosts need overlayfs in the kernel"
    return None


# ------------------------------------------------------------- addresses


def validate_host_address(ip: str) -> str:
    """Return IP normalised if it may be given to a new host, else raise."""
    try:
        addr = ipaddress.IPv4Address(str(ip))
    except ValueError:
        raise TestAddressError(f"'ip' must be an IPv4 address, got {ip!r}") from None
    if addr not in NETWORK or not FIRST_HOST <= int(addr) & 0xFF <= LAST_HOST:
        raise TestAddressError(
            f"'ip' must be in 198.51.100.{FIRST_HOST}-{LAST_HOST}"
            f" (test hosts use no other address), got '{addr}'"
        )
    return str(addr)


def check_test_address(ip: str) -> str:
    """Return IP if it is the gateway or a live test host's address, else raise."""
    try:
        addr = str(ipaddress.ip_address(str(ip)))
    except ValueError:
        raise TestAddressError(f"not an IP address: {ip!r}") from None
    if addr == GATEWAY:
        return addr
    for record in _records().values():
        if record.ip == addr and (NETNS_DIR / record.netns).exists():
            return addr
    raise TestAddressError(
        f"'{addr}' is not the address of a live test host made by testhost.py;"
        " tests may only send traffic to those and to the gateway " + GATEWAY
    )


def validate_name(name: str) -> str:
    """Return NAME if it is a usable host name, else raise ValueError."""
    if not NAME_RE.match(name):
        raise ValueError(
            f"host name must be 1-32 of a-z, 0-9 and '-', starting with a letter"
            f" or digit, got {name!r}"
        )
    return name


def _allocate(records: dict[str, HostRecord], wanted: str | None) -> str:
    used = {r.ip for r in records.values()}
    if wanted is not None:
        ip = validate_host_address(wanted)
        if ip in used:
            raise TestAddressError(f"'{ip}' is already used by another test host")
        return ip
    for octet in range(FIRST_HOST, LAST_HOST + 1):
        ip = str(NETWORK.network_address + octet)
        if ip not in used:
            return ip
    raise TestHostError("all test host addresses are in use")


# --------------------------------------------------------------- network


def _ensure_bridge(links: list[str]) -> None:
    if BRIDGE in links:
        return
    _ip("link", "add", BRIDGE, "address", BRIDGE_MAC, "type", "bridge")
    _ip("link", "set", BRIDGE, "addrgenmode", "none")
    _ip("addr", "add", f"{GATEWAY}/{NETWORK.prefixlen}", "dev", BRIDGE)
    _ip("link", "set", BRIDGE, "up")


def _create_network(record: HostRecord) -> None:
    links = _link_names()
    if record.veth in links:
        _ip("link", "del", record.veth)  # left by a crash: the address is ours now
    _ensure_bridge(links)
    _ip("netns", "add", record.netns)
    # The peer is born inside the namespace: the machine has an eth0 of its own.
    peer = ["peer", "name", "eth0", "address", record.mac, "netns", record.netns]
    _ip("link", "add", record.veth, "type", "veth", *peer)
    _ip("link", "set", record.veth, "addrgenmode", "none")
    _ip("link", "set", record.veth, "master", BRIDGE, "up")
    netns = ["-n", record.netns]
    _ip(*netns, "link", "set", "lo", "up")
    _ip(*netns, "link", "set", "eth0", "addrgenmode", "none")
    _ip(*netns, "addr", "add", f"{record.ip}/{NETWORK.prefixlen}", "dev", "eth0")
    _ip(*netns, "link", "set", "eth0", "up")


def _delete_network(netns: str, veth: str | None) -> None:
    if veth:
        _ip("link", "del", veth, check=False)
    if (NETNS_DIR / netns).exists():
        _ip("netns", "del", netns, check=False)


def _is_mount_point(path: Path) -> bool:
    # os.path.ismount misses bind mounts within one file system, like this one.
    with open("/proc/self/mountinfo") as mountinfo:
        return any(line.split()[4] == str(path) for line in mountinfo)


def _tidy_when_empty() -> None:
    """Remove the bridge, state dir and /run/netns once no host of ours is left."""
    if _records() or _holds():
        return
    if BRIDGE in _link_names():
        _ip("link", "del", BRIDGE, check=False)
    shutil.rmtree(STATE_DIR, ignore_errors=True)
    # `ip netns add` bind-mounts /run/netns; leave it only if others use it.
    try:
        in_use = bool(os.listdir(NETNS_DIR))
    except FileNotFoundError:
        return
    if not in_use:
        if _is_mount_point(NETNS_DIR):
            _run(["umount", str(NETNS_DIR)], check=False)
        with contextlib.suppress(OSError):
            NETNS_DIR.rmdir()


def _holds() -> dict[str, dict]:
    holds = {}
    for path in sorted(HOLDS_DIR.glob("*.json")):
        with contextlib.suppress(OSError, ValueError):
            holds[path.stem] = json.loads(path.read_text())
    return holds


def hold_gateway(owner_pid: int | None = None) -> str:
    """Make the gateway 198.51.100.1 exist, even with no host, until released.

    Returns a hold id for release_gateway(). With OWNER_PID, sweeps release
    the hold after that process dies.
    """
    hold_id = secrets.token_hex(8)
    with _locked():
        HOLDS_DIR.mkdir(parents=True, mode=0o700, exist_ok=True)
        hold = {"owner_pid": owner_pid, "owner_start": None}
        if owner_pid is not None:
            hold["owner_start"] = _proc_start(owner_pid)
        (HOLDS_DIR / f"{hold_id}.json").write_text(json.dumps(hold) + "\n")
        _ensure_bridge(_link_names())
    return hold_id


def release_gateway(hold_id: str) -> None:
    """Drop a hold from hold_gateway(); the bridge goes once nothing needs it."""
    with _locked():
        with contextlib.suppress(FileNotFoundError):
            (HOLDS_DIR / f"{hold_id}.json").unlink()
        _tidy_when_empty()


# ---------------------------------------------------------- file system


def _sshd_version() -> tuple[int, int]:
    out = _run([SSHD, "-V"], check=False).stderr.decode()
    match = re.search(r"OpenSSH_(\d+)\.(\d+)", out)
    return (int(match[1]), int(match[2])) if match else (0, 0)


def _mkdir_like(path: Path, model: Path | None, mode: int = 0o755) -> None:
    path.mkdir(parents=True, exist_ok=True)
    if model is not None:
        st = model.stat()
        os.chown(path, st.st_uid, st.st_gid)
        os.chmod(path, st.st_mode & 0o7777)
    else:
        os.chmod(path, mode)


def _prepare_files(record: HostRecord) -> None:
    """Lay out the upper layers and the baseline /etc before the first start."""
    for name in OVERLAY_DIRS:
        lower = Path("/") / name
        if lower.is_dir() and not lower.is_symlink():
            _mkdir_like(record.dir / "upper" / name, lower)
            (record.dir / "work" / name).mkdir(parents=True, exist_ok=True)
    _mkdir_like(record.dir / "home", None, 0o755)

    # Written before the overlay is ever mounted, which overlayfs allows.
    etc = record.dir / "upper" / "etc"
    (etc / "hostname").write_text(record.name + "\n")
    (etc / "hosts").write_text(
        f"127.0.0.1\tlocalhost\n::1\tlocalhost\n{record.ip}\t{record.name}\n"
    )
    # No name server: lookups fail at once instead of trying any address.
    (etc / "resolv.conf").write_text("# test host: no DNS\n")
    ssh = etc / "ssh"
    _mkdir_like(ssh, Path("/etc/ssh"))
    config = SSHD_CONFIG.format(name=record.name, ip=record.ip, port=SSH_PORT)
    if _sshd_version() >= (9, 8):
        # Tests make many failed logins from the gateway on purpose.
        config += "PerSourcePenalties no\n"
    (ssh / "sshd_config").write_text(config)
    dropins = ssh / "sshd_config.d"
    _mkdir_like(dropins, None, 0o755)
    # Opaque: the machine's drop-ins do not leak into the host's sshd.
    os.setxattr(dropins, "trusted.overlay.opaque", b"y")


# ------------------------------------------------------------------ host


class TestHost:
    """One test host: a real sshd in its own network, mount and pid namespaces."""

    __test__ = False  # not a pytest test class

    def __init__(self, record: HostRecord) -> None:
        self._record = record

    def __repr__(self) -> str:
        return f"TestHost({self.name!r}, ip={self.ip!r})"

    # -- lifecycle

    @classmethod
    def create(
        cls, name: str, *, ip: str | None = None, owner_pid: int | None = None
    ) -> TestHost:
        """Create and start host NAME; with OWNER_PID, sweeps remove it after that
        process dies."""
        validate_name(name)
        with _locked():
            records = _records()
            if name in records:
                raise TestHostError(f"test host {name!r} already exists")
            record = HostRecord(
                name=name,
                ip=_allocate(records, ip),
                token=f"{name}:{secrets.token_hex(8)}",
                owner_pid=owner_pid,
                owner_start=_proc_start(owner_pid) if owner_pid else None,
                created=time.time(),
            )
            if record.netns in _netns_names():
                _kill_and_wait(lambda: _pids_in_netns(record.netns))
                _delete_network(record.netns, None)  # left by a crash
            STATE_DIR.mkdir(mode=0o700, exist_ok=True)
            record.dir.mkdir(mode=0o700)
            record.save()
            host = cls(record)
            try:
                _create_network(record)
            except BaseException:
                host._destroy_locked()
                raise
        try:
            _prepare_files(record)
            host.start()
        except BaseException:
            host.destroy()
            raise
        logger.info("test host %s up at %s", name, record.ip)
        return host

    @classmethod
    def get(cls, name: str) -> TestHost:
        """Return the existing host NAME."""
        record = _records().get(name)
        if record is None:
            raise TestHostError(f"no test host named {name!r}")
        return cls(record)

    @classmethod
    def all(cls) -> list[TestHost]:
        """Return every host in the state directory."""
        return [cls(record) for record in _records().values()]

    def start(self, timeout: float = 30) -> None:
        """Start sshd (after create or stop) and wait until it answers."""
        if not self._is_current():
            raise TestHostError(f"test host {self.name} was destroyed")
        if self.pid is not None:
            return
        with contextlib.suppress(FileNotFoundError):
            (self.dir / "pid").unlink()
        env = {"PATH": INSIDE_PATH, "LANG": "C.UTF-8", MARKER: self.token}
        # setsid -f: the launcher is nobody's child here, so no zombie is left
        # in the calling process (pytest) when the host is stopped elsewhere.
        launcher = ["setsid", "-f", "nsenter", f"--net={NETNS_DIR / self.netns}"]
        launcher += ["--", "unshare", "--mount", "--uts", "--ipc", "--pid"]
        launcher += ["--fork", "--propagation", "private", "--", "/bin/sh", "-c"]
        launcher += [LAUNCH_SCRIPT, "sh", str(self.dir), self.name]
        with open(self.log_path, "ab") as log:
            subprocess.run(
                launcher,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=env,
                check=True,
                start_new_session=True,
            )
        self._wait_started(timeout)

    def _wait_started(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid_known = (self.dir / "pid").exists()
            if pid_known and self.pid is None:
                break  # PID 1 wrote its pid and died: see the log
            if pid_known and self._answers():
                return
            time.sleep(0.02)
        tail = self.sshd_log()[-2000:]
        self.stop()
        raise TestHostError(f"sshd of test host {self.name} did not start:\n{tail}")

    def stop(self) -> None:
        """Kill sshd and everything in the host; network, address and files stay."""
        if not self._is_current():
            raise TestHostError(f"test host {self.name} was destroyed")
        _kill_and_wait(self._processes)
        with contextlib.suppress(FileNotFoundError):
            (self.dir / "pid").unlink()

    def restart(self) -> None:
        """Stop and start again, like a reboot."""
        self.stop()
        self.start()

    def reload(self, timeout: float = 15) -> None:
        """Send SIGHUP so sshd rereads its config, and wait until it listens."""
        pid = self._require_pid()
        before = self.sshd_log().count("Server listening on")
        os.kill(pid, signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pid is None:
                raise TestHostError(
                    f"sshd of {self.name} died on reload:\n{self.sshd_log()[-2000:]}"
                )
            if self.sshd_log().count("Server listening on") > before:
                return
            time.sleep(0.02)
        raise TestHostError(f"sshd of {self.name} did not come back after reload")

    def destroy(self) -> None:
        """Stop the host and remove its namespace, veth and state; idempotent."""
        if self._is_current():
            _kill_and_wait(self._processes)  # the slow part, outside the lock
        with _locked():
            self._destroy_locked()
        logger.info("test host %s destroyed", self.name)

    def _destroy_locked(self) -> None:
        # Once gone, its address and veth name may already be another host's.
        if not self._is_current():
            return
        _kill_and_wait(self._processes)
        _delete_network(self.netns, self.veth)
        shutil.rmtree(self.dir, ignore_errors=True)
        _tidy_when_empty()

    def _is_current(self) -> bool:
        """Say whether this object's host still exists (not destroyed or renewed)."""
        try:
            record = json.loads((self.dir / "host.json").read_text())
        except (OSError, ValueError):
            return False
        return record.get("token") == self.token

    def _processes(self) -> list[int]:
        return sorted(set(_pids_in_netns(self.netns) + _pids_with_marker(self.token)))

    # -- facts

    @property
    def name(self) -> str:
        return self._record.name

    @property
    def ip(self) -> str:
        """The host's address, as allocated by this script (never chosen freely)."""
        return self._record.ip

    @property
    def port(self) -> int:
        return SSH_PORT

    @property
    def token(self) -> str:
        return self._record.token

    @property
    def netns(self) -> str:
        return self._record.netns

    @property
    def veth(self) -> str:
        return self._record.veth

    @property
    def dir(self) -> Path:
        """The host's state directory on the machine."""
        return self._record.dir

    @property
    def log_path(self) -> Path:
        return self.dir / "sshd.log"

    @property
    def owner_pid(self) -> int | None:
        return self._record.owner_pid

    @property
    def pid(self) -> int | None:
        """The machine PID of the host's sshd (its PID 1), or None when stopped."""
        try:
            pid = int((self.dir / "pid").read_text())
        except (OSError, ValueError):
            return None
        if not self._is_current():
            return None
        netns = _ns_key(NETNS_DIR / self.netns)
        if netns is None or _ns_key(f"/proc/{pid}/ns/net") != netns:
            return None
        return pid

    @property
    def running(self) -> bool:
        return self.pid is not None

    def info(self) -> dict:
        """Return the host's facts as printed by `up` and `list`."""
        return {
            "name": self.name,
            "ip": self.ip,
            "port": self.port,
            "pid": self.pid,
            "running": self.pid is not None,
            "root": str(self.dir),
            "netns": self.netns,
            "log": str(self.log_path),
            "owner_pid": self.owner_pid,
        }

    def sshd_log(self) -> str:
        """Return sshd's log so far (all starts of this host)."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def _answers(self) -> bool:
        try:
            with socket.create_connection((self.ip, self.port), timeout=1) as sock:
                return sock.recv(4).startswith(b"SSH-")
        except OSError:
            return False

    def wait_ssh(self, timeout: float = 20) -> None:
        """Wait until sshd sends its banner on the host's address."""
        deadline = time.monotonic() + timeout
        while not self._answers():
            if time.monotonic() > deadline:
                raise TestHostError(f"sshd of {self.name} is not answering")
            time.sleep(0.05)

    def _require_pid(self) -> int:
        pid = self.pid
        if pid is None:
            raise TestHostError(f"test host {self.name} is stopped")
        return pid

    # -- inside

    def command(
        self, cmd: Sequence[str], env: dict | None = None, user: str | None = None
    ) -> list[str]:
        """Return the argv that runs CMD inside the host, as root or USER."""
        inside = {"PATH": INSIDE_PATH, "HOME": "/root", "LANG": "C.UTF-8"}
        inside.update(env or {})
        argv = ["nsenter", "-t", str(self._require_pid())]
        argv += ["-m", "-u", "-i", "-n", "-p", "--wd=/", "--"]
        argv += ["env", "-i", *(f"{k}={v}" for k, v in inside.items())]
        if user is not None:
            argv += ["runuser", "-u", user, "--"]
        return argv + list(cmd)

    def run(
        self,
        cmd: str | Sequence[str],
        *,
        input: str | bytes | None = None,
        check: bool = True,
        timeout: float = 60,
        env: dict | None = None,
        user: str | None = None,
    ) -> subprocess.CompletedProcess:
        """Run CMD inside the host (a string goes to /bin/sh -c) and return text.

        Raises TestHostError on a non-zero exit unless CHECK is false.
        """
        if isinstance(cmd, str):
            cmd = ["/bin/sh", "-c", cmd]
        if isinstance(input, str):
            input = input.encode()
        proc = self._exec(cmd, input=input, timeout=timeout, env=env, user=user)
        result = subprocess.CompletedProcess(
            list(cmd),
            proc.returncode,
            proc.stdout.decode(errors="replace"),
            proc.stderr.decode(errors="replace"),
        )
        if check and proc.returncode != 0:
            raise TestHostError(
                f"{shlex.join(cmd)} on {self.name} exited {proc.returncode}:"
                f" {result.stderr.strip()}"
            )
        return result

    def _exec(
        self,
        cmd: Sequence[str],
        *,
        input: bytes | None = None,
        timeout: float = 60,
        env: dict | None = None,
        user: str | None = None,
    ) -> subprocess.CompletedProcess:
        outer = {"PATH": os.environ.get("PATH", INSIDE_PATH), MARKER: self.token}
        return subprocess.run(
            self.command(cmd, env=env, user=user),
            input=input,
            capture_output=True,
            env=outer,
            timeout=timeout,
        )

    def read_file(self, path: str) -> bytes:
        """Return the bytes of PATH as seen inside the host."""
        proc = self._exec(["cat", "--", path])
        if proc.returncode != 0:
            err = proc.stderr.decode(errors="replace").strip()
            raise TestHostError(f"cannot read {path} on {self.name}: {err}")
        return proc.stdout

    def read_text(self, path: str) -> str:
        """Return PATH inside the host as text."""
        return self.read_file(path).decode()

    def exists(self, path: str) -> bool:
        """Say whether PATH exists inside the host."""
        return self.run(["test", "-e", path], check=False).returncode == 0

    def write_file(
        self,
        path: str,
        content: str | bytes,
        *,
        owner: str = "root",
        group: str | None = None,
        mode: int = 0o644,
        parents: bool = False,
    ) -> None:
        """Write PATH inside the host atomically, with owner, group and mode.

        Owner and group are names inside the host. With PARENTS, missing
        directories are made as root, mode 0755.
        """
        script = (
            'set -e; [ -z "$5" ] || mkdir -p "$(dirname "$1")";'
            ' t=$(mktemp "$(dirname "$1")/.testhost.XXXXXX");'
            ' cat > "$t"; chown "$2:$3" "$t"; chmod "$4" "$t"; mv -f "$t" "$1"'
        )
        if isinstance(content, str):
            content = content.encode()
        group = group or self._primary_group(owner)
        args = [path, owner, group, f"{mode:o}", "1" if parents else ""]
        self.run(["/bin/sh", "-c", script, "sh", *args], input=content)

    def make_dir(
        self,
        path: str,
        *,
        owner: str = "root",
        group: str | None = None,
        mode: int = 0o755,
    ) -> None:
        """Make directory PATH (and missing parents) inside the host."""
        group = group or self._primary_group(owner)
        self.run(["install", "-d", "-o", owner, "-g", group, "-m", f"{mode:o}", path])

    def remove(self, path: str) -> None:
        """Remove PATH (a file or a tree) inside the host; missing is fine."""
        self.run(["rm", "-rf", "--", path])

    def _primary_group(self, user: str) -> str:
        if user == "root":
            return "root"
        return self.run(["id", "-gn", user]).stdout.strip()

    def add_user(
        self,
        name: str,
        *,
        password: str | None = None,
        sudo: bool = False,
        shell: str = "/bin/bash",
        uid: int | None = None,
        groups: Sequence[str] = (),
    ) -> None:
        """Create user NAME inside the host, with a home in the host's /home.

        PASSWORD sets a login password; SUDO grants passwordless sudo through
        /etc/sudoers.d/NAME.
        """
        # -l: leave lastlog/faillog alone.
        cmd = ["useradd", "--create-home", "-l", "--user-group", "--shell", shell]
        if uid is not None:
            cmd += ["--uid", str(uid)]
        if groups:
            cmd += ["--groups", ",".join(groups)]
        self.run([*cmd, "--", name])
        if password is not None:
            self.run(["chpasswd"], input=f"{name}:{password}\n")
        if sudo:
            rule = f"{name} ALL=(ALL:ALL) NOPASSWD: ALL\n"
            self.write_file(f"/etc/sudoers.d/{name}", rule, mode=0o440)

    def home(self, user: str) -> str:
        """Return USER's home directory inside the host."""
        entry = self.run(["getent", "passwd", user]).stdout.strip()
        return entry.split(":")[5]

    def authorize_key(self, user: str, public_key: str) -> None:
        """Add PUBLIC_KEY to USER's ~/.ssh/authorized_keys (mode 0700/0600)."""
        ssh_dir = self.home(user) + "/.ssh"
        keys_path = ssh_dir + "/authorized_keys"
        self.make_dir(ssh_dir, owner=user, mode=0o700)
        current = self.read_text(keys_path) if self.exists(keys_path) else ""
        if current and not current.endswith("\n"):
            current += "\n"
        new = current + public_key.strip() + "\n"
        self.write_file(keys_path, new, owner=user, mode=0o600)

    def host_keys(self) -> list[str]:
        """Return known_hosts lines ("IP TYPE KEY") for the host's sshd keys."""
        lines = []
        for kind in ("ed25519", "ecdsa", "rsa"):
            path = f"/etc/ssh/ssh_host_{kind}_key.pub"
            if self.exists(path):
                key_type, key = self.read_text(path).split()[:2]
                lines.append(f"{self.ip} {key_type} {key}")
        return lines

    def ssh_args(self, user: str, identity: str | os.PathLike | None = None) -> list:
        """Return an ssh client argv (without the remote command) for USER.

        Host keys are not checked and no machine ssh config is read.
        """
        argv = ["ssh", "-F", "/dev/null", "-p", str(self.port)]
        if identity is not None:
            argv += ["-i", str(identity), "-o", "IdentitiesOnly=yes"]
        for option in (
            "StrictHostKeyChecking=no",
            "UserKnownHostsFile=/dev/null",
            "BatchMode=yes",
            "ConnectTimeout=10",
            "LogLevel=ERROR",
        ):
            argv += ["-o", option]
        return argv + [f"{user}@{check_test_address(self.ip)}"]


# ------------------------------------------------------------- sweeping


def destroy_owned(pid: int) -> list[str]:
    """Destroy the hosts and drop the gateway holds of owner PID; return names."""
    names = []
    for host in TestHost.all():
        if host.owner_pid == pid:
            host.destroy()
            names.append(host.name)
    for hold_id, hold in _holds().items():
        if hold.get("owner_pid") == pid:
            release_gateway(hold_id)
            names.append(f"gateway hold {hold_id}")
    return names


def sweep_stale() -> list[str]:
    """Destroy hosts whose owner died, and our namespaces and veths without a host.

    Hosts made from the shell (no owner) and hosts of live processes stay.
    """
    swept = []
    with _locked():
        records = _records()
        for record in records.values():
            if not _owner_alive(record.owner_pid, record.owner_start):
                TestHost(record)._destroy_locked()
                swept.append(record.name)
        records = _records()
        for netns in _netns_names():
            if (
                netns.startswith(NETNS_PREFIX)
                and netns[len(NETNS_PREFIX) :] not in records
            ):
                _kill_and_wait(lambda ns=netns: _pids_in_netns(ns))
                _delete_network(netns, None)
                swept.append(netns)
        for hold_id, hold in _holds().items():
            if not _owner_alive(hold.get("owner_pid"), hold.get("owner_start")):
                (HOLDS_DIR / f"{hold_id}.json").unlink()
                swept.append(f"gateway hold {hold_id}")
        veths = {r.veth for r in records.values()}
        for link in _link_names():
            if link.startswith(VETH_PREFIX) and link.split("@")[0] not in veths:
                _ip("link", "del", link.split("@")[0], check=False)
                swept.append(link)
        _tidy_when_empty()
    if swept:
        logger.info("swept stale test hosts: %s", ", ".join(swept))
    return swept


def destroy_all() -> None:
    """Remove every host, process, namespace, link and state dir of this script."""
    with _locked():
        for record in _records().values():
            TestHost(record)._destroy_locked()
        for netns in _netns_names():
            if netns.startswith(NETNS_PREFIX):
                _kill_and_wait(lambda ns=netns: _pids_in_netns(ns))
                _delete_network(netns, None)
        _kill_and_wait(_pids_with_marker)
        for link in _link_names():
            name = link.split("@")[0]
            if name.startswith(PREFIX) and name != BRIDGE:
                _ip("link", "del", name, check=False)
        shutil.rmtree(STATE_DIR, ignore_errors=True)
        _tidy_when_empty()


# ------------------------------------------------------------------- CLI


def _cmd_up(args: argparse.Namespace) -> int:
    host = TestHost.create(args.name, ip=args.ip)
    print(json.dumps(host.info()))
    return 0


def _cmd_down(args: argparse.Namespace) -> int:
    if args.all:
        destroy_all()
        return 0
    if args.name is None:
        raise ValueError("down needs NAME or --all")
    validate_name(args.name)
    records = _records()
    if args.name in records:
        TestHost(records[args.name]).destroy()
    else:
        print(f"testhost: no host named {args.name!r}", file=sys.stderr)
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    for host in TestHost.all():
        print(json.dumps(host.info()))
    return 0


def _cmd_exec(args: argparse.Namespace) -> int:
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    host = TestHost.get(args.name)
    env = {"TERM": os.environ.get("TERM", "dumb")}
    argv = host.command(cmd or ["/bin/bash", "-l"], env=env)
    os.execvpe(argv[0], argv, {**os.environ, MARKER: host.token})
    return 1  # not reached


def _cmd_ssh_ready(args: argparse.Namespace) -> int:
    TestHost.get(args.name).wait_ssh(args.timeout)
    return 0


def _cmd_stop(args: argparse.Namespace) -> int:
    TestHost.get(args.name).stop()
    return 0


def _cmd_start(args: argparse.Namespace) -> int:
    host = TestHost.get(args.name)
    host.start()
    print(json.dumps(host.info()))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="testhost.py",
        description="Create and destroy sshd test hosts in network namespaces.",
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="create and start a host, print it as JSON")
    up.add_argument("name")
    up.add_argument("--ip", help="address in 198.51.100.10-250 (default: next free)")
    up.set_defaults(func=_cmd_up)

    down = sub.add_parser("down", help="destroy a host, or all with --all")
    down.add_argument("name", nargs="?")
    down.add_argument("--all", action="store_true", help="everything of ours")
    down.set_defaults(func=_cmd_down)

    sub.add_parser("list", help="print one JSON line per host").set_defaults(
        func=_cmd_list
    )

    run = sub.add_parser("exec", help="run a command inside a host as root")
    run.add_argument("name")
    run.add_argument("cmd", nargs=argparse.REMAINDER)
    run.set_defaults(func=_cmd_exec)

    ready = sub.add_parser("ssh-ready", help="wait until a host's sshd answers")
    ready.add_argument("name")
    ready.add_argument("--timeout", type=float, default=20)
    ready.set_defaults(func=_cmd_ssh_ready)

    for verb, func in (("stop", _cmd_stop), ("start", _cmd_start)):
        cmd = sub.add_parser(verb, help=f"{verb} a host's sshd, keeping its state")
        cmd.add_argument("name")
        cmd.set_defaults(func=func)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="testhost: %(message)s",
    )
    reason = missing_requirements()
    if reason:
        print(f"testhost: {reason}", file=sys.stderr)
        return 1
    try:
        return args.func(args)
    except ValueError as exc:  # TestAddressError and bad names
        print(f"testhost: {exc}", file=sys.stderr)
        return 2
    except TestHostError as exc:
        print(f"testhost: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
