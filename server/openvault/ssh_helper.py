#!/usr/bin/env python3
"""OTP helper for SSH hosts: checks a one-time password with the server's verify."""

# This file must stay a single module that uses only the Python standard
# library: hosts get it by copying it to e.g. /usr/local/bin/openvault-ssh-helper
# and run it from PAM (pam_exec with expose_authtok), without pip.
#
# It is a drop-in for vault-ssh-helper: same flags, same config keys, same
# rules. The file has two layers. The lower one is plain functions that need
# no terminal (config parsing, scheme rules, the HTTP exchange, the host's own
# addresses, and decide()). The upper one, from "Command line" down, parses
# arguments, sets up logging and maps every outcome to an exit code.

import array
import dataclasses
import fcntl
import http.client
import ipaddress
import json
import logging
import os
import re
import signal
import socket
import ssl
import struct
import sys
import syslog
import threading
import urllib.parse

VERSION = "0.1.0"
PROG = "openvault-ssh-helper"

ECHO_REQUEST = "verify-echo-request"
ECHO_RESPONSE = "verify-echo-response"

# pam_exec gives up nothing on its own if the helper hangs, and sshd only
# gives up at LoginGraceTime, so every exchange with the server is bounded.
TIMEOUT_SECONDS = 10.0

# An OTP is 36 characters and PAM caps a password at 512 bytes; anything
# longer is not an OTP. The reply cap keeps a rogue server from filling memory.
MAX_INPUT_BYTES = 4096
MAX_REPLY_BYTES = 1 << 20

UUID_RE = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)

CONFIG_KEYS = (
    "vault_addr",
    "ssh_mount_point",
    "namespace",
    "ca_cert",
    "ca_path",
    "tls_skip_verify",
    "tls_server_name",
    "allowed_cidr_list",
    "allowed_roles",
)
BOOL_KEYS = frozenset({"tls_skip_verify"})

NO_LOCAL_MATCH = (
    "IP did not match any of the network interface addresses. If this was "
    "expected, configure the 'allowed_cidr_list' option to allow the IP."
)

LOOPBACK_REFUSED = (
    "IP is a loopback address, which every host has; it is accepted only "
    "inside 'allowed_cidr_list'"
)

# The name stays the same when the file runs as a copied script (__main__).
logger = logging.getLogger("openvault.ssh_helper")


class HelperError(Exception):
    """A failure that denies the login; the message is safe to log."""


class ConfigError(HelperError):
    """The config file or a flag that depends on it is wrong."""


class UsageError(Exception):
    """The command line is wrong (exit status 2)."""


# ---------------------------------------------------------------------------
# Config file
# ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Config:
    """The helper's settings, parsed and checked."""

    vault_addr: str
    ssh_mount_point: str = "ssh"
    namespace: str = ""
    ca_cert: str = ""
    ca_path: str = ""
    tls_skip_verify: bool = False
    tls_server_name: str = ""
    allowed_cidr_list: tuple = ()
    allowed_roles: tuple = ()


