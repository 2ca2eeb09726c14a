"""Leases: lifetimes, renewal, revocation with retries, and the expiry sweeper.

Every credential gets a lease. Revoking a lease runs the revoker registered
for its kind (the OTP revoker deletes the OTP; the dynamic-key revoker removes
the key from its host). A revocation that fails stays in the table with a
next attempt time and is retried with backoff, across restarts, until it
succeeds. The sweeper only ever reads leases that are due, through indexes on
expire_time and next_attempt, so its cost grows with what expires rather than
with what is outstanding.
"""

import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from openvault.errors import BadRequest
from openvault.storage import fast
from openvault.storage.db import close_thread
from openvault.storage.db import connect_thread
from openvault.storage.db import write_transaction
from openvault.storage.models import Lease
from openvault.storage.models import Meta
from openvault.storage.models import Mount

logger = logging.getLogger(__name__)

SYSTEM_DEFAULT_TTL = 768 * 3600
SYSTEM_MAX_TTL = 768 * 3600
RETRY_FIRST = 2
RETRY_MAX = 300
# While a sweeper works on a lease, other sweepers leave it alone this long.
CLAIM_SECONDS = 120
# Revocations run side by side in a bulk revocation; progress is logged
# every PROGRESS_EVERY leases.
REVOKE_WORKERS = 4
PROGRESS_EVERY = 50

# kind -> callable(lease, seal) that undoes the credential; raises on failure.
REVOKERS = {}
# kind -> callable(lease_ids) for credentials that live in the database only
# (OTPs): it undoes them inside the caller's transaction, so the sweeper
# revokes a whole batch of expired leases of that kind in one commit.
BULK_REVOKERS = {}


class RevocationPending(Exception):
    """Revocation failed for now and will be retried."""


def lease_ttls(mount, role):
    """Return (ttl, max_ttl) in seconds for a new credential of `role`."""
    max_ttl = mount.max_lease_ttl or SYSTEM_MAX_TTL
    if role is not None and role.max_ttl:
        max_ttl = min(max_ttl, role.max_ttl)
    ttl = mount.default_lease_ttl or SYSTEM_DEFAULT_TTL
    if role is not None and role.ttl:
        ttl = role.ttl
    return min(ttl, max_ttl), max_ttl


def new_lease_id(mount_path, role_name):
    """Return a fresh lease id under <mount>/creds/<role>/."""
    return f"{mount_path}/creds/{role_name}/{uuid.uuid4()}"


def create(
    lease_id, mount_path, role_name, kind, ttl, max_ttl, *, renewable=False, sealed=None
):
    """Store a lease; call inside the transaction that stores the credential."""
    # Checked in the credential's own write transaction, so that a mount
    # being removed (marker set) or removed (row gone) never gains a lease.
    # Both are primary-key reads with SQL rendered once (storage/fast.py):
    # they run for every creds, in the group-commit writer.
    if fast.exists(Meta, closing_key(mount_path)) or not fast.exists(Mount, mount_path):
        raise BadRequest(f"mount '{mount_path}/' is being removed")
    now = time.time()
    return fast.insert(
        Lease,
        lease_id=lease_id,
        mount=mount_path,
        role_name=role_name,
        kind=kind,
        issue_time=now,
        expire_time=now + ttl,
        max_expire_time=now + max_ttl,
        renewable=renewable,
        sealed=sealed,
    )


def closing_key(mount_path):
    """Return the Meta key that marks a mount as being removed."""
    return f"closing:{mount_path}"


def lookup(lease_id):
    """Return the lease, or raise BadRequest("invalid lease")."""
    lease = Lease.get_or_none(Lease.lease_id == lease_id) if lease_id else None
    if lease is None or (
        lease.next_attempt is None and lease.expire_time <= time.time()
    ):
        raise BadRequest("invalid lease")
    return lease


