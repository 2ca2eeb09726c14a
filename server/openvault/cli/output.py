"""Print API replies the way Vault's CLI does: tables, JSON and raw fields."""

import json
import sys

FORMATS = ("table", "json")
GLUE = "    "
EMPTY = "n/a"

# Reply keys Vault's CLI prints, in its order; the optional ones only when set.
ENVELOPE_KEYS = ("request_id", "lease_id", "lease_duration", "renewable", "data")
OPTIONAL_KEYS = ("auth", "wrap_info", "mount_type")


def human_duration(seconds):
    """Format seconds as Vault prints a duration: 768h, 10m, 1m30s, 0s."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        try:
            seconds = int(str(seconds))
        except ValueError:
            return seconds
    seconds = int(seconds)
    if seconds == 0:
        return "0s"
    sign = "-" if seconds < 0 else ""
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    text = ""
    if hours:
        text += f"{hours}h"
    if minutes or (hours and secs):
        text += f"{minutes}m"
    if secs:
        text += f"{secs}s"
    # Go prints 1h0m1s; Vault then drops the "0m" as it does for 1h0m0s.
    return sign + text.replace("h0m", "h")


def looks_like_ttl(key):
    """Tell whether Vault would print this data key as a duration."""
    return key in ("ttl", "period") or key.endswith(("_ttl", "_period"))


def go_value(value):
    """Render a JSON value as Go's %v prints it in Vault's tables."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(go_value(v) for v in value) + "]"
    if isinstance(value, dict):
        items = " ".join(f"{k}:{go_value(value[k])}" for k in sorted(value))
        return f"map[{items}]"
    return str(value)


def go_quoted_list(values):
    """Render a list of strings as Go's %q does: ["a" "b"]."""
    return "[" + " ".join(json.dumps(str(v)) for v in values or []) + "]"


def columns(rows):
    """Align rows of cells into columns separated by four spaces."""
    rows = [[str(cell).strip() or EMPTY for cell in row] for row in rows]
    count = max(len(row) for row in rows)
    widths = [0] * count
    for row in rows:
        for index, cell in enumerate(row[:-1]):
            widths[index] = max(widths[index], len(cell))
    lines = []
    for row in rows:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])]
        lines.append(GLUE.join(cells + row[-1:]).rstrip())
    return "\n".join(lines)


def key_value_table(pairs):
    """Format (key, value) pairs under a Key / Value header."""
    return columns([("Key", "Value"), ("---", "-----")] + list(pairs))


def header_table(headers, rows):
    """Format rows under the given headers, each underlined with dashes."""
    return columns([headers, ["-" * len(h) for h in headers]] + list(rows))


def secret_rows(reply):
    """Return the (key, value) rows of Vault's table view of a reply."""
    rows = []
    if reply.get("lease_duration") and reply.get("lease_id"):
        rows.append(("lease_id", reply["lease_id"]))
        rows.append(("lease_duration", human_duration(reply["lease_duration"])))
        rows.append(("lease_renewable", go_value(bool(reply.get("renewable")))))
    elif reply.get("lease_duration"):
        rows.append(("refresh_interval", human_duration(reply["lease_duration"])))

    auth = reply.get("auth")
    if auth:
        rows.extend(auth_rows(auth))

    data = reply.get("data") or {}
    for key in sorted(data):
        value = data[key]
        if looks_like_ttl(key):
            value = human_duration(value)
        rows.append((key, go_value(value)))
    return rows


def auth_rows(auth):
    """Return the token rows Vault prints for a reply that carries auth."""
    duration = auth.get("lease_duration") or 0
    rows = [
        ("token", auth.get("client_token", "")),
        ("token_accessor", auth.get("accessor", "")),
        ("token_duration", human_duration(duration) if duration else "∞"),
        ("token_renewable", go_value(bool(auth.get("renewable")))),
        ("token_policies", go_quoted_list(auth.get("token_policies"))),
        ("identity_policies", go_quoted_list(auth.get("identity_policies"))),
        ("policies", go_quoted_list(auth.get("policies"))),
    ]
    for key in sorted(auth.get("metadata") or {}):
        rows.append((f"token_meta_{key}", go_value(auth["metadata"][key])))
    return rows


def envelope(reply):
    """Return the reply re-ordered as Vault's CLI prints it in JSON."""
    out = {key: reply.get(key) for key in ENVELOPE_KEYS}
    out["lease_id"] = out["lease_id"] or ""
    out["lease_duration"] = out["lease_duration"] or 0
    out["renewable"] = bool(out["renewable"])
    out["warnings"] = reply.get("warnings")
    for key in OPTIONAL_KEYS:
        if reply.get(key):
            out[key] = reply[key]
    return out


def to_json(value):
    """Pretty-print a value as Vault's -format=json does."""
    return json.dumps(value, indent=2, ensure_ascii=False)


def print_warnings(reply):
    """Print the reply's warnings on stderr, as Vault's CLI does."""
    warnings = reply.get("warnings") if reply else None
    if not warnings:
        return
    lines = ["", "WARNING! The following warnings were returned from OpenVault:", ""]
    lines += [f"  * {warning}" for warning in warnings]
    print("\n".join(lines), file=sys.stderr)


def print_secret(reply, fmt):
    """Print a whole reply as a table or JSON."""
    if fmt == "json":
        print(to_json(envelope(reply)))
        return
    rows = secret_rows(reply)
    if rows:
        print(key_value_table(rows))
    print_warnings(reply)


def raw_field(reply, field):
    """Return one field of a reply as Vault's -field finds it, or None."""
    auth = reply.get("auth")
    if auth:
        names = {
            "token": "client_token",
            "token_accessor": "accessor",
            "token_duration": "lease_duration",
            "token_renewable": "renewable",
            "token_policies": "token_policies",
            "identity_policies": "identity_policies",
            "policies": "policies",
        }
        if field in names:
            return auth.get(names[field])
    envelope_fields = {
        "lease_id": "lease_id",
        "lease_duration": "lease_duration",
        "refresh_interval": "lease_duration",
        "lease_renewable": "renewable",
        "request_id": "request_id",
        "warnings": "warnings",
    }
    if field in envelope_fields:
        return reply.get(envelope_fields[field])
    return (reply.get("data") or {}).get(field)


def print_field(reply, field, fmt):
    """Print one field raw (JSON with -format=json); return the exit code."""
    value = raw_field(reply or {}, field)
    if value is None:
        print(f'Field "{field}" not present in secret', file=sys.stderr)
        return 1
    if fmt == "json":
        print(to_json(value))
        return 0
    text = go_value(value)
    # Vault ends a raw field with a newline only on a terminal, so that
    # $(openvault read -field=...) and pipes get the exact value.
    if sys.stdout.isatty():
        text += "\n"
    sys.stdout.write(text)
    sys.stdout.flush()
    return 0
