"""The ssh secrets engine: every path it serves, in match order."""

from openvault.api.ssh import creds
from openvault.api.ssh import keys
from openvault.api.ssh import lookup
from openvault.api.ssh import roles
from openvault.api.ssh import verify
from openvault.api.ssh import zeroaddress

ROUTES = (
    roles.ROUTES
    + creds.ROUTES
    + lookup.ROUTES
    + verify.ROUTES
    + zeroaddress.ROUTES
    + keys.ROUTES
)
