"""Drive one scenario against one server: bounded by a request count and a time."""

import asyncio
import statistics
import time
from dataclasses import dataclass
from dataclasses import field

from bench.client import Connection


@dataclass
class Result:
    """What one run measured."""

    server: str
    scenario: str
    concurrency: int
    ops: int = 0
    failures: int = 0
    elapsed: float = 0.0
    cpu: float = 0.0
    latencies: list = field(default_factory=list, repr=False)
    errors: list = field(default_factory=list, repr=False)

    @property
    def rate(self):
        """Successful operations per second."""
        return (self.ops - self.failures) / self.elapsed if self.elapsed else 0.0

    def percentile(self, fraction):
        """Return a latency percentile in milliseconds."""
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        index = min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))
        return ordered[index] * 1000

    @property
    def cpu_ms_per_op(self):
        """Server CPU milliseconds per operation."""
        return self.cpu / self.ops * 1000 if self.ops else 0.0

    def summary(self):
        """Return the figures kept for the report."""
        return {
            "server": self.server,
            "scenario": self.scenario,
            "concurrency": self.concurrency,
            "ops": self.ops,
            "failures": self.failures,
            "rate": self.rate,
            "p50": self.percentile(0.50),
            "p99": self.percentile(0.99),
            "cpu_ms": self.cpu_ms_per_op,
            "errors": self.errors[:5],
        }


async def drive(addr, op, setup, concurrency, max_ops, duration, result):
    """Run `op` from `concurrency` connections until max_ops or duration is reached."""
    started = 0
    deadline = time.perf_counter() + duration

    async def worker():
        nonlocal started
        conn = Connection(addr)
        try:
            while started < max_ops and time.perf_counter() < deadline:
                started += 1
                begin = time.perf_counter()
                try:
                    ok = await op(conn, setup)
                except Exception as exc:  # noqa: BLE001 - every failure is counted
                    ok = False
                    result.errors.append(f"{type(exc).__name__}: {exc}"[:200])
                    await conn.close()
                result.latencies.append(time.perf_counter() - begin)
                result.ops += 1
                result.failures += not ok
        finally:
            await conn.close()

    begin = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.elapsed = time.perf_counter() - begin


def run(server, scenario, setup, concurrency, max_ops, duration, warmup=0):
    """Run one measured round of `scenario` on `server`; return its Result."""
    if warmup:
        scratch = Result(server.name, scenario.key, concurrency)
        asyncio.run(
            drive(
                server.addr, scenario.op, setup, concurrency, warmup, duration, scratch
            )
        )
    result = Result(server.name, scenario.key, concurrency)
    cpu_before = server.cpu()
    asyncio.run(
        drive(server.addr, scenario.op, setup, concurrency, max_ops, duration, result)
    )
    result.cpu = server.cpu() - cpu_before
    return result


def median_of(summaries):
    """Combine the rounds of one (server, scenario, concurrency): medians."""
    first = summaries[0]
    combined = {
        "server": first["server"],
        "scenario": first["scenario"],
        "concurrency": first["concurrency"],
        "rounds": len(summaries),
        "ops": sum(s["ops"] for s in summaries),
        "failures": sum(s["failures"] for s in summaries),
        "errors": [e for s in summaries for e in s["errors"]][:5],
    }
    for key in ("rate", "p50", "p99", "cpu_ms"):
        combined[key] = statistics.median(s[key] for s in summaries)
    return combined
