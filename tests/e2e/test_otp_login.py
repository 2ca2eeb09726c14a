"""End to end: `openvault ssh` logs in with an OTP, as a user meets it.

One test host is set up exactly as docs/otp-helper.md says, with our server
on the hosts' gateway 198.51.100.1 over HTTPS (a CA made here). A second
host is only a neighbour on the same /24 whose address OTPs are issued for.
The tests share that host and server and run in file order on one worker;
the last one tears everything down and checks that nothing is left.
"""

import collections
import concurrent.futures
import contextlib
import dataclasses
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from openvault.ssh_helper import TIMEOUT_SECONDS
from support.hosts import unique_name
from support.otp_host import CONFIG
from support.otp_host import CONFIG_DIR
from support.otp_host import HELPER_LOG
from support.otp_host import install_by_the_guide
from support.otp_host import make_pki
from support.otp_host import ssh_password
from support.server import RunningServer
from testhost import NETNS_DIR
from testhost import TestHost
from testhost import missing_requirements

pytestmark = [
    pytest.mark.root,
    pytest.mark.xdist_group("e2e-otp-login"),
    pytest.mark.skipif(
        os.geteuid() != 0, reason="needs root: test hosts are network namespaces"
    ),
]

OPENVAULT = Path(sys.executable).parent / "openvault"
ROLE = "otp_key_role"
HOST_KEY_FLAGS = ("-strict-host-key-checking=no", "-user-known-hosts-file=/dev/null")
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

# Runs as a session leader on the new terminal: opening it makes it the
# controlling terminal, so ssh can prompt on /dev/tty as for a person.
ATTACH_TTY = "import os,sys; os.close(os.open(sys.argv[1], os.O_RDWR)); " + (
    "os.execv(sys.argv[2], sys.argv[2:])"
)


