"""Tests of the test hosts: real sshd servers in network namespaces."""

import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.hosts import require_testhosts
from support.hosts import unique_name
from testhost import GATEWAY
from testhost import NETNS_DIR
from testhost import TestAddressError
from testhost import TestHost
from testhost import TestHostError
from testhost import check_test_address
from testhost import missing_requirements
from testhost import sweep_stale
from testhost import validate_host_address

pytestmark = pytest.mark.root

SCRIPT = Path(__file__).with_name("testhost.py")
MACHINE_ACCOUNT_FILES = ("/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow")


def cli(*args: str) -> subprocess.CompletedProcess:
    """Run tests/testhost.py as a user would, through its shebang."""
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, timeout=120
    )


def live_process(pid: int) -> bool:
    """Say whether PID runs (a zombie waiting for init to reap it does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def link_names() -> list[str]:
    out = subprocess.run(["ip", "-j", "link"], capture_output=True, check=True)
    return [link["ifname"] for link in json.loads(out.stdout)]


def file_hashes(paths) -> dict[str, str]:
    return {p: hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths}


def ssh_as(host: TestHost, user: str, key, *remote: str):
    return subprocess.run(
        [*host.ssh_args(user, key.path), *remote],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_testhost_cli_up_list_exec_down():
    require_testhosts()
    name = unique_name("cli")

    up = cli("up", name)
    assert up.returncode == 0, up.stderr
    info = json.loads(up.stdout)
    try:
        assert info["name"] == name
        assert info["port"] == 22
        assert check_test_address(info["ip"]) == info["ip"]
        assert live_process(info["pid"])
        listed = [json.loads(line) for line in cli("list").stdout.splitlines()]
        assert {"name": name, "ip": info["ip"], "running": True}.items() <= next(
            h for h in listed if h["name"] == name
        ).items()
        assert cli("ssh-ready", name).returncode == 0
        inside = cli("exec", name, "--", "sh", "-c", "hostname; cat /proc/1/comm")
        assert inside.stdout.split() == [name, "sshd"]
        assert "Server listening on " + info["ip"] in Path(info["log"]).read_text()
    finally:
        down = cli("down", name)

    assert down.returncode == 0, down.stderr
    assert f"ovtest-{name}" not in subprocess.check_output(["ip", "netns"], text=True)
    assert not (NETNS_DIR / f"ovtest-{name}").exists()
    assert f"ovtest-v{info['ip'].rsplit('.', 1)[1]}" not in link_names()
    assert not live_process(info["pid"])
    assert not Path(info["root"]).exists()
    assert cli("down", name).returncode == 0  # already gone is fine


def test_testhost_ssh_login_with_key_as_host_user(testhost, testhost_ssh_key):
    testhost.add_user("alice")
    testhost.authorize_key("alice", testhost_ssh_key.public)

    login = subprocess.run(
        [
            "ssh", "-F", "/dev/null", "-i", str(testhost_ssh_key.path),
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "BatchMode=yes", f"alice@{testhost.ip}", "id", "-un",
        ],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert login.returncode == 0, login.stderr
    assert login.stdout == "alice\n"
    assert "Accepted publickey for alice from " + GATEWAY in testhost.sshd_log()


def test_testhost_user_created_inside_does_not_exist_on_machine(testhost):
    before = file_hashes(MACHINE_ACCOUNT_FILES)
    user = "ovtest-" + testhost.name[-6:]

    testhost.add_user(user, password="not-a-secret-1", sudo=True)
    testhost.write_file("/etc/pam.d/ovtest-probe", "auth required pam_deny.so\n")

    assert file_hashes(MACHINE_ACCOUNT_FILES) == before
    assert subprocess.run(["getent", "passwd", user]).returncode == 2
    assert not Path(f"/home/{user}").exists()
    assert not Path(f"/etc/sudoers.d/{user}").exists()
    assert not Path("/etc/pam.d/ovtest-probe").exists()
    assert testhost.run(["getent", "passwd", user]).stdout.startswith(user + ":")
    assert testhost.run(["sudo", "-n", "-u", user, "sudo", "-n", "id", "-un"]).stdout
    assert testhost.exists(f"/home/{user}")


def test_testhost_hosts_reach_each_other_and_the_gateway(testhost_factory):
    one = testhost_factory("reach-one")
    two = testhost_factory("reach-two")

    banner = one.run(["bash", "-c", f"exec 3<>/dev/tcp/{two.ip}/22; head -c 8 <&3"])
    assert banner.stdout == "SSH-2.0-"

    with socket.create_server((GATEWAY, 0)) as server:
        server.settimeout(10)
        port = server.getsockname()[1]
        one.run(["bash", "-c", f"echo hello >/dev/tcp/{GATEWAY}/{port}"])
        conn, (peer, _) = server.accept()
        with conn:
            assert conn.recv(16) == b"hello\n"
    assert peer == one.ip

    routes = json.loads(one.run(["ip", "-j", "route"]).stdout)
    assert [r["dst"] for r in routes] == ["198.51.100.0/24"]
    # A route lookup only; nothing is sent.
    elsewhere = one.run(["ip", "route", "get", "203.0.113.7"], check=False)
    assert "Network is unreachable" in elsewhere.stderr


# PID 1 of the sandbox: reaps orphans (as init does) so leftovers show plainly.
REAPER = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[1:])
while True:
    pid, status = os.wait()
    if pid == child.pid:
        sys.exit(os.waitstatus_to_exitcode(status))
"""