def load_config(path):
    """Read and parse the config file at path."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(
            f"cannot read config file {path}: {_os_reason(err)}"
        ) from None

    return parse_config(text, source=path)


def parse_config(text, source="config"):
    """Parse config text in HCL (key = value lines) or JSON form into a Config."""
    if text.lstrip().startswith("{"):
        pairs = _parse_json_pairs(text, source)
    else:
        pairs = _parse_hcl_pairs(text, source)

    values = {}
    for key, value, line in pairs:
        if key not in CONFIG_KEYS:
            raise ConfigError(
                f"invalid key '{key}' on line {line} of {source}; "
                f"accepted keys: {', '.join(CONFIG_KEYS)}"
            )
        if key in values:
            raise ConfigError(f"duplicate key '{key}' on line {line} of {source}")
        values[key] = _check_type(key, value, line, source)

    return _build_config(values)


def _build_config(values):
    """Turn checked raw values into a Config."""
    if not values.get("vault_addr", "").strip():
        raise ConfigError('missing config "vault_addr"')

    mount = values.get("ssh_mount_point", "").strip().strip("/") or "ssh"
    if not re.fullmatch(r"[\w.@/-]+", mount):
        raise ConfigError(
            f"'ssh_mount_point' must be a mount path such as ssh, got '{mount}'"
        )

    return Config(
        vault_addr=values["vault_addr"].strip(),
        ssh_mount_point=mount,
        namespace=values.get("namespace", "").strip(),
        ca_cert=values.get("ca_cert", "").strip(),
        ca_path=values.get("ca_path", "").strip(),
        tls_skip_verify=values.get("tls_skip_verify", False),
        tls_server_name=values.get("tls_server_name", "").strip(),
        allowed_cidr_list=parse_cidr_list(values.get("allowed_cidr_list", "")),
        allowed_roles=parse_list(values.get("allowed_roles", "")),
    )


def _check_type(key, value, line, source):
    """Check that a raw value has the type its key needs."""
    if key in BOOL_KEYS:
        # Accept "true"/"false" too: templating tools often quote them.
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        if isinstance(value, bool):
            return value
        raise ConfigError(
            f"'{key}' on line {line} of {source} must be true or false, got {value!r}"
        )

    if not isinstance(value, str):
        raise ConfigError(
            f"'{key}' on line {line} of {source} must be a quoted string, got {value!r}"
        )
    return value


def parse_list(text):
    """Split a comma list, trimming entries and dropping empty ones."""
    return tuple(item.strip() for item in text.split(",") if item.strip())


def parse_cidr_list(text):
    """Parse allowed_cidr_list into networks, naming a bad entry."""
    networks = []
    for entry in parse_list(text):
        try:
            # Host bits may be set ("10.1.2.3/8"), as vault-ssh-helper allowed.
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ConfigError(
                f"'allowed_cidr_list' entry '{entry}' is not a CIDR block "
                "such as 10.0.0.0/8"
            ) from None
    return tuple(networks)


_HCL_KEY = re.compile(r'\s*(?:"([^"\\]+)"|([A-Za-z_][\w.-]*))\s*=\s*')
_HCL_STRING = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
_HCL_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def _parse_hcl_pairs(text, source):
    """Parse flat HCL `key = value` lines into (key, value, line) triples."""
    pairs = []
    for number, line in enumerate(_strip_block_comments(text).splitlines(), 1):
        if not line.strip() or line.lstrip().startswith(("#", "//")):
            continue

        match = _HCL_KEY.match(line)
        if not match:
            raise ConfigError(f"line {number} of {source} is not a key = value setting")
        key = match.group(1) or match.group(2)
        value, rest = _hcl_value(line[match.end() :], number, key, source)

        rest = rest.strip()
        if rest and not rest.startswith(("#", "//")):
            raise ConfigError(
                f"unexpected text after the value of '{key}' on line {number} "
                f"of {source}"
            )
        pairs.append((key, value, number))
    return pairs


def _hcl_value(text, number, key, source):
    """Read one HCL value (string or boolean); return it and the rest."""
    match = _HCL_STRING.match(text)
    if match:
        raw = match.group(1)
        value = re.sub(
            r"\\(.)", lambda m: _HCL_ESCAPES.get(m.group(1), m.group(0)), raw
        )
        return value, text[match.end() :]

    word = re.match(r"[A-Za-z0-9_.+-]+", text)
    if word and word.group(0) in ("true", "false"):
        return word.group(0) == "true", text[word.end() :]

    raise ConfigError(
        f"'{key}' on line {number} of {source} needs a quoted string or true/false"
    )


def _strip_block_comments(text):
    """Blank out /* */ comments, keeping line numbers."""

    def blank(match):
        return "\n" * match.group(0).count("\n")

    return re.sub(r"/\*.*?\*/", blank, text, flags=re.DOTALL)


def _parse_json_pairs(text, source):
    """Parse a JSON object config into (key, value, line) triples."""
    try:
        document = json.loads(text, object_pairs_hook=list)
    except ValueError as err:
        raise ConfigError(f"{source} is not valid JSON: {err}") from None
    if not isinstance(document, list):
        raise ConfigError(f"{source} must hold one JSON object")

    pairs = []
    for key, value in document:
        found = re.search(r'"' + re.escape(key) + r'"\s*:', text)
        line = text.count("\n", 0, found.start()) + 1 if found else 0
        if isinstance(value, list):
            raise ConfigError(
                f"'{key}' on line {line} of {source} must be a string, "
                'not a JSON array (write "a,b")'
            )
        pairs.append((key, value, line))
    return pairs


def apply_mode(config, dev):
    """Apply the scheme rules of normal and -dev mode; return the config to use."""
    parts = urllib.parse.urlsplit(config.vault_addr)
    scheme = parts.scheme.lower()

    if dev:
        if scheme == "https":
            raise ConfigError("unsupported scheme in 'dev' mode")
        # Dev mode talks plain HTTP, so CA settings mean nothing there.
        config = dataclasses.replace(config, ca_cert="", ca_path="")
    elif scheme == "http":
        raise ConfigError("unsupported scheme. use 'dev' mode")

    if scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            "'vault_addr' must be a URL such as https://vault.example.com:8200, "
            f"got '{config.vault_addr}'"
        )
    try:
        _ = parts.port  # urlsplit checks the port only when asked
    except ValueError:
        raise ConfigError(
            f"'vault_addr' has a bad port, got '{config.vault_addr}'"
        ) from None
    return config


# ---------------------------------------------------------------------------
# Talking to the server
# ---------------------------------------------------------------------------


def build_ssl_context(config):
    """Build the TLS context for an https vault_addr (TLS 1.2 or newer)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2

    # Honoured with or without ca_cert (vault#1123 was this being ignored).
    if config.tls_skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context

    try:
        if config.ca_cert:
            context.load_verify_locations(cafile=config.ca_cert)
        elif config.ca_path:
            _load_ca_dir(context, config.ca_path)
        else:
            _load_system_cas(context)
    except (OSError, ssl.SSLError) as err:
        where = config.ca_cert or config.ca_path
        raise ConfigError(f"cannot load CA certificates from {where}: {err}") from None
    return context


