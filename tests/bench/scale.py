"""How our server scales: lookup as roles grow, creds and the sweep as leases grow.

Leases and roles are written in bulk straight into the server's SQLite file
(100,000 creds through the API would take minutes and measure nothing new);
creds and lookup are then timed through the API, and one sweep pass is timed
in this process with the server's own code on the same database file. The
server's own sweeper is kept idle (a very long sweep_interval) so that it does
not race the measured pass.

    python -m bench.scale [--sizes 1000,10000,100000]
"""

import argparse
import secrets
import sqlite3
import sys
import time

from bench import load
from bench import scenarios
from bench import servers

EXPIRING = 100
ROLE_SIZES = (1000, 10000, 100000)
SCALE_SECONDS = 2.0


def _ip_of(index):
    return f"10.{index >> 16 & 255}.{index >> 8 & 255}.{index & 255}"


def fill_leases(db_path, count, expired=False):
    """Insert `count` OTP leases with their OTPs, live or already expired."""
    now = time.time()
    expire = now - 10 if expired else now + 3600
    leases, otps = [], []
    for _ in range(count):
        lease_id = f"ssh/creds/otp/{secrets.token_hex(16)}"
        leases.append(
            (lease_id, "ssh", "otp", "otp", now, expire, now + 7200, 0, None, 0, "")
        )
        otps.append(
            (
                secrets.token_hex(32),
                "ssh",
                lease_id,
                scenarios.USER,
                "10.200.1.1",
                "otp",
                expire,
            )
        )
    with sqlite3.connect(db_path, timeout=30) as conn:
        conn.executemany(
            "INSERT INTO lease (lease_id, mount, role_name, kind, issue_time,"
            " expire_time, max_expire_time, renewable, next_attempt, attempts,"
            " last_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            leases,
        )
        conn.executemany(
            "INSERT INTO otp (digest, mount, lease_id, username, ip, role_name,"
            " expire_time) VALUES (?, ?, ?, ?, ?, ?, ?)",
            otps,
        )
    conn.close()


def fill_roles(db_path, mount, start, stop):
    """Insert roles r<start>..r<stop-1> on `mount`, each with its own /32 block."""
    from openvault.roles import address_key

    with sqlite3.connect(db_path, timeout=30) as conn:
        for index in range(start, stop):
            ip = _ip_of(index)
            cursor = conn.execute(
                "INSERT INTO role (mount, name, key_type, default_user, cidr_list,"
                " exclude_cidr_list, port, allowed_users, key_name, admin_user,"
                " key_bits, install_script, key_option_specs, ttl, max_ttl)"
                " VALUES (?, ?, 'otp', ?, ?, '', 22, '', '', '', 0, '', '', 0, 0)",
                (mount, f"r{index}", scenarios.USER, f"{ip}/32"),
            )
            key = address_key(ip)
            conn.execute(
                "INSERT INTO role_block (mount, role_id, excluded, first, last)"
                " VALUES (?, ?, 0, ?, ?)",
                (mount, cursor.lastrowid, key, key),
            )
    conn.close()


def sweep_pass(server):
    """Time one sweep pass over EXPIRING expired leases; return (ms, revoked)."""
    import openvault.api  # noqa: F401 - registers the lease revokers
    from openvault import leases
    from openvault.seal import load_or_create
    from openvault.storage.db import close_thread
    from openvault.storage.db import open_database

    fill_leases(server.home / "openvault.db", EXPIRING, expired=True)
    seal = load_or_create(str(server.home / "seal.key"))
    open_database(f"sqlite:///{server.home / 'openvault.db'}")
    try:
        began = time.perf_counter()
        revoked = 0
        while True:
            count = leases.sweep_once(seal)
            revoked += count
            if count == 0:
                break
        return (time.perf_counter() - began) * 1000, revoked
    finally:
        close_thread()


def query_plans(db_path):
    """Return EXPLAIN QUERY PLAN lines of the queries that must not scan."""
    import peewee
    from openvault.storage.db import database
    from openvault.storage.models import OTP
    from openvault.storage.models import Lease
    from openvault.storage.models import Role

    database.initialize(peewee.SqliteDatabase(str(db_path)))
    now = time.time()
    queries = {
        "sweep: expired leases": Lease.select()
        .where(Lease.next_attempt.is_null(), Lease.expire_time <= now)
        .limit(100),
        "sweep: revocations due": Lease.select()
        .where(Lease.next_attempt <= now)
        .limit(100),
        "revoke an OTP lease": OTP.delete().where(OTP.lease_id == "x"),
        "creds: the role": Role.select().where(Role.mount == "ssh", Role.name == "otp"),
    }
    plans = {}
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        for name, query in queries.items():
            sql, params = query.sql()
            rows = conn.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
            plans[name] = "; ".join(row[-1] for row in rows)
    conn.close()
    return plans


