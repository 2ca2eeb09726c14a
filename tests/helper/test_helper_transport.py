"""HLP-04: scheme rules, TLS settings, -verify-only, and failing closed."""

import socket
import ssl

import pytest
from helper_support import ECHO_REPLY
from helper_support import LOOPBACK_CIDRS
from helper_support import OTP
from helper_support import StandIn
from openvault import ssh_helper
from openvault.ssh_helper import ConfigError
from openvault.ssh_helper import apply_mode
from openvault.ssh_helper import parse_config


def write_config(tmp_path, addr, extra=""):
    """Write a helper config for addr with extra lines."""
    config = tmp_path / "config.hcl"
    config.write_text(f'vault_addr = "{addr}"\nallowed_roles = "*"\n{extra}')
    return config


def verify_only(helper, config, *flags):
    """Run -verify-only with config."""
    return helper(f"-config={config}", "-verify-only", *flags)


# --- HLP-04 cases 1 and 2: scheme rules -------------------------------------


def test_scheme_http_without_dev_is_refused(helper, standin, tmp_path):
    config = write_config(tmp_path, "http://127.0.0.1:8202")

    result = verify_only(helper, config)

    assert result.returncode == 1
    assert "unsupported scheme. use 'dev' mode" in result.stderr


def test_scheme_http_without_dev_refuses_a_login_before_sending(login, standin):
    result = login(f'vault_addr = "{standin.addr}"\nallowed_roles = "*"\n')

    assert result.returncode == 1
    assert "unsupported scheme. use 'dev' mode" in result.stderr
    assert standin.seen == []


def test_scheme_https_with_dev_is_refused(helper, tls_standin, tmp_path):
    config = write_config(tmp_path, tls_standin.addr)

    result = verify_only(helper, config, "-dev")

    assert result.returncode == 1
    assert "unsupported scheme in 'dev' mode" in result.stderr
    assert tls_standin.seen == []


def test_scheme_dev_ignores_ca_cert_and_ca_path(helper, standin, tmp_path):
    extra = 'ca_cert = "/nonexistent/ca.pem"\nca_path = "/nonexistent/cas"\n'
    config = write_config(tmp_path, standin.addr, extra)

    result = verify_only(helper, config, "-dev")

    assert result.returncode == 0, result.stderr


def test_scheme_dev_mode_clears_ca_settings():
    config = parse_config(
        'vault_addr = "http://v:8200"\nca_cert = "/a.pem"\nca_path = "/cas"\n'
    )

    used = apply_mode(config, dev=True)

    assert (used.ca_cert, used.ca_path) == ("", "")


@pytest.mark.parametrize(
    "addr", ["vault.example.com:8200", "ftp://v:21", "https://", "https://v:port"]
)
def test_scheme_rejects_addresses_that_are_not_urls(addr):
    with pytest.raises(ConfigError) as caught:
        apply_mode(parse_config(f'vault_addr = "{addr}"'), dev=False)

    assert "'vault_addr'" in str(caught.value)


# --- HLP-04 cases 3, 4 and 5: TLS -------------------------------------------


def test_tls_skip_verify_works_without_ca_cert(helper, tls_standin, tmp_path):
    config = write_config(tmp_path, tls_standin.addr, "tls_skip_verify = true\n")

    result = verify_only(helper, config)

    assert result.returncode == 0, result.stderr


def test_tls_without_ca_cert_checks_against_the_system_store(
    helper, tls_standin, tmp_path
):
    config = write_config(tmp_path, tls_standin.addr)

    result = verify_only(helper, config)

    assert result.returncode == 1
    assert "TLS certificate check failed" in result.stderr
    assert tls_standin.seen == []


def test_tls_ca_cert_verifies_the_server(helper, tls_standin, pki, tmp_path):
    config = write_config(tmp_path, tls_standin.addr, f'ca_cert = "{pki.ca_cert}"\n')

    result = verify_only(helper, config)

    assert result.returncode == 0, result.stderr


def test_tls_wrong_ca_cert_fails_closed(helper, tls_standin, pki, tmp_path):
    extra = f'ca_cert = "{pki.other_ca_cert}"\n'
    config = write_config(tmp_path, tls_standin.addr, extra)

    result = verify_only(helper, config)

    assert result.returncode == 1
    assert "TLS certificate check failed" in result.stderr


