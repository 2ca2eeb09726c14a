"""Server configuration: the config file (HCL or JSON) and dev-mode defaults.

    listener "tcp" {
      address       = "127.0.0.1:8200"
      tls_cert_file = "/etc/openvault/tls.crt"   # both set: serve HTTPS
      tls_key_file  = "/etc/openvault/tls.key"
    }
    storage "sqlite" {                            # or: storage "postgresql" {
      path = "/var/lib/openvault/openvault.db"    #   connection_url = "postgresql://..."
    }                                             # }
    seal_key_file     = "/etc/openvault/seal.key" # created (0600) if missing
    audit_log         = "/var/log/openvault/audit.log"
    workers           = 2       # server processes
    threads           = 8       # request threads per process
    max_request_size  = 1048576 # bytes
    log_level         = "info"
    dynamic_key_pool  = 4       # pre-generated RSA key pairs per size

Relative paths are taken from the config file's directory.
"""

import os
from dataclasses import dataclass

from openvault import hcl

TOP_LEVEL = {
    "listener",
    "storage",
    "seal_key_file",
    "audit_log",
    "workers",
    "threads",
    "max_request_size",
    "log_level",
    "dynamic_key_pool",
    "sweep_interval",
}
LOG_LEVELS = ("trace", "debug", "info", "warn", "warning", "error")


class ConfigError(ValueError):
    """The config file is invalid; the message names the key."""


@dataclass
class ServerConfig:
    """Everything the server needs to start."""

    storage_url: str
    seal_key_file: str
    listen_address: str = "127.0.0.1:8200"
    tls_cert_file: str = ""
    tls_key_file: str = ""
    audit_log: str = ""
    # Chosen with `make bench` on 2 cores (docs/performance.md, "Workers and
    # threads"): 2 processes serve clearly faster than 1, which is bound by
    # the GIL; 4, 8, 16 and 32 threads came out within the run-to-run noise
    # at 16 and at 64 clients, and every thread holds its own SQLite
    # connection and page cache, so 8 rather than more (16 threads: about
    # 20 MB more after a bench run). The group commit and the caches stay
    # correct across processes.
    workers: int = 2
    threads: int = 8
    max_request_size: int = 1024 * 1024
    log_level: str = "info"
    dynamic_key_pool: int = 4
    sweep_interval: float = 1.0
    dev: bool = False
    dev_root_token: str = ""

    @property
    def storage_type(self):
        """Return "sqlite" or "postgresql"."""
        return "sqlite" if self.storage_url.startswith("sqlite") else "postgresql"

    @property
    def tls(self):
        """Tell whether the listener serves HTTPS."""
        return bool(self.tls_cert_file)

    def api_address(self, port=None):
        """Return the URL clients use to reach this server."""
        host, _, configured = self.listen_address.rpartition(":")
        host = host.strip("[]") or "127.0.0.1"
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{host}:{port or configured}"


def dev_config(data_dir, listen_address="127.0.0.1:8200", root_token=""):
    """Return the configuration of `openvault server -dev` in `data_dir`."""
    return ServerConfig(
        storage_url="sqlite:///" + os.path.join(data_dir, "openvault.db"),
        seal_key_file=os.path.join(data_dir, "seal.key"),
        listen_address=listen_address,
        workers=1,
        threads=16,
        dev=True,
        dev_root_token=root_token,
    )


def load(path):
    """Read a config file into a ServerConfig, or raise ConfigError."""
    try:
        with open(path) as handle:
            tree = hcl.loads(handle.read())
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except hcl.HCLError as exc:
        raise ConfigError(f"config file {path}: {exc}") from None
    base = os.path.dirname(os.path.abspath(path))
    unknown = sorted(set(tree) - TOP_LEVEL)
    if unknown:
        raise ConfigError(
            f"config file {path}: unknown key '{unknown[0]}'; known keys are"
            f" {sorted(TOP_LEVEL)}"
        )
    listener = _block(
        tree,
        "listener",
        "tcp",
        {"address", "tls_cert_file", "tls_key_file", "tls_disable"},
    )
    storage_url = _storage(tree, base)
    seal_key_file = tree.get("seal_key_file")
    if not seal_key_file:
        raise ConfigError(
            "missing 'seal_key_file': where the server's secret key is kept"
        )
    config = ServerConfig(
        storage_url=storage_url,
        seal_key_file=_path(base, seal_key_file),
        listen_address=str(listener.get("address", "127.0.0.1:8200")),
        audit_log=_path(base, tree["audit_log"]) if tree.get("audit_log") else "",
        workers=_positive(tree, "workers", 2),
        threads=_positive(tree, "threads", 8),
        max_request_size=_positive(tree, "max_request_size", 1024 * 1024),
        dynamic_key_pool=_positive(tree, "dynamic_key_pool", 4, minimum=0),
        sweep_interval=float(tree.get("sweep_interval", 1.0)),
        log_level=str(tree.get("log_level", "info")).lower(),
    )
    if config.log_level not in LOG_LEVELS:
        raise ConfigError(
            f"'log_level' must be one of {list(LOG_LEVELS)}, got '{config.log_level}'"
        )
    if not listener.get("tls_disable"):
        cert, key = listener.get("tls_cert_file", ""), listener.get("tls_key_file", "")
        if bool(cert) != bool(key):
            raise ConfigError(
                "listener: set both 'tls_cert_file' and 'tls_key_file', or neither"
            )
        config.tls_cert_file = _path(base, cert) if cert else ""
        config.tls_key_file = _path(base, key) if key else ""
    return config


def _block(tree, name, label, allowed):
    blocks = tree.get(name, {})
    if not blocks:
        return {}
    if set(blocks) != {label}:
        raise ConfigError(
            f"'{name}' must be a block labelled \"{label}\", got {sorted(blocks)}"
        )
    body = blocks[label]
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ConfigError(f"{name} \"{label}\": unknown key '{unknown[0]}'")
    return body


def _storage(tree, base):
    blocks = tree.get("storage", {})
    if len(blocks) != 1:
        raise ConfigError('missing storage block: storage "sqlite" { path = "..." }')
    ((kind, body),) = blocks.items()
    if kind == "sqlite":
        if set(body) - {"path"} or not body.get("path"):
            raise ConfigError("storage \"sqlite\" takes one key, 'path'")
        return "sqlite:///" + _path(base, body["path"])
    if kind in ("postgresql", "postgres"):
        if set(body) - {"connection_url"} or not body.get("connection_url"):
            raise ConfigError("storage \"postgresql\" takes one key, 'connection_url'")
        return body["connection_url"]
    raise ConfigError(f'storage must be "sqlite" or "postgresql", got "{kind}"')


def _path(base, value):
    return os.path.join(base, os.path.expanduser(str(value)))


def _positive(tree, key, default, minimum=1):
    value = tree.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigError(
            f"'{key}' must be a whole number of at least {minimum}, got {value!r}"
        )
    return value
