"""The OTP helper set up on a test host by docs/otp-helper.md, and a test PKI."""

import dataclasses
import datetime
import ipaddress
import os
import re
import ssl
import subprocess
from pathlib import Path

import openvault.ssh_helper
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HELPER_SOURCE = Path(openvault.ssh_helper.__file__)
DOC = Path(__file__).resolve().parents[2] / "docs" / "otp-helper.md"

# Paths the guide names on the host.
HELPER = "/usr/local/bin/openvault-ssh-helper"
CONFIG_DIR = "/etc/openvault-ssh-helper.d"
CONFIG = f"{CONFIG_DIR}/config.hcl"
HELPER_LOG = "/var/log/openvault-ssh-helper.log"
DROP_IN = "/etc/ssh/sshd_config.d/10-openvault-otp.conf"
# Where the files an operator would copy to the host are put first.
STAGING = "/root/openvault-install"

EXAMPLE_ADDR = "https://vault.example.com:8200"
EXAMPLE_ROLES = 'allowed_roles = "otp-web, otp-admin"'


# ---------------------------------------------------------------- the guide


def doc_block(marker):
    """Return the one fenced block of the guide that contains marker."""
    blocks = re.findall(r"^```[a-z]*\n(.*?)^```", DOC.read_text(), re.M | re.S)
    found = [block for block in blocks if marker in block]
    assert len(found) == 1, f"{marker!r} is in {len(found)} blocks of {DOC.name}"
    return found[0]


def run_doc_commands(host, marker, skip=()):
    """Run the guide's shell block holding marker inside host, in STAGING."""
    lines = [
        line
        for line in doc_block(marker).splitlines()
        if line.strip() and not line.startswith(tuple(skip))
    ]
    script = "set -e\ncd " + STAGING + "\n" + "\n".join(lines) + "\n"
    return host.run(script)


def helper_config(vault_addr, allowed_roles=None, extra=""):
    """Return the guide's example config, pointed at vault_addr."""
    config = doc_block(f"# {CONFIG}")
    assert EXAMPLE_ADDR in config and EXAMPLE_ROLES in config
    config = config.replace(EXAMPLE_ADDR, vault_addr)
    if allowed_roles is not None:
        config = config.replace(EXAMPLE_ROLES, f'allowed_roles = "{allowed_roles}"')
    return config + extra


def install_by_the_guide(host, vault_addr, ca_pem, allowed_roles=None):
    """Install the helper, its config, the PAM line and the sshd drop-in.

    Every step is the guide's own text: its shell blocks run inside the host
    (apt-get left out: the host has python3 and no network), and its config,
    PAM and sshd blocks are written where it says.
    """
    host.make_dir(STAGING, mode=0o700)
    host.write_file(f"{STAGING}/ssh_helper.py", HELPER_SOURCE.read_bytes())
    host.write_file(f"{STAGING}/ca.pem", ca_pem)

    installed = run_doc_commands(host, f"ssh_helper.py {HELPER}", skip=("apt-get",))
    version = installed.stdout.strip()
    assert f"The last command prints `{version}`" in DOC.read_text(), version
    run_doc_commands(host, "install -o root -g root -m 0644 ca.pem")
    host.write_file(CONFIG, helper_config(vault_addr, allowed_roles))

    pam = host.read_text("/etc/pam.d/sshd")
    assert pam.count("\n@include common-auth\n") == 1
    lines = doc_block("#@include common-auth").splitlines()
    stack = "\n".join(line for line in lines if not line.startswith("# Standard"))
    host.write_file("/etc/pam.d/sshd", pam.replace("@include common-auth", stack))

    host.write_file(DROP_IN, doc_block(f"# {DROP_IN}"))
    host.run(["sshd", "-t"])
    # The guide's `systemctl reload ssh`; a test host's sshd has no systemd.
    host.reload()
    host.remove(STAGING)


def ssh_password(host, password, user="alice", extra=(), command="id -un"):
    """Log in by keyboard-interactive, typing password; return the process."""
    argv = ["sshpass", "-e", "ssh", "-F", "/dev/null", "-p", str(host.port)]
    for option in (
        "StrictHostKeyChecking=no",
        "UserKnownHostsFile=/dev/null",
        "PreferredAuthentications=keyboard-interactive",
        "PubkeyAuthentication=no",
        "NumberOfPasswordPrompts=1",
        "ConnectTimeout=10",
        "LogLevel=ERROR",
        *extra,
    ):
        argv += ["-o", option]
    argv += [f"{user}@{host.ip}", command]
    env = dict(os.environ, SSHPASS=password)
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)


# ---------------------------------------------------------------------- PKI


@dataclasses.dataclass
class Pki:
    """CA and server certificates written to files."""

    ca_cert: Path
    other_ca_cert: Path
    server_cert: Path
    server_key: Path
    named_cert: Path
    named_key: Path

    def server_context(self, named=False, max_version=None):
        """Return a server-side TLS context for the IP cert or the named cert."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        if named:
            context.load_cert_chain(self.named_cert, self.named_key)
        else:
            context.load_cert_chain(self.server_cert, self.server_key)
        if max_version is not None:
            context.maximum_version = max_version
        return context


def make_pki(directory):
    """Create two CAs and two leaf certificates under directory."""
    directory = Path(directory)
    ca_key, ca_cert = _make_ca("openvault test CA")
    _other_key, other_cert = _make_ca("some other CA")

    server_key, server_cert = _make_leaf(
        ca_key,
        ca_cert,
        [
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            # The test hosts' gateway, where their sshd reaches the server.
            x509.IPAddress(ipaddress.ip_address("198.51.100.1")),
            x509.DNSName("localhost"),
        ],
    )
    named_key, named_cert = _make_leaf(
        ca_key, ca_cert, [x509.DNSName("vault.example.com")]
    )

    paths = Pki(
        ca_cert=directory / "ca.pem",
        other_ca_cert=directory / "other-ca.pem",
        server_cert=directory / "server.pem",
        server_key=directory / "server-key.pem",
        named_cert=directory / "named.pem",
        named_key=directory / "named-key.pem",
    )
    _write_cert(paths.ca_cert, ca_cert)
    _write_cert(paths.other_ca_cert, other_cert)
    _write_cert(paths.server_cert, server_cert)
    _write_key(paths.server_key, server_key)
    _write_cert(paths.named_cert, named_cert)
    _write_key(paths.named_key, named_key)
    return paths


def _make_ca(name):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _make_leaf(ca_key, ca_cert, names):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "server")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def _write_cert(path, cert):
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _write_key(path, key):
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
