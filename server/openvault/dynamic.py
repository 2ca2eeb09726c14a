"""Dynamic keys: a fresh RSA key pair per credential, on the host for its lease only.

The lease is stored before the key goes to the host, held so the sweeper
leaves it alone while the install runs: if the server dies half-way, the
sweeper later revokes the lease and so removes whatever was installed.
A failed install removes the lease again, unless the host may have taken
the key (connection lost while the script ran); then the lease is due at
once and the sweeper removes the key.
"""

import json
import logging
import time

from cryptography.hazmat.primitives import serialization

from openvault import installer
from openvault import keypool
from openvault import leases
from openvault import sshkeys
from openvault.errors import BadRequest
from openvault.errors import VaultError
from openvault.storage.db import write_transaction
from openvault.storage.models import Lease
from openvault.storage.models import Mount
from openvault.storage.models import Role
from openvault.storage.models import SSHKey

logger = logging.getLogger(__name__)

KIND = "dynamic"
DEFAULT_KEY_BITS = 2048
# Longer than the slowest install (connect, three commands): the sweeper
# takes the lease over only when the install surely died.
INSTALL_HOLD = 5 * installer.COMMAND_TIMEOUT
# Vault's message for a failed install, kept for clients matching on it.
INSTALL_FAILED = "failed to add public key to authorized_keys file in target"


class HostError(VaultError):
    """The host could not be reached or would not take the key (502)."""

    status = 502


def issue(state, mount, role, username, ip, lease_id, ttl, max_ttl):
    """Install a fresh key for `username` on `ip` and return the credential."""
    key = _pool(state).take(role.key_bits or DEFAULT_KEY_BITS)
    public = public_line(key)
    record = _record(mount, role, username, ip, public)
    target = _target(state.seal, mount, role.key_name, role.admin_user, ip, role.port)

    with write_transaction():
        lease = leases.create(
            lease_id,
            mount.path,
            role.name,
            KIND,
            ttl,
            max_ttl,
            renewable=True,
            sealed=_seal(state.seal, lease_id, record),
        )
        lease.next_attempt = time.time() + INSTALL_HOLD
        lease.save()

    _install(state.seal, target, record, lease_id)
    _activate(state.seal, target, record, lease_id, ttl)
    logger.debug(
        "dynamic key %s installed for %s@%s in %s",
        sshkeys.fingerprint(public),
        username,
        ip,
        record["authorized_keys"],
    )
    return {
        "key": _private_pem(key),
        "key_type": "dynamic",
        "username": username,
        "ip": ip,
        "port": role.port,
    }


def _record(mount, role, username, ip, public):
    """Return what revoking the key will need, as stored (sealed) in the lease."""
    specs = role.key_option_specs.strip()
    return {
        "mount": mount.path,
        "key_name": role.key_name,
        "admin_user": role.admin_user,
        "ip": ip,
        "port": role.port,
        "username": username,
        "public_key": f"{specs} {public}" if specs else public,
        # "" means the built-in script as of revocation time.
        "install_script": role.install_script,
        "authorized_keys": "",
        "host_key": "",
    }


def _private_pem(key):
    """Return the key as Vault returned it: PEM, "BEGIN RSA PRIVATE KEY"."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


def revoke_dynamic(lease, seal):
    """Lease revoker for dynamic keys: remove the key's line from the host."""
    record = _open(seal, lease)
    mount = Mount.get_or_none(Mount.path == record["mount"])
    if mount is None:
        raise RuntimeError(f"mount {record['mount']}/ of the lease no longer exists")
    targets = _revocation_targets(seal, mount, record, lease.role_name)
    for number, target in enumerate(targets, 1):
        try:
            installer.uninstall(
                target,
                record["username"],
                record["public_key"],
                record["install_script"],
                authorized_keys=record["authorized_keys"],
                host_key=record["host_key"],
            )
            break
        except installer.InstallError as exc:
            if exc.kind == installer.REFUSED and number < len(targets):
                continue
            if exc.kind != installer.NO_USER:
                raise
            # Only a lease whose install never finished lacks the path; a
            # user the host does not know has no key there to remove.
            logger.info("dynamic key of %s: %s; nothing to remove", lease.lease_id, exc)
            return
    logger.info(
        "dynamic key removed: %s@%s (%s)",
        record["username"],
        target.address,
        lease.lease_id,
    )