# Runs in the sandbox: makes hosts, runs down --all twice, reports what is left.
DOWN_ALL = """
import json, os, subprocess, sys, time
script = sys.argv[1]
mounts_before = open("/proc/mounts").read().splitlines()
def run(*args):
    return subprocess.run(args, capture_output=True, text=True)
ups = [json.loads(run(script, "up", name).stdout) for name in ("one", "two")]
run(script, "stop", "two")
sleeper = subprocess.Popen([script, "exec", "one", "--", "sleep", "300"])
time.sleep(0.3)
downs = [run(script, "down", "--all") for _ in range(2)]
sleeper.wait(timeout=10)
for _ in range(100):
    procs = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if int(pid) not in (1, os.getppid(), os.getpid()):
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                procs.append(f.read().replace(b"\\0", b" ").decode())
    if not procs:
        break
    time.sleep(0.05)
links = json.loads(run("ip", "-j", "link").stdout)
print(json.dumps({
    "ups": ups,
    "downs": [[d.returncode, d.stderr] for d in downs],
    "netns": run("ip", "netns", "list").stdout,
    "links": [link["ifname"] for link in links],
    "mounts": [m for m in open("/proc/mounts").read().splitlines()
               if m not in mounts_before],
    "procs": procs,
    "state": os.listdir("/run"),
}))
"""


def in_sandbox(code: str) -> dict:
    """Run Python CODE with its own network, mounts, processes and /run.

    CODE gets the script's path as sys.argv[1] and prints one JSON report.
    """
    sandbox = ["unshare", "--net", "--mount", "--pid", "--fork", "--mount-proc"]
    sandbox += ["--propagation", "private", "--", sys.executable, "-c", REAPER]
    setup = 'mount -t tmpfs -o mode=0755 tmpfs /run && ip link set lo up && exec "$@"'
    sandbox += ["/bin/sh", "-c", setup, "sh", sys.executable, "-c", code]

    proc = subprocess.run(
        [*sandbox, str(SCRIPT)], capture_output=True, text=True, timeout=120
    )

    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_testhost_down_all_leaves_nothing_behind():
    # down --all removes every host on the machine, other workers' too, so it
    # runs in a sandbox.
    require_testhosts()

    report = in_sandbox(DOWN_ALL)

    assert [up["ip"] for up in report["ups"]] == ["198.51.100.10", "198.51.100.11"]
    assert report["downs"] == [[0, ""], [0, ""]]
    assert report["netns"] == ""
    assert report["links"] == ["lo"]
    assert report["mounts"] == []
    assert report["procs"] == []
    assert "netns" not in report["state"]
    assert "openvault-testhosts" not in report["state"]


GATEWAY_HOLD = """
import json, socket, subprocess, sys
sys.path.insert(0, sys.argv[1].rsplit("/", 1)[0])
import testhost
def bindable():
    try:
        socket.create_server((testhost.GATEWAY, 0)).close()
        return True
    except OSError:
        return False
before = bindable()
hold = testhost.hold_gateway()
held = bindable()
testhost.release_gateway(hold)
print(json.dumps([before, held, bindable()]))
"""


def test_testhost_gateway_hold_keeps_the_gateway_without_a_host():
    # Other tests' hosts keep the gateway up on the machine, so: a sandbox.
    require_testhosts()

    before, held, after = in_sandbox(GATEWAY_HOLD)

    assert (before, held, after) == (False, True, False)


def test_testhost_stop_start_keeps_users_files_and_address(testhost, testhost_ssh_key):
    testhost.add_user("carol")
    testhost.authorize_key("carol", testhost_ssh_key.public)
    testhost.write_file("/etc/ovtest-note", "kept\n", owner="carol", mode=0o640)
    keys, ip = testhost.host_keys(), testhost.ip

    testhost.stop()

    assert not testhost.running
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((ip, 22), timeout=5)
    assert check_test_address(ip) == ip  # a host that is down is still ours
    with pytest.raises(TestHostError, match="stopped"):
        testhost.run("true")

    testhost.start()

    assert testhost.ip == ip
    assert ssh_as(testhost, "carol", testhost_ssh_key, "id", "-un").stdout == "carol\n"
    assert testhost.read_text("/etc/ovtest-note") == "kept\n"
    assert testhost.run("stat -c '%U %a' /etc/ovtest-note").stdout == "carol 640\n"
    assert testhost.host_keys() == keys


