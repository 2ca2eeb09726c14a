"""Roles of the ssh backend.

LIST          roles/          names with key_info {key_type}
GET/POST/DEL  roles/<role>    POST creates or replaces the whole role
"""

import logging

from openvault import leases
from openvault import roles
from openvault.api.routing import Reply
from openvault.api.routing import route
from openvault.errors import BadRequest
from openvault.errors import NotFound
from openvault.installer import DEFAULT_INSTALL_SCRIPT
from openvault.storage.db import write_transaction
from openvault.storage.models import Role
from openvault.storage.models import RoleBlock
from openvault.storage.models import SSHKey
from openvault.validate import parse_cidr_list
from openvault.validate import split_list

logger = logging.getLogger(__name__)

KEY_TYPES = ("otp", "dynamic")
KEY_BITS = (1024, 2048, 3072, 4096, 8192)
DEFAULT_KEY_BITS = 2048
DYNAMIC_ONLY = ("key", "admin_user", "key_bits", "install_script", "key_option_specs")


def list_roles(call):
    """List role names with their key types."""
    query = Role.select(Role.name, Role.key_type).where(Role.mount == call.mount.path)
    after = call.get("after", "")
    if after:
        query = query.where(Role.name > after)
    query = query.order_by(Role.name)
    limit = call.get("limit", 0)
    if limit > 0:
        query = query.limit(limit)
    found = list(query)
    if not found:
        raise NotFound()
    return Reply(
        data={
            "keys": [row.name for row in found],
            "key_info": {row.name: {"key_type": row.key_type} for row in found},
        }
    )


def read_role(call):
    """Return a role's settings."""
    role = _get(call)
    data = {
        "key_type": role.key_type,
        "default_user": role.default_user,
        "cidr_list": role.cidr_list,
        "exclude_cidr_list": role.exclude_cidr_list,
        "port": role.port,
        "allowed_users": role.allowed_users,
        "ttl": role.ttl,
        "max_ttl": role.max_ttl,
    }
    if role.key_type == "dynamic":
        data.update(
            key=role.key_name,
            admin_user=role.admin_user,
            key_bits=role.key_bits,
            install_script=role.install_script or DEFAULT_INSTALL_SCRIPT,
            key_option_specs=role.key_option_specs,
        )
    return Reply(data=data)


def write_role(call):
    """Create or replace a role; a write sets every field, as in Vault."""
    mount = call.mount
    settings = _validate(call)
    warnings = _ignored_for_otp(call) if settings["key_type"] == "otp" else []

    with write_transaction():
        role = Role.get_or_none(
            Role.mount == mount.path, Role.name == call.params["role"]
        )
        if role is None:
            role = Role(mount=mount.path, name=call.params["role"])
        for name, value in settings.items():
            setattr(role, name, value)
        role.save()
        RoleBlock.delete().where(RoleBlock.role == role).execute()
        blocks = roles.blocks_for(role)
        if blocks:
            RoleBlock.bulk_create(blocks, batch_size=200)
    logger.info("role written: %s/roles/%s (%s)", mount.path, role.name, role.key_type)
    if not role.cidr_list and role.name not in roles.zero_address_roles(mount):
        warnings.append(
            "the role has no cidr_list, so it serves no host until it is listed"
            " in config/zeroaddress (an empty cidr_list does not mean 0.0.0.0/0)"
        )
    return Reply(warnings=warnings) if warnings else None


def delete_role(call):
    """Delete a role and revoke the credentials it issued."""
    mount = call.mount
    name = call.params["role"]
    done, pending = leases.revoke_prefix(f"{mount.path}/creds/{name}", call.state.seal)
    with write_transaction():
        Role.delete().where(Role.mount == mount.path, Role.name == name).execute()
        roles.forget_zero_address_role(mount, name)
    logger.info(
        "role deleted: %s/roles/%s (%d credentials revoked, %d pending)",
        mount.path,
        name,
        done,
        pending,
    )


