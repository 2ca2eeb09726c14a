"""`make bench`: our server against OpenBao, same client, same machine, same run.

    python -m bench.run [--rounds 3] [--duration 3] [--output docs/performance.md]

Starts OpenBao with raft storage on disk (initialised and unsealed here),
OpenBao -dev (in memory) and our server (SQLite on disk, granian, config
defaults), runs every scenario at every concurrency against each server in
turn, rotating the order each round, and writes the medians of the rounds to
the report. Everything it starts is stopped and removed, also on failure.
"""

import argparse
import asyncio
import json
import logging
import os
import platform
import sys
import time
from pathlib import Path

from bench import load
from bench import profile
from bench import report
from bench import scenarios
from bench import servers

logger = logging.getLogger(__name__)

CONCURRENCIES = (1, 16, 64)
TUNE_CONFIGS = ((1, 16), (2, 4), (2, 8), (2, 16), (2, 32))
TUNE_CONCURRENCIES = (16, 64)


def parse_args(argv):
    """Read the command line."""
    parser = argparse.ArgumentParser(prog="bench.run", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per run")
    parser.add_argument("--requests", type=int, default=20000, help="max per run")
    parser.add_argument("--warmup", type=int, default=30, help="requests before a run")
    parser.add_argument(
        "--concurrency", default=",".join(map(str, CONCURRENCIES)), help="e.g. 1,16,64"
    )
    parser.add_argument("--lookup-sizes", default="1,100,1000")
    parser.add_argument("--output", default="docs/performance.md")
    parser.add_argument("--json", default="", help="also save the raw results here")
    parser.add_argument("--no-audit", action="store_true", help="skip the audit runs")
    parser.add_argument("--no-tune", action="store_true", help="skip workers/threads")
    parser.add_argument("--no-dynamic", action="store_true", help="skip test hosts")
    parser.add_argument("--no-scale", action="store_true", help="skip the lease growth")
    parser.add_argument(
        "--no-profile", action="store_true", help="no py-spy run for missed targets"
    )
    parser.add_argument(
        "--scale-sizes", default="1000,10000,100000", help="leases outstanding"
    )
    parser.add_argument(
        "--scale-roles", default="1000,10000,100000", help="roles on one mount"
    )
    return parser.parse_args(argv)


def _ints(text):
    return tuple(int(part) for part in text.split(",") if part.strip())


def loadavg():
    """Return the 1-minute load average: how busy the machine was."""
    return os.getloadavg()[0]


def compare(all_servers, setups, args, concurrencies, lookup_sizes):
    """Run the scenario matrix, alternating servers; return combined results."""
    rounds = {}
    for number in range(args.rounds):
        for scenario in scenarios.scenarios(lookup_sizes):
            for concurrency in concurrencies:
                order = all_servers[number % len(all_servers) :]
                order += all_servers[: number % len(all_servers)]
                for server in order:
                    summary = _measure(server, scenario, setups, concurrency, args)
                    key = (server.name, scenario.key, concurrency)
                    rounds.setdefault(key, []).append(summary)
    return [load.median_of(summaries) for summaries in rounds.values()]


def _measure(server, scenario, setups, concurrency, args, label=None):
    """Run one scenario against one server within the run's bounds; print it."""
    summary = load.run(
        server,
        scenario,
        setups[server.name],
        concurrency,
        args.requests,
        args.duration,
        warmup=args.warmup,
    ).summary()
    if label:
        summary["scenario"] = label
    print(_line(summary), flush=True)
    return summary


def _line(summary):
    return (
        f"  {summary['scenario']:<14} c={summary['concurrency']:<3}"
        f" {summary['server']:<13} {summary['rate']:8.1f}/s"
        f" p50 {summary['p50']:7.1f} ms p99 {summary['p99']:7.1f} ms"
        f" cpu {summary['cpu_ms']:5.2f} ms failures {summary['failures']}"
    )


def audit_runs(durable, setups, args, tmp):
    """OTP creds at concurrency 16 with a file audit device on, per server."""
    scenario = scenarios.scenarios(())[0]
    rounds = {}
    for server in durable:
        server.enable_audit(tmp / f"audit-{server.name}.log")
    # Our server re-reads its device list at most once a second.
    time.sleep(1.2)
    try:
        for number in range(args.rounds):
            order = durable[number % 2 :] + durable[: number % 2]
            for server in order:
                summary = _measure(
                    server, scenario, setups, 16, args, label="otp_creds_audit"
                )
                rounds.setdefault(server.name, []).append(summary)
    finally:
        for server in durable:
            server.disable_audit()
    return [load.median_of(summaries) for summaries in rounds.values()]


def tune(args):
    """Our server with several workers/threads settings: creds and cycle at 16, 64."""
    candidates = [
        servers.OpenVault(workers=workers, threads=threads)
        for workers, threads in TUNE_CONFIGS
    ]
    results = {}
    try:
        setups = {}
        for server in candidates:
            server.start()
            server.name = f"w{server.workers}t{server.threads}"
            setups[server.name] = scenarios.prepare(server, lookup_sizes=())
        for number in range(args.rounds):
            for scenario in scenarios.scenarios(())[:2]:
                for concurrency in TUNE_CONCURRENCIES:
                    shift = number % len(candidates)
                    for server in candidates[shift:] + candidates[:shift]:
                        summary = _measure(server, scenario, setups, concurrency, args)
                        key = (server.name, scenario.key, concurrency)
                        results.setdefault(key, []).append(summary)
    finally:
        for server in candidates:
            server.stop()
    return [load.median_of(summaries) for summaries in results.values()]


def profile_misses(ours, setups, rows, args):
    """Profile our server on each throughput target it missed; return Markdown."""
    found = {(r["server"], r["scenario"], r["concurrency"]): r for r in rows}
    parts = []
    for scenario in scenarios.scenarios(())[:2]:
        mine = found.get(("openvault", scenario.key, 16))
        theirs = found.get(("openbao-raft", scenario.key, 16))
        if not mine or not theirs or mine["rate"] >= 1.5 * theirs["rate"]:
            continue
        print(f"profiling {scenario.title}", flush=True)
        _, text = profile.profile(
            ours, scenario, setups[ours.name], max(5, args.duration * 2), ours.home
        )
        parts.append(f"### Profile: {scenario.title} (target missed)\n\n{text}")
    return "\n\n".join(parts)


def main(argv=None):
    """Run the bench, print the table and write the report; return the exit code."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING)
    concurrencies = _ints(args.concurrency)
    lookup_sizes = _ints(args.lookup_sizes)
    started = time.time()
    facts = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
        "machine": f"{os.cpu_count()} CPUs, {platform.machine()},"
        f" Linux {platform.release()}, Python {platform.python_version()}",
        "bao": servers.bao_version(),
        "load_before": loadavg(),
        "args": vars(args),
    }
    ours = servers.OpenVault()
    all_servers = [ours, servers.OpenBaoRaft(), servers.OpenBaoDev()]
    results = {"facts": facts}
    try:
        setups = {}
        for server in all_servers:
            print(f"starting {server.label}", flush=True)
            server.start()
            setups[server.name] = scenarios.prepare(server, lookup_sizes)
        facts["ours_config"] = (
            (ours.home / "config.hcl").read_text().replace(str(ours.home), "<tmp>")
        )
        results["main"] = compare(
            all_servers, setups, args, concurrencies, lookup_sizes
        )
        results["second_verify"] = {
            server.name: {
                "issued": len(setups[server.name].issued),
                "accepted_again": asyncio.run(
                    scenarios.second_verifies(server.addr, setups[server.name].issued)
                ),
            }
            for server in all_servers
        }
        if not args.no_profile:
            results["profile"] = profile_misses(ours, setups, results["main"], args)
        if not args.no_audit:
            print("audit device on", flush=True)
            results["audit"] = audit_runs(all_servers[:2], setups, args, ours.home)
        results["memory"] = {
            server.name: dict(zip(("rss", "pss", "uss"), server.memory(), strict=True))
            for server in all_servers
        }
    finally:
        for server in all_servers:
            server.stop()
    if not args.no_tune:
        print("workers and threads of our server", flush=True)
        results["tune"] = tune(args)
    if not args.no_dynamic:
        from bench import dynamic

        print("dynamic keys against a test host", flush=True)
        results["dynamic"] = dynamic.run(args, concurrencies)
    if not args.no_scale:
        from bench import scale

        print("lease and role growth", flush=True)
        results["scale"] = scale.run(
            _ints(args.scale_sizes),
            _ints(args.scale_roles),
            seconds=min(args.duration, scale.SCALE_SECONDS),
            max_ops=args.requests,
        )
    facts["load_after"] = loadavg()
    facts["seconds"] = round(time.time() - started)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    text = report.write(results, Path(args.output))
    print(report.table(results))
    print(f"report written to {args.output}", flush=True)
    failures = sum(row["failures"] for row in results["main"])
    failures += sum(v["accepted_again"] for v in results["second_verify"].values())
    return 1 if failures else 0 if text else 1


if __name__ == "__main__":
    sys.exit(main())
