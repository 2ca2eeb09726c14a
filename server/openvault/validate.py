"""Domain checks on user input: addresses, CIDR lists, names, durations."""

import math
import re

import netaddr

from openvault.errors import BadRequest

DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
}
# ASCII digits only: Python's \d also matches other scripts' digits.
DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h|d)")
# Go's time.Duration limit, as Vault has it; larger values would also
# overflow the 64-bit integer columns that store TTLs.
MAX_DURATION = (2**63 - 1) // 10**9
NAME = re.compile(r"^\w(?:[\w\-.@]*\w)?$")


def parse_ip(value):
    """Return the canonical form of an IPv4 or IPv6 address, or None if invalid."""
    try:
        address = netaddr.IPAddress(value.strip())
    except (netaddr.AddrFormatError, ValueError, TypeError, AttributeError):
        return None
    # Like Go's net.IP.String(): an IPv4-mapped IPv6 address is the IPv4 one.
    if address.version == 6 and address.is_ipv4_mapped():
        address = address.ipv4()
    return str(address)


def split_list(value):
    """Split a comma-separated string into trimmed, non-empty entries."""
    if not value:
        return []
    return [entry.strip() for entry in value.split(",") if entry.strip()]


def parse_cidr_list(field, value):
    """Validate a comma-separated CIDR list and return it normalised."""
    blocks = []
    for entry in split_list(value):
        try:
            network = netaddr.IPNetwork(entry)
        except (netaddr.AddrFormatError, ValueError, TypeError):
            network = None
        if network is None or "/" not in entry:
            raise BadRequest(
                f"failed to validate {field}: invalid CIDR address: {entry}"
                " (expected an address block such as 192.0.2.0/24)"
            )
        blocks.append(str(network))
    return ",".join(blocks)


def parse_duration(field, value):
    """Return seconds for a duration given as integer seconds or as '30m', '1h30m'."""
    seconds = _seconds(field, value)
    if seconds > MAX_DURATION:
        raise _too_long(field, seconds)
    return seconds


def _too_long(field, seconds):
    shown = str(seconds)
    if len(shown) > 40:
        shown = shown[:40] + "..."
    return BadRequest(
        f"'{field}' must be at most {MAX_DURATION} seconds (about 292 years),"
        f" got {shown}"
    )


def _seconds(field, value):
    # JSON numbers such as 1e400 arrive as infinity, which has no integer.
    if isinstance(value, bool) or (
        isinstance(value, float) and not math.isfinite(value)
    ):
        raise BadRequest(f"'{field}' must be a duration such as 30m, got {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise BadRequest(f"'{field}' must not be negative, got {value}")
        return int(value)
    text = str(value).strip()
    if text == "":
        return 0
    if re.fullmatch(r"[0-9]+", text):
        # Python refuses to convert more than 4300 digits; 20 already exceed
        # the maximum.
        if len(text.lstrip("0")) > 20:
            raise _too_long(field, text)
        return int(text)
    pos = 0
    seconds = 0.0
    for match in DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        seconds += float(match.group(1)) * DURATION_UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or pos == 0:
        raise BadRequest(f"'{field}' must be a duration such as 30m, got '{text}'")
    if not math.isfinite(seconds):
        # A part too large for a float is infinity, which int() refuses.
        raise _too_long(field, f"'{text}'")
    return int(seconds)


def valid_name(name):
    """Tell whether a role or key name fits Vault's name pattern."""
    return bool(NAME.match(name))
