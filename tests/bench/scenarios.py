"""The bench scenarios: what is set up on each server and what one operation is."""

import asyncio
from dataclasses import dataclass
from dataclasses import field

from bench.client import Connection

OTP_ROLE_CIDR = "10.200.0.0/16"
OTP_IP = "10.200.1.1"
USER = "bench"
LOOKUP_SIZES = (1, 100, 1000)
POLICY = """
path "ssh/*" { capabilities = ["create", "read", "update", "list"] }
path "look*" { capabilities = ["create", "read", "update", "list"] }
path "dyn/*" { capabilities = ["create", "read", "update", "list"] }
path "grow/*" { capabilities = ["create", "read", "update", "list"] }
"""


def role_cidr(index):
    """Return the distinct /24 of lookup role number `index`."""
    return f"10.{index >> 8}.{index & 255}.0/24"


def role_ip(index):
    """Return an address inside role number `index`'s /24."""
    return f"10.{index >> 8}.{index & 255}.7"


@dataclass
class Setup:
    """What the scenarios of one server need: its token and the OTPs issued."""

    token: str = ""
    issued: list = field(default_factory=list)
    dynamic_ip: str = ""


async def _parallel(addr, requests, width=8):
    """Send setup requests over `width` connections; raise on the first failure."""
    queue = list(requests)

    async def work():
        conn = Connection(addr)
        try:
            while queue:
                method, path, body, token = queue.pop()
                status, reply = await conn.request(method, path, body, token)
                if status not in (200, 204):
                    raise RuntimeError(f"{method} {path}: {status} {reply}")
        finally:
            await conn.close()

    await asyncio.gather(*(work() for _ in range(width)))


def prepare(server, lookup_sizes=LOOKUP_SIZES):
    """Mount, roles, a policy and a non-root token on `server`; return Setup.

    The scenarios use a token with a policy, as a fleet's clients would, so
    both servers evaluate an ACL on each request.
    """
    server.must("PUT", "sys/policies/acl/bench", {"policy": POLICY})
    token = server.must(
        "POST", "auth/token/create", {"policies": ["bench"], "ttl": "24h"}
    )["auth"]["client_token"]
    server.must("POST", "sys/mounts/ssh", {"type": "ssh"})
    server.must(
        "POST",
        "ssh/roles/otp",
        {
            "key_type": "otp",
            "default_user": USER,
            "cidr_list": OTP_ROLE_CIDR,
            "ttl": "1h",
        },
    )
    root = server.root_token
    for size in lookup_sizes:
        mount = f"look{size}"
        server.must("POST", f"sys/mounts/{mount}", {"type": "ssh"})
        requests = [
            (
                "POST",
                f"{mount}/roles/r{index}",
                {
                    "key_type": "otp",
                    "default_user": USER,
                    "cidr_list": role_cidr(index),
                },
                root,
            )
            for index in range(size)
        ]
        asyncio.run(_parallel(server.addr, requests))
    return Setup(token=token)


@dataclass
class Scenario:
    """One kind of operation, run at several concurrencies against each server."""

    key: str
    title: str
    # async op(conn, setup) -> bool: True when the answer was right.
    op: object
    servers: tuple = ("openvault", "openbao-raft", "openbao-dev")
    unit: str = "req"


async def otp_creds(conn, setup):
    """POST ssh/creds/otp: one OTP and its lease."""
    status, reply = await conn.request(
        "POST", "ssh/creds/otp", {"ip": OTP_IP}, setup.token
    )
    return status == 200 and bool(reply["data"]["key"])


async def otp_cycle(conn, setup):
    """creds then verify of the same OTP, as a host's login does."""
    status, reply = await conn.request(
        "POST", "ssh/creds/otp", {"ip": OTP_IP}, setup.token
    )
    if status != 200:
        return False
    otp = reply["data"]["key"]
    status, reply = await conn.request("POST", "ssh/verify", {"otp": otp})
    setup.issued.append(otp)
    return status == 200 and reply["data"]["username"] == USER


def lookup(size):
    """Return the op for lookup on the mount with `size` roles."""
    index = size // 2
    body = {"ip": role_ip(index)}
    expected = [f"r{index}"]

    async def op(conn, setup):
        status, reply = await conn.request(
            "POST", f"look{size}/lookup", body, setup.token
        )
        return status == 200 and reply["data"]["roles"] == expected

    op.__doc__ = f"POST lookup on a mount with {size} roles of distinct CIDRs."
    return op


async def dynamic_creds(conn, setup):
    """POST dyn/creds/dyn: a fresh RSA key installed on a real test host."""
    status, reply = await conn.request(
        "POST", "dyn/creds/dyn", {"ip": setup.dynamic_ip}, setup.token
    )
    return status == 200 and reply["data"]["key_type"] == "dynamic"


async def second_verifies(addr, otps, width=16):
    """Verify every OTP again; return how many a server wrongly accepted."""
    queue = list(otps)
    accepted = 0

    async def work():
        nonlocal accepted
        conn = Connection(addr)
        try:
            while queue:
                status, _ = await conn.request(
                    "POST", "ssh/verify", {"otp": queue.pop()}
                )
                accepted += status == 200
        finally:
            await conn.close()

    await asyncio.gather(*(work() for _ in range(width)))
    return accepted


def scenarios(lookup_sizes=LOOKUP_SIZES):
    """Return the scenarios compared on every server."""
    found = [
        Scenario("otp_creds", "OTP creds", otp_creds),
        Scenario("otp_cycle", "OTP creds + verify", otp_cycle, unit="cycle"),
    ]
    for size in lookup_sizes:
        found.append(Scenario(f"lookup_{size}", f"lookup, {size} roles", lookup(size)))
    return found


DYNAMIC = Scenario(
    "dynamic_creds",
    "dynamic creds (test host)",
    dynamic_creds,
    servers=("openvault",),
)
