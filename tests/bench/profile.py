"""Profile our server with py-spy while it runs a scenario; summarise for the report.

Samples only threads holding the GIL (`--gil`), so the figures are where the
server's Python time goes, not where its threads wait.
"""

import collections
import shutil
import subprocess
import sys
from pathlib import Path

from bench import load
from bench import servers

GROUPS = (
    "openvault",
    "peewee",
    "flask",
    "werkzeug",
    "granian",
    "logging",
    "threading",
    "sqlite3",
    "netaddr",
    "json",
    "hmac",
    "uuid",
    "selectors",
    "socket",
    "concurrent",
)


def py_spy():
    """Return the py-spy command, or None when it is not installed."""
    found = Path(sys.executable).with_name("py-spy")
    return str(found) if found.exists() else shutil.which("py-spy")


def profile(server, scenario, setup, seconds, workdir):
    """Run `scenario` at concurrency 16 under py-spy; return (summary, Markdown)."""
    command = py_spy()
    if command is None:
        return None, "(not profiled: py-spy is not installed; `make bench` installs it)"
    workers = [pid for pid in servers.process_tree(server.pid()) if pid != server.pid()]
    outputs, spies = [], []
    for pid in workers:
        output = Path(workdir) / f"profile-{pid}.txt"
        outputs.append(output)
        spies.append(
            subprocess.Popen(
                [command, "record", "--pid", str(pid), "--duration", str(int(seconds))]
                + ["--rate", "200", "--format", "raw", "--gil", "--nonblocking"]
                + ["--output", str(output)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    result = load.run(server, scenario, setup, 16, 10**7, seconds + 1)
    for spy in spies:
        spy.wait(timeout=60)
    stacks = []
    for output in outputs:
        if output.exists():
            for line in output.read_text().splitlines():
                stack, _, count = line.rpartition(" ")
                stacks.append((stack.split(";"), int(count)))
    return result.summary(), _markdown(scenario, stacks)


def _frame(text):
    name, _, where = text.partition(" (")
    return name, where.split(":")[0]


def _markdown(scenario, stacks):
    total = sum(count for _, count in stacks)
    if not total:
        return "(py-spy recorded no samples)"
    groups = collections.Counter()
    inclusive = collections.Counter()
    for frames, count in stacks:
        _, where = _frame(frames[-1])
        group = next(
            (g for g in GROUPS if f"/{g}" in where or where.startswith(g)), None
        )
        groups[group or "other (stdlib, C calls)"] += count
        seen = set()
        for text in frames:
            name, where = _frame(text)
            # py-spy names files relative to sys.path: openvault/api/...
            where = "/" + where.lstrip("/")
            if "/openvault/" not in where:
                continue
            key = f"{name} ({where.split('/openvault/')[-1]})"
            if key not in seen:
                seen.add(key)
                inclusive[key] += count
    lines = [
        f"py-spy, {total} samples of the worker threads holding the GIL during"
        f" {scenario.title} at concurrency 16. Where the time goes, by package of"
        " the innermost frame:",
        "",
        "| package | share |",
        "| --- | ---: |",
    ]
    for name, count in groups.most_common(10):
        lines.append(f"| {name} | {count * 100 / total:.0f}% |")
    lines += [
        "",
        "Our functions, counting the time spent in what they call:",
        "",
        "| function | share |",
        "| --- | ---: |",
    ]
    for name, count in inclusive.most_common(14):
        lines.append(f"| `{name}` | {count * 100 / total:.0f}% |")
    return "\n".join(lines)