def _load_ca_dir(context, path):
    """Load every file in a CA directory, as vault-ssh-helper's ca_path does."""
    # Not capath=: OpenSSL would need c_rehash names, which hosts rarely have.
    names = sorted(os.listdir(path))
    for name in names:
        full = os.path.join(path, name)
        if os.path.isfile(full):
            try:
                context.load_verify_locations(cafile=full)
            except ssl.SSLError:
                raise ConfigError(f"no CA certificate in {full} (ca_path)") from None


def _load_system_cas(context):
    """Load the system CA store without reading SSL_CERT_* from the environment."""
    # The PAM environment can carry user-set variables, and those must not
    # choose which CAs the helper trusts.
    paths = ssl.get_default_verify_paths()
    cafile = paths.openssl_cafile if os.path.isfile(paths.openssl_cafile) else None
    capath = paths.openssl_capath if os.path.isdir(paths.openssl_capath) else None
    if cafile or capath:
        context.load_verify_locations(cafile=cafile, capath=capath)


class _HTTPSConnection(http.client.HTTPConnection):
    """HTTPS with a chosen name for SNI and the certificate check."""

    default_port = 443

    def __init__(self, host, port, *, timeout, context, server_name):
        super().__init__(host, port, timeout=timeout)
        self._tls_context = context
        self._server_name = server_name

    def connect(self):
        """Connect, then start TLS naming tls_server_name or the URL's host."""
        super().connect()
        self.sock = self._tls_context.wrap_socket(
            self.sock, server_hostname=self._server_name
        )


def verify_path(config):
    """Return the request path of the verify endpoint."""
    prefix = urllib.parse.urlsplit(config.vault_addr).path.rstrip("/")
    mount = urllib.parse.quote(config.ssh_mount_point, safe="/@")
    return f"{prefix}/v1/{mount}/verify"


