"""Generic path commands: read, write, list, delete and path-help."""

from openvault.cli import output
from openvault.cli.base import EXIT_API
from openvault.cli.base import EXIT_OK
from openvault.cli.base import Command
from openvault.cli.base import api_failure
from openvault.cli.base import clean_path
from openvault.cli.base import fail
from openvault.cli.base import say
from openvault.cli.client import VaultAPIError
from openvault.cli.flags import UsageError
from openvault.cli.kv import parse_pairs


def read(ctx):
    """GET a path and print its data."""
    ctx.expect_args(1, None)
    path = clean_path(ctx.args[0])
    params = parse_pairs(ctx.args[1:]) or None

    try:
        reply = ctx.client.read(path, params)
    except VaultAPIError as error:
        return api_failure(f"Error reading {path}", error)

    if reply is None:
        return fail(f"No value found at {path}")
    return ctx.show(reply)


def add_write_flags(flags):
    """Declare `write -force`."""
    flags.add("force", kind="bool", usage="Write even with no data.")
    flags.add("f", kind="bool", usage="Short for -force.")


def write(ctx):
    """PUT key=value data to a path and print the reply, if any."""
    ctx.expect_args(1, None)
    path = clean_path(ctx.args[0])
    body = parse_pairs(ctx.args[1:])
    if not body and not (ctx["force"] or ctx["f"]):
        raise UsageError("Must supply data or use -force")

    try:
        reply = ctx.client.write(path, body)
    except VaultAPIError as error:
        return api_failure(f"Error writing data to {path}", error)

    if reply is None or not (reply.get("data") or reply.get("auth")):
        if ctx.format == "table" and not ctx.field:
            say(f"Success! Data written to: {path}")
        if reply is not None and ctx.format == "json":
            print(output.to_json(output.envelope(reply)))
        else:
            output.print_warnings(reply)
        return EXIT_OK
    return ctx.show(reply)


def list_keys(ctx):
    """List the keys under a path."""
    ctx.expect_args(1)
    path = clean_path(ctx.args[0])

    try:
        reply = ctx.client.list(path)
    except VaultAPIError as error:
        return api_failure(f"Error listing {path}", error)

    keys = ((reply or {}).get("data") or {}).get("keys")
    if not keys:
        return fail(f"No value found at {path}")
    if ctx.field:
        return ctx.show(reply)
    if ctx.format == "json":
        return say(output.to_json(keys))
    say(output.columns([["Keys"], ["----"]] + [[key] for key in keys]))
    output.print_warnings(reply)
    return EXIT_OK


def delete(ctx):
    """DELETE a path."""
    ctx.expect_args(1)
    path = clean_path(ctx.args[0])

    try:
        ctx.client.delete(path)
    except VaultAPIError as error:
        return api_failure(f"Error deleting {path}", error)

    if ctx.format == "table":
        say(f"Success! Data deleted (if it existed) at: {path}")
    return EXIT_OK


def path_help(ctx):
    """Print the server's help text for a path."""
    ctx.expect_args(1)
    path = clean_path(ctx.args[0])

    try:
        reply = ctx.client.request("GET", path, params={"help": "1"})
    except VaultAPIError as error:
        return api_failure("Error retrieving help", error)

    if ctx.format == "json":
        return say(output.to_json(reply))
    text = (reply or {}).get("help")
    if not text:
        return fail(f"No help found for {path}", EXIT_API)
    return say(text.rstrip("\n"))


COMMANDS = [
    Command(
        ("read",),
        "Read data from a path and print it.",
        "openvault read [options] PATH [K=V...]",
        read,
    ),
    Command(
        ("write",),
        "Write key=value data to a path (k=@file reads a file, k=- stdin).",
        "openvault write [options] PATH [K=V...]",
        write,
        add_write_flags,
    ),
    Command(
        ("list",),
        "List the keys under a path.",
        "openvault list [options] PATH",
        list_keys,
    ),
    Command(
        ("delete",),
        "Delete the data at a path.",
        "openvault delete [options] PATH",
        delete,
    ),
    Command(
        ("path-help",),
        "Show the server's documentation for a path.",
        "openvault path-help [options] PATH",
        path_help,
    ),
]
