"""The server process: start-up, init, dev mode, TLS, two workers, clean shutdown."""

import http.client
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import hvac
import pytest
from api_support import bytes_written
from api_support import child_pids
from api_support import errors
from api_support import make_pki
from api_support import new_mount
from api_support import race
from support.server import RunningServer

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory):
    """One server for the tests that only look at it."""
    server = RunningServer(tmp_path_factory.mktemp("shared"))
    server.start()
    yield server
    server.stop()


@pytest.mark.xdist_group("api_server_shared")
def test_server_health_reports_initialized(shared_server):
    reply = shared_server.request("GET", "sys/health", token=None)

    assert reply.status == 200
    assert reply.json["initialized"] is True
    assert reply.json["sealed"] is False


def test_server_stops_cleanly_on_sigterm(ov_server):
    assert ov_server.stop() == 0


def test_server_before_init_reports_501_and_refuses_requests(tmp_path):
    server = RunningServer(tmp_path / "fresh")
    server.root_token = "not-initialized-yet"  # makes start() skip sys/init
    server.start()
    try:
        health = server.request("GET", "sys/health", token=None)
        refused = server.request("GET", "sys/mounts", token="anything")
        status = server.request("GET", "sys/init", token=None)

        init = server.request("PUT", "sys/init", {}, token=None)
        again = server.request("PUT", "sys/init", {}, token=None)
    finally:
        server.stop()

    assert health.status == 501
    assert health.json["initialized"] is False
    assert refused.status == 503
    assert status.json == {"initialized": False}
    assert init.status == 200
    assert init.json["root_token"].startswith("s.")
    assert (again.status, errors(again)) == (400, ["server is already initialized"])
    server.assert_never_logged(init.json["root_token"])


@pytest.mark.xdist_group("api_server_shared")
def test_server_root_token_from_init_is_never_logged(shared_server):
    new_mount(shared_server)
    shared_server.request("GET", "auth/token/lookup-self")

    shared_server.assert_never_logged(shared_server.root_token)


def test_server_keeps_its_data_across_restarts(ov_server):
    mount = new_mount(ov_server)
    mount.write_role("r")
    otp = mount.otp("r")

    assert ov_server.stop() == 0
    ov_server.start()

    assert mount.request("GET", "roles/r").status == 200
    assert mount.verify(otp).status == 200