@dataclasses.dataclass
class World:
    """The host, its neighbour, the server, and what the tests did to them."""

    host: TestHost
    neighbour: TestHost
    server: RunningServer
    pki: object
    tmp: Path
    stack: contextlib.ExitStack
    # Every OTP a test saw in clear, to check that no log holds one.
    otps: list = dataclasses.field(default_factory=list)
    # (username, ip, result) of every verify the helper made.
    verifies: list = dataclasses.field(default_factory=list)

    def close(self):
        """Stop the server and destroy both hosts (again is harmless)."""
        self.stack.close()

    def openvault(self, *args, timeout=60):
        """Run the openvault executable with the server's VAULT_* settings."""
        env = self.server.env()
        env["HOME"] = str(self.tmp / "home")
        return subprocess.run(
            [str(OPENVAULT), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def issue(self, target, role=ROLE):
        """Get an OTP with `openvault ssh -no-exec -field=key`."""
        shown = self.openvault("ssh", "-role", role, "-no-exec", "-field=key", target)
        assert shown.returncode == 0, shown.stderr
        otp = shown.stdout.strip()
        assert UUID_RE.fullmatch(otp), "the credential printed is not an OTP"
        self.otps.append(otp)
        return otp

    def helper_log(self):
        """Return the helper's pam_exec log on the host so far."""
        return self.host.read_text(HELPER_LOG) if self.host.exists(HELPER_LOG) else ""

    def mark(self):
        """Remember how long the logs are, to read what comes after."""
        return len(self.host.sshd_log()), len(self.helper_log())

    def since(self, mark, sshd_says=None):
        """Return (sshd log, helper log) written after mark.

        With sshd_says, first wait until the sshd part holds it: sshd logs a
        failed login after the client has gone.
        """
        deadline = time.monotonic() + 10
        while sshd_says and sshd_says not in self.host.sshd_log()[mark[0] :]:
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        return self.host.sshd_log()[mark[0] :], self.helper_log()[mark[1] :]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A host set up by the guide, a neighbour, and our server over HTTPS."""
    reason = missing_requirements()
    if reason:
        pytest.skip(reason)
    if shutil.which("sshpass") is None:
        pytest.skip("the end-to-end OTP logins need sshpass")

    tmp = tmp_path_factory.mktemp("e2e-otp")
    (tmp / "pki").mkdir()
    (tmp / "home").mkdir()
    pki = make_pki(tmp / "pki")
    stack = contextlib.ExitStack()
    try:
        host, neighbour = create_hosts(stack, "otp-e2e", "otp-e2e-nb")
        # The server needs the gateway address, which comes with the first host.
        server = RunningServer(
            tmp / "server",
            listen="198.51.100.1:0",
            tls=(pki.server_cert, pki.server_key),
            ca_file=pki.ca_cert,
        )
        stack.callback(server.stop)
        server.start()
        world = World(host, neighbour, server, pki, tmp, stack)
        set_up(world)
        yield world
    finally:
        stack.close()


def create_hosts(stack, *hints):
    """Create test hosts side by side (each spends seconds making host keys)."""
    with concurrent.futures.ThreadPoolExecutor(len(hints)) as pool:
        futures = [
            pool.submit(TestHost.create, unique_name(hint), owner_pid=os.getpid())
            for hint in hints
        ]
    for future in futures:
        if future.exception() is None:
            stack.callback(future.result().destroy)
    return [future.result() for future in futures]


def set_up(world):
    """Roles on the server, users and the helper on the host."""
    host, neighbour, server = world.host, world.neighbour, world.server
    server.mount_ssh()
    roles = {
        # Both hosts.
        ROLE: f"{host.ip}/32,{neighbour.ip}/32",
        # A second role for the neighbour, so that two roles match it.
        "otp_neighbour": f"{neighbour.ip}/32",
        # Loopback, which every host has.
        "otp_loopback": "127.0.0.1/32",
    }
    for name, cidrs in roles.items():
        role = {
            "key_type": "otp",
            "default_user": "alice",
            "allowed_users": "bob",  # alice by default, bob on request
            "cidr_list": cidrs,
        }
        reply = server.request("POST", f"ssh/roles/{name}", role)
        assert reply.status in (200, 204), reply.text

    for user in ("alice", "bob"):
        host.add_user(user, password=f"unix-{os.urandom(8).hex()}")
    install_by_the_guide(
        host,
        server.addr,
        world.pki.ca_cert.read_bytes(),
        allowed_roles=f"{ROLE}, otp_loopback",
    )


def run_in_pty(argv, env, answer, timeout=60):
    """Run argv on a new terminal; answer(output) gives text to type, once.

    Returns the exit code and everything the terminal showed.
    """
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", ATTACH_TTY, os.ttyname(slave), *argv],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
        )
    finally:
        os.close(slave)

    shown, typed = b"", False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if not ready:
                continue
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break  # EIO: every program on the terminal has closed it
            if not chunk:
                break
            shown += chunk
            if not typed:
                text = answer(shown.decode(errors="replace"))
                if text is not None:
                    os.write(master, text.encode())
                    typed = True
        else:
            raise AssertionError(f"no end after {timeout} s: {shown[-500:]!r}")
        return proc.wait(timeout=10), shown.decode(errors="replace")
    finally:
        os.close(master)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # openvault and its ssh
            proc.wait()


# --- (a) openvault ssh logs in --------------------------------------------


def test_otp_login_openvault_ssh_with_role_runs_a_command(world):
    host = world.host
    mark = world.mark()

    result = world.openvault(
        "ssh", "-role", ROLE, *HOST_KEY_FLAGS, f"alice@{host.ip}", "id", "-un"
    )
    world.verifies.append(("alice", host.ip, "success"))

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "alice"
    sshd, helper = world.since(mark)
    assert "Accepted keyboard-interactive/pam for alice from 198.51.100.1" in sshd
    assert f"login allowed: user=alice rhost=198.51.100.1 ip={host.ip}" in helper
    assert f"role={ROLE}" in helper
    # Over HTTPS, checked against the CA the guide installs.
    assert world.server.addr.startswith("https://198.51.100.1:")
    assert f'ca_cert = "{CONFIG_DIR}/ca.pem"' in host.read_text(CONFIG)


def test_otp_login_without_role_uses_the_one_matching_role(world):
    host = world.host

    result = world.openvault("ssh", *HOST_KEY_FLAGS, f"alice@{host.ip}", "id -un")
    world.verifies.append(("alice", host.ip, "success"))

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "alice"
    assert f"using role '{ROLE}'" in result.stderr


def test_otp_login_without_role_lists_the_roles_when_two_match(world):
    neighbour = world.neighbour
    before = len(neighbour.sshd_log())

    result = world.openvault("ssh", *HOST_KEY_FLAGS, f"alice@{neighbour.ip}", "id")

    assert result.returncode == 1
    assert result.stdout == ""
    assert f"roles matching IP '{neighbour.ip}': {ROLE}, otp_neighbour" in (
        result.stderr
    )
    assert "Select one with -role" in result.stderr
    assert "Connection from" not in neighbour.sshd_log()[before:], "no login tried"


def test_otp_login_without_sshpass_prints_the_otp_and_ssh_prompts(world):
    host = world.host
    no_sshpass = world.tmp / "bin-without-sshpass"
    no_sshpass.mkdir(exist_ok=True)
    with contextlib.suppress(FileExistsError):
        (no_sshpass / "ssh").symlink_to(shutil.which("ssh"))
    env = world.server.env()
    env.update(HOME=str(world.tmp / "home"), PATH=str(no_sshpass), TERM="dumb")
    seen = []

    def type_the_otp(shown):
        found = re.search(r"OTP for the session is: (\S+)", shown)
        if found and re.search(r"Password: ?$", shown):
            seen.append(found.group(1))
            return found.group(1) + "\n"
        return None

    # The original docs' example: vault ssh -role otp_key_role -mode otp ...
    argv = [str(OPENVAULT), "ssh", "-role", ROLE, "-mode", "otp", *HOST_KEY_FLAGS]
    code, shown = run_in_pty(argv + [f"alice@{host.ip}", "id -un"], env, type_the_otp)
    world.otps.extend(seen)
    world.verifies.append(("alice", host.ip, "success"))

    assert code == 0, shown
    assert seen and UUID_RE.fullmatch(seen[0]), shown
    note = "[Note: Install 'sshpass' to automate typing in OTP]"
    order = [shown.find(text) for text in ("OTP for the session is", note, "Password:")]
    assert -1 < order[0] < order[1] < order[2], shown
    assert re.search(r"^alice\r?$", shown, re.M), shown


# --- (b) an OTP works once ------------------------------------------------


def test_otp_login_the_same_otp_twice_is_refused(world):
    host = world.host
    otp = world.issue(f"alice@{host.ip}")
    mark = world.mark()

    first = ssh_password(host, otp)
    again = ssh_password(host, otp)
    world.verifies += [("alice", host.ip, "success"), ("alice", host.ip, "failure")]

    assert (first.returncode, first.stdout.strip()) == (0, "alice"), first.stderr
    assert again.returncode == 255
    failed = "Failed keyboard-interactive/pam for alice from 198.51.100.1"
    sshd, helper = world.since(mark, sshd_says=failed)
    assert sshd.count("Accepted keyboard-interactive/pam for alice") == 1
    # The helper's exit 1 is pam_exec's PAM_SYSTEM_ERR, which ends the stack.
    assert "PAM: System error for alice from 198.51.100.1" in sshd
    assert failed in sshd
    assert (
        "login denied: user=alice rhost=198.51.100.1 ip=- role=- "
        'reason="the server refused the OTP (400: OTP not found)"'
    ) in helper


# --- (c) an OTP for another IP or user ------------------------------------


@pytest.mark.parametrize(
    ("target", "role", "reason"),
    [
        # The neighbour on the same /24 (CVE-2020-24359).
        ("alice@{neighbour}", ROLE, "IP did not match any of the network interface"),
        ("bob@{host}", ROLE, "username mismatch"),
        # The host's lo has 127.0.0.1, but loopback does not count as its own.
        ("alice@127.0.0.1", "otp_loopback", "IP is a loopback address"),
    ],
    ids=["other-host-ip", "other-user", "loopback-ip"],
)
def test_otp_login_otp_for_another_ip_or_user_is_refused(world, target, role, reason):
    host = world.host
    target = target.format(host=host.ip, neighbour=world.neighbour.ip)
    user, ip = target.split("@")
    otp = world.issue(target, role=role)
    mark = world.mark()

    result = ssh_password(host, otp, user="alice")
    world.verifies.append((user, ip, "success"))  # the server said yes

    assert result.returncode == 255
    failed = "Failed keyboard-interactive/pam for alice from 198.51.100.1"
    sshd, helper = world.since(mark, sshd_says=failed)
    assert "PAM: System error for alice from 198.51.100.1" in sshd
    assert failed in sshd
    assert "Accepted" not in sshd
    assert f"login denied: user=alice rhost=198.51.100.1 ip={ip} role={role}" in (
        helper
    )
    assert reason in helper


# --- (d) the server down: fail closed, then back --------------------------


def test_otp_login_server_stopped_is_refused_then_works_again(world):
    host, server = world.host, world.server
    otp = world.issue(f"alice@{host.ip}")
    server.stop()
    try:
        mark = world.mark()
        started = time.monotonic()
        refused = ssh_password(host, otp)
        elapsed = time.monotonic() - started
        _sshd, helper = world.since(mark)
    finally:
        server.start()

    back = ssh_password(host, otp)  # never reached the server, so still live
    world.verifies.append(("alice", host.ip, "success"))

    assert refused.returncode == 255
    assert elapsed < 5, f"a stopped server took {elapsed:.1f} s to refuse"
    assert f"cannot reach the server at {server.addr}" in helper
    assert "Connection refused" in helper
    assert (back.returncode, back.stdout.strip()) == (0, "alice"), back.stderr


@pytest.mark.slow  # waits out the helper's timeout
def test_otp_login_hung_server_is_refused_at_the_helper_timeout(world):
    host, server = world.host, world.server
    otp = world.issue(f"alice@{host.ip}")
    group = os.getpgid(server.process.pid)
    os.killpg(group, signal.SIGSTOP)
    try:
        mark = world.mark()
        started = time.monotonic()
        refused = ssh_password(host, otp)
        elapsed = time.monotonic() - started
        _sshd, helper = world.since(mark)
    finally:
        os.killpg(group, signal.SIGCONT)

    assert refused.returncode == 255
    assert TIMEOUT_SECONDS - 1 < elapsed < TIMEOUT_SECONDS + 5, elapsed
    assert f"timed out after {TIMEOUT_SECONDS:g} s" in helper
    assert "login denied: user=alice" in helper


# --- (e) TLS: the right CA works (above), a wrong one is refused ----------


def test_otp_login_wrong_ca_in_the_helper_config_is_refused(world):
    host = world.host
    config = host.read_text(CONFIG)
    right, wrong = f"{CONFIG_DIR}/ca.pem", f"{CONFIG_DIR}/other-ca.pem"
    host.write_file(wrong, world.pki.other_ca_cert.read_bytes())
    otp = world.issue(f"alice@{host.ip}")
    host.write_file(CONFIG, config.replace(right, wrong))
    try:
        mark = world.mark()
        refused = ssh_password(host, otp)
        _sshd, helper = world.since(mark)
    finally:
        host.write_file(CONFIG, config)

    back = ssh_password(host, otp)  # refused before it was sent, so still live
    world.verifies.append(("alice", host.ip, "success"))

    assert refused.returncode == 255
    assert "TLS certificate check failed" in helper
    assert (back.returncode, back.stdout.strip()) == (0, "alice"), back.stderr


# --- (f) the audit file and the logs --------------------------------------


def verify_outcomes(entries):
    """Return (username, ip, result) for each verify response in the audit.

    A refused OTP's entry names no user or IP (the server no longer knows
    it); they come from the creds response with the same OTP HMAC.
    """
    issued = {}
    for entry in entries:
        response = entry.get("response") or {}
        data = response.get("data") or {}
        path = entry["request"]["path"]
        if entry["type"] == "response" and path.startswith("ssh/creds/"):
            if "key" in data:
                issued[data["key"]] = (data["username"], data["ip"])

    requests = {
        entry["request"]["id"]: (entry["request"].get("data") or {}).get("otp")
        for entry in entries
        if entry["type"] == "request" and entry["request"]["path"] == "ssh/verify"
    }
    outcomes = []
    for entry in entries:
        if entry["type"] != "response" or entry["request"]["path"] != "ssh/verify":
            continue
        verify = entry["verify"]
        if verify["result"] == "success":
            outcomes.append((verify["username"], verify["ip"], "success"))
        else:
            username, ip = issued[requests[entry["request"]["id"]]]
            outcomes.append((username, ip, verify["result"]))
    return outcomes


def test_otp_login_audit_shows_each_verify_and_no_otp_is_logged(world):
    host = world.host
    otp = world.issue(f"alice@{host.ip}")
    ssh_password(host, otp)
    ssh_password(host, otp)
    world.verifies += [("alice", host.ip, "success"), ("alice", host.ip, "failure")]
    entries = world.server.audit_entries()

    verifies = [
        e
        for e in entries
        if e["type"] == "response" and e["request"]["path"] == "ssh/verify"
    ]
    assert collections.Counter(verify_outcomes(entries)) == collections.Counter(
        world.verifies
    )
    assert {e["request"]["remote_address"] for e in verifies} == {host.ip}
    for entry in entries:
        data = entry["request"].get("data") or {}
        if entry["request"]["path"] == "ssh/verify" and "otp" in data:
            assert data["otp"].startswith("hmac-sha256:")

    logs = {
        "server log": world.server.log_text(),
        "audit log": world.server.audit_path.read_text(),
        "helper log": world.helper_log(),
        "sshd log": host.sshd_log(),
    }
    for otp in world.otps:
        for name, text in logs.items():
            assert otp not in text, f"an OTP is in clear in the {name}"
    # The OTPs that sshpass typed for `openvault ssh` were never seen here:
    # these two logs hold no UUID at all.
    assert not UUID_RE.search(logs["helper log"])
    assert not UUID_RE.search(logs["sshd log"])


# --- (g) nothing is left behind -------------------------------------------


def test_otp_login_leaves_nothing_behind(world):
    hosts = [world.host, world.neighbour]
    namespaces = {host.netns: os.stat(NETNS_DIR / host.netns) for host in hosts}
    ns_keys = {(st.st_dev, st.st_ino) for st in namespaces.values()}
    tokens = [f"OPENVAULT_TESTHOST={host.token}".encode() for host in hosts]
    ours = [str(host.dir) for host in hosts] + [str(world.server.data_dir)]
    server_pid = world.server.process.pid

    world.close()

    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    assert not set(listed.stdout.split()) & set(namespaces)
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True)
    reused = {host.veth for host in TestHost.all()}  # another test's new host
    for host in hosts:
        if host.veth not in reused:
            assert f" {host.veth}@" not in links.stdout
            assert f" {host.veth}:" not in links.stdout
    mounts = Path("/proc/mounts").read_text()
    for name in list(namespaces) + ours:
        assert name not in mounts
    ps = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True)
    for path in ours:
        assert path not in ps.stdout
    assert not Path(f"/proc/{server_pid}").exists()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):  # gone meanwhile
            environ = Path(entry.path, "environ").read_bytes().split(b"\0")
            assert not set(environ) & set(tokens), f"process {entry.name} is left"
        with contextlib.suppress(OSError):
            net = os.stat(Path(entry.path, "ns", "net"))
            assert (net.st_dev, net.st_ino) not in ns_keys, f"{entry.name} is left"