def renew(lease_id, increment):
    """Extend a renewable lease by `increment` seconds, up to its max TTL."""
    try:
        lease = lookup(lease_id)
    except BadRequest:
        # Vault's renew says "lease not found" where its lookup says "invalid".
        raise BadRequest("lease not found") from None
    if not lease.renewable:
        raise BadRequest("lease is not renewable")
    if lease.next_attempt is not None:
        raise BadRequest("lease is being revoked and cannot be renewed")
    now = time.time()
    if not increment:
        increment = lease.expire_time - (lease.last_renewal or lease.issue_time)
    lease.expire_time = min(now + increment, lease.max_expire_time)
    lease.last_renewal = now
    lease.save()
    logger.info("lease renewed: %s, ttl now %ds", lease_id, lease.expire_time - now)
    return lease


def revoke(lease_id, seal):
    """Revoke one lease now; unknown ids are fine (revocation is idempotent).

    Raises RevocationPending when the revoker failed; the lease then stays
    and is retried by the sweeper.
    """
    lease = Lease.get_or_none(Lease.lease_id == lease_id)
    if lease is not None:
        _revoke(lease, seal)


def revoke_prefix(prefix, seal):
    """Revoke every lease whose id starts with `prefix`; return (done, pending)."""
    prefix = prefix.rstrip("/") + "/"
    query = Lease.select(Lease.lease_id).where(Lease.lease_id.startswith(prefix))
    ids = [row.lease_id for row in query]
    done, pending = _revoke_ids(ids, seal, f"prefix {prefix}")
    logger.info("revoked prefix %s: %d revoked, %d pending", prefix, done, pending)
    return done, pending


def revoke_mount(mount_path, seal):
    """Revoke all leases of a mount; return the number still pending."""
    return revoke_prefix(mount_path, seal)[1]


def list_ids(prefix):
    """Return the next path segments of lease ids under `prefix` (Vault LIST)."""
    prefix = prefix.rstrip("/") + "/" if prefix else ""
    keys = set()
    query = Lease.select(Lease.lease_id).where(Lease.lease_id.startswith(prefix))
    for lease in query.iterator():
        rest = lease.lease_id[len(prefix) :]
        head, slash, _ = rest.partition("/")
        keys.add(head + slash)
    return sorted(keys)


def _revoke(lease, seal):
    revoker = REVOKERS.get(lease.kind)
    try:
        if revoker is not None:
            revoker(lease, seal)
    except Exception as exc:
        _schedule_retry(lease, exc)
        raise RevocationPending(str(exc)) from exc
    Lease.delete().where(Lease.lease_id == lease.lease_id).execute()
    logger.info("lease revoked: %s", lease.lease_id)


def _schedule_retry(lease, exc):
    delay = min(RETRY_FIRST * 2**lease.attempts, RETRY_MAX)
    Lease.update(
        next_attempt=time.time() + delay,
        attempts=Lease.attempts + 1,
        last_error=str(exc)[:500],
    ).where(Lease.lease_id == lease.lease_id).execute()
    logger.warning(
        "revocation of %s failed (attempt %d), retrying in %ds: %s",
        lease.lease_id,
        lease.attempts + 1,
        delay,
        exc,
    )


def due(now, limit=100):
    """Return leases that have expired or whose retry time has come."""
    expired = (
        Lease.select()
        .where(Lease.next_attempt.is_null(), Lease.expire_time <= now)
        .limit(limit)
    )
    retries = Lease.select().where(Lease.next_attempt <= now).limit(limit)
    return list(expired) + list(retries)


def claim(lease, now):
    """Take a due lease for this sweeper; False when another got it first."""
    with write_transaction():
        claimed = (
            Lease.update(next_attempt=now + CLAIM_SECONDS)
            .where(
                Lease.lease_id == lease.lease_id,
                (Lease.next_attempt == lease.next_attempt)
                if lease.next_attempt is not None
                else Lease.next_attempt.is_null(),
            )
            .execute()
        )
    return claimed == 1