def test_tls_ca_path_loads_every_file_in_the_directory(
    helper, tls_standin, pki, tmp_path
):
    cas = tmp_path / "cas"
    cas.mkdir()
    (cas / "a-other.pem").write_bytes(pki.other_ca_cert.read_bytes())
    (cas / "b-ours.crt").write_bytes(pki.ca_cert.read_bytes())
    config = write_config(tmp_path, tls_standin.addr, f'ca_path = "{cas}"\n')

    result = verify_only(helper, config)

    assert result.returncode == 0, result.stderr


def test_tls_ca_path_with_a_non_certificate_file_is_a_config_error(
    helper, tls_standin, pki, tmp_path
):
    cas = tmp_path / "cas"
    cas.mkdir()
    (cas / "README").write_text("not a certificate\n")
    config = write_config(tmp_path, tls_standin.addr, f'ca_path = "{cas}"\n')

    result = verify_only(helper, config)

    assert result.returncode == 1
    assert f"no CA certificate in {cas / 'README'}" in result.stderr


def test_tls_context_requires_tls_1_2_or_newer(pki):
    for extra in ("", f'ca_cert = "{pki.ca_cert}"', "tls_skip_verify = true"):
        config = parse_config(f'vault_addr = "https://v:8200"\n{extra}\n')

        context = ssh_helper.build_ssl_context(config)

        assert context.minimum_version == ssl.TLSVersion.TLSv1_2


def test_tls_1_2_only_server_is_accepted(helper, pki, tmp_path):
    server = StandIn(pki.server_context(max_version=ssl.TLSVersion.TLSv1_2))
    try:
        config = write_config(tmp_path, server.addr, f'ca_cert = "{pki.ca_cert}"\n')

        result = verify_only(helper, config)
    finally:
        server.close()

    assert result.returncode == 0, result.stderr


@pytest.fixture
def proxy(pki):
    """A server at 127.0.0.1 whose certificate names only vault.example.com."""
    server = StandIn(pki.server_context(named=True))
    yield server
    server.close()


def test_tls_server_name_checks_the_cert_against_that_name(
    helper, proxy, pki, tmp_path
):
    extra = f'ca_cert = "{pki.ca_cert}"\ntls_server_name = "vault.example.com"\n'
    config = write_config(tmp_path, proxy.addr, extra)

    result = verify_only(helper, config)

    assert result.returncode == 0, result.stderr
    assert proxy.sni == ["vault.example.com"]
    assert proxy.seen[0].headers["Host"] == f"127.0.0.1:{proxy.port}"


def test_tls_without_server_name_a_name_mismatch_fails(helper, proxy, pki, tmp_path):
    config = write_config(tmp_path, proxy.addr, f'ca_cert = "{pki.ca_cert}"\n')

    result = verify_only(helper, config)

    assert result.returncode == 1
    assert "TLS certificate check failed" in result.stderr
    assert proxy.seen == []


def test_tls_wrong_server_name_fails(helper, proxy, pki, tmp_path):
    extra = f'ca_cert = "{pki.ca_cert}"\ntls_server_name = "other.example.com"\n'
    config = write_config(tmp_path, proxy.addr, extra)

    result = verify_only(helper, config)

    assert result.returncode == 1
    assert proxy.seen == []


def test_tls_login_over_https_with_ca_cert_is_allowed(login, tls_standin, pki):
    text = (
        f'vault_addr = "{tls_standin.addr}"\nca_cert = "{pki.ca_cert}"\n'
        f'allowed_roles = "web.prod"\n{LOOPBACK_CIDRS}\n'
    )

    result = login(text)

    assert result.returncode == 0, result.stderr
    assert tls_standin.seen[0].json() == {"otp": OTP}


# --- HLP-04 case 8: -verify-only --------------------------------------------


def test_verify_only_sends_the_echo_request_and_checks_the_reply(
    helper, standin, tmp_path
):
    standin.answer(reply=ECHO_REPLY)
    config = write_config(tmp_path, standin.addr)

    result = verify_only(helper, config, "-dev")

    assert result.returncode == 0, result.stderr
    assert "openvault-ssh-helper verification successful!" in result.stderr
    seen = standin.seen[0]
    assert (seen.method, seen.path) == ("POST", "/v1/ssh/verify")
    assert seen.json() == {"otp": "verify-echo-request"}
    assert "X-Vault-Token" not in seen.headers