def leases_needing_key(seal, mount, key_name):
    """Count the dynamic leases that can only be revoked with this registered key."""
    roles = {
        role.name: role.key_name
        for role in Role.select(Role.name, Role.key_name).where(
            Role.mount == mount.path
        )
    }
    count = 0
    query = Lease.select().where(Lease.mount == mount.path, Lease.kind == KIND)
    for lease in query.iterator():
        if _open(seal, lease)["key_name"] != key_name:
            continue
        if roles.get(lease.role_name, key_name) == key_name:
            count += 1
    return count


leases.REVOKERS[KIND] = revoke_dynamic


def public_line(key):
    """Return the OpenSSH public key line ("ssh-rsa AAAA...") of a private key."""
    return (
        key.public_key()
        .public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        )
        .decode()
    )


def _install(seal, target, record, lease_id):
    try:
        path, host_key = installer.install(
            target, record["username"], record["public_key"], record["install_script"]
        )
    except installer.InstallError as exc:
        _abandon(lease_id, exc)
        logger.warning("dynamic key for %s not installed: %s", lease_id, exc)
        if exc.kind == installer.NO_USER:
            raise BadRequest(f"{INSTALL_FAILED}: {exc}") from None
        if exc.kind == installer.UNCERTAIN:
            raise HostError(
                f"{INSTALL_FAILED}: {exc}; the key may have reached the host and"
                " is being removed again"
            ) from None
        raise HostError(f"{INSTALL_FAILED}: {exc}") from None
    record["authorized_keys"] = path
    record["host_key"] = host_key


def _abandon(lease_id, exc):
    """Forget the lease of a failed install, or have the sweeper clean up."""
    if exc.kind == installer.UNCERTAIN:
        Lease.update(next_attempt=time.time(), last_error=str(exc)[:500]).where(
            Lease.lease_id == lease_id
        ).execute()
    else:
        Lease.delete().where(Lease.lease_id == lease_id).execute()


def _activate(seal, target, record, lease_id, ttl):
    """Release the install hold; undo the install if the lease went meanwhile."""
    now = time.time()
    with write_transaction():
        lease = Lease.get_or_none(Lease.lease_id == lease_id)
        if lease is not None:
            lease.sealed = _seal(seal, lease_id, record)
            lease.next_attempt = None
            lease.expire_time = min(now + ttl, lease.max_expire_time)
            lease.save()
    if lease is not None:
        return
    # Revoked while installing (say, its role was deleted): take it off again.
    try:
        installer.uninstall(
            target,
            record["username"],
            record["public_key"],
            record["install_script"],
            authorized_keys=record["authorized_keys"],
            host_key=record["host_key"],
        )
    except installer.InstallError as exc:
        logger.error(
            "dynamic key of %s was revoked while installing and could not be"
            " removed from %s: %s",
            lease_id,
            target.address,
            exc,
        )
    raise BadRequest(f"lease {lease_id} was revoked while its key was installed")


def _revocation_targets(seal, mount, record, role_name):
    """Return targets to try: the key that installed, then the role's current key.

    After a key rotation (the role points at a new key, hosts trust only
    that one) the key that installed may be refused; the role's key works.
    """
    names = [record["key_name"]]
    role = Role.get_or_none(Role.mount == mount.path, Role.name == role_name)
    if role is not None and role.key_name not in names:
        names.append(role.key_name)
    targets = []
    for name in names:
        try:
            targets.append(
                _target(
                    seal,
                    mount,
                    name,
                    record["admin_user"],
                    record["ip"],
                    record["port"],
                )
            )
        except BadRequest:
            continue
    if not targets:
        raise RuntimeError(
            f"key '{record['key_name']}' is no longer registered at {mount.path}/keys/;"
            " register it again so the key can be removed from the host"
        )
    return targets


def _target(seal, mount, key_name, admin_user, ip, port):
    row = SSHKey.get_or_none(SSHKey.mount == mount.path, SSHKey.name == key_name)
    if row is None:
        raise BadRequest(
            f"key '{key_name}' is no longer registered at {mount.path}/keys/"
        )
    pem = seal.decrypt(row.sealed, sshkeys.seal_context(mount, row.name)).decode()
    return installer.Target(
        ip=ip,
        port=port,
        admin_user=admin_user,
        admin_key=installer.load_admin_key(pem, row.key_type),
    )


def _pool(state):
    pool = getattr(state, "keypool", None)
    return pool if pool is not None else keypool.KeyPool(0)


def _seal(seal, lease_id, record):
    return seal.encrypt(json.dumps(record).encode(), f"dynamic-lease:{lease_id}")


def _open(seal, lease):
    if not lease.sealed:
        raise RuntimeError(f"lease {lease.lease_id} holds no revocation data")
    return json.loads(seal.decrypt(lease.sealed, f"dynamic-lease:{lease.lease_id}"))
