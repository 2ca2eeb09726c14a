"""sys/mounts: enabling, listing, tuning and disabling secrets engines.

GET           sys/mounts               every mount, keyed "<path>/"
GET/POST/DEL  sys/mounts/<path>        one mount; POST {"type": "ssh"}
GET/POST      sys/mounts/<path>/tune   default_lease_ttl, max_lease_ttl
"""

import logging
import re
import time
import uuid

from openvault import __version__
from openvault import leases
from openvault.api.routing import Reply
from openvault.api.routing import route
from openvault.errors import BadRequest
from openvault.storage.db import write_transaction
from openvault.storage.models import OTP
from openvault.storage.models import Meta
from openvault.storage.models import Mount
from openvault.storage.models import Role
from openvault.storage.models import RoleBlock
from openvault.storage.models import SSHKey
from openvault.tokens import random_id
from openvault.validate import parse_duration

logger = logging.getLogger(__name__)

ENGINES = ("ssh",)
RESERVED = ("sys", "auth", "cubbyhole", "identity")
MOUNT_PATH = re.compile(r"^[\w.@\-]+(/[\w.@\-]+)*$")


def list_mounts(call):
    """Return every mount, as Vault does both under data and at the top level."""
    mounts = {f"{m.path}/": _describe(m) for m in Mount.select().order_by(Mount.path)}
    mounts["sys/"] = {
        "type": "system",
        "description": "system endpoints used for control, policy and debugging",
        "accessor": "system_openvault",
        "config": {"default_lease_ttl": 0, "max_lease_ttl": 0, "force_no_cache": False},
        "local": False,
        "seal_wrap": False,
        "options": None,
        "uuid": call.state.cluster_id(),
    }
    return Reply(data=mounts, top_level=mounts)


def read_mount(call):
    """Return one mount's configuration, also at the top level as Vault does."""
    described = _describe(_get(call.params["path"]))
    return Reply(data=described, top_level=described)


def write_mount(call):
    """Mount a secrets engine at a new path."""
    path = _clean_path(call.params["path"])
    engine = call.get("type", "")
    if not engine:
        raise BadRequest("missing 'type': the secrets engine to mount, e.g. \"ssh\"")
    if engine not in ENGINES:
        raise BadRequest(
            f"'type' must be one of {list(ENGINES)}, got '{engine}':"
            " this server only provides the ssh secrets engine"
        )
    config = call.get("config", {})
    # The bao and vault CLIs send Vault's whole mount config, "options": null
    # included, so keys left unset are ignored; a value we cannot honour is not.
    unknown = sorted(
        key
        for key, value in config.items()
        if key not in ("default_lease_ttl", "max_lease_ttl", "force_no_cache")
        and value not in (None, "", [], {})
    )
    if unknown:
        raise BadRequest(f"'config' has unknown keys {unknown}")
    default_ttl, max_ttl = _ttls(
        config.get("default_lease_ttl"), config.get("max_lease_ttl")
    )
    with write_transaction():
        _check_free(path)
        Mount.create(
            path=path,
            type=engine,
            uuid=str(uuid.uuid4()),
            accessor=f"{engine}_{random_id(8).lower()}",
            description=call.get("description", ""),
            default_lease_ttl=default_ttl,
            max_lease_ttl=max_ttl,
            created=time.time(),
        )
    logger.info("mounted %s at %s/", engine, path)


def delete_mount(call):
    """Revoke a mount's leases, then remove the mount and all it holds."""
    path = _clean_path(call.params["path"])
    mount = Mount.get_or_none(Mount.path == path)
    if mount is None:
        return None
    # Once the marker is committed no credential can be issued on the mount
    # (leases.create checks it in the credential's own transaction), so the
    # revocation below sees every lease the mount will ever have.
    marker = leases.closing_key(path)
    with write_transaction():
        Meta.insert(key=marker, value="").on_conflict_replace().execute()
    pending = leases.revoke_mount(path, call.state.seal)
    if pending:
        Meta.delete().where(Meta.key == marker).execute()
        raise BadRequest(
            f"{pending} leases under {path}/ could not be revoked yet (their hosts"
            " did not answer); they are retried in the background, and the mount"
            " can be removed once they are gone"
        )
    with write_transaction():
        RoleBlock.delete().where(RoleBlock.mount == path).execute()
        Role.delete().where(Role.mount == path).execute()
        SSHKey.delete().where(SSHKey.mount == path).execute()
        OTP.delete().where(OTP.mount == path).execute()
        Meta.delete().where(Meta.key == marker).execute()
        mount.delete_instance()
    logger.info("unmounted %s/", path)