@pytest.mark.parametrize(
    "reply",
    [
        {"data": {"message": "something else"}},
        {"data": {"ip": "127.0.0.1", "username": "alice"}},
        {"data": None},
        {"errors": []},
    ],
)
def test_verify_only_fails_without_the_echo_response(helper, standin, tmp_path, reply):
    standin.answer(reply=reply)
    config = write_config(tmp_path, standin.addr)

    result = verify_only(helper, config, "-dev")

    assert result.returncode == 1
    assert "verification successful" not in result.stderr


def test_verify_only_warns_when_allowed_roles_is_missing(helper, standin, tmp_path):
    standin.answer(reply=ECHO_REPLY)
    config = tmp_path / "config.hcl"
    config.write_text(f'vault_addr = "{standin.addr}"\n')

    result = verify_only(helper, config, "-dev")

    assert result.returncode == 0
    assert "'allowed_roles' is not set: every login will fail" in result.stderr


def test_verify_uses_mount_point_and_namespace(helper, standin, tmp_path):
    standin.answer(reply=ECHO_REPLY)
    extra = 'ssh_mount_point = "/team/ssh-otp/"\nnamespace = "eng/"\n'
    config = write_config(tmp_path, standin.addr, extra)

    result = verify_only(helper, config, "-dev")

    assert result.returncode == 0, result.stderr
    assert standin.seen[0].path == "/v1/team/ssh-otp/verify"
    assert standin.seen[0].headers["X-Vault-Namespace"] == "eng/"


def test_verify_sends_no_namespace_header_by_default(helper, standin, tmp_path):
    standin.answer(reply=ECHO_REPLY)
    config = write_config(tmp_path, standin.addr)

    verify_only(helper, config, "-dev")

    assert "X-Vault-Namespace" not in standin.seen[0].headers


def test_verify_keeps_a_path_prefix_of_vault_addr(helper, standin, tmp_path):
    config = write_config(tmp_path, standin.addr + "/vault/")

    result = verify_only(helper, config, "-dev")

    assert result.returncode == 0, result.stderr
    assert standin.seen[0].path == "/vault/v1/ssh/verify"


# --- failing closed ---------------------------------------------------------


def test_transport_server_down_fails_closed(login, unused_port):
    result = login(
        f'vault_addr = "http://127.0.0.1:{unused_port}"\nallowed_roles = "*"\n', "-dev"
    )

    assert result.returncode == 1
    assert "cannot reach the server" in result.stderr
    assert "Connection refused" in result.stderr


@pytest.mark.slow
def test_transport_slow_server_times_out_and_fails_closed(login, standin):
    standin.answer(delay=30)

    result = login(f'vault_addr = "{standin.addr}"\nallowed_roles = "*"\n', "-dev")

    assert result.returncode == 1
    assert "timed out after 10 s" in result.stderr
    assert 9.5 < result.elapsed < 14


@pytest.mark.parametrize(
    ("status", "reply", "expected"),
    [
        (200, b"<html>hello</html>", "not a JSON object"),
        (200, b"", "not a JSON object"),
        (200, [1, 2], "not a JSON object"),
        (200, {"data": ["alice"]}, "no 'data' object"),
        (200, {"nodata": {}}, "no 'data' object"),
        (200, {"data": {"username": 7, "ip": "127.0.0.1"}}, "no 'username'"),
        (200, {"data": {"username": "alice"}}, "no valid 'ip'"),
        (200, {"data": {"username": "alice", "ip": "a"}}, "no valid 'ip'"),
        (
            200,
            {"data": {"username": "alice", "ip": "127.0.0.1", "role_name": 3}},
            "role",
        ),
        (400, {"errors": ["OTP not found"]}, "refused the OTP (400: OTP not found)"),
        (403, {"errors": ["permission denied"]}, "403: permission denied"),
        (500, b"oops", "answered 500 without a Vault reply"),
        (502, b"<html>bad gateway</html>", "answered 502"),
        (204, b"", "answered 204"),
        (307, {"errors": []}, "answered 307"),
    ],
)
def test_transport_bad_replies_fail_closed(login, standin, status, reply, expected):
    standin.answer(status=status, reply=reply)

    result = login(f'vault_addr = "{standin.addr}"\nallowed_roles = "*"\n', "-dev")

    assert result.returncode == 1
    assert "login denied" in result.stderr
    assert expected in result.stderr


@pytest.fixture
def unused_port():
    """A TCP port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