def _validate(call):
    key_type = call.get("key_type", "").lower()
    if not key_type:
        raise BadRequest("missing key type")
    if key_type not in KEY_TYPES:
        raise BadRequest(f"invalid key type: '{key_type}' (expected otp or dynamic)")
    default_user = call.get("default_user", "")
    if not default_user:
        raise BadRequest("missing default user")
    roles.check_username("default_user", default_user)
    port = call.get("port", 22) or 22
    if not 1 <= port <= 65535:
        raise BadRequest(f"'port' must be between 1 and 65535, got {port}")
    allowed = split_list(call.get("allowed_users", ""))
    for user in allowed:
        if user != "*":
            roles.check_username("allowed_users", user)
    ttl = call.get("ttl", 0)
    max_ttl = call.get("max_ttl", 0)
    if ttl and max_ttl and ttl > max_ttl:
        raise BadRequest(
            '"ttl" value must be less than "max_ttl" when both are specified'
        )
    settings = {
        "key_type": key_type,
        "default_user": default_user,
        "cidr_list": parse_cidr_list("cidr_list", call.get("cidr_list", "")),
        "exclude_cidr_list": parse_cidr_list(
            "exclude_cidr_list", call.get("exclude_cidr_list", "")
        ),
        "port": port,
        "allowed_users": ",".join(allowed),
        "ttl": ttl,
        "max_ttl": max_ttl,
    }
    if key_type == "otp":
        if call.get("admin_user"):
            raise BadRequest("admin user not required for OTP type")
        settings.update(
            key_name="",
            admin_user="",
            key_bits=0,
            install_script="",
            key_option_specs="",
        )
    else:
        settings.update(_validate_dynamic(call))
    return settings


def _ignored_for_otp(call):
    # hvac's create_role always sends key_bits=1024 (and empty key, script
    # and options), so refusing these on OTP roles would break unchanged
    # Vault clients; like unknown parameters, they are dropped with a warning.
    ignored = [name for name in DYNAMIC_ONLY if call.get(name)]
    if not ignored:
        return []
    return [
        "these parameters apply only to dynamic roles and were ignored:"
        f" [{' '.join(ignored)}]"
    ]


def _validate_dynamic(call):
    key_name = call.get("key", "")
    if not key_name:
        raise BadRequest("missing key name")
    if (
        not SSHKey.select()
        .where(SSHKey.mount == call.mount.path, SSHKey.name == key_name)
        .exists()
    ):
        raise BadRequest(
            f"invalid 'key': \"{key_name}\" is not a registered key; register it at"
            f" {call.mount.path}/keys/{key_name} first"
        )
    admin_user = call.get("admin_user", "")
    if not admin_user:
        raise BadRequest("missing admin username")
    roles.check_username("admin_user", admin_user)
    key_bits = call.get("key_bits", 0) or DEFAULT_KEY_BITS
    if key_bits not in KEY_BITS:
        raise BadRequest(
            f"invalid key_bits field: {key_bits} (expected one of"
            f" {', '.join(map(str, KEY_BITS))})"
        )
    script = call.get("install_script", "")
    specs = call.get("key_option_specs", "")
    if any(ord(char) < 32 or ord(char) == 127 for char in specs):
        # A newline would add a line of its own to authorized_keys.
        raise BadRequest(
            "'key_option_specs' must be one line of authorized_keys options such as"
            ' no-port-forwarding,command="..." (no newlines or control characters)'
        )
    # Have keys of this size ready before the first creds request.
    call.state.keypool.want(key_bits)
    return {
        "key_name": key_name,
        "admin_user": admin_user,
        "key_bits": key_bits,
        "install_script": "" if script == DEFAULT_INSTALL_SCRIPT else script,
        "key_option_specs": specs,
    }


def _get(call):
    role = Role.get_or_none(
        Role.mount == call.mount.path, Role.name == call.params["role"]
    )
    if role is None:
        raise NotFound()
    return role


NAME = r"(?P<role>\w(?:[\w\-.@]*\w)?)"
FIELDS = {
    "key_type": "string",
    "default_user": "string",
    "cidr_list": "string",
    "exclude_cidr_list": "string",
    "port": "int",
    "allowed_users": "string",
    "key": "string",
    "admin_user": "string",
    "key_bits": "int",
    "install_script": "string",
    "key_option_specs": "string",
    "ttl": "duration",
    "max_ttl": "duration",
}

ROUTES = [
    route(
        r"roles/?",
        fields={"after": "string", "limit": "int"},
        list=list_roles,
        synopsis="List the roles of this mount.",
    ),
    # No existence check, as in Vault: every role write needs 'update', so
    # Vault policies grant here exactly what they grant there.
    route(
        rf"roles/{NAME}",
        fields=FIELDS,
        read=read_role,
        update=write_role,
        delete=delete_role,
        synopsis="Manage a role: the hosts, users and key type it issues for.",
        description="""
A write replaces the whole role. key_type is otp or dynamic; default_user is
required; cidr_list and exclude_cidr_list are comma-separated address blocks;
allowed_users is empty (default_user only), * (anyone) or a list. Dynamic
roles also need key and admin_user. ttl and max_ttl bound the credentials'
leases below the mount's TTLs.""",
    ),
]