def post_verify(config, otp, timeout=TIMEOUT_SECONDS):
    """POST the OTP to verify (no token); return (status, body bytes)."""
    parts = urllib.parse.urlsplit(config.vault_addr)
    if parts.scheme.lower() == "https":
        connection = _HTTPSConnection(
            parts.hostname,
            parts.port or 443,
            timeout=timeout,
            context=build_ssl_context(config),
            server_name=config.tls_server_name or parts.hostname,
        )
    else:
        connection = http.client.HTTPConnection(
            parts.hostname, parts.port or 80, timeout=timeout
        )

    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": f"{PROG}/{VERSION}",
    }
    if config.namespace:
        headers["X-Vault-Namespace"] = config.namespace

    # Limitation: redirects are not followed (a Vault standby answers 307);
    # such a reply fails the login. Point vault_addr at the active server.
    body = json.dumps({"otp": otp}).encode()
    try:
        connection.request("POST", verify_path(config), body=body, headers=headers)
        reply = connection.getresponse()
        data = reply.read(MAX_REPLY_BYTES + 1)
    except (OSError, http.client.HTTPException) as err:
        raise HelperError(
            f"cannot reach the server at {config.vault_addr}: {_os_reason(err)}"
        ) from None
    finally:
        connection.close()

    if len(data) > MAX_REPLY_BYTES:
        raise HelperError("the server's reply is too large")
    return reply.status, data


def reply_data(status, body):
    """Return the data object of a 200 reply, or raise naming what is wrong."""
    try:
        document = json.loads(body)
    except ValueError:
        document = None

    if status != 200:
        errors = document.get("errors") if isinstance(document, dict) else None
        if isinstance(errors, list) and errors:
            detail = "; ".join(str(item) for item in errors)[:300]
            raise HelperError(f"the server refused the OTP ({status}: {detail})")
        raise HelperError(f"the server answered {status} without a Vault reply")

    if not isinstance(document, dict):
        raise HelperError("the server's reply is not a JSON object")
    data = document.get("data")
    if not isinstance(data, dict):
        raise HelperError("the server's reply has no 'data' object")
    return data


# ---------------------------------------------------------------------------
# The host's own addresses
# ---------------------------------------------------------------------------

_NLMSG_HEADER = struct.Struct("=IHHII")
_IFADDRMSG = struct.Struct("=BBBBI")
_RTATTR = struct.Struct("=HH")
_RTM_NEWADDR = 20
_RTM_GETADDR = 22
_NLMSG_ERROR = 2
_NLMSG_DONE = 3
_NLM_F_REQUEST = 0x1
_NLM_F_DUMP = 0x300
_IFA_ADDRESS = 1
_IFA_LOCAL = 2
_SIOCGIFCONF = 0x8912


def local_addresses():
    """Return the set of this host's interface addresses (IPv4 and IPv6)."""
    try:
        return netlink_addresses()
    except OSError as err:
        logger.debug("netlink address dump failed (%s); using ioctl and /proc", err)

    addresses = set()
    try:
        addresses |= ioctl_ipv4_addresses()
    except OSError as err:
        logger.warning("cannot list IPv4 interface addresses: %s", err)
    try:
        addresses |= proc_ipv6_addresses()
    except OSError as err:
        logger.debug("cannot read IPv6 interface addresses: %s", err)
    return addresses


def netlink_addresses():
    """List interface addresses with an RTM_GETADDR dump over rtnetlink."""
    with socket.socket(
        socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE
    ) as sock:
        sock.settimeout(2.0)
        sock.bind((0, 0))
        request = _NLMSG_HEADER.pack(
            _NLMSG_HEADER.size + _IFADDRMSG.size,
            _RTM_GETADDR,
            _NLM_F_REQUEST | _NLM_F_DUMP,
            1,
            0,
        ) + _IFADDRMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
        sock.send(request)

        addresses = set()
        while True:
            chunk = sock.recv(1 << 17)
            for kind, payload in _netlink_messages(chunk):
                if kind == _NLMSG_DONE:
                    return addresses
                if kind == _NLMSG_ERROR:
                    code = -struct.unpack_from("=i", payload)[0]
                    raise OSError(code, os.strerror(code))
                if kind == _RTM_NEWADDR:
                    address = _ifaddr_address(payload)
                    if address is not None:
                        addresses.add(address)


