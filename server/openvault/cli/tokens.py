"""Token commands: token create, token lookup and token revoke."""

from openvault.cli.base import EXIT_OK
from openvault.cli.base import Command
from openvault.cli.base import api_failure
from openvault.cli.base import say
from openvault.cli.client import VaultAPIError
from openvault.cli.flags import UsageError
from openvault.cli.kv import parse_pairs

REDACTED = "<redacted>"


def add_create_flags(flags):
    """Declare the flags of token create."""
    flags.add("policy", kind="list", usage="Policy of the token; repeatable.")
    flags.add("ttl", usage="Initial TTL, e.g. 1h.")
    flags.add("explicit-max-ttl", usage="Hard upper limit of the token's life.")
    flags.add("period", usage="Make a periodic token renewed by this period.")
    flags.add("display-name", usage="Name shown in audit logs.")
    flags.add("num-uses", kind="int", usage="Number of uses; 0 means unlimited.")
    flags.add("renewable", kind="bool", default=True, usage="Allow renewal.")
    flags.add("orphan", kind="bool", usage="Create the token without a parent.")
    flags.add("no-default-policy", kind="bool", usage="Leave out the default policy.")
    flags.add("metadata", kind="list", usage="key=value metadata; repeatable.")


def create_body(ctx):
    """Build the auth/token/create body from the flags the user set."""
    body = {}
    if ctx["policy"]:
        body["policies"] = ctx["policy"]
    for flag in ("ttl", "explicit-max-ttl", "period", "display-name"):
        if ctx[flag]:
            body[flag.replace("-", "_")] = ctx[flag]
    if ctx["num-uses"]:
        body["num_uses"] = ctx["num-uses"]
    if not ctx["renewable"]:
        body["renewable"] = False
    if ctx["orphan"]:
        body["no_parent"] = True
    if ctx["no-default-policy"]:
        body["no_default_policy"] = True
    if ctx["metadata"]:
        body["meta"] = parse_pairs(ctx["metadata"])
    return body


def token_create(ctx):
    """Create a token and show it (this command's job is to show it)."""
    ctx.expect_args(0)

    try:
        reply = ctx.client.write("auth/token/create", create_body(ctx))
    except VaultAPIError as error:
        return api_failure("Error creating token", error)
    return ctx.show(reply or {})


def add_lookup_flags(flags):
    """Declare the flags of token lookup."""
    flags.add("accessor", kind="bool", usage="Treat the argument as an accessor.")


def token_lookup(ctx):
    """Show the current token's properties, or those of a given token."""
    ctx.expect_args(0, 1)

    try:
        if ctx["accessor"]:
            if not ctx.args:
                raise UsageError("-accessor needs the accessor as argument")
            body = {"accessor": ctx.args[0]}
            reply = ctx.client.write("auth/token/lookup-accessor", body)
        elif ctx.args:
            body = {"token": ctx.args[0]}
            reply = ctx.client.write("auth/token/lookup", body)
        else:
            reply = ctx.client.request("GET", "auth/token/lookup-self")
    except VaultAPIError as error:
        return api_failure("Error looking up token", error)

    return ctx.show(redact_token(reply or {}))


def redact_token(reply):
    """Hide the token itself in a lookup reply; the accessor names it."""
    data = reply.get("data")
    if isinstance(data, dict) and data.get("id"):
        reply = dict(reply, data=dict(data, id=REDACTED))
    return reply


def add_revoke_flags(flags):
    """Declare the flags of token revoke."""
    flags.add("self", kind="bool", usage="Revoke the token in use.")
    flags.add("accessor", kind="bool", usage="Treat the argument as an accessor.")


def token_revoke(ctx):
    """Revoke the current token (-self) or a given one."""
    ctx.expect_args(0, 1)
    if ctx["self"] == bool(ctx.args):
        raise UsageError("token revoke needs either -self or a TOKEN argument")

    try:
        if ctx["self"]:
            ctx.client.write("auth/token/revoke-self")
        elif ctx["accessor"]:
            body = {"accessor": ctx.args[0]}
            ctx.client.write("auth/token/revoke-accessor", body)
        else:
            ctx.client.write("auth/token/revoke", {"token": ctx.args[0]})
    except VaultAPIError as error:
        return api_failure("Error revoking token", error)

    say("Success! Revoked token (if it existed)")
    return EXIT_OK


COMMANDS = [
    Command(
        ("token", "create"),
        "Create a token with the given policies and TTL.",
        "openvault token create [options]",
        token_create,
        add_create_flags,
    ),
    Command(
        ("token", "lookup"),
        "Show the properties of the current token (its id is never shown).",
        "openvault token lookup [options] [TOKEN]",
        token_lookup,
        add_lookup_flags,
    ),
    Command(
        ("token", "revoke"),
        "Revoke a token.",
        "openvault token revoke [options] (-self | TOKEN)",
        token_revoke,
        add_revoke_flags,
        formats=False,
    ),
]
