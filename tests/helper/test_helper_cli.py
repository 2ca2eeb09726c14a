"""The helper's command line: flags, exit codes, version, log levels, install."""

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helper_support import HELPER_SOURCE
from helper_support import LOOPBACK_CIDRS
from helper_support import OTP
from helper_support import pam_env
from helper_support import run
from openvault import ssh_helper


def write_config(tmp_path, addr, extra='allowed_roles = "*"\n'):
    """Write a minimal helper config pointing at addr (loopback allowed)."""
    config = tmp_path / "config.hcl"
    config.write_text(f'vault_addr = "{addr}"\n{LOOPBACK_CIDRS}\n{extra}')
    return config


@pytest.mark.parametrize("flag", ["-version", "--version", "version", "-v"])
def test_cli_version_prints_version_and_exits_0(helper, flag):
    result = helper(flag)

    assert result.returncode == 0
    assert result.stdout.strip() == f"openvault-ssh-helper v{ssh_helper.VERSION}"


def test_cli_version_matches_the_package():
    assert ssh_helper.VERSION == importlib.metadata.version("openvault")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], "at least one config path must be specified with -config"),
        (["-verify-only"], "at least one config path must be specified with -config"),
        (["-config="], "at least one config path must be specified with -config"),
        (["-config"], "flag needs an argument: -config"),
        (["-config=x", "-bogus"], "flag provided but not defined: -bogus"),
        (["-config=x", "-log-level=loud"], "-log-level must be off, trace"),
        (["-config=x", "-dev=maybe"], "-dev takes true or false"),
        (["-config=x", "extra"], "unexpected argument 'extra'"),
    ],
)
def test_cli_usage_error_exits_2_with_one_line(helper, args, expected):
    result = helper(*args)

    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert expected in result.stderr


def test_cli_help_prints_usage(helper):
    result = helper("-help")

    assert result.returncode == 0
    assert "-config=<path>" in result.stdout


@pytest.mark.parametrize("form", ["equals", "separate"])
def test_cli_config_flag_takes_both_forms(helper, standin, tmp_path, form):
    config = write_config(tmp_path, standin.addr)
    args = [f"-config={config}"] if form == "equals" else ["-config", str(config)]

    result = helper(*args, "-dev", "-verify-only")

    assert result.returncode == 0, result.stderr
    assert len(standin.seen) == 1


def test_cli_double_dash_flags_work(helper, standin, tmp_path):
    config = write_config(tmp_path, standin.addr)

    result = helper(f"--config={config}", "--dev", "--verify-only")

    assert result.returncode == 0, result.stderr


def test_cli_log_level_error_hides_info_lines(helper, standin, tmp_path):
    config = write_config(tmp_path, standin.addr)

    loud = helper(f"-config={config}", "-dev", "-verify-only")
    quiet = helper(f"-config={config}", "-dev", "-verify-only", "-log-level=error")

    assert "verification successful" in loud.stderr
    assert quiet.returncode == 0
    assert quiet.stderr == ""


def test_cli_log_level_off_still_exits_nonzero_on_failure(helper, tmp_path):
    config = write_config(tmp_path, "http://127.0.0.1:1")

    result = helper(f"-config={config}", "-verify-only", "-log-level", "off")

    assert result.returncode == 1
    assert result.stderr == ""


def test_cli_log_level_debug_shows_the_mount_point(helper, standin, tmp_path):
    config = write_config(tmp_path, standin.addr)

    result = helper(f"-config={config}", "-dev", "-verify-only", "-log-level=debug")

    assert "using ssh mount point: ssh" in result.stderr


def test_cli_console_script_runs_the_same_helper(standin, tmp_path):
    config = write_config(tmp_path, standin.addr)
    console = Path(sys.executable).with_name("openvault-ssh-helper")

    result = run([str(console)], [f"-config={config}", "-dev"], (OTP + "\0").encode())

    assert result.returncode == 0, result.stderr
    assert "login allowed: user=alice" in result.stderr


def test_cli_script_runs_with_the_system_python_alone(python3, standin, tmp_path):
    # -I: no user site, no PYTHONPATH; run from an empty directory, so only
    # the standard library is importable besides the file itself.
    config = write_config(tmp_path, standin.addr)
    empty = tmp_path / "empty"
    empty.mkdir()

    done = subprocess.run(
        [python3, "-I", str(HELPER_SOURCE), f"-config={config}", "-dev"],
        input=(OTP + "\0").encode(),
        env=pam_env(),
        cwd=empty,
        capture_output=True,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert b"login allowed" in done.stderr


def test_cli_installed_copy_is_executable_with_a_python3_shebang(helper_path):
    assert helper_path.read_text().startswith("#!/usr/bin/env python3\n")
    assert os.access(helper_path, os.X_OK)
    assert os.access(HELPER_SOURCE, os.X_OK)


def test_cli_helper_imports_only_the_standard_library():
    names = set()
    for line in HELPER_SOURCE.read_text().splitlines():
        if line.startswith(("import ", "from ")) or line.startswith("    import "):
            names.add(line.split()[1].split(".")[0])

    assert names <= set(sys.stdlib_module_names), names - set(sys.stdlib_module_names)