@pytest.mark.parametrize(
    "ip",
    [
        "192.0.2.5",
        "10.0.0.1",
        "127.0.0.1",
        "198.51.101.10",
        "198.51.100.1",
        "198.51.100.9",
        "198.51.100.251",
        "198.51.100.0/24",
    ],
)
def test_testhost_refuses_address_outside_range(ip):
    with pytest.raises(TestAddressError, match=r"198\.51\.100\.10-250|IPv4 address"):
        validate_host_address(ip)

    require_testhosts()
    name = unique_name("refused")
    up = cli("up", name, "--ip", ip)

    assert up.returncode == 2
    assert "'ip' must be" in up.stderr
    assert name not in cli("list").stdout


def test_testhost_check_test_address_accepts_only_its_own_hosts(testhost_factory):
    host = testhost_factory("addr")

    assert check_test_address(host.ip) == host.ip
    assert check_test_address(GATEWAY) == GATEWAY
    used = {h.ip for h in TestHost.all()}
    unused = next(
        f"198.51.100.{n}" for n in range(250, 9, -1) if f"198.51.100.{n}" not in used
    )
    for other in ("127.0.0.1", "192.0.2.1", unused, "::1"):
        with pytest.raises(TestAddressError):
            check_test_address(other)

    host.destroy()

    with pytest.raises(TestAddressError):
        check_test_address(host.ip)


def test_testhost_reload_applies_new_sshd_config(testhost, testhost_ssh_key):
    testhost.add_user("dave")
    testhost.authorize_key("dave", testhost_ssh_key.public)
    assert ssh_as(testhost, "dave", testhost_ssh_key, "true").returncode == 0

    testhost.write_file("/etc/ssh/sshd_config.d/deny.conf", "DenyUsers dave\n")
    testhost.reload()

    assert ssh_as(testhost, "dave", testhost_ssh_key, "true").returncode == 255
    assert "dave from 198.51.100.1 not allowed" in testhost.sshd_log()


def test_testhost_write_file_sets_owner_and_mode(testhost):
    testhost.add_user("erin")

    testhost.write_file(
        "/home/erin/deep/dir/blob", b"\x00\xffdata", owner="erin", mode=0o600,
        parents=True,
    )  # fmt: skip

    assert testhost.read_file("/home/erin/deep/dir/blob") == b"\x00\xffdata"
    stat = testhost.run("stat -c '%U %G %a' /home/erin/deep/dir/blob").stdout
    assert stat == "erin erin 600\n"


def test_testhost_sweep_removes_hosts_of_a_killed_test_process():
    require_testhosts()
    name = unique_name("orphan")
    code = (
        "import json, os, sys, time; sys.path.insert(0, sys.argv[1]);"
        " import testhost;"
        " h = testhost.TestHost.create(sys.argv[2], owner_pid=os.getpid());"
        " print(json.dumps(h.info()), flush=True); time.sleep(300)"
    )
    owner = subprocess.Popen(
        [sys.executable, "-c", code, str(SCRIPT.parent), name],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        info = json.loads(owner.stdout.readline())
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait(timeout=10)
        assert TestHost.get(name).running  # killed owner: nothing cleaned yet

        swept = sweep_stale()

        assert name in swept
        with pytest.raises(TestHostError):
            TestHost.get(name)
        assert not (NETNS_DIR / f"ovtest-{name}").exists()
        deadline = time.monotonic() + 5
        while live_process(info["pid"]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not live_process(info["pid"])
    finally:
        owner.kill()
        owner.stdout.close()
        with contextlib.suppress(TestHostError):
            TestHost.get(name).destroy()


def test_testhost_destroy_again_leaves_next_host_on_same_address_alone(
    testhost_factory,
):
    used = {h.ip for h in TestHost.all()}
    ip = next(
        f"198.51.100.{n}" for n in range(240, 9, -1) if f"198.51.100.{n}" not in used
    )
    first = testhost_factory("first", ip=ip)
    first.destroy()
    second = testhost_factory("second", ip=ip)

    first.destroy()  # as a finalizer would, after the address was reused

    assert second.running
    second.wait_ssh(timeout=5)
    assert not first.running
    with pytest.raises(TestHostError, match="destroyed"):
        first.stop()


def test_testhost_requirements_say_root_is_needed_when_not_root(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)

    assert missing_requirements() == "test hosts need root (network namespaces, mounts)"


def test_testhost_requirements_name_the_missing_tools(monkeypatch, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("the root check comes first when not root")
    monkeypatch.setenv("PATH", str(tmp_path))

    reason = missing_requirements()

    assert reason.startswith("test hosts need ip, unshare, nsenter, setsid, mount")


def test_testhost_gateway_fixture_can_be_bound(testhost_gateway):
    with socket.create_server((testhost_gateway, 0)) as server:
        assert server.getsockname()[0] == GATEWAY == testhost_gateway
