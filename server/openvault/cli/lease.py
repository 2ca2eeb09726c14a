"""Lease commands: lease lookup, lease renew and lease revoke."""

from openvault.cli.base import Command
from openvault.cli.base import api_failure
from openvault.cli.base import say
from openvault.cli.client import VaultAPIError


def lease_lookup(ctx):
    """Show a lease's issue time, expiry and TTL."""
    ctx.expect_args(1)
    lease_id = ctx.args[0]

    try:
        reply = ctx.client.write("sys/leases/lookup", {"lease_id": lease_id})
    except VaultAPIError as error:
        return api_failure(f"error looking up lease id {lease_id}", error)
    return ctx.show(reply or {})


def add_renew_flags(flags):
    """Declare `lease renew -increment`."""
    flags.add("increment", usage="Requested extension, e.g. 1h.")


def lease_renew(ctx):
    """Extend a renewable lease and show its new duration."""
    ctx.expect_args(1)
    lease_id = ctx.args[0]
    body = {"lease_id": lease_id}
    if ctx["increment"]:
        body["increment"] = ctx["increment"]

    try:
        reply = ctx.client.write("sys/leases/renew", body)
    except VaultAPIError as error:
        return api_failure(f"Error renewing {lease_id}", error)
    return ctx.show(reply or {"lease_id": lease_id})


def add_revoke_flags(flags):
    """Declare `lease revoke -prefix`."""
    flags.add("prefix", kind="bool", usage="Revoke every lease under the ID.")


def lease_revoke(ctx):
    """Revoke one lease, or with -prefix every lease under a prefix."""
    ctx.expect_args(1)
    lease_id = ctx.args[0]

    try:
        if ctx["prefix"]:
            ctx.client.write(f"sys/leases/revoke-prefix/{lease_id.strip('/')}")
        else:
            ctx.client.write("sys/leases/revoke", {"lease_id": lease_id})
    except VaultAPIError as error:
        which = "leases with prefix" if ctx["prefix"] else "lease"
        return api_failure(f"Error revoking {which} {lease_id}", error)

    if ctx["prefix"]:
        return say(f"Success! Revoked any leases with prefix: {lease_id}")
    return say(f"Success! Revoked lease: {lease_id}")


COMMANDS = [
    Command(
        ("lease", "lookup"),
        "Show a lease's properties.",
        "openvault lease lookup [options] ID",
        lease_lookup,
    ),
    Command(
        ("lease", "renew"),
        "Renew a lease.",
        "openvault lease renew [options] ID",
        lease_renew,
        add_renew_flags,
    ),
    Command(
        ("lease", "revoke"),
        "Revoke a lease, or with -prefix all leases under a prefix.",
        "openvault lease revoke [options] ID",
        lease_revoke,
        add_revoke_flags,
        formats=False,
    ),
]
