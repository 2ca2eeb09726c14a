"""Credentials of the ssh backend.

POST  creds/<role>   {"ip", "username"}: an OTP, or a dynamic key installed
                     on the host, with a lease
"""

import uuid

from openvault import dynamic
from openvault import leases
from openvault import roles
from openvault.api.routing import Reply
from openvault.api.routing import route
from openvault.errors import BadRequest
from openvault.storage import batch
from openvault.storage import fast
from openvault.storage.models import OTP
from openvault.validate import parse_ip


def issue_creds(call):
    """Check the request against the role, then issue an OTP or a dynamic key."""
    name = call.params["role"]
    requested_ip = call.get("ip", "")
    if not requested_ip:
        raise BadRequest("Missing ip")
    role = roles.get_role(call.mount.path, name)
    if role is None:
        raise BadRequest(f'Role "{name}" not found')
    username = roles.resolve_username(role, call.get("username", ""))
    ip = parse_ip(requested_ip)
    if ip is None:
        raise BadRequest(f'Invalid IP "{requested_ip}"')
    roles.check_ip(call.mount, role, ip)

    ttl, max_ttl = leases.lease_ttls(call.mount, role)
    lease_id = leases.new_lease_id(call.mount.path, role.name)
    if role.key_type == "dynamic":
        data = dynamic.issue(
            call.state, call.mount, role, username, ip, lease_id, ttl, max_ttl
        )
        renewable = True
    else:
        data = _issue_otp(call, role, username, ip, lease_id, ttl, max_ttl)
        renewable = False
    return Reply(
        data=data,
        lease_id=lease_id,
        lease_duration=ttl,
        renewable=renewable,
        log=f"creds issued for {username}@{ip} ({role.key_type}), lease {lease_id}",
    )


def _issue_otp(call, role, username, ip, lease_id, ttl, max_ttl):
    otp = str(uuid.uuid4())
    digest = otp_digest(call.state.seal, call.mount, otp)

    def store():
        lease = leases.create(lease_id, call.mount.path, role.name, "otp", ttl, max_ttl)
        fast.insert(
            OTP,
            digest=digest,
            mount=call.mount.path,
            lease_id=lease_id,
            username=username,
            ip=ip,
            role_name=role.name,
            expire_time=lease.expire_time,
        )

    # Committed (fsync) with the writes of other requests, before we answer.
    batch.write(store)
    return {
        "ip": ip,
        "key": otp,
        "key_type": "otp",
        "port": role.port,
        "username": username,
    }


def otp_digest(seal, mount, otp):
    """Return the keyed digest under which an OTP of this mount is stored."""
    return seal.digest("otp", f"{mount.uuid}:{otp}")


def revoke_otp(lease, seal):
    """Lease revoker for OTPs: forget the OTP, used or not."""
    OTP.delete().where(OTP.lease_id == lease.lease_id).execute()


def revoke_otps(lease_ids):
    """Bulk lease revoker for OTPs, inside the sweeper's transaction."""
    OTP.delete().where(OTP.lease_id.in_(lease_ids)).execute()


leases.REVOKERS["otp"] = revoke_otp
leases.BULK_REVOKERS["otp"] = revoke_otps

ROUTES = [
    route(
        r"creds/(?P<role>\w(?:[\w\-.@]*\w)?)",
        fields={"ip": "string", "username": "string"},
        update=issue_creds,
        synopsis="Issue a credential for a user on a host.",
        description="""
ip (required) is the host's address; username defaults to the role's
default_user. An OTP role answers with a one-time password in 'key'; a
dynamic role installs a new key on the host and answers with its private key.""",
    )
]
