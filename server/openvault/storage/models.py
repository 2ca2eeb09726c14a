"""peewee models: everything the server keeps, one table per kind of object.

Times are UNIX seconds (float). Secrets are never stored in clear: OTPs and
tokens only as HMAC digests, private keys only sealed (see openvault.seal).
"""

import peewee

from openvault.storage import cache
from openvault.storage.db import database


class BaseModel(peewee.Model):
    class Meta:
        database = database
        legacy_table_names = False


class Meta(BaseModel):
    """Server-wide settings such as the seal key check value."""

    key = peewee.CharField(primary_key=True)
    value = peewee.TextField()


class Mount(BaseModel):
    """A secrets engine mounted at a path (stored without the trailing slash)."""

    path = peewee.CharField(primary_key=True)
    type = peewee.CharField()
    uuid = peewee.CharField()
    accessor = peewee.CharField()
    description = peewee.TextField(default="")
    default_lease_ttl = peewee.IntegerField(default=0)
    max_lease_ttl = peewee.IntegerField(default=0)
    # NULL: config/zeroaddress was never written; "": written, now empty.
    zeroaddress = peewee.TextField(null=True)
    created = peewee.DoubleField()


class Role(BaseModel):
    """An ssh role; dynamic-only columns stay empty for OTP roles."""

    mount = peewee.CharField(index=True)
    name = peewee.CharField()
    key_type = peewee.CharField()
    default_user = peewee.CharField(default="")
    cidr_list = peewee.TextField(default="")
    exclude_cidr_list = peewee.TextField(default="")
    port = peewee.IntegerField(default=22)
    allowed_users = peewee.TextField(default="")
    key_name = peewee.CharField(default="")
    admin_user = peewee.CharField(default="")
    key_bits = peewee.IntegerField(default=0)
    install_script = peewee.TextField(default="")
    key_option_specs = peewee.TextField(default="")
    ttl = peewee.IntegerField(default=0)
    max_ttl = peewee.IntegerField(default=0)

    class Meta:
        indexes = ((("mount", "name"), True),)


class RoleBlock(BaseModel):
    """One address block of a role, as a range, so lookups need no role scan.

    Addresses are 32 hex digits (IPv4 mapped into the IPv6 space), which
    compare as strings in the same order as the numbers they stand for.
    """

    mount = peewee.CharField()
    role = peewee.ForeignKeyField(Role, on_delete="CASCADE", backref="blocks")
    excluded = peewee.BooleanField()
    first = peewee.CharField(max_length=32)
    last = peewee.CharField(max_length=32)

    class Meta:
        indexes = ((("mount", "excluded", "first"), False),)


class SSHKey(BaseModel):
    """A registered shared private key, sealed; only its fingerprint is readable."""

    mount = peewee.CharField()
    name = peewee.CharField()
    sealed = peewee.BlobField()
    key_type = peewee.CharField()
    fingerprint = peewee.CharField()

    class Meta:
        table_name = "ssh_key"
        indexes = ((("mount", "name"), True),)


class OTP(BaseModel):
    """An issued one-time password, known only by its keyed digest."""

    digest = peewee.CharField(primary_key=True)
    mount = peewee.CharField()
    lease_id = peewee.CharField(index=True)
    username = peewee.CharField()
    ip = peewee.CharField()
    role_name = peewee.CharField()
    expire_time = peewee.DoubleField()


class Lease(BaseModel):
    """A credential's lease; revocation that failed stays here until it succeeds."""

    lease_id = peewee.CharField(primary_key=True)
    mount = peewee.CharField(index=True)
    role_name = peewee.CharField()
    kind = peewee.CharField()
    issue_time = peewee.DoubleField()
    expire_time = peewee.DoubleField(index=True)
    max_expire_time = peewee.DoubleField()
    last_renewal = peewee.DoubleField(null=True)
    renewable = peewee.BooleanField(default=False)
    # Sealed JSON with what revocation needs (host, user, public key, ...).
    sealed = peewee.BlobField(null=True)
    # Set while a revocation is due or being retried; NULL for a live lease.
    next_attempt = peewee.DoubleField(null=True)
    attempts = peewee.IntegerField(default=0)
    last_error = peewee.TextField(default="")

    class Meta:
        # The sweeper asks for "next_attempt IS NULL AND expire_time <= now"
        # and "next_attempt <= now". With an index on next_attempt alone
        # SQLite read every live lease for the first (all are NULL there);
        # this one goes straight to the leases due, for both.
        indexes = ((("next_attempt", "expire_time"), False),)


class Token(BaseModel):
    """An auth token, known only by its keyed digest."""

    digest = peewee.CharField(primary_key=True)
    accessor = peewee.CharField(unique=True)
    policies = peewee.TextField()
    display_name = peewee.CharField(default="token")
    parent = peewee.CharField(null=True, index=True)
    issue_time = peewee.DoubleField()
    expire_time = peewee.DoubleField(null=True)
    creation_ttl = peewee.IntegerField(default=0)
    renewable = peewee.BooleanField(default=True)
    orphan = peewee.BooleanField(default=False)
    meta = peewee.TextField(default="{}")


class Policy(BaseModel):
    """An ACL policy as written by the user (HCL or JSON)."""

    name = peewee.CharField(primary_key=True)
    text = peewee.TextField()


class AuditDevice(BaseModel):
    """An audit device enabled through sys/audit."""

    path = peewee.CharField(primary_key=True)
    type = peewee.CharField()
    description = peewee.TextField(default="")
    options = peewee.TextField(default="{}")


ALL_MODELS = [
    Meta,
    Mount,
    Role,
    RoleBlock,
    SSHKey,
    OTP,
    Lease,
    Token,
    Policy,
    AuditDevice,
]


def create_schema():
    """Create any missing tables, indexes and the cache triggers."""
    database.create_tables(ALL_MODELS, safe=True)
    cache.install()
