"""OTP verification, called by the helper on each host; no token needed.

POST  verify   {"otp"}: 200 with username, ip, role_name the first time,
               400 "OTP not found" ever after
"""

import logging
import time

from openvault.api.routing import Reply
from openvault.api.routing import route
from openvault.api.ssh.creds import otp_digest
from openvault.errors import BadRequest
from openvault.storage import batch
from openvault.storage import fast
from openvault.storage.models import OTP

logger = logging.getLogger(__name__)

ECHO_REQUEST = "verify-echo-request"


def verify_otp(call):
    """Consume an OTP: exactly one caller wins, also when several race."""
    otp = call.get("otp", "")
    if otp == ECHO_REQUEST:
        return Reply(data={"message": "verify-echo-response"})
    digest = otp_digest(call.state.seal, call.mount, otp)
    found = fast.get(OTP, digest)
    # Only the request whose DELETE removed the row may succeed.
    won = found is not None and batch.write(_consume(digest)) == 1
    if not won or found.expire_time <= time.time():
        raise _rejected(call, found if won else None)
    data = {"username": found.username, "ip": found.ip, "role_name": found.role_name}
    return Reply(
        data=data,
        audit={"verify": {"result": "success", **data}},
        log=f"OTP verified for {found.username}@{found.ip}, role {found.role_name}"
        f" (from {call.remote_addr})",
    )


def _consume(digest):
    # Committed (fsync) with the writes of other requests, before we answer.
    return lambda: fast.delete(OTP, digest)


def _rejected(call, expired):
    # The client always reads "OTP not found", as from Vault; the log and the
    # audit entry also tell an expired OTP apart and name its user and host.
    result = {"result": "failure", "reason": "OTP not found"}
    if expired:
        result.update(
            reason="OTP expired",
            username=expired.username,
            ip=expired.ip,
            role_name=expired.role_name,
        )
        logger.warning(
            "OTP verification rejected: expired, issued for %s@%s (from %s)",
            expired.username,
            expired.ip,
            call.remote_addr,
        )
    else:
        logger.warning(
            "OTP verification rejected: not found (from %s)", call.remote_addr
        )

    error = BadRequest("OTP not found")
    error.audit = {"verify": result}
    return error


ROUTES = [
    route(
        "verify",
        fields={"otp": "string"},
        update=verify_otp,
        unauthenticated=True,
        synopsis="Verify and consume a one-time password.",
    )
]
