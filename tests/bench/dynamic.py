"""Dynamic creds against one real sshd test host (ours only: OpenBao dropped the type).

Needs root and the test-host tools; otherwise the report says why it did not
run. One worker process, logging at debug level (only in this scenario, which
has no competitor), so that the key pool's own log lines tell how many keys
were taken from the pool and how many a request had to generate itself.
"""

import os
import secrets
import time

from bench import load
from bench import scenarios
from bench import servers

POOL = 64


def run(args, concurrencies):
    """Run dynamic creds at each concurrency; return rows and pool counts."""
    try:
        from dynamic.dynamic_support import make_admin_key
        from dynamic.dynamic_support import prepare_host
        from testhost import TestHost
        from testhost import missing_requirements
    except ImportError as exc:
        return {"skipped": f"test-host helpers not importable: {exc}"}
    reason = missing_requirements()
    if reason:
        return {"skipped": reason}
    host = server = None
    try:
        host = TestHost.create(f"bench-{secrets.token_hex(3)}", owner_pid=os.getpid())
        admin = make_admin_key()
        prepare_host(host, admin, users=(scenarios.USER,))
        server = servers.OpenVault(
            workers=1, log_level="debug", extra=f"dynamic_key_pool = {POOL}"
        )
        server.start()
        setup = scenarios.prepare(server, lookup_sizes=())
        setup.dynamic_ip = host.ip
        server.must("POST", "sys/mounts/dyn", {"type": "ssh"})
        server.must("POST", "dyn/keys/admin", {"key": admin.pem})
        server.must(
            "POST",
            "dyn/roles/dyn",
            {
                "key_type": "dynamic",
                "key": "admin",
                "admin_user": "vaultadmin",
                "default_user": scenarios.USER,
                "cidr_list": f"{host.ip}/32",
                "key_bits": 2048,
            },
        )
        _wait_pool_full(server)
        rows = []
        for concurrency in concurrencies:
            summaries = []
            for _ in range(args.rounds):
                _wait_pool_full(server)
                result = load.run(
                    server,
                    scenarios.DYNAMIC,
                    setup,
                    concurrency,
                    min(args.requests, POOL // 2),
                    args.duration,
                )
                summaries.append(result.summary())
            rows.append(load.median_of(summaries))
        log = server.log()
        return {
            "rows": rows,
            "pool": {
                "size": POOL,
                "taken": log.count("taken from the pool"),
                "generated": log.count("pool empty, generated"),
            },
        }
    finally:
        if server is not None:
            server.stop()
        if host is not None:
            host.destroy()


def _wait_pool_full(server, timeout=180):
    """Wait until the pool has refilled, so each round starts with POOL keys."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = [
            line for line in server.log().splitlines() if "-bit keys ready:" in line
        ]
        if lines and lines[-1].split("keys ready: ")[1].startswith(f"{POOL} of"):
            return
        time.sleep(0.5)
    raise RuntimeError("the dynamic key pool did not fill up")
