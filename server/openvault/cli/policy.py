"""ACL policy commands: policy write, read, list and delete."""

import sys

from openvault.cli import output
from openvault.cli.base import EXIT_OK
from openvault.cli.base import Command
from openvault.cli.base import api_failure
from openvault.cli.base import fail
from openvault.cli.base import say
from openvault.cli.client import VaultAPIError
from openvault.cli.kv import read_file


def policy_write(ctx):
    """Upload a policy from a file, or from stdin when the file is `-`."""
    ctx.expect_args(2)
    name, source = ctx.args
    rules = sys.stdin.read() if source == "-" else read_file(source)

    try:
        ctx.client.write(f"sys/policies/acl/{name}", {"policy": rules})
    except VaultAPIError as error:
        return api_failure("Error uploading policy", error)
    return say(f"Success! Uploaded policy: {name}")


def policy_read(ctx):
    """Print a policy's rules."""
    ctx.expect_args(1)
    name = ctx.args[0]

    try:
        reply = ctx.client.read(f"sys/policies/acl/{name}")
    except VaultAPIError as error:
        return api_failure(f"Error reading policy named {name}", error)

    if reply is None:
        return fail(f"No policy named: {name}")
    if ctx.field or ctx.format == "json":
        return ctx.show(reply)
    rules = (reply.get("data") or {}).get("policy", "")
    return say(rules.rstrip("\n"))


def policy_list(ctx):
    """List the policy names."""
    ctx.expect_args(0)

    try:
        reply = ctx.client.list("sys/policies/acl")
    except VaultAPIError as error:
        return api_failure("Error listing policies", error)

    keys = ((reply or {}).get("data") or {}).get("keys") or []
    if ctx.format == "json":
        return say(output.to_json(keys))
    for key in keys:
        say(key)
    return EXIT_OK


def policy_delete(ctx):
    """Delete a policy."""
    ctx.expect_args(1)
    name = ctx.args[0]

    try:
        ctx.client.delete(f"sys/policies/acl/{name}")
    except VaultAPIError as error:
        return api_failure(f"Error deleting {name}", error)
    return say(f"Success! Deleted policy: {name}")


COMMANDS = [
    Command(
        ("policy", "write"),
        "Upload an ACL policy from a file (or - for stdin).",
        "openvault policy write [options] NAME (FILE | -)",
        policy_write,
        formats=False,
    ),
    Command(
        ("policy", "read"),
        "Print an ACL policy.",
        "openvault policy read [options] NAME",
        policy_read,
    ),
    Command(
        ("policy", "list"),
        "List the ACL policies.",
        "openvault policy list [options]",
        policy_list,
    ),
    Command(
        ("policy", "delete"),
        "Delete an ACL policy.",
        "openvault policy delete [options] NAME",
        policy_delete,
        formats=False,
    ),
]
