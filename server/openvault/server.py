"""`openvault server`: serve the API through gunicorn, in dev mode or from a config."""

import argparse
import gc
import logging
import os
import shutil
import socket
import sys
import tempfile

from gunicorn.app.base import BaseApplication

from openvault import config as server_config
from openvault.app import configure_logging
from openvault.app import create_app
from openvault.app import prepare
from openvault.seal import SealError
from openvault.storage.db import StorageError
from openvault.storage.db import close_thread

logger = logging.getLogger(__name__)

BANNER = """\
==> openvault server started{mode}! Log data will stream in below:

    Api Address: {address}
{token}
    export VAULT_ADDR='{address}'
"""


class _Gunicorn(BaseApplication):
    """gunicorn, configured in code: one app per worker process."""

    def __init__(self, config, on_ready):
        self.server_config = config
        self.on_ready = on_ready
        super().__init__()

    def load_config(self):
        config = self.server_config
        settings = {
            "bind": [config.listen_address],
            "workers": config.workers,
            "worker_class": "gthread",
            "threads": config.threads,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "warning",
            "graceful_timeout": 10,
            "timeout": 120,
            "keepalive": 5,
            "proc_name": "openvault",
            "pre_fork": _freeze_heap,
            "post_worker_init": _start_sweeper,
            "worker_exit": _stop_sweeper,
            "when_ready": self._ready,
        }
        if config.tls:
            settings["certfile"] = config.tls_cert_file
            settings["keyfile"] = config.tls_key_file
        for key, value in settings.items():
            self.cfg.set(key, value)

    def _ready(self, arbiter):
        port = arbiter.LISTENERS[0].sock.getsockname()[1]
        self.on_ready(port)

    def load(self):
        return create_app(self.server_config)


def _freeze_heap(arbiter, worker):
    # Objects made before the fork stay shared with the workers only while
    # nobody writes to their pages; the collector would, on its first pass.
    gc.collect()
    gc.freeze()


def _start_sweeper(worker):
    state = worker.wsgi.extensions["openvault"]
    state.start_sweeper()
    state.start_keypool()


def _stop_sweeper(arbiter, worker):
    app = getattr(worker, "wsgi", None)
    if app is not None:
        app.extensions["openvault"].stop_sweeper()
        app.extensions["openvault"].stop_keypool()


def parse_args(argv):
    """Parse `openvault server` flags, Vault style (-flag=value or --flag value)."""
    parser = argparse.ArgumentParser(prog="openvault server", prefix_chars="-")
    parser.add_argument("-config", "--config", help="path to the config file")
    parser.add_argument(
        "-dev", "--dev", action="store_true", help="in-memory-like dev mode"
    )
    parser.add_argument(
        "-dev-listen-address",
        "--dev-listen-address",
        default="127.0.0.1:8200",
        help="address to listen on in dev mode (port 0 picks a free port)",
    )
    parser.add_argument(
        "-dev-root-token-id",
        "--dev-root-token-id",
        default="",
        help="root token in dev mode",
    )
    parser.add_argument("-log-level", "--log-level", default=None)
    return parser.parse_args(argv)


def main(argv=None):
    """Run the server until SIGTERM or SIGINT; return the exit code."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if bool(args.dev) == bool(args.config):
        print(
            "openvault server: give exactly one of -dev or -config=FILE",
            file=sys.stderr,
        )
        return 1
    # The database, its journal and the seal key are the server's alone.
    os.umask(0o077)
    data_dir = None
    owner = os.getpid()
    try:
        if args.dev:
            data_dir = tempfile.mkdtemp(prefix="openvault-dev-")
            config = server_config.dev_config(
                data_dir, args.dev_listen_address, args.dev_root_token_id
            )
        else:
            config = server_config.load(args.config)
        if args.log_level:
            config.log_level = args.log_level.lower()
        configure_logging(config.log_level)
        _check_listen(config.listen_address, dev=bool(args.dev))
        root_token = _prepare(config)
        close_thread()
        _Gunicorn(config, lambda port: _announce(config, port, root_token)).run()
    except (server_config.ConfigError, SealError, StorageError) as exc:
        print(f"openvault server: {exc}", file=sys.stderr)
        return 1
    finally:
        # gunicorn's workers are forked from this process and leave through
        # this frame too when they exit (on SIGHUP, for one): only the process
        # that made the dev data dir may remove it.
        if data_dir and os.getpid() == owner:
            shutil.rmtree(data_dir, ignore_errors=True)
    return 0


def _check_listen(address, dev):
    """Fail with a clear message, before touching storage, if the port is taken."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, int(port)))
        except (OSError, ValueError) as exc:
            where = "-dev-listen-address" if dev else "the listener's 'address'"
            reason = getattr(exc, "strerror", None) or str(exc)
            raise server_config.ConfigError(
                f"cannot listen on {address}: {reason}; choose another with {where}"
            ) from None


def _prepare(config):
    state = prepare(config)
    if config.dev:
        return state.initialize(config.dev_root_token)
    if not state.initialized():
        logger.warning("storage is not initialized: run 'openvault operator init'")
    return None


def _announce(config, port, root_token):
    address = config.api_address(port)
    token = ""
    if root_token:
        # Printed once, to the terminal that started a dev server; never logged.
        token = f"    Root Token: {root_token}\n"
    mode = " in dev mode" if config.dev else ""
    sys.stdout.write(BANNER.format(mode=mode, address=address, token=token))
    sys.stdout.flush()
    os.environ.setdefault("VAULT_ADDR", address)


if __name__ == "__main__":
    sys.exit(main())
