"""Server-wide commands: operator init, status, audit and version."""

import importlib.metadata
import json

from openvault.cli import output
from openvault.cli.base import EXIT_API
from openvault.cli.base import EXIT_OK
from openvault.cli.base import EXIT_USAGE
from openvault.cli.base import Command
from openvault.cli.base import api_failure
from openvault.cli.base import clean_path
from openvault.cli.base import fail
from openvault.cli.base import say
from openvault.cli.client import VaultAPIError
from openvault.cli.kv import parse_pairs

HEALTH_ROWS = (
    ("Initialized", "initialized"),
    ("Sealed", "sealed"),
    ("Standby", "standby"),
    ("Version", "version"),
    ("Cluster Name", "cluster_name"),
    ("Cluster ID", "cluster_id"),
    ("Server Time (UTC)", "server_time_utc"),
)


def add_init_flags(flags):
    """Declare the flags of operator init."""
    flags.add("key-shares", kind="int", usage="Number of unseal key shares.")
    flags.add("key-threshold", kind="int", usage="Shares needed to unseal.")
    flags.add("status", kind="bool", usage="Only tell whether it is initialized.")


def operator_init(ctx):
    """Initialize a new server and print its root token, once."""
    ctx.expect_args(0)
    if ctx["status"]:
        return init_status(ctx)
    body = {}
    if ctx["key-shares"]:
        body["secret_shares"] = ctx["key-shares"]
    if ctx["key-threshold"]:
        body["secret_threshold"] = ctx["key-threshold"]

    try:
        reply = ctx.client.request("PUT", "sys/init", body, token=False) or {}
    except VaultAPIError as error:
        return api_failure("Error initializing", error)

    if ctx.format == "json":
        return say(output.to_json(reply))
    keys = reply.get("keys_base64") or reply.get("keys") or []
    for number, key in enumerate(keys, 1):
        say(f"Unseal Key {number}: {key}")
    if keys:
        say("")
    say(f"Initial Root Token: {reply.get('root_token', '')}")
    say("")
    say("Success! The server is initialized. The root token is shown only")
    say("once: keep it safe, and create tokens with narrower policies for")
    return say("daily use with 'openvault token create -policy=NAME'.")


def init_status(ctx):
    """Exit 0 when the server is initialized, 2 when it is not."""
    try:
        reply = ctx.client.request("GET", "sys/init", token=False) or {}
    except VaultAPIError as error:
        return api_failure("Error checking initialization status", error)
    if reply.get("initialized"):
        return say("Server is initialized")
    return fail("Server is not initialized")


def health_of(ctx):
    """GET sys/health; the server answers 501 with a body before init."""
    try:
        return ctx.client.request("GET", "sys/health", token=False) or {}
    except VaultAPIError as error:
        if error.raw is not None:
            try:
                return json.loads(error.raw)
            except ValueError:
                pass
        raise


def status(ctx):
    """Show the server's health; exit 2 when it is sealed or not initialized."""
    ctx.expect_args(0)

    try:
        health = health_of(ctx)
    except VaultAPIError as error:
        return fail(f"Error checking seal status: {error}", EXIT_USAGE)

    if ctx.format == "json":
        say(output.to_json(health))
    else:
        rows = [(label, health[key]) for label, key in HEALTH_ROWS if key in health]
        say(output.key_value_table((k, output.go_value(v)) for k, v in rows))
    if health.get("sealed") or not health.get("initialized", True):
        return EXIT_API
    return EXIT_OK


def add_audit_flags(flags):
    """Declare the flags of audit enable."""
    flags.add("path", usage="Where to enable the device; defaults to its type.")
    flags.add("description", usage="Human-friendly description.")


def audit_enable(ctx):
    """Enable an audit device, e.g. `audit enable file file_path=...`."""
    ctx.expect_args(1, None)
    device = ctx.args[0]
    path = clean_path(ctx["path"] or device).rstrip("/")
    body = {"type": device, "options": parse_pairs(ctx.args[1:])}
    if ctx["description"]:
        body["description"] = ctx["description"]

    try:
        ctx.client.write(f"sys/audit/{path}", body)
    except VaultAPIError as error:
        return api_failure("Error enabling audit device", error)
    return say(f"Success! Enabled the {device} audit device at: {path}/")


def audit_disable(ctx):
    """Disable the audit device at a path."""
    ctx.expect_args(1)
    path = clean_path(ctx.args[0]).rstrip("/")

    try:
        ctx.client.delete(f"sys/audit/{path}")
    except VaultAPIError as error:
        return api_failure("Error disabling audit device", error)
    return say(f"Success! Disabled audit device (if it was enabled) at: {path}/")


def audit_list(ctx):
    """List the enabled audit devices."""
    ctx.expect_args(0)

    try:
        reply = ctx.client.request("GET", "sys/audit") or {}
    except VaultAPIError as error:
        return api_failure("Error listing audits", error)

    devices = reply.get("data") or {
        k: v for k, v in reply.items() if isinstance(v, dict) and "type" in v
    }
    if ctx.format == "json":
        return say(output.to_json(devices))
    if not devices:
        return say("No audit devices are enabled.")
    rows = [
        (path, info.get("type", ""), info.get("description", ""))
        for path, info in sorted(devices.items())
    ]
    return say(output.header_table(["Path", "Type", "Description"], rows))


def version_string():
    """Return "OpenVault v<version>" from the installed package."""
    try:
        number = importlib.metadata.version("openvault")
    except importlib.metadata.PackageNotFoundError:
        number = "unknown"
    return f"OpenVault v{number}"


def version(ctx):
    """Print the CLI's version."""
    ctx.expect_args(0)
    return say(version_string())


COMMANDS = [
    Command(
        ("operator", "init"),
        "Initialize a new server and print its root token.",
        "openvault operator init [options]",
        operator_init,
        add_init_flags,
    ),
    Command(
        ("status",),
        "Show the server's health (exit 2 when sealed or not initialized).",
        "openvault status [options]",
        status,
    ),
    Command(
        ("audit", "enable"),
        "Enable an audit device (e.g. file file_path=/var/log/openvault.log).",
        "openvault audit enable [options] TYPE [K=V...]",
        audit_enable,
        add_audit_flags,
        formats=False,
    ),
    Command(
        ("audit", "disable"),
        "Disable an audit device.",
        "openvault audit disable [options] PATH",
        audit_disable,
        formats=False,
    ),
    Command(
        ("audit", "list"),
        "List the enabled audit devices.",
        "openvault audit list [options]",
        audit_list,
    ),
    Command(
        ("version",),
        "Print the version of this CLI.",
        "openvault version",
        version,
        http=False,
        formats=False,
    ),
]
