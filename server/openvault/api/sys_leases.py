"""sys/leases: look up, renew and revoke credentials' leases.

PUT   sys/leases/lookup                    {"lease_id"}
LIST  sys/leases/lookup/<prefix>           lease ids under a prefix (sudo)
PUT   sys/leases/renew[/<lease_id>]        {"lease_id", "increment"}
PUT   sys/leases/revoke[/<lease_id>]       {"lease_id"}
PUT   sys/leases/revoke-prefix/<prefix>    (sudo)
PUT   sys/revoke/<id>, sys/revoke-prefix/<prefix>, sys/renew/<id>
      the pre-0.7 forms that the original docs' CLI used
"""

import time

from openvault import leases
from openvault.api.routing import Reply
from openvault.api.routing import route
from openvault.audit import timestamp
from openvault.errors import BadRequest
from openvault.errors import NotFound


def lookup_lease(call):
    """Describe one lease, including a revocation still being retried."""
    lease = leases.lookup(_lease_id(call))
    data = {
        "id": lease.lease_id,
        "issue_time": timestamp(lease.issue_time),
        "expire_time": timestamp(lease.expire_time),
        "last_renewal": timestamp(lease.last_renewal) if lease.last_renewal else None,
        "renewable": lease.renewable,
        "ttl": max(0, int(lease.expire_time - time.time())),
        "path": lease.lease_id.rsplit("/", 1)[0],
    }
    if lease.next_attempt is not None:
        data["revocation_pending"] = True
        data["revocation_attempts"] = lease.attempts
        data["revocation_error"] = lease.last_error
        data["ttl"] = 0
    return Reply(data=data)


def list_leases(call):
    """List lease ids (or the next path segments) under a prefix."""
    keys = leases.list_ids(call.params.get("prefix", ""))
    if not keys:
        raise NotFound()
    return Reply(data={"keys": keys})


def renew_lease(call):
    """Extend a renewable lease, up to its maximum TTL."""
    lease = leases.renew(_lease_id(call), call.get("increment", 0))
    return Reply(
        lease_id=lease.lease_id,
        renewable=True,
        lease_duration=max(0, int(lease.expire_time - time.time())),
    )


def revoke_lease(call):
    """Revoke one lease now; an unknown id is not an error."""
    lease_id = _lease_id(call)
    try:
        leases.revoke(lease_id, call.state.seal)
    except leases.RevocationPending as exc:
        return Reply(warnings=[_pending(lease_id, exc)])
    return None


def revoke_prefix(call):
    """Revoke every lease under a prefix."""
    done, pending = leases.revoke_prefix(call.params["prefix"], call.state.seal)
    if pending:
        return Reply(
            warnings=[
                f"{pending} of {done + pending} leases could not be revoked yet;"
                " they are kept and retried in the background"
            ]
        )
    return None


def _lease_id(call):
    lease_id = call.params.get("lease_id") or call.get("lease_id", "")
    if not lease_id:
        raise BadRequest("lease_id must be specified")
    return lease_id


def _pending(lease_id, exc):
    return (
        f"revocation of {lease_id} failed for now ({exc}); the lease is kept and"
        " revocation is retried in the background"
    )


LEASE_FIELDS = {"lease_id": "string", "increment": "duration", "sync": "bool"}

ROUTES = [
    route(
        "sys/leases/lookup",
        fields=LEASE_FIELDS,
        update=lookup_lease,
        synopsis="Look up a lease by id.",
    ),
    route(
        r"sys/leases/lookup/(?P<prefix>.*)",
        list=list_leases,
        sudo=True,
        synopsis="List lease ids under a prefix.",
    ),
    route(
        r"sys/leases/renew(?:/(?P<lease_id>.+))?",
        fields=LEASE_FIELDS,
        update=renew_lease,
        synopsis="Renew a lease.",
    ),
    route(
        r"sys/leases/revoke(?:/(?P<lease_id>.+))?",
        fields=LEASE_FIELDS,
        update=revoke_lease,
        synopsis="Revoke a lease.",
    ),
    route(
        r"sys/leases/revoke-prefix/(?P<prefix>.+)",
        fields={"sync": "bool"},
        update=revoke_prefix,
        sudo=True,
        synopsis="Revoke every lease under a prefix.",
    ),
    route(
        r"sys/revoke/(?P<lease_id>.+)",
        update=revoke_lease,
        synopsis="Revoke a lease (old path).",
    ),
    route(
        r"sys/revoke-prefix/(?P<prefix>.+)",
        update=revoke_prefix,
        sudo=True,
        synopsis="Revoke every lease under a prefix (old path).",
    ),
    route(
        r"sys/renew/(?P<lease_id>.+)",
        fields={"increment": "duration"},
        update=renew_lease,
        synopsis="Renew a lease (old path).",
    ),
]
