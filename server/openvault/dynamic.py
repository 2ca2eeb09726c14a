"""Dynamic keys: generate a key pair, install it on the host, remove it later."""

from openvault.errors import BadRequest


def issue(state, mount, role, username, ip, lease_id, ttl, max_ttl):
    """Install a fresh key for `username` on `ip` and return the credential."""
    # Limitation: installing dynamic keys on hosts is not built yet; creds on a
    # dynamic role are refused with this error instead of returning a key.
    raise BadRequest("dynamic credentials are not available on this server yet")
