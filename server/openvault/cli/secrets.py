"""Mount commands: mount, unmount and secrets enable, disable, list, tune."""

from openvault.cli import output
from openvault.cli.base import EXIT_OK
from openvault.cli.base import Command
from openvault.cli.base import api_failure
from openvault.cli.base import clean_path
from openvault.cli.base import say
from openvault.cli.client import VaultAPIError

ENVELOPE_FIELDS = ("request_id", "lease_id", "lease_duration", "renewable")
ENVELOPE_FIELDS += ("data", "wrap_info", "warnings", "auth", "mount_type")


def add_mount_flags(flags):
    """Declare the flags of mount and secrets enable."""
    flags.add("path", usage="Where to mount; defaults to the engine type.")
    flags.add("description", usage="Human-friendly description of the mount.")
    flags.add("default-lease-ttl", usage="Default lease TTL, e.g. 10m.")
    flags.add("max-lease-ttl", usage="Maximum lease TTL, e.g. 1h.")


def add_tune_flags(flags):
    """Declare the flags of secrets tune."""
    flags.add("description", usage="New description of the mount.")
    flags.add("default-lease-ttl", usage="Default lease TTL, e.g. 10m.")
    flags.add("max-lease-ttl", usage="Maximum lease TTL, e.g. 1h.")


def ttl_config(ctx):
    """Collect the TTL flags the user set into a mount config."""
    config = {}
    for flag in ("default-lease-ttl", "max-lease-ttl"):
        if ctx[flag]:
            config[flag.replace("-", "_")] = ctx[flag]
    return config


def enable_engine(ctx):
    """POST sys/mounts/<path>; return the mount path, or raise the API error."""
    ctx.expect_args(1)
    engine = ctx.args[0]
    path = clean_path(ctx["path"] or engine).rstrip("/")
    body = {"type": engine}
    if ctx["description"]:
        body["description"] = ctx["description"]
    if ttl_config(ctx):
        body["config"] = ttl_config(ctx)

    ctx.client.request("POST", f"sys/mounts/{path}", body)
    return engine, path


def mount(ctx):
    """Mount a secrets engine, with the 2015 CLI's wording."""
    try:
        engine, path = enable_engine(ctx)
    except VaultAPIError as error:
        return api_failure("Mount error", error)
    return say(f"Successfully mounted '{engine}' at '{path}'!")


def secrets_enable(ctx):
    """Mount a secrets engine, with today's Vault wording."""
    try:
        engine, path = enable_engine(ctx)
    except VaultAPIError as error:
        return api_failure("Error enabling", error)
    return say(f"Success! Enabled the {engine} secrets engine at: {path}/")


def disable_engine(ctx):
    """DELETE sys/mounts/<path> and return the path."""
    ctx.expect_args(1)
    path = clean_path(ctx.args[0]).rstrip("/")
    ctx.client.request("DELETE", f"sys/mounts/{path}")
    return path


def unmount(ctx):
    """Unmount a secrets engine, with the 2015 CLI's wording."""
    try:
        path = disable_engine(ctx)
    except VaultAPIError as error:
        return api_failure("Unmount error", error)
    return say(f"Successfully unmounted '{path}' if it was mounted")


def secrets_disable(ctx):
    """Unmount a secrets engine, with today's Vault wording."""
    try:
        path = disable_engine(ctx)
    except VaultAPIError as error:
        return api_failure(f"Error disabling secrets engine at {path_of(ctx)}", error)
    return say(f"Success! Disabled the secrets engine (if it existed) at: {path}/")


def path_of(ctx):
    """The mount path argument as the user wrote it, for messages."""
    return clean_path(ctx.args[0]) if ctx.args else ""


def mounts_of(reply):
    """Return the mount table from a sys/mounts reply (data, else top level)."""
    reply = reply or {}
    if isinstance(reply.get("data"), dict) and reply["data"]:
        return reply["data"]
    return {k: v for k, v in reply.items() if k not in ENVELOPE_FIELDS}


def secrets_list(ctx):
    """Show the mounted secrets engines."""
    ctx.expect_args(0)

    try:
        mounts = mounts_of(ctx.client.request("GET", "sys/mounts"))
    except VaultAPIError as error:
        return api_failure("Error listing secrets engines", error)

    if ctx.format == "json":
        return say(output.to_json(mounts))
    rows = []
    for path in sorted(mounts):
        info = mounts[path] or {}
        row = [path, info.get("type", ""), info.get("accessor", "")]
        rows.append(row + [info.get("description", "")])
    return say(output.header_table(["Path", "Type", "Accessor", "Description"], rows))


def secrets_tune(ctx):
    """Change a mount's description or lease TTLs."""
    ctx.expect_args(1)
    path = clean_path(ctx.args[0]).rstrip("/")
    body = ttl_config(ctx)
    if ctx["description"]:
        body["description"] = ctx["description"]

    try:
        ctx.client.request("POST", f"sys/mounts/{path}/tune", body)
    except VaultAPIError as error:
        return api_failure(f"Error tuning secrets engine {path}", error)
    say(f"Success! Tuned the secrets engine at: {path}/")
    return EXIT_OK


COMMANDS = [
    Command(
        ("mount",),
        "Mount a secrets engine (the 2015 name of secrets enable).",
        "openvault mount [options] TYPE",
        mount,
        add_mount_flags,
    ),
    Command(
        ("unmount",),
        "Unmount a secrets engine and revoke its leases.",
        "openvault unmount [options] PATH",
        unmount,
    ),
    Command(
        ("secrets", "enable"),
        "Enable a secrets engine at a path.",
        "openvault secrets enable [options] TYPE",
        secrets_enable,
        add_mount_flags,
    ),
    Command(
        ("secrets", "disable"),
        "Disable the secrets engine at a path.",
        "openvault secrets disable [options] PATH",
        secrets_disable,
    ),
    Command(
        ("secrets", "list"),
        "List the enabled secrets engines.",
        "openvault secrets list [options]",
        secrets_list,
    ),
    Command(
        ("secrets", "tune"),
        "Tune a secrets engine's lease TTLs or description.",
        "openvault secrets tune [options] PATH",
        secrets_tune,
        add_tune_flags,
    ),
]
