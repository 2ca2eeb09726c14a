"""operator init, status and audit through the real CLI."""

import json

from cli_support import base_env
from cli_support import run_cli
from support.server import RunningServer


def test_operator_init_prints_root_token_once(tmp_path):
    """operator init on a new server prints a working root token; a second
    init is refused."""
    server = RunningServer(tmp_path / "fresh")
    # A root token already set keeps the fixture from initializing the
    # server itself: this test wants to be the one that does it.
    server.root_token = "initialized-by-the-test"
    server.start()
    env = base_env(tmp_path / "home") | {"VAULT_ADDR": server.addr}
    try:
        before = run_cli(["status"], env)
        status_before = run_cli(["operator", "init", "-status"], env)
        init = run_cli(["operator", "init"], env)
        again = run_cli(["operator", "init"], env)
        token = init.out.split("Initial Root Token: ", 1)[1].split()[0]
        lookup = run_cli(["token", "lookup"], env | {"VAULT_TOKEN": token})
        status_after = run_cli(["operator", "init", "-status"], env)
    finally:
        server.stop()

    assert before.code == 2
    assert status_before.code == 2
    assert init.code == 0, init.err
    assert lookup.code == 0, lookup.err
    assert "root" in lookup.out
    assert again.code == 2
    assert "Code: 400" in again.err
    assert token not in again.out + again.err
    assert status_after.code == 0


def test_operator_audit_enable_list_disable(cli, tmp_path, ov_server):
    """audit enable file file_path=... writes the requests there."""
    log = tmp_path / "cli-audit.log"

    enabled = cli("audit", "enable", "-path=cli", "file", f"file_path={log}")
    listed = cli("audit", "list", "-format=json")
    cli("read", "sys/mounts")
    disabled = cli("audit", "disable", "cli")

    assert enabled.code == 0, enabled.err
    assert enabled.out == "Success! Enabled the file audit device at: cli/\n"
    assert json.loads(listed.out)["cli/"]["options"]["file_path"] == str(log)
    assert "sys/mounts" in log.read_text()
    assert disabled.code == 0, disabled.err
    assert "cli/" not in json.loads(cli("audit", "list", "-format=json").out)
