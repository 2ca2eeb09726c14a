"""Shared private keys that dynamic roles log in with; root protected.

POST/DEL  keys/<name>   {"key": "<PEM private key>"}; never read back
GET       keys/<name>   key_type and SHA256 fingerprint only (ours)
LIST      keys/         names (ours)
"""

import logging

from openvault import dynamic
from openvault import sshkeys
from openvault.api.routing import Reply
from openvault.api.routing import route
from openvault.errors import BadRequest
from openvault.errors import NotFound
from openvault.storage.models import Role
from openvault.storage.models import SSHKey

logger = logging.getLogger(__name__)


def list_keys(call):
    """List registered key names."""
    names = [
        row.name
        for row in SSHKey.select(SSHKey.name)
        .where(SSHKey.mount == call.mount.path)
        .order_by(SSHKey.name)
    ]
    if not names:
        raise NotFound()
    return Reply(data={"keys": names})


def read_key(call):
    """Describe a registered key without revealing it."""
    row = _get(call)
    return Reply(data={"key_type": row.key_type, "fingerprint": row.fingerprint})


def write_key(call):
    """Register or replace a shared private key, sealed at rest."""
    name = call.params["name"]
    material = call.get("key", "")
    if not material:
        raise BadRequest("missing 'key': the PEM or OpenSSH private key to register")
    parsed = sshkeys.parse_private_key("key", material)
    sealed = call.state.seal.encrypt(
        parsed.pem.encode(), sshkeys.seal_context(call.mount, name)
    )
    SSHKey.insert(
        mount=call.mount.path,
        name=name,
        sealed=sealed,
        key_type=parsed.key_type,
        fingerprint=parsed.fingerprint,
    ).on_conflict(
        conflict_target=[SSHKey.mount, SSHKey.name],
        update={
            SSHKey.sealed: sealed,
            SSHKey.key_type: parsed.key_type,
            SSHKey.fingerprint: parsed.fingerprint,
        },
    ).execute()
    logger.info(
        "key registered: %s/keys/%s (%s %s)",
        call.mount.path,
        name,
        parsed.key_type,
        parsed.fingerprint,
    )


def delete_key(call):
    """Delete a key, unless a role still uses it."""
    name = call.params["name"]
    users = [
        row.name
        for row in Role.select(Role.name).where(
            Role.mount == call.mount.path, Role.key_name == name
        )
    ]
    if users:
        raise BadRequest(
            f"key '{name}' is used by roles {sorted(users)}; delete those roles or"
            " point them at another key first"
        )
    needing = dynamic.leases_needing_key(call.state.seal, call.mount, name)
    if needing:
        raise BadRequest(
            f"key '{name}' is still needed to remove {needing} dynamic keys from"
            " their hosts; revoke those leases (or wait until their revocation"
            " finishes) first"
        )
    SSHKey.delete().where(
        SSHKey.mount == call.mount.path, SSHKey.name == name
    ).execute()
    logger.info("key deleted: %s/keys/%s", call.mount.path, name)


def _get(call):
    row = SSHKey.get_or_none(
        SSHKey.mount == call.mount.path, SSHKey.name == call.params["name"]
    )
    if row is None:
        raise NotFound()
    return row


ROUTES = [
    route(r"keys/?", list=list_keys, sudo=True, synopsis="List registered keys."),
    route(
        r"keys/(?P<name>\w(?:[\w\-.@]*\w)?)",
        fields={"key": "string"},
        read=read_key,
        update=write_key,
        delete=delete_key,
        sudo=True,
        synopsis="Register or delete a shared private key for dynamic roles.",
    ),
]