def _netlink_messages(chunk):
    """Yield (type, payload) for each netlink message in a datagram."""
    offset = 0
    while offset + _NLMSG_HEADER.size <= len(chunk):
        length, kind, _flags, _seq, _pid = _NLMSG_HEADER.unpack_from(chunk, offset)
        if length < _NLMSG_HEADER.size or offset + length > len(chunk):
            raise OSError("malformed netlink message")
        yield kind, chunk[offset + _NLMSG_HEADER.size : offset + length]
        offset += (length + 3) & ~3


def _ifaddr_address(payload):
    """Return the local address an RTM_NEWADDR message describes."""
    family = _IFADDRMSG.unpack_from(payload)[0]
    attributes = {}
    offset = _IFADDRMSG.size
    while offset + _RTATTR.size <= len(payload):
        length, kind = _RTATTR.unpack_from(payload, offset)
        if length < _RTATTR.size:
            break
        attributes[kind] = payload[offset + _RTATTR.size : offset + length]
        offset += (length + 3) & ~3

    # On point-to-point links IFA_ADDRESS is the peer; IFA_LOCAL is ours.
    raw = attributes.get(_IFA_LOCAL) or attributes.get(_IFA_ADDRESS)
    if family == socket.AF_INET and raw and len(raw) == 4:
        return ipaddress.IPv4Address(raw)
    if family == socket.AF_INET6 and raw and len(raw) == 16:
        return canonical_ip(ipaddress.IPv6Address(raw))
    return None


def ioctl_ipv4_addresses():
    """List IPv4 interface addresses with the SIOCGIFCONF ioctl."""
    # struct ifreq is 40 bytes on 64-bit Linux, 32 on 32-bit; struct ifconf
    # is an int and a pointer, which "iL" packs with the same alignment.
    ifreq_size = 40 if struct.calcsize("P") == 8 else 32
    buffer = array.array("B", bytes(ifreq_size * 512))
    pointer = buffer.buffer_info()[0]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("iL", len(buffer), pointer)
        answer = fcntl.ioctl(sock.fileno(), _SIOCGIFCONF, request)
    used = struct.unpack("iL", answer)[0]

    data = buffer.tobytes()
    addresses = set()
    for offset in range(0, used, ifreq_size):
        family = struct.unpack_from("H", data, offset + 16)[0]
        if family == socket.AF_INET:
            raw = data[offset + 20 : offset + 24]
            addresses.add(ipaddress.IPv4Address(raw))
    return addresses


def proc_ipv6_addresses(path="/proc/net/if_inet6"):
    """List IPv6 interface addresses from /proc/net/if_inet6."""
    addresses = set()
    with open(path, encoding="ascii") as handle:
        for line in handle:
            fields = line.split()
            if fields and len(fields[0]) == 32:
                raw = bytes.fromhex(fields[0])
                addresses.add(canonical_ip(ipaddress.IPv6Address(raw)))
    return addresses


def canonical_ip(address):
    """Drop an IPv6 zone and map ::ffff:a.b.c.d to its IPv4 form."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.scope_id:
            return ipaddress.IPv6Address(str(address).split("%", 1)[0])
    return address


def parse_ip(text):
    """Parse an address from the server's reply, or return None."""
    if not isinstance(text, str):
        return None
    try:
        return canonical_ip(ipaddress.ip_address(text))
    except ValueError:
        return None


# ---------------------------------------------------------------------------
# The decision
# ---------------------------------------------------------------------------


