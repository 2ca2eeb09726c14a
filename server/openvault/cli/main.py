"""Entry point of the `openvault` command: find the subcommand and run it."""

import importlib
import os
import sys

from openvault.cli import lease
from openvault.cli import logical
from openvault.cli import operator
from openvault.cli import policy
from openvault.cli import secrets
from openvault.cli import ssh
from openvault.cli import tokens
from openvault.cli.base import EXIT_OK
from openvault.cli.base import EXIT_USAGE
from openvault.cli.base import Invocation
from openvault.cli.flags import HelpRequested
from openvault.cli.flags import UsageError

COMMANDS = (
    logical.COMMANDS
    + secrets.COMMANDS
    + ssh.COMMANDS
    + tokens.COMMANDS
    + policy.COMMANDS
    + lease.COMMANDS
    + operator.COMMANDS
)

SERVER_SYNOPSIS = "Run the server (openvault server -dev, or -config FILE)."


def usage(commands=COMMANDS, prefix=""):
    """Return the list of commands, or of one group's subcommands."""
    width = max(len(c.name) for c in commands)
    words = f"{prefix} <subcommand>" if prefix else "<command>"
    lines = [f"Usage: openvault {words} [options] [args]", ""]
    if not prefix:
        lines.append(f"    {'server'.ljust(width)}    {SERVER_SYNOPSIS}")
    for command in sorted(commands, key=lambda c: c.name):
        lines.append(f"    {command.name.ljust(width)}    {command.synopsis}")
    lines += ["", "Run 'openvault <command> -help' for a command's options."]
    return "\n".join(lines)


def find_command(argv):
    """Return the command named by the leading words, and the rest."""
    for command in sorted(COMMANDS, key=lambda c: -len(c.words)):
        size = len(command.words)
        if tuple(argv[:size]) == command.words:
            return command, argv[size:]
    return None, argv


def run_server(argv):
    """Hand `openvault server ...` to the server package."""
    try:
        server = importlib.import_module("openvault.server")
    except ImportError as error:
        print(f"the server is not available: {error}", file=sys.stderr)
        return EXIT_USAGE
    return server.main(argv)


def unknown(argv):
    """Explain an unknown command, listing a group's subcommands if any."""
    group = [c for c in COMMANDS if len(c.words) > 1 and c.words[0] == argv[0]]
    if not group:
        print(f"Unknown command: {argv[0]!r}\n\n{usage()}", file=sys.stderr)
        return EXIT_USAGE
    if argv[1:2] and argv[1] in ("-h", "-help", "--help"):
        print(usage(group, argv[0]))
        return EXIT_OK
    print(usage(group, argv[0]), file=sys.stderr)
    if argv[1:2]:
        print(f"\nUnknown subcommand: {' '.join(argv[:2])}", file=sys.stderr)
    return EXIT_USAGE


def main(argv=None):
    """Run the openvault CLI and return its exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:
        print(usage(), file=sys.stderr)
        return EXIT_USAGE
    if argv[0] in ("help", "-h", "-help", "--help"):
        print(usage())
        return EXIT_OK
    if argv[0] in ("-v", "-version", "--version"):
        argv = ["version"]
    if argv[0] == "server":
        return run_server(argv[1:])

    command, rest = find_command(argv)
    if command is None:
        return unknown(argv)
    return run(command, rest)


def run(command, args):
    """Parse a command's flags and run it, mapping errors to exit codes."""
    try:
        values, positionals = command.flag_set().parse(args)
        return command.run(Invocation(command, values, positionals))
    except HelpRequested:
        print(command.help_text())
        return EXIT_OK
    except UsageError as error:
        print(error, file=sys.stderr)
        print(f"Run 'openvault {command.name} -help' for usage.", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader (head, grep -q) went away; stay quiet at exit too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
