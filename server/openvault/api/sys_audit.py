"""Audit devices.

GET          sys/audit                 enabled devices (sudo)
PUT/DELETE   sys/audit/<path>          {"type": "file", "options": {"file_path"}}
PUT          sys/audit-hash/<path>     {"input"}: the HMAC an entry would show
"""

import json
import logging
import os

from openvault.api.routing import Reply
from openvault.api.routing import route
from openvault.errors import BadRequest
from openvault.storage.models import AuditDevice

logger = logging.getLogger(__name__)


def list_devices(call):
    """Return the enabled audit devices, the config file's included."""
    devices = {}
    for path, file_path, description in call.state.audit_devices():
        devices[f"{path}/"] = {
            "type": "file",
            "description": description,
            "options": {"file_path": file_path},
            "local": False,
            "path": f"{path}/",
        }
    return Reply(data=devices, top_level=devices)


def enable_device(call):
    """Enable a file audit device after checking that the file can be written."""
    path = call.params["path"].strip("/")
    if call.get("type", "") != "file":
        raise BadRequest("'type' must be \"file\": it is the only audit device type")
    options = call.get("options", {})
    file_path = options.get("file_path") or options.get("path") or ""
    if not isinstance(file_path, str) or not os.path.isabs(file_path):
        raise BadRequest(
            f"'options.file_path' must be an absolute file path, got '{file_path}'"
        )
    if AuditDevice.get_or_none(AuditDevice.path == path) or path == "config":
        raise BadRequest(f"path already in use: {path}/")
    try:
        os.close(os.open(file_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600))
    except OSError as exc:
        raise BadRequest(
            f"cannot open audit file '{file_path}': {exc.strerror}"
        ) from None
    AuditDevice.create(
        path=path,
        type="file",
        description=call.get("description", ""),
        options=json.dumps({"file_path": file_path}),
    )
    call.state.forget_audit_devices()
    logger.info("audit device enabled: %s/ -> %s", path, file_path)


def disable_device(call):
    """Disable an audit device."""
    path = call.params["path"].strip("/")
    AuditDevice.delete().where(AuditDevice.path == path).execute()
    call.state.forget_audit_devices()
    logger.info("audit device disabled: %s/", path)


def hash_input(call):
    """Return the HMAC under which a value appears in the audit log."""
    path = call.params["path"].strip("/")
    if path not in {name for name, _, _ in call.state.audit_devices()}:
        raise BadRequest(f"unknown audit device '{path}'")
    value = call.get("input")
    if value is None:
        raise BadRequest("missing 'input': the value to hash")
    return Reply(data={"hash": call.state.audit.hash(value)})


ROUTES = [
    route(r"sys/audit/?", read=list_devices, sudo=True, synopsis="List audit devices."),
    route(
        r"sys/audit/(?P<path>[\w\-.@/]+)",
        fields={
            "type": "string",
            "description": "string",
            "options": "map",
            "local": "bool",
        },
        update=enable_device,
        delete=disable_device,
        sudo=True,
        synopsis="Enable or disable an audit device.",
    ),
    route(
        r"sys/audit-hash/(?P<path>[\w\-.@/]+)",
        fields={"input": "string"},
        update=hash_input,
        sudo=True,
        synopsis="Hash a value the way the audit log shows it.",
    ),
]