def decide(reply, pam_user, local_ips, config):
    """Decide a login from the verify reply's data; return (ok, reason)."""
    roles = config.allowed_roles
    if not roles:
        # Since 0.1.2 a config without allowed_roles fails closed.
        return False, "missing allowed_roles"

    username = reply.get("username")
    if not isinstance(username, str) or not username:
        return False, "the server's reply has no 'username'"
    if not pam_user:
        return False, "PAM_USER is not set"
    if username != pam_user:
        return False, "username mismatch"

    ok, reason = check_ip(reply.get("ip"), local_ips, config.allowed_cidr_list)
    if not ok:
        return False, reason

    role_name = reply.get("role_name", "")
    if not isinstance(role_name, str):
        return False, "the server's reply has a 'role_name' that is not a string"
    ok, reason = check_role(role_name, roles)
    if not ok:
        return False, reason

    return True, f"{username}@{reply['ip']} authenticated!"


def check_ip(ip_text, local_ips, allowed_cidrs):
    """Accept an IP that is exactly a local address, or inside allowed_cidr_list.

    Loopback addresses are not counted as local ones.
    """
    address = parse_ip(ip_text)
    if address is None:
        return False, "the server's reply has no valid 'ip'"

    # Exact match only: a subnet match let an OTP work on a neighbour host
    # (CVE-2020-24359). Loopback is on every host, so an OTP issued for
    # 127.0.0.1 or ::1 would open all of them; vault-ssh-helper accepts it,
    # this helper only when allowed_cidr_list says so.
    local = {canonical_ip(item) for item in local_ips}
    local = {item for item in local if not item.is_loopback}
    if address in local:
        return True, "local address"

    if any(address in network for network in allowed_cidrs):
        return True, "in allowed_cidr_list"
    if address.is_loopback:
        return False, LOOPBACK_REFUSED
    if not allowed_cidrs:
        return False, NO_LOCAL_MATCH
    return False, "IP is neither a local address nor in 'allowed_cidr_list'"


def check_role(role_name, allowed_roles):
    """Accept a role listed in allowed_roles; '*' accepts any."""
    if "*" in allowed_roles:
        return True, "any role"
    if not role_name.strip():
        return False, "missing role name in the verification response"
    if role_name.strip() in allowed_roles:
        return True, "allowed role"
    return (
        False,
        "role name in the verification response not matching any of the allowed_roles",
    )


def read_otp(raw):
    """Turn pam_exec's stdin bytes into the OTP text, or raise HelperError."""
    # pam_exec writes the password and its terminating NUL; by hand it is a
    # newline. Strip exactly one of each, nothing else.
    if raw.endswith(b"\0"):
        raw = raw[:-1]
    if raw.endswith(b"\r\n"):
        raw = raw[:-2]
    elif raw.endswith(b"\n"):
        raw = raw[:-1]

    if not raw:
        raise HelperError("no OTP on stdin (is expose_authtok on the pam_exec line?)")
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        text = ""
    if not UUID_RE.fullmatch(text):
        raise HelperError("the password typed is not shaped like an OTP (a UUID)")
    return text


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

USAGE = f"""\
Usage: {PROG} -config=<path> [options]

  Checks the one-time password on stdin with the server's ssh verify
  endpoint. Run it from PAM: pam_exec.so with expose_authtok.

Options:
  -config=<path>     The config file (HCL or JSON). Required.
  -verify-only       Check the config and the server, then exit.
  -dev               Allow plain http:// (and only that) for a dev server.
  -log-level=<lvl>   off, trace, debug, info (default), warn or error.
  -version           Print the version."""

