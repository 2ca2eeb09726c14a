"""Helpers for the CLI tests: run the installed openvault, record ssh calls."""

import dataclasses
import datetime
import ipaddress
import json
import os
import pathlib
import subprocess
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

OPENVAULT = pathlib.Path(sys.executable).with_name("openvault")

# A stand-in for the ssh program: it records how it was called. Under sshpass
# it also prompts for a password on its terminal, as ssh does, records what
# sshpass typed, and (when asked) checks that value with the server's verify
# endpoint the way a host's helper would, before the CLI can revoke it.
# Without sshpass it reads the OTP from FAKE_SSH_OTP_FILE, where the test
# sends the CLI's stdout.
FAKE_SSH = """#!{python}
import json, os, sys, urllib.request

record = {{"argv": sys.argv, "sshpass_in_env": "SSHPASS" in os.environ}}
if "SSHPASS" in os.environ:
    tty = os.open("/dev/tty", os.O_RDWR)
    os.write(tty, b"user@host's password: ")
    typed = b""
    while not typed.endswith(b"\\n"):
        chunk = os.read(tty, 256)
        if not chunk:
            break
        typed += chunk
    record["typed"] = typed.decode().rstrip("\\r\\n")
otp = record.get("typed")
if not otp and os.environ.get("FAKE_SSH_OTP_FILE"):
    printed = open(os.environ["FAKE_SSH_OTP_FILE"]).read()
    otp = printed.split("OTP for the session is: ")[1].split()[0]
if os.environ.get("FAKE_SSH_VERIFY") and otp:
    body = json.dumps({{"otp": otp}}).encode()
    url = os.environ["VAULT_ADDR"] + "/v1/ssh/verify"
    request = urllib.request.Request(url, body, method="PUT")
    try:
        with urllib.request.urlopen(request) as reply:
            record["verify"] = json.loads(reply.read())["data"]
    except Exception as error:
        record["verify_error"] = str(error)
with open(os.environ["FAKE_SSH_RECORD"], "w") as handle:
    json.dump(record, handle)
sys.exit(int(os.environ.get("FAKE_SSH_EXIT", "0")))
"""


@dataclasses.dataclass
class Result:
    """What one openvault run printed and returned."""

    code: int
    out: str
    err: str


def base_env(home):
    """A clean environment: no VAULT_* from the caller, HOME in tmp_path."""
    home.mkdir(exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
    }


def server_env(server):
    """Only the VAULT_* variables of a test server's environment."""
    return {k: v for k, v in server.env().items() if k.startswith("VAULT_")}


def run_cli(args, env, stdin=None, timeout=60, stdout_file=None):
    """Run the installed openvault executable and capture its output; with
    stdout_file, stdout goes to that file (so a child can read it live)."""
    feed = {"input": stdin} if stdin is not None else {"stdin": subprocess.DEVNULL}
    if stdout_file is None:
        done = subprocess.run(
            [str(OPENVAULT), *args],
            **feed,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return Result(done.returncode, done.stdout, done.stderr)
    with open(stdout_file, "w") as out:
        done = subprocess.run(
            [str(OPENVAULT), *args],
            **feed,
            env=env,
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
            timeout=timeout,
        )
    return Result(done.returncode, pathlib.Path(stdout_file).read_text(), done.stderr)


def install_fake_ssh(directory):
    """Write the recording ssh stand-in into a directory and return it."""
    directory.mkdir(exist_ok=True)
    path = directory / "ssh"
    path.write_text(FAKE_SSH.format(python=sys.executable))
    path.chmod(0o755)
    return path


def table(text):
    """Parse a Key/Value table into a dict; fails on anything else."""
    lines = text.strip("\n").splitlines()
    assert lines[0].split() == ["Key", "Value"], text
    assert lines[1].split() == ["---", "-----"], text
    rows = {}
    for line in lines[2:]:
        key, _, value = line.partition(" ")
        rows[key] = value.strip()
    return rows


def table_keys(text):
    """Return the keys of a Key/Value table in the order printed."""
    return [line.split()[0] for line in text.strip("\n").splitlines()[2:]]


def read_record(path):
    """Load what the ssh stand-in recorded."""
    return json.loads(path.read_text())


def make_tls(directory):
    """Write a CA and a server certificate for 127.0.0.1; return the paths
    (ca, cert, key)."""
    now = datetime.datetime.now(datetime.UTC)

    def build(subject, issuer, public_key, signer, extensions):
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
        )
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical=critical)
        return builder.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = build(
        "cli test CA",
        "cli test CA",
        ca_key.public_key(),
        ca_key,
        [(x509.BasicConstraints(ca=True, path_length=None), True)],
    )
    key = ec.generate_private_key(ec.SECP256R1())
    san = x509.SubjectAlternativeName(
        [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    )
    cert = build(
        "127.0.0.1",
        "cli test CA",
        key.public_key(),
        ca_key,
        [(x509.BasicConstraints(ca=False, path_length=None), True), (san, False)],
    )

    directory.mkdir(parents=True, exist_ok=True)
    paths = (directory / "ca.pem", directory / "cert.pem", directory / "key.pem")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    paths[2].chmod(0o600)
    return paths