def read_tune(call):
    """Return the lease TTLs in force for a mount."""
    mount = _get(call.params["path"])
    data = {
        "default_lease_ttl": mount.default_lease_ttl or leases.SYSTEM_DEFAULT_TTL,
        "max_lease_ttl": mount.max_lease_ttl or leases.SYSTEM_MAX_TTL,
        "force_no_cache": False,
        "description": mount.description,
    }
    # Vault repeats these at the top level, where older clients read them.
    return Reply(data=data, top_level=data)


def write_tune(call):
    """Change a mount's default and maximum lease TTLs."""
    mount = _get(call.params["path"])
    default_ttl, max_ttl = _ttls(
        call.get("default_lease_ttl", mount.default_lease_ttl),
        call.get("max_lease_ttl", mount.max_lease_ttl),
    )
    mount.default_lease_ttl = default_ttl
    mount.max_lease_ttl = max_ttl
    if call.has("description"):
        mount.description = call.get("description")
    mount.save()
    logger.info(
        "tuned %s/: default_lease_ttl=%ss max_lease_ttl=%ss",
        mount.path,
        default_ttl,
        max_ttl,
    )


def _ttls(default_value, max_value):
    default_ttl = parse_duration("default_lease_ttl", default_value or 0)
    max_ttl = parse_duration("max_lease_ttl", max_value or 0)
    if max_ttl > leases.SYSTEM_MAX_TTL:
        raise BadRequest(
            f"'max_lease_ttl' must not exceed the system maximum of"
            f" {leases.SYSTEM_MAX_TTL}s, got {max_ttl}s"
        )
    if default_ttl > (max_ttl or leases.SYSTEM_MAX_TTL):
        raise BadRequest("'default_lease_ttl' must not be greater than 'max_lease_ttl'")
    return default_ttl, max_ttl


def _clean_path(path):
    path = path.strip("/")
    if not MOUNT_PATH.match(path) or {".", ".."} & set(path.split("/")):
        raise BadRequest(
            f"invalid mount path '{path}': use letters, digits and . _ - @"
            " between slashes, and no '.' or '..' segments"
        )
    if path.split("/")[0] in RESERVED:
        raise BadRequest(
            f"cannot mount at '{path}/': '{path.split('/')[0]}/' is reserved"
        )
    return path


def _check_free(path):
    for other in Mount.select(Mount.path):
        if (
            path == other.path
            or path.startswith(other.path + "/")
            or (other.path.startswith(path + "/"))
        ):
            raise BadRequest(f"path is already in use at {other.path}/")


def _get(path):
    mount = Mount.get_or_none(Mount.path == path.strip("/"))
    if mount is None:
        raise BadRequest(f"no mount at '{path.strip('/')}/'")
    return mount


def _describe(mount):
    return {
        "type": mount.type,
        "description": mount.description,
        "accessor": mount.accessor,
        "uuid": mount.uuid,
        "config": {
            "default_lease_ttl": mount.default_lease_ttl,
            "max_lease_ttl": mount.max_lease_ttl,
            "force_no_cache": False,
        },
        "local": False,
        "seal_wrap": False,
        "external_entropy_access": False,
        "options": {},
        "deprecation_status": "supported",
        "plugin_version": "",
        "running_plugin_version": f"v{__version__}+builtin.openvault",
        "running_sha256": "",
    }


MOUNT_FIELDS = {
    "type": "string",
    "description": "string",
    "config": "map",
    "options": "map",
    "local": "bool",
    "seal_wrap": "bool",
    "external_entropy_access": "bool",
    "plugin_version": "string",
    # Deprecated in Vault but still sent by hvac's enable_secrets_engine.
    "plugin_name": "string",
}
TUNE_FIELDS = {
    "default_lease_ttl": "duration",
    "max_lease_ttl": "duration",
    "description": "string",
}

ROUTES = [
    route("sys/mounts", read=list_mounts, synopsis="List the mounted secrets engines."),
    route(
        r"sys/mounts/(?P<path>.+?)/tune",
        fields=TUNE_FIELDS,
        read=read_tune,
        update=write_tune,
        synopsis="Read or change a mount's lease TTLs.",
    ),
    route(
        r"sys/mounts/(?P<path>.+)",
        fields=MOUNT_FIELDS,
        read=read_mount,
        update=write_mount,
        delete=delete_mount,
        synopsis="Mount, read or unmount a secrets engine.",
    ),
]
