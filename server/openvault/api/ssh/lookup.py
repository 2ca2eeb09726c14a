"""Role lookup by address.

POST  lookup   {"ip"}: the roles that would issue a credential for it
"""

from openvault import roles
from openvault.api.routing import Reply
from openvault.api.routing import route
from openvault.errors import BadRequest
from openvault.validate import parse_ip


def lookup_roles(call):
    """List each role once that would really issue for the IP."""
    requested = call.get("ip", "")
    if not requested:
        raise BadRequest("Missing ip")
    ip = parse_ip(requested)
    if ip is None:
        raise BadRequest(f'Invalid IP "{requested}"')
    return Reply(data={"roles": roles.roles_for_ip(call.mount, ip) or None})


ROUTES = [
    route(
        "lookup",
        fields={"ip": "string"},
        update=lookup_roles,
        synopsis="List the roles that serve an IP address.",
    )
]
