"""The zero-address list: roles that serve every IP address.

GET/POST/DEL  config/zeroaddress   {"roles": "a,b"} or ["a", "b"]
"""

import logging

from openvault.api.routing import Reply
from openvault.api.routing import route
from openvault.errors import BadRequest
from openvault.errors import NotFound
from openvault.roles import zero_address_roles
from openvault.storage.models import Mount
from openvault.storage.models import Role

logger = logging.getLogger(__name__)


def read_zeroaddress(call):
    """Return the zero-address roles; 404 when the list was never written."""
    if call.mount.zeroaddress is None:
        raise NotFound()
    return Reply(data={"roles": zero_address_roles(call.mount)})


def write_zeroaddress(call):
    """Replace the zero-address list; every role named must exist."""
    names = call.get("roles", [])
    if not names:
        raise BadRequest("Missing roles")
    existing = {
        row.name
        for row in Role.select(Role.name).where(
            Role.mount == call.mount.path, Role.name.in_(names)
        )
    }
    for name in names:
        if name not in existing:
            raise BadRequest(f'Role "{name}" does not exist')
    _store(call.mount, ",".join(dict.fromkeys(names)))
    logger.info("zero-address roles of %s/: %s", call.mount.path, names)


def delete_zeroaddress(call):
    """Forget the zero-address list."""
    _store(call.mount, None)
    logger.info("zero-address roles of %s/ removed", call.mount.path)


def _store(mount, value):
    Mount.update(zeroaddress=value).where(Mount.path == mount.path).execute()
    mount.zeroaddress = value


ROUTES = [
    route(
        "config/zeroaddress",
        fields={"roles": "comma"},
        read=read_zeroaddress,
        update=write_zeroaddress,
        delete=delete_zeroaddress,
        synopsis="Roles that apply to every IP address.",
    )
]