LOG_LEVELS = {
    "off": logging.CRITICAL + 10,
    "trace": logging.DEBUG,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
BOOL_FLAGS = ("dev", "verify-only")
VALUE_FLAGS = ("config", "log-level")


@dataclasses.dataclass
class Options:
    """Parsed command line."""

    config: str = ""
    dev: bool = False
    verify_only: bool = False
    log_level: str = "info"
    version: bool = False
    help: bool = False


def parse_args(args):
    """Parse Go-flag-style arguments (-name, -name=value, -name value)."""
    options = Options()
    queue = list(args)
    while queue:
        arg = queue.pop(0)
        if arg == "version":
            options.version = True
            continue
        if not arg.startswith("-") or arg in ("-", "--") or arg.startswith("---"):
            raise UsageError(f"unexpected argument '{arg}'; see -help")

        name, has_value, value = arg.lstrip("-").partition("=")
        if name in ("v", "version"):
            options.version = True
        elif name in ("h", "help"):
            options.help = True
        elif name in BOOL_FLAGS:
            setattr(options, name.replace("-", "_"), _flag_bool(name, has_value, value))
        elif name in VALUE_FLAGS:
            if not has_value:
                if not queue:
                    raise UsageError(f"flag needs an argument: -{name}")
                value = queue.pop(0)
            setattr(options, name.replace("-", "_"), value)
        else:
            raise UsageError(f"flag provided but not defined: -{name}")

    if options.version or options.help:
        return options
    if not options.config:
        raise UsageError("at least one config path must be specified with -config")
    if options.log_level.lower() not in LOG_LEVELS:
        raise UsageError(
            "-log-level must be off, trace, debug, info, warn or error, "
            f"got '{options.log_level}'"
        )
    return options


def _flag_bool(name, has_value, value):
    """Read a boolean flag's optional =value."""
    if not has_value:
        return True
    if value.lower() in ("1", "t", "true"):
        return True
    if value.lower() in ("0", "f", "false"):
        return False
    raise UsageError(f"-{name} takes true or false, got '{value}'")


class _Redactor(logging.Filter):
    """Replace registered secrets in every log message, as a last line of defence."""

    def __init__(self):
        super().__init__()
        self.secrets = []

    def filter(self, record):
        """Rewrite the record's message with secrets replaced."""
        message = record.getMessage()
        for secret in self.secrets:
            message = message.replace(secret, "<redacted>")
        record.msg = message
        record.args = None
        return True


class _SyslogHandler(logging.Handler):
    """Send records to syslog (facility AUTH) through the syslog module."""

    PRIORITIES = {
        logging.DEBUG: syslog.LOG_DEBUG,
        logging.INFO: syslog.LOG_INFO,
        logging.WARNING: syslog.LOG_WARNING,
        logging.ERROR: syslog.LOG_ERR,
        logging.CRITICAL: syslog.LOG_CRIT,
    }

    def emit(self, record):
        """Write one record as one syslog message."""
        try:
            priority = self.PRIORITIES.get(record.levelno, syslog.LOG_INFO)
            syslog.syslog(priority, self.format(record))
        except Exception:
            self.handleError(record)


def setup_logging(level_name):
    """Log to stderr (pam_exec's log= file) and syslog; return the redactor."""
    level = LOG_LEVELS[level_name.lower()]
    redactor = _Redactor()
    logging.raiseExceptions = False

    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(
        logging.Formatter(
            f"%(asctime)s [%(levelname)s] {PROG}[%(process)d]: %(message)s"
        )
    )
    syslog.openlog(PROG, syslog.LOG_PID, syslog.LOG_AUTH)
    to_syslog = _SyslogHandler()
    to_syslog.setFormatter(logging.Formatter("%(message)s"))

    logger.handlers.clear()
    for handler in (stderr, to_syslog):
        handler.addFilter(redactor)
        logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    return redactor


class _Deadline:
    """Bound a block by wall-clock time with SIGALRM, when on the main thread."""

    # Limitation: a DNS lookup of vault_addr's host that hangs can outlast
    # this bound: it ends at the resolver's own timeouts (resolv.conf), since
    # an alarm cannot cut a lookup short inside the C library. Use an IP
    # address or an /etc/hosts entry where that matters.

    def __init__(self, seconds):
        self.seconds = seconds
        self.armed = False

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGALRM, self._expire)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
            self.armed = True
        return self

    def __exit__(self, *exc):
        if self.armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
        return False

    def _expire(self, _signum, _frame):
        raise TimeoutError("timed out")


def _os_reason(err):
    """Describe an OSError-like exception without a traceback."""
    if isinstance(err, TimeoutError):
        return f"timed out after {TIMEOUT_SECONDS:g} s"
    if isinstance(err, ssl.SSLCertVerificationError):
        return f"TLS certificate check failed: {err.verify_message}"
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    return str(err) or type(err).__name__


