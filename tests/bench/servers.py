"""The servers under test: OpenBao (raft on disk, and -dev in memory) and ours.

Every server binds to 127.0.0.1 only, lives in its own temp directory (removed
by stop()), runs in its own session so that stop() ends its whole process
group, and dies with the harness if the harness is killed outright.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from support.openbao import bao_binary
from support.openbao import bao_env
from support.openbao import random_token
from support.processes import die_with_parent
from support.processes import free_port
from support.processes import free_port_pair

START_TIMEOUT = 60
BIN = Path(sys.executable).parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


def bao_version():
    """Return bao's version line."""
    done = subprocess.run(
        [str(bao_binary()), "version"], capture_output=True, text=True, check=False
    )
    return done.stdout.strip()


def _http(addr, method, path, body=None, token=None, timeout=10):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{addr}/v1/{path}", data=data, method=method)
    if token:
        request.add_header("X-Vault-Token", token)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            raw = reply.read()
            status = reply.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    text = raw.decode(errors="replace").strip()
    return status, json.loads(text) if text else None


def process_tree(pid):
    """Return `pid` and all its descendants that are alive."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        pending.extend(children.get(current, ()))
    return found


def cpu_seconds(pid):
    """Return user+system CPU seconds used so far by the process tree of `pid`."""
    total = 0
    for member in process_tree(pid):
        try:
            with open(f"/proc/{member}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


def memory_mb(pid):
    """Return (RSS, PSS, USS) in MB summed over the process tree of `pid`.

    RSS counts pages that forked workers share once per process; PSS splits
    each shared page between the processes mapping it (so a shared library
    costs less while other programs use it too); USS counts only the pages
    no other process maps, the floor of what stopping the tree would free.
    """
    rss = pss = uss = 0
    for member in process_tree(pid):
        try:
            with open(f"/proc/{member}/smaps_rollup") as handle:
                for line in handle:
                    name, _, rest = line.partition(":")
                    if name == "Rss":
                        rss += int(rest.split()[0])
                    elif name == "Pss":
                        pss += int(rest.split()[0])
                    elif name in ("Private_Clean", "Private_Dirty"):
                        uss += int(rest.split()[0])
        except OSError:
            continue
    return rss / 1024, pss / 1024, uss / 1024


class Server:
    """A server process under test; subclasses start it and know its token."""

    name = "server"
    label = "server"
    durable = True

    def __init__(self):
        self.home = Path(tempfile.mkdtemp(prefix=f"bench-{self.name}-"))
        self.log_path = self.home / "server.log"
        self.process = None
        self.addr = ""
        self.root_token = ""

    def _spawn(self, argv, env=None):
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                argv,
                cwd=self.home,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )

    def request(self, method, path, body=None, token="root"):
        """Send one setup request; return (status, JSON)."""
        token = self.root_token if token == "root" else token
        return _http(self.addr, method, path, body, token)

    def must(self, method, path, body=None, token="root"):
        """Send a setup request that has to succeed; return its JSON."""
        status, reply = self.request(method, path, body, token)
        if status not in (200, 204):
            raise RuntimeError(f"{self.name}: {method} {path}: {status} {reply}")
        return reply

    def wait_healthy(self):
        """Wait until sys/health answers 200 (initialized, unsealed, active)."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log()[-3000:]}")
            try:
                status, _ = _http(self.addr, "GET", "sys/health", timeout=2)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not become healthy:\n{self.log()[-3000:]}")

    def pid(self):
        """Return the process id at the top of the server's process tree."""
        return self.process.pid

    def cpu(self):
        """Return CPU seconds used by the server so far."""
        return cpu_seconds(self.pid())

    def memory(self):
        """Return (RSS, PSS, USS) of the server in MB."""
        return memory_mb(self.pid())

    def log(self):
        """Return what the server printed."""
        return (
            self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        )

    def stop(self):
        """Stop the whole process group and remove the temp directory."""
        try:
            if self.process is not None and self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGTERM)
                try:
                    self.process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(self.process.pid, signal.SIGKILL)
                    self.process.wait()
        finally:
            shutil.rmtree(self.home, ignore_errors=True)

    def enable_audit(self, path):
        """Turn on a file audit device writing to `path`."""
        self.must(
            "PUT",
            "sys/audit/bench",
            {"type": "file", "options": {"file_path": str(path)}},
        )

    def disable_audit(self):
        """Turn the audit device off again."""
        self.must("DELETE", "sys/audit/bench")


