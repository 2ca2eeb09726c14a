"""Command lines the CLI refuses: exit 1 and a line naming what to fix."""

import pytest
from cli_support import base_env
from cli_support import run_cli
from cli_support import server_env


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["write", "-bogus=1", "ssh/roles/x", "a=b"],
            "flag provided but not defined: -bogus",
        ),
        (["read", "-format=yaml", "ssh/roles/x"], "-format"),
        (["write"], "Not enough arguments (expected 1-n, got 0)"),
        (["read", "a", "b=c", "-field"], "flags go before the path"),
        (["delete", "a", "b"], "Too many arguments (expected 1, got 2)"),
        (["write", "ssh/roles/x", "foo"], 'invalid key/value pair "foo"'),
        (["write", "ssh/roles/x"], "Must supply data or use -force"),
        (["read", "-field"], "flag needs an argument: -field"),
        (
            ["ssh", "-strict-host-key-checking=maybe", "u@127.0.0.1"],
            "-strict-host-key-checking",
        ),
        (["ssh", "-mode=bogus", "-role=r", "u@127.0.0.1"], "Unknown SSH mode: bogus"),
        (["ssh", "a@b@127.0.0.1"], "invalid target"),
        (["token", "revoke"], "-self"),
        (["token", "create", "-num-uses=many"], "-num-uses"),
        (["nosuchcommand"], "Unknown command: 'nosuchcommand'"),
        (["token", "nosuch"], "Unknown subcommand: token nosuch"),
    ],
)
def test_usage_error_exits_1_naming_the_problem(tmp_path, args, message):
    """Bad flags, arguments and commands exit 1 before any request."""
    env = base_env(tmp_path / "home")
    # Nothing listens here: a usage error must not need the server.
    env |= {"VAULT_ADDR": "http://127.0.0.1:9", "VAULT_TOKEN": "t"}

    result = run_cli(args, env)

    assert result.code == 1, result
    assert result.out == ""
    if message:
        assert message in result.err
    assert "Error making API request" not in result.err


def test_usage_help_exits_0(tmp_path):
    """-help prints the command's usage and flags."""
    env = base_env(tmp_path / "home")

    shown = run_cli(["ssh", "-help"], env)
    top = run_cli(["--help"], env)

    assert shown.code == 0
    assert shown.out.startswith("Usage: openvault ssh [options]")
    assert "-strict-host-key-checking" in shown.out
    assert top.code == 0
    assert "path-help" in top.out and "token create" in top.out
    server = run_cli(["server", "-help"], env)
    assert server.code == 0
    assert "-dev-listen-address" in server.out and "-config" in server.out


def test_usage_flags_accept_go_forms(ssh_server, tmp_path):
    """-flag=v, -flag v, --flag=v and --flag v all work."""
    env = base_env(tmp_path / "home") | server_env(ssh_server)

    forms = [
        ["-format=json"],
        ["-format", "json"],
        ["--format=json"],
        ["--format", "json"],
    ]
    results = [run_cli(["read", *form, "sys/mounts/ssh"], env) for form in forms]

    for result in results:
        assert result.code == 0, result.err
        assert result.out.lstrip().startswith("{")


def test_usage_version_prints_package_version(tmp_path):
    """version prints OpenVault v<package version>."""
    import importlib.metadata

    version = importlib.metadata.version("openvault")

    shown = run_cli(["version"], base_env(tmp_path / "home"))

    assert (shown.code, shown.out) == (0, f"OpenVault v{version}\n")
