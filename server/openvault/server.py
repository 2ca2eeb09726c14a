"""`openvault server`: serve the API through granian, in dev mode or from a config."""

import argparse
import ctypes
import gc
import logging
import multiprocessing
import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path

from granian.constants import HTTPModes
from granian.constants import Interfaces
from granian.constants import SSLProtocols
from granian.log import LogLevels
from granian.server import MPServer

from openvault import config as server_config
from openvault.app import LOG_FORMAT
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

# Seconds a worker gets to finish its requests on SIGTERM or SIGHUP.
GRACEFUL_SECONDS = 10

# glibc's mallopt option for the number of malloc arenas.
M_ARENA_MAX = -8
MALLOC_ARENAS = 2

# granian's own lines (worker start and stop, errors) go to stderr in the
# server's format; its access log stays off: the dispatcher logs requests.
GRANIAN_LOGGING = {
    "formatters": {"openvault": {"()": "logging.Formatter", "fmt": LOG_FORMAT}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "openvault",
            "stream": "ext://sys.stderr",
        }
    },
    "loggers": {
        "_granian": {"handlers": ["stderr"], "propagate": False},
        "granian.access": {"handlers": ["stderr"], "propagate": False},
    },
}

# The states of this worker process, whose background threads stop with it.
_worker_states = []


def serve(config, root_token):
    """Run the HTTP server in worker processes until SIGTERM or SIGINT.

    granian (HTTP in Rust) parses requests and hands each to one of the
    worker's request threads, which runs the Flask app; SIGHUP replaces the
    workers one by one.
    """
    host, port = _split_address(config.listen_address)
    announced = multiprocessing.Lock()

    def load():
        # Runs in each worker after the fork; the first one ready announces.
        app = create_app(config)
        state = app.extensions["openvault"]
        state.start_sweeper()
        state.start_keypool()
        _worker_states.append(state)
        if announced.acquire(block=False):
            _announce(config, port, root_token)
        return app

    tls = {}
    if config.tls:
        tls = {
            "ssl_cert": Path(config.tls_cert_file),
            "ssl_key": Path(config.tls_key_file),
            "ssl_protocol_min": SSLProtocols.tls12,
        }
    # Limitations of granian's HTTP/1 as configured here, none of which this
    # code can see past WSGI: no timeout while reading a request body (a
    # client that stalls mid-body holds a request thread until it closes),
    # no answer to a client that half-closes its side after the request,
    # a body cut short by the client's close is passed on as it arrived, and
    # a header spelled with "_" (X_Vault_Token) reaches the app like one
    # spelled with "-".
    server = MPServer(
        target="openvault",
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        workers=config.workers,
        blocking_threads=config.threads,
        # Request threads live as long as the worker: each holds a database
        # connection that is worth keeping.
        blocking_threads_idle_timeout=600,
        http=HTTPModes.http1,
        websockets=False,
        log_level=LogLevels.warning,
        log_dictconfig=GRANIAN_LOGGING,
        respawn_failed_workers=True,
        workers_kill_timeout=GRACEFUL_SECONDS,
        **tls,
    )
    logging.getLogger("_granian").addFilter(_ThreadAdvice())
    _limit_malloc_arenas()
    _freeze_heap()
    server.serve(spawn_target=_worker, target_loader=load, wrap_loader=False)


class _ThreadAdvice(logging.Filter):
    """Drop granian's start-up advice to run fewer request threads.

    It warns above 2 x cores + 1 threads; the count is the operator's choice
    (`threads` in the config, 16 in dev mode), and most threads wait on the
    database rather than hold the interpreter.
    """

    def filter(self, record):
        return "Python threads" not in record.getMessage()


def _worker(*args, **kwargs):
    try:
        MPServer._spawn_wsgi_worker(*args, **kwargs)
    finally:
        for state in _worker_states:
            state.stop_sweeper()
            state.stop_keypool()


def _limit_malloc_arenas():
    """Cap glibc's malloc arenas before the workers fork (they inherit it).

    glibc gives threads that allocate at once arenas of their own, up to 8
    per core, and keeps what is freed in each: after a burst of requests
    that held about 10 MB more per worker than 2 arenas do. The interpreter
    lock serialises most allocations anyway. MALLOC_ARENA_MAX, when set,
    wins; elsewhere than glibc this does nothing.
    """
    if os.environ.get("MALLOC_ARENA_MAX"):
        return
    try:
        ctypes.CDLL(None).mallopt(M_ARENA_MAX, MALLOC_ARENAS)
    except (OSError, AttributeError):
        pass


def _freeze_heap():
    # Objects made before the fork stay shared with the workers only while
    # nobody writes to their pages; the collector would, on its first pass.
    gc.collect()
    gc.freeze()


def parse_args(argv):
    """Parse `openvault server` flags, Vault style (-flag=value or --flag value)."""
    parser = argparse.ArgumentParser(
        prog="openvault server", prefix_chars="-", add_help=False
    )
    parser.add_argument(
        "-h", "-help", "--help", action="help", help="show this help and exit"
    )
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
        # Each worker binds the port itself: port 0 must be chosen once, here
        # (another program could take it in between; then the workers fail).
        host, port = _check_listen(config.listen_address, dev=bool(args.dev))
        config.listen_address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        root_token = _prepare(config)
        close_thread()
        serve(config, root_token)
    except (server_config.ConfigError, SealError, StorageError) as exc:
        print(f"openvault server: {exc}", file=sys.stderr)
        return 1
    finally:
        # The workers are forked from this process: only the process that
        # made the dev data dir may remove it.
        if data_dir and os.getpid() == owner:
            shutil.rmtree(data_dir, ignore_errors=True)
    return 0


def _check_listen(address, dev):
    """Fail with a clear message, before touching storage, if the port is taken.

    Return (host, port), the port a free one chosen now when the address
    asks for port 0.
    """
    host, port = _split_address(address)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except (OSError, ValueError, OverflowError) as exc:
            where = "-dev-listen-address" if dev else "the listener's 'address'"
            reason = getattr(exc, "strerror", None) or str(exc)
            raise server_config.ConfigError(
                f"cannot listen on {address}: {reason}; choose another with {where}"
            ) from None
        return host, probe.getsockname()[1]


def _split_address(address):
    """Return (host, port) of "host:port", "[v6]:port" or ":port"."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"
    try:
        return host, int(port)
    except ValueError:
        raise server_config.ConfigError(
            f"listen address {address!r} must end in :port, such as 127.0.0.1:8200"
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


if __name__ == "__main__":
    sys.exit(main())
