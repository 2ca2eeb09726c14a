"""sys/health, sys/init, sys/seal-status and sys/leader.

GET  sys/health        unauthenticated; 200 when serving, 501 before init
GET  sys/init          unauthenticated; {"initialized": bool}
PUT  sys/init          unauthenticated; once, returns the root token
GET  sys/seal-status   unauthenticated; this server has no unseal step
GET  sys/leader        unauthenticated; no high-availability mode, as
                       OpenBao's dev server answers (`bao status` asks)
"""

import logging
import time

from openvault import __version__
from openvault.api.routing import Reply
from openvault.api.routing import route
from openvault.errors import BadRequest

logger = logging.getLogger(__name__)


def read_health(call):
    """Report whether the server is initialized and serving."""
    initialized = call.state.initialized()
    data = {
        "initialized": initialized,
        "sealed": False,
        "standby": False,
        "performance_standby": False,
        "replication_performance_mode": "disabled",
        "replication_dr_mode": "disabled",
        "server_time_utc": int(time.time()),
        "version": __version__,
        "cluster_name": "openvault",
        "cluster_id": call.state.cluster_id(),
    }
    return Reply(top_level=data, status=200 if initialized else 501)


def read_init(call):
    """Tell whether the server has been initialized."""
    return Reply(top_level={"initialized": call.state.initialized()})


def write_init(call):
    """Create the root token of a new server and return it, once."""
    root = call.state.initialize()
    if root is None:
        raise BadRequest("server is already initialized")
    logger.info("server initialized; root token handed to the caller")
    return Reply(top_level={"keys": [], "keys_base64": [], "root_token": root})


def read_seal_status(call):
    """Answer as an unsealed server would; the seal key file is the unseal."""
    return Reply(
        top_level={
            "type": "file",
            "initialized": call.state.initialized(),
            "sealed": False,
            "t": 0,
            "n": 0,
            "progress": 0,
            "nonce": "",
            "version": __version__,
            "build_date": "",
            "migration": False,
            "cluster_name": "openvault",
            "cluster_id": call.state.cluster_id(),
            "recovery_seal": False,
            "storage_type": call.state.config.storage_type,
        }
    )


def read_leader(call):
    """Answer that this server runs no high-availability cluster."""
    return Reply(top_level={"ha_enabled": False})


ROUTES = [
    route(
        "sys/health",
        read=read_health,
        unauthenticated=True,
        synopsis="Check the server's health.",
    ),
    route(
        "sys/init",
        fields={"secret_shares": "int", "secret_threshold": "int"},
        read=read_init,
        update=write_init,
        unauthenticated=True,
        synopsis="Initialize a new server and receive its root token.",
    ),
    route(
        "sys/seal-status",
        read=read_seal_status,
        unauthenticated=True,
        synopsis="Report the seal status (always unsealed).",
    ),
    route(
        "sys/leader",
        read=read_leader,
        unauthenticated=True,
        synopsis="Report the high-availability status (not enabled).",
    ),
]
