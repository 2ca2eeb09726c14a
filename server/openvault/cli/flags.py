"""Go-style command-line flags, as Vault's CLI parses them."""

import dataclasses
import os

TRUE_WORDS = {"1", "t", "true"}
FALSE_WORDS = {"0", "f", "false"}


class UsageError(Exception):
    """A command line that cannot be run; the message names what to fix."""


class HelpRequested(Exception):
    """The user asked for a command's help with -h, -help or --help."""


@dataclasses.dataclass
class Flag:
    """One flag: its name, kind (string, bool, int, list), default and env."""

    name: str
    kind: str
    default: object
    env: str | None
    usage: str


def parse_bool(text, name):
    """Parse a boolean the way Go's strconv.ParseBool does."""
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise UsageError(f"invalid boolean value {text!r} for flag -{name}")


class FlagSet:
    """The flags of one command, parsed Go-style: flags stop at the first
    positional argument, each may be written -name, --name, -name=value or
    -name value (bool flags never take the next argument)."""

    def __init__(self):
        self.flags = {}

    def add(self, name, kind="string", default=None, env=None, usage=""):
        """Declare a flag; list flags may be repeated and collect every value."""
        if default is None:
            default = {"string": "", "bool": False, "int": 0, "list": []}[kind]
        self.flags[name] = Flag(name, kind, default, env, usage)

    def parse(self, args):
        """Return (values, positionals) for the argument list."""
        values = {}
        args = list(args)

        while args:
            arg = args[0]
            if arg == "--":
                args.pop(0)
                break
            if not arg.startswith("-") or arg == "-":
                break
            args.pop(0)
            self._take(arg, args, values)

        return self._with_defaults(values), args

    def _take(self, arg, rest, values):
        body = arg[2:] if arg.startswith("--") else arg[1:]
        name, has_value, value = body.partition("=")
        if name in ("h", "help"):
            raise HelpRequested()
        flag = self.flags.get(name)
        if flag is None:
            raise UsageError(f"flag provided but not defined: -{name}")

        if flag.kind == "bool":
            values[name] = parse_bool(value, name) if has_value else True
            return
        if not has_value:
            if not rest:
                raise UsageError(f"flag needs an argument: -{name}")
            value = rest.pop(0)
        if flag.kind == "list":
            values.setdefault(name, []).append(value)
        elif flag.kind == "int":
            values[name] = self._to_int(value, name)
        else:
            values[name] = value

    @staticmethod
    def _to_int(text, name):
        try:
            return int(text)
        except ValueError:
            raise UsageError(
                f"invalid value {text!r} for flag -{name}: must be an integer"
            ) from None

    def _with_defaults(self, values):
        for flag in self.flags.values():
            if flag.name in values:
                continue
            from_env = os.environ.get(flag.env) if flag.env else None
            if from_env:
                values[flag.name] = self._from_env(flag, from_env)
            else:
                values[flag.name] = (
                    list(flag.default) if flag.kind == "list" else flag.default
                )
        return values

    def _from_env(self, flag, text):
        if flag.kind == "bool":
            try:
                return parse_bool(text, flag.name)
            except UsageError:
                raise UsageError(
                    f"invalid boolean value {text!r} in {flag.env}"
                ) from None
        if flag.kind == "int":
            return self._to_int(text, flag.name)
        if flag.kind == "list":
            return [text]
        return text

    def help_text(self):
        """Describe every flag, one block per flag, for a command's -help."""
        lines = []
        for flag in sorted(self.flags.values(), key=lambda f: f.name):
            kind = "" if flag.kind == "bool" else f"=<{flag.kind}>"
            lines.append(f"  -{flag.name}{kind}")
            extra = f" Environment: {flag.env}." if flag.env else ""
            lines.append(f"      {flag.usage}{extra}")
        return "\n".join(lines)
