"""What every CLI command shares: its declaration, flags, client and output."""

import dataclasses
import sys
from collections.abc import Callable

from openvault.cli import output
from openvault.cli.client import Client
from openvault.cli.flags import FlagSet
from openvault.cli.flags import UsageError

EXIT_OK = 0
EXIT_USAGE = 1
EXIT_API = 2


@dataclasses.dataclass
class Command:
    """One subcommand: the words that name it, its help and its handler."""

    words: tuple
    synopsis: str
    usage: str
    run: Callable
    add_flags: Callable | None = None
    http: bool = True
    formats: bool = True

    @property
    def name(self):
        """The command as typed, e.g. "token create"."""
        return " ".join(self.words)

    def flag_set(self):
        """Build the flags this command accepts."""
        flags = FlagSet()
        if self.http:
            add_http_flags(flags)
        if self.formats:
            add_output_flags(flags)
        if self.add_flags:
            self.add_flags(flags)
        return flags

    def help_text(self):
        """Return the -help text: usage, synopsis and flags."""
        flags = self.flag_set().help_text()
        return f"Usage: {self.usage}\n\n  {self.synopsis}\n\nOptions:\n\n{flags}"


def add_http_flags(flags):
    """Declare the connection flags every API command takes."""
    flags.add("address", env="VAULT_ADDR", usage="Address of the server.")
    flags.add("ca-cert", env="VAULT_CACERT", usage="PEM CA file to verify TLS.")
    flags.add("ca-path", env="VAULT_CAPATH", usage="Directory of PEM CA files.")
    flags.add("client-cert", env="VAULT_CLIENT_CERT", usage="PEM client cert.")
    flags.add("client-key", env="VAULT_CLIENT_KEY", usage="PEM client key.")
    flags.add(
        "tls-skip-verify",
        kind="bool",
        env="VAULT_SKIP_VERIFY",
        usage="Do not verify the server's TLS certificate (insecure).",
    )


def add_output_flags(flags):
    """Declare -format and -field."""
    flags.add(
        "format",
        default="table",
        env="VAULT_FORMAT",
        usage="Output format: table or json.",
    )
    flags.add("field", usage="Print only this field, raw.")


class Invocation:
    """One run of a command: parsed flags, positionals and a lazy client."""

    def __init__(self, command, values, args):
        self.command = command
        self.values = values
        self.args = args
        self._client = None

        self.format = values.get("format", "table").lower()
        if self.format not in output.FORMATS:
            raise UsageError(
                f"Invalid output format {values['format']!r} for -format: "
                "use table or json"
            )
        self.field = values.get("field", "")

    def __getitem__(self, name):
        return self.values[name]

    @property
    def client(self):
        """The API client, built from the connection flags on first use."""
        if self._client is None:
            self._client = Client(
                address=self.values.get("address") or None,
                ca_cert=self.values.get("ca-cert") or None,
                ca_path=self.values.get("ca-path") or None,
                client_cert=self.values.get("client-cert") or None,
                client_key=self.values.get("client-key") or None,
                skip_verify=self.values.get("tls-skip-verify"),
            )
        return self._client

    def expect_args(self, low, high=-1):
        """Refuse too few or too many positional arguments; high=None means
        any number, and by default exactly `low` are expected."""
        high = low if high == -1 else high
        count = len(self.args)
        if low == high:
            expected = str(low)
        else:
            expected = f"{low}-{'n' if high is None else high}"
        if count < low:
            raise UsageError(f"Not enough arguments (expected {expected}, got {count})")
        if high is not None and count > high:
            raise UsageError(f"Too many arguments (expected {expected}, got {count})")

    def show(self, reply):
        """Print a reply honouring -field and -format; return the exit code."""
        if self.field:
            return output.print_field(reply, self.field, self.format)
        output.print_secret(reply, self.format)
        return EXIT_OK


def say(text):
    """Print a line for the user on stdout."""
    print(text)
    return EXIT_OK


def fail(text, code=EXIT_API):
    """Print an error on stderr and return the exit code."""
    print(text, file=sys.stderr)
    return code


def api_failure(prefix, error):
    """Report a failed API request as Vault does and return exit code 2."""
    return fail(f"{prefix}: {error}")


def clean_path(path):
    """Strip the leading slash Vault's CLI ignores in an API path."""
    return path.strip().lstrip("/")