def _measure(server, setup, scenario, seconds, max_ops):
    summary = load.run(server, scenario, setup, 16, max_ops, seconds, warmup=20)
    return summary.summary()


def run(sizes, role_sizes=ROLE_SIZES, seconds=SCALE_SECONDS, max_ops=100000):
    """Grow leases and roles step by step; return figures and their Markdown."""
    server = servers.OpenVault(extra="sweep_interval = 1000000")
    rows, role_rows = [], []
    try:
        server.start()
        setup = scenarios.prepare(server, lookup_sizes=())
        db_path = server.home / "openvault.db"
        server.must("POST", "sys/mounts/grow", {"type": "ssh"})
        creds = scenarios.scenarios(())[0]
        filled = 0
        for size in sizes:
            fill_leases(db_path, size - filled)
            filled = size
            measured = _measure(server, setup, creds, seconds, max_ops)
            filled += measured["ops"]
            sweep_ms, revoked = sweep_pass(server)
            rows.append(
                {
                    "leases": size,
                    "creds_rate": measured["rate"],
                    "creds_p99": measured["p99"],
                    "sweep_ms": sweep_ms,
                    "revoked": revoked,
                }
            )
        roles = 0
        for size in role_sizes:
            fill_roles(db_path, "grow", roles, size)
            roles = size
            lookup = scenarios.Scenario("lookup_grow", "lookup", _grow_lookup(size))
            first = time.perf_counter()
            status, _ = server.request(
                "POST", "grow/lookup", {"ip": _ip_of(size // 2)}, setup.token
            )
            first_ms = (time.perf_counter() - first) * 1000
            measured = _measure(server, setup, lookup, seconds, max_ops)
            role_rows.append(
                {
                    "roles": size,
                    "first_ms": first_ms,
                    "rate": measured["rate"],
                    "p50": measured["p50"],
                    "p99": measured["p99"],
                    "failures": measured["failures"] + (status != 200),
                }
            )
        plans = query_plans(db_path)
    finally:
        server.stop()
    return {
        "leases": rows,
        "roles": role_rows,
        "plans": plans,
        "markdown": markdown(rows, role_rows, plans, seconds),
    }


def _grow_lookup(size):
    body = {"ip": _ip_of(size // 2)}
    expected = [f"r{size // 2}"]

    async def op(conn, setup):
        status, reply = await conn.request("POST", "grow/lookup", body, setup.token)
        return status == 200 and reply["data"]["roles"] == expected

    return op


def markdown(rows, role_rows, plans, seconds=SCALE_SECONDS):
    """Return the scaling section of the report."""
    lines = [
        "## How it scales",
        "",
        f"Outstanding OTP leases written in bulk, then OTP creds through the API at"
        f" concurrency 16 for {seconds:g} s, then one sweep pass (in the"
        f" server's code, on its database) over {EXPIRING} leases that have just"
        " expired among all the live ones:",
        "",
        "| leases outstanding | creds/s | creds p99 ms | sweep pass ms | revoked |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        lines.append(
            f"| {row['leases']:,} | {row['creds_rate']:.0f} | {row['creds_p99']:.1f}"
            f" | {row['sweep_ms']:.1f} | {row['revoked']} |"
        )
    lines += [
        "",
        "Roles, each with its own /32, written in bulk on one mount; lookup through"
        " the API at concurrency 16 (the first lookup after a change rebuilds the"
        " mount's address index):",
        "",
        "| roles | first lookup ms | lookups/s | p50 ms | p99 ms | failures |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in role_rows:
        lines.append(
            f"| {row['roles']:,} | {row['first_ms']:.1f} | {row['rate']:.0f}"
            f" | {row['p50']:.1f} | {row['p99']:.1f} | {row['failures']} |"
        )
    lines += ["", "Query plans (SQLite `EXPLAIN QUERY PLAN`):", ""]
    for name, plan in plans.items():
        lines.append(f"- {name}: `{plan}`")
    return "\n".join(lines)


def main(argv=None):
    """Run the scaling measurements alone and print their Markdown."""
    parser = argparse.ArgumentParser(prog="bench.scale")
    parser.add_argument("--sizes", default="1000,10000,100000")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    sizes = tuple(int(part) for part in args.sizes.split(","))
    print(run(sizes)["markdown"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
