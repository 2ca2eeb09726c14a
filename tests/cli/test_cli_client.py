"""Where the CLI finds its server and token: flags, environment, token file."""

import socket

from cli_support import base_env
from cli_support import make_tls
from cli_support import run_cli


def dead_address():
    """Return an http:// address on a loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_client_uses_vault_addr_and_vault_token(ssh_server, tmp_path):
    """VAULT_ADDR and VAULT_TOKEN alone are enough."""
    env = base_env(tmp_path / "home")
    env |= {"VAULT_ADDR": ssh_server.addr, "VAULT_TOKEN": ssh_server.root_token}

    listed = run_cli(["secrets", "list"], env)

    assert listed.code == 0, listed.err
    assert "ssh/" in listed.out


def test_client_address_flag_beats_vault_addr(ssh_server, tmp_path):
    """-address wins over a VAULT_ADDR that points nowhere."""
    env = base_env(tmp_path / "home")
    env |= {"VAULT_ADDR": dead_address(), "VAULT_TOKEN": ssh_server.root_token}

    with_flag = run_cli(["secrets", "list", f"-address={ssh_server.addr}"], env)
    without = run_cli(["secrets", "list"], env)

    assert with_flag.code == 0, with_flag.err
    assert without.code == 2
    assert env["VAULT_ADDR"] in without.err


def test_client_reads_token_file_without_vault_token(ssh_server, tmp_path):
    """With no VAULT_TOKEN, the token comes from ~/.vault-token."""
    env = base_env(tmp_path / "home") | {"VAULT_ADDR": ssh_server.addr}
    without_file = run_cli(["read", "sys/mounts/ssh"], env)
    (tmp_path / "home" / ".vault-token").write_text(ssh_server.root_token + "\n")

    with_file = run_cli(["read", "sys/mounts/ssh"], env)

    assert without_file.code == 2
    assert "Code: 403" in without_file.err
    assert with_file.code == 0, with_file.err


def test_client_vault_token_beats_token_file(ssh_server, tmp_path):
    """VAULT_TOKEN is used before ~/.vault-token."""
    env = base_env(tmp_path / "home") | {"VAULT_ADDR": ssh_server.addr}
    (tmp_path / "home" / ".vault-token").write_text(ssh_server.root_token)
    env["VAULT_TOKEN"] = "not-a-real-token"

    denied = run_cli(["read", "sys/mounts/ssh"], env)

    assert denied.code == 2
    assert "Code: 403" in denied.err
    assert "not-a-real-token" not in denied.err


def test_client_unreachable_server_exits_2(tmp_path):
    """A server that cannot be reached is an error naming the URL."""
    address = dead_address()
    env = base_env(tmp_path / "home") | {"VAULT_ADDR": address, "VAULT_TOKEN": "x"}

    failed = run_cli(["read", "ssh/roles/x"], env)

    assert failed.code == 2
    assert failed.err.startswith(f'Error reading ssh/roles/x: Get "{address}/v1/')
    assert "refused" in failed.err.lower()


def test_client_default_address_is_https_8200(tmp_path):
    """With no address at all, the CLI tries https://127.0.0.1:8200."""
    env = base_env(tmp_path / "home") | {"VAULT_TOKEN": "x"}

    failed = run_cli(["read", "ssh/roles/x"], env)

    assert failed.code == 2
    assert "https://127.0.0.1:8200/v1/ssh/roles/x" in failed.err


def test_client_verifies_tls_with_the_given_ca(ov_server_factory, tmp_path):
    """Over TLS the CLI trusts VAULT_CACERT or -ca-cert; without the CA it
    refuses the server, unless told -tls-skip-verify."""
    ca, cert, key = make_tls(tmp_path / "tls")
    server = ov_server_factory(tls=(cert, key), ca_file=ca)
    assert server.addr.startswith("https://")
    env = base_env(tmp_path / "home")
    env |= {"VAULT_ADDR": server.addr, "VAULT_TOKEN": server.root_token}

    untrusted = run_cli(["read", "sys/mounts"], env)
    by_env = run_cli(["read", "sys/mounts"], env | {"VAULT_CACERT": str(ca)})
    by_flag = run_cli(["read", f"-ca-cert={ca}", "sys/mounts"], env)
    skipped = run_cli(["read", "-tls-skip-verify", "sys/mounts"], env)

    assert untrusted.code == 2
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.err
    assert by_env.code == 0, by_env.err
    assert by_flag.code == 0, by_flag.err
    assert skipped.code == 0, skipped.err