def _field(value):
    """Format one log field so that it stays on one line."""
    if value is None or value == "":
        return "-"
    text = str(value)[:200]
    if re.fullmatch(r"[\w.@:/%+-]+", text):
        return text
    return json.dumps(text)


def log_decision(ok, reason, user, rhost, ip=None, role=None):
    """Log one login decision with who, from where, for which IP and role."""
    line = "login %s: user=%s rhost=%s ip=%s role=%s reason=%s"
    fields = (_field(user), _field(rhost), _field(ip), _field(role), _field(reason))
    if ok:
        logger.info(line, "allowed", *fields)
    else:
        logger.warning(line, "denied", *fields)


def load_settings(options):
    """Load the config file and apply the -dev scheme rules."""
    config = apply_mode(load_config(options.config), options.dev)
    if options.dev:
        logger.warning("dev mode is enabled: the OTP is sent over plain HTTP")
    logger.debug("using ssh mount point: %s", config.ssh_mount_point)
    return config


def run_verify_only(options):
    """Send the echo request and check the echo reply; return the exit code."""
    config = load_settings(options)
    if not config.allowed_roles:
        logger.warning("'allowed_roles' is not set: every login will fail")

    with _Deadline(TIMEOUT_SECONDS + 2):
        status, body = post_verify(config, ECHO_REQUEST)
    data = reply_data(status, body)
    if data.get("message") != ECHO_RESPONSE:
        raise HelperError("invalid echo response from the server")

    logger.info("%s verification successful!", PROG)
    return 0


def run_login(options, redactor, stdin, environ):
    """Verify the OTP on stdin for PAM_USER; return the exit code."""
    user = environ.get("PAM_USER", "")
    rhost = environ.get("PAM_RHOST", "")
    try:
        raw = stdin.read(MAX_INPUT_BYTES + 1)
        typed = raw.rstrip(b"\0\r\n").decode("utf-8", "replace")
        if len(typed) >= 4:
            # Whatever was typed (an OTP, or a real password by mistake) must
            # never reach a log line.
            redactor.secrets.append(typed)
        config = load_settings(options)
        otp = check_login_input(raw, user, environ.get("PAM_TYPE", ""), config)

        with _Deadline(TIMEOUT_SECONDS + 2):
            status, body = post_verify(config, otp)
        reply = reply_data(status, body)
        ok, reason = decide(reply, user, local_addresses(), config)
    except HelperError as err:
        log_decision(False, str(err), user, rhost)
        return 1

    log_decision(ok, reason, user, rhost, reply.get("ip"), reply.get("role_name"))
    return 0 if ok else 1


def check_login_input(raw, user, pam_type, config):
    """Refuse before the OTP is spent when the login cannot succeed anyway."""
    if pam_type and pam_type != "auth":
        raise HelperError(f"PAM_TYPE is '{pam_type}'; put the helper in the auth stack")
    if not config.allowed_roles:
        raise HelperError("missing allowed_roles")
    if not user:
        raise HelperError("PAM_USER is not set")
    return read_otp(raw)


def main(argv=None):
    """Run the helper; return 0 (allowed), 1 (denied or failed) or 2 (usage)."""
    try:
        options = parse_args(sys.argv[1:] if argv is None else argv)
    except UsageError as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return 2

    if options.version:
        print(f"{PROG} v{VERSION}")
        return 0
    if options.help:
        print(USAGE)
        return 0

    redactor = setup_logging(options.log_level)
    try:
        if options.verify_only:
            return run_verify_only(options)
        return run_login(options, redactor, sys.stdin.buffer, os.environ)
    except HelperError as err:
        logger.error("%s", err)
        return 1
    except Exception as err:
        # Fail closed on anything unforeseen; the type is enough to report.
        logger.error("internal error (%s); refusing", type(err).__name__)
        return 1


if __name__ == "__main__":
    sys.exit(main())