class DevServer:
    """`openvault server -dev` started as a user would, on a free port."""

    def __init__(self, tmp_path, *flags):
        self.tmpdir = tmp_path / "tmp"
        self.tmpdir.mkdir()
        self.output = tmp_path / "dev.out"
        with open(self.output, "wb") as out:
            self.process = subprocess.Popen(
                [
                    str(BIN / "openvault"),
                    "server",
                    "-dev",
                    "-dev-listen-address=127.0.0.1:0",
                    *flags,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=dict(os.environ, TMPDIR=str(self.tmpdir)),
                start_new_session=True,
            )
        self.addr, self.root_token = self._banner()

    def _banner(self):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            text = self.text()
            if "Root Token:" in text and "Api Address:" in text:
                addr = text.split("Api Address:", 1)[1].split()[0]
                token = text.split("Root Token:", 1)[1].split()[0]
                if self._answers(addr):
                    return addr, token
            assert self.process.poll() is None, text
            time.sleep(0.05)
        raise AssertionError(f"dev server did not start:\n{self.text()}")

    @staticmethod
    def _answers(addr):
        try:
            urllib.request.urlopen(f"{addr}/v1/sys/health", timeout=2)
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False
        return True

    def text(self):
        """Return everything the server printed."""
        return self.output.read_text(errors="replace")

    def stop(self):
        """Send SIGTERM; return the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            raise


@pytest.fixture
def dev_server(tmp_path):
    """Start `openvault server -dev`; stop it afterwards if the test did not."""
    started = []

    def start(*flags):
        started.append(DevServer(tmp_path, *flags))
        return started[-1]

    yield start
    for server in started:
        server.stop()


def test_server_dev_mode_prints_a_banner_and_serves_the_otp_flow(dev_server):
    server = dev_server()
    client = hvac.Client(url=server.addr, token=server.root_token)

    client.sys.enable_secrets_engine("ssh", path="ssh")
    client.secrets.ssh.create_role(
        "otp_key_role", key_type="otp", default_user="alice", cidr_list="192.0.2.0/24"
    )
    creds = client.secrets.ssh.generate_ssh_credentials("otp_key_role", ip="192.0.2.9")

    assert server.addr.startswith("http://127.0.0.1:")
    assert not server.addr.endswith(":0")
    assert f"export VAULT_ADDR='{server.addr}'" in server.text()
    assert client.lookup_token()["data"]["policies"] == ["root"]
    otp = creds["data"]["key"]
    assert client.secrets.ssh.verify_ssh_otp(otp)["data"]["username"] == "alice"
    assert otp not in server.text()
    assert server.text().count(server.root_token) == 1


def test_server_log_shows_only_the_first_segments_of_unknown_paths(ov_server):
    """A token pasted into a URL no route knows stays out of the log."""
    secret = "hvs.pasted-into-the-path-by-mistake"

    path = f"auth/token/lookup/{secret}"
    for token in ("root", "not-a-token"):
        assert ov_server.request("POST", path, {}, token=token).status in (403, 404)
    assert ov_server.request("GET", "sys/health").status == 200

    text = ov_server.log_text()
    assert secret not in text
    assert "POST /v1/auth/token/... 404" in text
    assert "GET /v1/sys/health 200" in text


def test_server_leader_status_is_unauthenticated_and_not_ha(ov_server):
    reply = ov_server.request("GET", "sys/leader", token="")

    assert (reply.status, reply.json) == (200, {"ha_enabled": False})


def test_server_dev_mode_takes_a_root_token_id_and_exits_0_on_sigterm(dev_server):
    server = dev_server("-dev-root-token-id=dev-only-token")
    client = hvac.Client(url=server.addr, token="dev-only-token")
    assert server.root_token == "dev-only-token"
    assert client.is_authenticated()
    assert [p.name for p in server.tmpdir.iterdir()][0].startswith("openvault-dev-")
    client.adapter.close()

    assert server.stop() == 0

    assert list(server.tmpdir.iterdir()) == []


def test_server_dev_mode_keeps_its_data_when_workers_restart(dev_server):
    """SIGHUP makes the server replace its workers; the old worker leaving must
    not take the dev server's database with it."""
    server = dev_server()
    client = hvac.Client(url=server.addr, token=server.root_token)
    client.sys.enable_secrets_engine("ssh", path="ssh")
    # A kept-alive connection would hold the old worker for its whole
    # graceful timeout.
    client.adapter.close()
    old_workers = child_pids(server.process.pid)

    server.process.send_signal(signal.SIGHUP)

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        workers = child_pids(server.process.pid)
        if workers and not set(workers) & set(old_workers):
            break
        time.sleep(0.1)
    time.sleep(1)  # the old worker's exit, and the new one's start-up, are done
    assert server.process.poll() is None, server.text()
    assert set(child_pids(server.process.pid)).isdisjoint(old_workers)
    assert "ssh/" in client.sys.list_mounted_secrets_engines()["data"]
    assert server.stop() == 0
    assert list(server.tmpdir.iterdir()) == []


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    """A server on HTTPS with a certificate for 127.0.0.1, and its CA file."""
    ca, cert, key = make_pki(tmp_path_factory.mktemp("pki"))
    server = RunningServer(tmp_path_factory.mktemp("tls"), tls=(cert, key), ca_file=ca)
    server.start()
    yield server
    server.stop()


@pytest.mark.xdist_group("api_server_tls")
def test_server_tls_serves_https_that_verifies_against_the_ca(tls_server):
    ca = tls_server.ca_file
    mount = new_mount(tls_server)

    client = hvac.Client(
        url=tls_server.addr, token=tls_server.root_token, verify=str(ca)
    )
    client.secrets.ssh.create_role(
        "r",
        key_type="otp",
        default_user="alice",
        cidr_list="192.0.2.0/24",
        mount_point=mount.path,
    )
    creds = client.secrets.ssh.generate_ssh_credentials(
        "r", ip="192.0.2.1", mount_point=mount.path
    )

    assert tls_server.addr.startswith("https://127.0.0.1:")
    assert tls_server.request("GET", "sys/health", token=None).status == 200
    verified = client.secrets.ssh.verify_ssh_otp(
        creds["data"]["key"], mount_point=mount.path
    )
    assert verified["data"]["ip"] == "192.0.2.1"


@pytest.mark.xdist_group("api_server_tls")
def test_server_tls_is_refused_by_clients_that_do_not_trust_the_ca(
    tls_server, tmp_path
):
    other_ca = make_pki(tmp_path / "other")[0]

    context = ssl.create_default_context(cafile=str(other_ca))
    with pytest.raises(urllib.error.URLError) as raised:
        urllib.request.urlopen(f"{tls_server.addr}/v1/sys/health", context=context)

    assert isinstance(raised.value.reason, ssl.SSLCertVerificationError)
    # Plain HTTP gets no HTTP answer: the connection drops, or what comes
    # back is a TLS alert record, which is no status line.
    plain = tls_server.addr.replace("https://", "http://")
    with pytest.raises(
        (urllib.error.URLError, ConnectionError, http.client.BadStatusLine)
    ):
        urllib.request.urlopen(f"{plain}/v1/sys/health", timeout=5)
    # The CLI says so in one line, without a traceback.
    env = dict(os.environ, VAULT_ADDR=plain, VAULT_TOKEN=tls_server.root_token)
    shown = subprocess.run(
        [str(Path(sys.executable).with_name("openvault")), "read", "sys/health"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert shown.returncode != 0
    assert "Traceback" not in shown.stderr
    assert "https://" in shown.stderr


def test_server_two_workers_share_one_database(ov_server_factory):
    """An OTP issued through either worker verifies exactly once, whichever
    worker answers; requests keep coming until both have served some."""
    server = ov_server_factory("pair", workers=2)
    deadline = time.monotonic() + 30
    while len(child_pids(server.process.pid)) < 2:
        assert time.monotonic() < deadline, "the second worker never started"
        time.sleep(0.1)
    workers = child_pids(server.process.pid)
    before = {pid: bytes_written(pid) for pid in workers}
    mount = new_mount(server)
    mount.write_role("r")

    rounds = 0
    while True:
        otp = mount.otp("r")
        replies = race(4, lambda otp=otp: mount.verify(otp))
        assert sorted(reply.status for reply in replies) == [200, 400, 400, 400]
        rounds += 1
        served = {pid: bytes_written(pid) - before[pid] for pid in workers}
        if rounds >= 20 and all(count > 0 for count in served.values()):
            break
        assert time.monotonic() < deadline, served

    roles = {mount.request("LIST", "roles").json["data"]["keys"][0] for _ in range(10)}
    assert roles == {"r"}
    assert server.stop() == 0


def test_server_storage_failure_is_a_json_500(ov_server):
    """A failure outside the API handlers (here: opening the database for a
    new request thread) still answers Vault's JSON error, not an HTML page."""
    moved = ov_server.data_dir.with_name(ov_server.data_dir.name + ".moved")
    ov_server.data_dir.rename(moved)
    try:
        replies = race(8, lambda: ov_server.request("GET", "sys/mounts"))
    finally:
        moved.rename(ov_server.data_dir)

    failed = [reply for reply in replies if reply.status == 500]
    assert failed
    for reply in failed:
        assert reply.headers["Content-Type"] == "application/json"
        assert reply.json == {"errors": ["internal error; see the server log"]}


def _run_server(*args, cwd):
    return subprocess.run(
        [str(Path(sys.executable).parent / "openvault"), "server", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_server_refuses_a_storage_directory_that_does_not_exist(tmp_path):
    (tmp_path / "c.hcl").write_text(
        'storage "sqlite" { path = "missing/ov.db" }\n'
        'seal_key_file = "seal.key"\n'
        'listener "tcp" { address = "127.0.0.1:0" }\n'
    )

    run = _run_server("-config=c.hcl", cwd=tmp_path)

    assert run.returncode == 1
    assert f"directory {tmp_path / 'missing'} does not exist" in run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "seal.key").exists()


def test_server_refuses_a_missing_seal_key_once_initialized(ov_server):
    ov_server.stop()
    config = ov_server.config_path.read_text()
    ov_server.config_path.write_text(config.replace("seal.key", "typo-seal.key"))

    run = _run_server(f"-config={ov_server.config_path}", cwd=ov_server.data_dir)

    assert run.returncode == 1
    assert "was initialized with a seal key" in run.stderr
    assert not (ov_server.data_dir / "typo-seal.key").exists()


def test_server_dev_mode_names_a_busy_port(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]

        run = _run_server(f"-dev-listen-address=127.0.0.1:{port}", "-dev", cwd=tmp_path)

    assert run.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in run.stderr
    assert "-dev-listen-address" in run.stderr


def test_server_database_files_are_private(ov_server):
    for name in ("openvault.db", "openvault.db-wal", "seal.key"):
        path = ov_server.data_dir / name
        if path.exists():
            assert path.stat().st_mode & 0o077 == 0, name
