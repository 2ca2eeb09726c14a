"""The Flask application factory."""

import json
import logging
import sys
import threading
import time
import uuid

from flask import Flask
from flask import Response

from openvault import api
from openvault import keypool
from openvault import leases
from openvault import tokens
from openvault.api.ssh.roles import DEFAULT_KEY_BITS
from openvault.audit import AuditLog
from openvault.config import ServerConfig
from openvault.seal import SealError
from openvault.seal import load_or_create
from openvault.storage.db import close_thread
from openvault.storage.db import connect_thread
from openvault.storage.db import open_database
from openvault.storage.db import write_transaction
from openvault.storage.models import AuditDevice
from openvault.storage.models import Meta
from openvault.storage.models import Role
from openvault.storage.models import create_schema

logger = logging.getLogger(__name__)

LOG_FORMAT = "%(asctime)s [%(levelname)s] %(name)s: %(message)s"
AUDIT_CACHE_SECONDS = 1.0


def create_app(config=None):
    """Build the WSGI application for `config` (dev defaults when None)."""
    if config is None:
        raise ValueError("create_app needs a ServerConfig; see openvault.config")
    configure_logging(config.log_level)
    state = prepare(config)
    app = Flask("openvault")
    app.json.sort_keys = False
    app.extensions["openvault"] = state
    # "/v1//x" answers 404 like any unknown path, not a redirect whose
    # Location is built from the Host header.
    app.url_map.merge_slashes = False
    app.register_blueprint(api.bp)
    app.before_request(connect_thread)
    app.wsgi_app = api.wsgi(state, app.wsgi_app)

    @app.errorhandler(404)
    def not_found(error):
        return _json_error(404, [])

    @app.errorhandler(405)
    def wrong_method(error):
        return _json_error(405, ["unsupported operation"])

    @app.errorhandler(500)
    def internal_error(error):
        # Failures outside the dispatcher (opening this thread's database
        # connection, say) still answer in Vault's format; Flask has logged
        # the traceback already.
        return _json_error(500, ["internal error; see the server log"])

    return app


def prepare(config):
    """Open storage, create tables and check the seal key; return ServerState."""
    open_database(config.storage_url)
    connect_thread()
    create_schema()
    # A database that already has a key must not get a fresh one by mistake.
    initialized = Meta.get_or_none(Meta.key == "seal_check") is not None
    seal = load_or_create(config.seal_key_file, create=not initialized)
    check = seal.check_value()
    with write_transaction():
        stored = Meta.get_or_none(Meta.key == "seal_check")
        if stored is None:
            Meta.create(key="seal_check", value=check)
            Meta.create(key="cluster_id", value=str(uuid.uuid4()))
        elif stored.value != check:
            raise SealError(
                f"seal key file {config.seal_key_file} does not match the database:"
                " it was initialized with another key"
            )
    return ServerState(config, seal)


def configure_logging(level):
    """Send the server's log lines to stderr at `level`."""
    root = logging.getLogger()
    if not any(getattr(h, "_openvault", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        handler._openvault = True
        root.addHandler(handler)
    name = {"trace": "DEBUG", "warn": "WARNING"}.get(level, level.upper())
    root.setLevel(name)
    # The format names no source line, thread or process: spare every log
    # call the work of finding them (the optimisations of the logging HOWTO).
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    # peewee logs SQL with its parameters at DEBUG: never let it show secrets.
    logging.getLogger("peewee").setLevel(max(logging.INFO, root.level))


class ServerState:
    """What every request shares: config, seal, audit log and cached facts."""

    def __init__(self, config: ServerConfig, seal):
        self.config = config
        self.seal = seal
        self.audit = AuditLog(seal)
        self._initialized = False
        self._cluster_id = None
        self._devices = None
        self._devices_at = 0.0
        self._lock = threading.Lock()
        self.sweeper = None
        self.keypool = keypool.KeyPool(config.dynamic_key_pool)

    def initialized(self):
        """Tell whether the root token has been created."""
        if not self._initialized:
            self._initialized = Meta.get_or_none(Meta.key == "initialized") is not None
        return self._initialized

    def initialize(self, root_token_id=""):
        """Create the root token once; return it, or None if already done."""
        with write_transaction():
            if Meta.get_or_none(Meta.key == "initialized") is not None:
                return None
            token_id, _ = tokens.create(
                self.seal, ["root"], token_id=root_token_id or None, display_name="root"
            )
            Meta.create(key="initialized", value=str(time.time()))
        self._initialized = True
        return token_id

    def cluster_id(self):
        """Return this server's cluster id (written once, by prepare)."""
        if self._cluster_id is None:
            row = Meta.get_or_none(Meta.key == "cluster_id")
            if row is None:
                return ""
            self._cluster_id = row.value
        return self._cluster_id

    def audit_devices(self):
        """Return (path, file, description) for each audit device."""
        now = time.monotonic()
        with self._lock:
            if self._devices is None or now - self._devices_at > AUDIT_CACHE_SECONDS:
                devices = []
                if self.config.audit_log:
                    devices.append(
                        ("config", self.config.audit_log, "from the config file")
                    )
                for row in AuditDevice.select():
                    devices.append(
                        (
                            row.path,
                            json.loads(row.options)["file_path"],
                            row.description,
                        )
                    )
                self._devices = devices
                self._devices_at = now
            return self._devices

    def audit_paths(self):
        """Return the files every audit entry goes to."""
        return [file_path for _, file_path, _ in self.audit_devices()]

    def forget_audit_devices(self):
        """Drop the cached device list after a change."""
        with self._lock:
            self._devices = None

    def start_sweeper(self):
        """Start the background lease sweeper of this process."""
        self.sweeper = leases.Sweeper(
            self.seal, self.config.sweep_interval, connect_thread, close_thread
        )
        self.sweeper.start()

    def stop_sweeper(self):
        """Stop the sweeper, if running."""
        if self.sweeper is not None:
            self.sweeper.stop()

    def start_keypool(self):
        """Start refilling the dynamic-key pool, for the key sizes roles use."""
        connect_thread()
        dynamic = Role.select(Role.key_bits).where(Role.key_type == "dynamic")
        sizes = {role.key_bits for role in dynamic} | {DEFAULT_KEY_BITS}
        self.keypool.start(sorted(sizes))

    def stop_keypool(self):
        """Stop the dynamic-key pool's refill thread."""
        self.keypool.stop()


def _json_error(status, errors):
    return Response(
        json.dumps({"errors": errors}) + "\n",
        status=status,
        content_type="application/json",
    )