def sweep_once(seal, now=None):
    """Revoke what is due now; return how many leases were revoked."""
    now = now or time.time()
    found = due(now)
    bulk = [
        lease.lease_id
        for lease in found
        if lease.kind in BULK_REVOKERS and lease.next_attempt is None
    ]
    done = _revoke_expired_in_bulk(bulk, now) if bulk else 0
    chosen = set(bulk)
    claimed = [
        lease.lease_id
        for lease in found
        if lease.lease_id not in chosen and claim(lease, now)
    ]
    return done + _revoke_ids(claimed, seal, "expired leases")[0]


def _revoke_expired_in_bulk(ids, now):
    """Revoke expired database-only leases in one transaction; return the count.

    The leases are read again under the write lock, so a lease renewed or
    revoked meanwhile (by a request, or another worker's sweeper) is left be.
    """
    with write_transaction():
        still = list(
            Lease.select(Lease.lease_id, Lease.kind)
            .where(
                Lease.lease_id.in_(ids),
                Lease.next_attempt.is_null(),
                Lease.expire_time <= now,
            )
            .tuples()
        )
        kinds = {}
        for lease_id, kind in still:
            kinds.setdefault(kind, []).append(lease_id)
        for kind, lease_ids in kinds.items():
            BULK_REVOKERS[kind](lease_ids)
        revoked = [lease_id for lease_id, _ in still]
        Lease.delete().where(Lease.lease_id.in_(revoked)).execute()
    for lease_id in revoked:
        logger.info("lease revoked: %s", lease_id)
    return len(revoked)


def _revoke_ids(ids, seal, what):
    """Revoke leases by id, several at a time; return (done, pending).

    Dynamic-key revocations wait on SSH to their hosts, so a bulk revocation
    (role deleted, prefix revoked, many leases expiring together) runs them
    side by side, each thread on its own database connection.
    """
    if len(ids) <= 1:
        results = [_revoke_id(lease_id, seal) for lease_id in ids]
        return results.count(True), results.count(False)
    done = pending = 0
    workers = min(REVOKE_WORKERS, len(ids))
    with ThreadPoolExecutor(workers, thread_name_prefix="revoke") as pool:
        for count, revoked in enumerate(
            pool.map(lambda lease_id: _revoke_in_thread(lease_id, seal), ids), 1
        ):
            done, pending = done + revoked, pending + (not revoked)
            if count % PROGRESS_EVERY == 0 and count < len(ids):
                logger.info("revoking %s: %d of %d done", what, count, len(ids))
    return done, pending


def _revoke_in_thread(lease_id, seal):
    connect_thread()
    try:
        return _revoke_id(lease_id, seal)
    finally:
        close_thread()


def _revoke_id(lease_id, seal):
    """Revoke one lease by id; True when gone, False when left pending."""
    lease = Lease.get_or_none(Lease.lease_id == lease_id)
    if lease is None:
        return True
    try:
        _revoke(lease, seal)
    except RevocationPending:
        return False
    return True


class Sweeper(threading.Thread):
    """Background thread that expires leases and retries pending revocations."""

    def __init__(self, seal, interval, connect, disconnect):
        super().__init__(name="lease-sweeper", daemon=True)
        self.seal = seal
        self.interval = interval
        self.connect = connect
        self.disconnect = disconnect
        self.stopping = threading.Event()

    def run(self):
        self.connect()
        try:
            while not self.stopping.wait(self.interval):
                try:
                    count = self.sweep()
                    if count:
                        logger.info("sweeper revoked %d expired leases", count)
                except Exception:
                    logger.exception("lease sweep failed; trying again next round")
        finally:
            self.disconnect()

    def sweep(self):
        total = 0
        while True:
            count = sweep_once(self.seal)
            total += count
            if count == 0 or self.stopping.is_set():
                return total

    def stop(self):
        self.stopping.set()