class OpenBaoRaft(Server):
    """`bao server` with integrated (raft) storage on disk, initialised and unsealed."""

    name = "openbao-raft"
    label = "OpenBao (raft)"

    def start(self):
        """Write the config, start bao, init and unseal it."""
        port, cluster = free_port(), free_port()
        self.addr = f"http://127.0.0.1:{port}"
        raft = self.home / "raft"
        raft.mkdir()
        config = self.home / "bao.hcl"
        config.write_text(
            f"""
storage "raft" {{
  path    = "{raft}"
  node_id = "bench"
}}
listener "tcp" {{
  address         = "127.0.0.1:{port}"
  cluster_address = "127.0.0.1:{cluster}"
  tls_disable     = true
}}
api_addr      = "http://127.0.0.1:{port}"
cluster_addr  = "http://127.0.0.1:{cluster}"
disable_mlock = true
# Only so the bench can switch a file audit device on and off through the API.
unsafe_allow_api_audit_creation = true
ui            = false
"""
        )
        env = bao_env(self.home)
        self._spawn([str(bao_binary()), "server", f"-config={config}"], env)
        cli_env = dict(env, BAO_ADDR=self.addr)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            done = subprocess.run(
                [
                    str(bao_binary()),
                    "operator",
                    "init",
                    "-key-shares=1",
                    "-key-threshold=1",
                    "-format=json",
                ],
                env=cli_env,
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode == 0:
                break
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"bao operator init failed: {done.stderr}")
            time.sleep(0.2)
        keys = json.loads(done.stdout)
        self.root_token = keys["root_token"]
        subprocess.run(
            [str(bao_binary()), "operator", "unseal", keys["unseal_keys_b64"][0]],
            env=cli_env,
            capture_output=True,
            check=True,
        )
        self.wait_healthy()
        return self


class OpenBaoDev(Server):
    """`bao server -dev`: in-memory storage, no fsync; the fastest bao can be."""

    name = "openbao-dev"
    label = "OpenBao (-dev, memory)"
    durable = False

    def start(self):
        """Start bao -dev with a known root token."""
        port = free_port_pair()
        self.addr = f"http://127.0.0.1:{port}"
        self.root_token = random_token()
        self._spawn(
            [
                str(bao_binary()),
                "server",
                "-dev",
                f"-dev-listen-address=127.0.0.1:{port}",
                f"-dev-root-token-id={self.root_token}",
                "-dev-no-store-token",
            ],
            bao_env(self.home),
        )
        self.wait_healthy()
        return self


class OpenVault(Server):
    """Our server: `openvault server -config`, SQLite on disk, granian workers."""

    name = "openvault"
    label = "openvault (SQLite)"

    def __init__(self, workers=None, threads=None, log_level=None, extra="", source=""):
        super().__init__()
        self.workers = workers
        self.threads = threads
        self.log_level = log_level
        self.extra = extra
        # Another checkout's server/ directory, to compare a change with its base.
        self.source = source

    def start(self):
        """Write a production config (defaults unless told), start, init."""
        port = free_port()
        self.addr = f"http://127.0.0.1:{port}"
        lines = [
            f'listener "tcp" {{\n  address = "127.0.0.1:{port}"\n}}',
            f'storage "sqlite" {{\n  path = "{self.home / "openvault.db"}"\n}}',
            f'seal_key_file = "{self.home / "seal.key"}"',
        ]
        if self.workers:
            lines.append(f"workers = {self.workers}")
        if self.threads:
            lines.append(f"threads = {self.threads}")
        if self.log_level:
            lines.append(f'log_level = "{self.log_level}"')
        if self.extra:
            lines.append(self.extra)
        config = self.home / "config.hcl"
        config.write_text("\n".join(lines) + "\n")
        argv = [str(BIN / "openvault"), "server", f"-config={config}"]
        if self.source:
            argv = [
                sys.executable,
                "-c",
                "import sys; sys.path.insert(0, sys.argv.pop(1));"
                " from openvault.cli.main import main; sys.exit(main())",
                self.source,
                *argv[1:],
            ]
        self._spawn(argv)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                status, reply = _http(self.addr, "PUT", "sys/init", {}, timeout=2)
                if status == 200:
                    self.root_token = reply["root_token"]
                    break
                raise RuntimeError(f"openvault init: {status} {reply}")
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(
                        f"openvault did not start:\n{self.log()[-3000:]}"
                    ) from None
                time.sleep(0.1)
        self.wait_healthy()
        return self
