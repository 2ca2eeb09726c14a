"""Turn bench results into docs/performance.md and its throughput chart."""

from pathlib import Path

NOTES = Path(__file__).with_name("notes.md")
OURS = "openvault"
RAFT = "openbao-raft"
DEV = "openbao-dev"
LABELS = {
    OURS: "openvault (SQLite)",
    RAFT: "OpenBao raft",
    DEV: "OpenBao -dev",
}
TITLES = {
    "otp_creds": "OTP creds",
    "otp_cycle": "creds + verify",
    "otp_creds_audit": "OTP creds, audit on",
    "dynamic_creds": "dynamic creds",
}


def _title(key):
    if key.startswith("lookup_"):
        return f"lookup, {key.split('_')[1]} roles"
    return TITLES.get(key, key)


def _index(rows):
    return {(row["server"], row["scenario"], row["concurrency"]): row for row in rows}


def _ratio(a, b):
    return a / b if b else float("inf")


def table(results):
    """Return the main table (requests/s, p50, p99, CPU, ratios) as Markdown."""
    rows = results["main"]
    found = _index(rows)
    keys = sorted({(r["scenario"], r["concurrency"]) for r in rows}, key=_order)
    lines = [
        "| scenario | conc. | server | ops/s | p50 ms | p99 ms | CPU ms/op"
        " | ours/raft | ours/dev | failures |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for scenario, concurrency in keys:
        ours = found.get((OURS, scenario, concurrency))
        for server in (OURS, RAFT, DEV):
            row = found.get((server, scenario, concurrency))
            if row is None:
                continue
            raft_ratio = dev_ratio = ""
            if server == OURS:
                raft = found.get((RAFT, scenario, concurrency))
                dev = found.get((DEV, scenario, concurrency))
                raft_ratio = (
                    f"**{_ratio(ours['rate'], raft['rate']):.2f}×**" if raft else ""
                )
                dev_ratio = f"{_ratio(ours['rate'], dev['rate']):.2f}×" if dev else ""
            lines.append(
                f"| {_title(scenario)} | {concurrency} | {LABELS[server]}"
                f" | {row['rate']:.0f} | {row['p50']:.1f} | {row['p99']:.1f}"
                f" | {row['cpu_ms']:.2f} | {raft_ratio} | {dev_ratio}"
                f" | {row['failures']} |"
            )
    return "\n".join(lines)


def _order(key):
    scenario, concurrency = key
    names = ["otp_creds", "otp_cycle"]
    rank = names.index(scenario) if scenario in names else 2
    size = int(scenario.split("_")[1]) if scenario.startswith("lookup_") else 0
    return (rank, size, concurrency)


def targets(results):
    """Return (text, all_met) for the issue's targets, judged on this run."""
    found = _index(results["main"])
    checks = []

    def ratio(scenario, concurrency, want):
        ours = found.get((OURS, scenario, concurrency))
        raft = found.get((RAFT, scenario, concurrency))
        if not ours or not raft:
            return
        got = _ratio(ours["rate"], raft["rate"])
        checks.append(
            (
                f"{_title(scenario)} at concurrency {concurrency}: ≥ {want}× OpenBao"
                f" raft",
                f"{got:.2f}×",
                got >= want,
            )
        )

    ratio("otp_creds", 16, 1.5)
    ratio("otp_cycle", 16, 1.5)
    for concurrency in sorted({r["concurrency"] for r in results["main"]}):
        ratio("lookup_1000", concurrency, 10)
    for other in (RAFT, DEV):
        worse = []
        for (server, scenario, concurrency), ours in found.items():
            theirs = found.get((other, scenario, concurrency))
            if server == OURS and theirs and ours["p99"] > theirs["p99"]:
                worse.append(
                    f"{_title(scenario)} c={concurrency}: {ours['p99']:.1f} ms vs"
                    f" {theirs['p99']:.1f} ms"
                )
        checks.append(
            (
                f"p99 latency no worse than {LABELS[other]}'s (every scenario and"
                " concurrency)",
                "; ".join(worse) if worse else "never worse",
                not worse,
            )
        )
    memory = results.get("memory", {}).get(OURS)
    if memory:
        checks.append(
            (
                "server memory under 100 MB after the runs (PSS of all its processes)",
                f"PSS {memory['pss']:.0f} MB (USS {memory.get('uss', 0):.0f} MB,"
                f" RSS summed {memory['rss']:.0f} MB)",
                memory["pss"] < 100,
            )
        )
    dynamic = results.get("dynamic")
    if dynamic and not dynamic.get("skipped"):
        waited = dynamic["pool"]["generated"]
        checks.append(
            (
                "dynamic creds never wait for key generation while the pool has keys",
                f"{dynamic['pool']['taken']} keys from the pool, {waited} generated"
                f" in a request (pool of {dynamic['pool']['size']})",
                waited == 0,
            )
        )
    lines = ["| target | this run | met |", "| --- | --- | :---: |"]
    for name, got, met in checks:
        lines.append(f"| {name} | {got} | {'yes' if met else '**no**'} |")
    return "\n".join(lines), all(met for _, _, met in checks)


def _setting(row):
    workers, _, threads = row["server"][1:].partition("t")
    return int(workers), int(threads)


def _simple_table(rows, columns):
    head = "| " + " | ".join(title for title, _ in columns) + " |"
    rule = "| " + " | ".join("---" for _ in columns) + " |"
    body = ["| " + " | ".join(fmt(row) for _, fmt in columns) + " |" for row in rows]
    return "\n".join([head, rule, *body])


def chart(results, path):
    """Draw throughput against concurrency per scenario; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    rows = results["main"]
    names = sorted({r["scenario"] for r in rows}, key=lambda s: _order((s, 0)))
    columns = min(3, len(names))
    lines = (len(names) + columns - 1) // columns
    figure, axes = plt.subplots(
        lines, columns, figsize=(4.2 * columns, 3.4 * lines), squeeze=False
    )
    styles = {OURS: ("tab:green", "o"), RAFT: ("tab:blue", "s"), DEV: ("tab:gray", "^")}
    for number, scenario in enumerate(names):
        axis = axes[number // columns][number % columns]
        for server, (colour, marker) in styles.items():
            points = sorted(
                (r["concurrency"], r["rate"])
                for r in rows
                if r["server"] == server and r["scenario"] == scenario
            )
            if points:
                axis.plot(
                    [p[0] for p in points],
                    [p[1] for p in points],
                    marker=marker,
                    color=colour,
                    label=LABELS[server],
                )
        axis.set_title(_title(scenario))
        axis.set_xscale("log", base=2)
        concurrencies = sorted({r["concurrency"] for r in rows})
        axis.set_xticks(concurrencies, [str(c) for c in concurrencies])
        axis.set_xlabel("concurrent connections")
        axis.set_ylabel("operations/s")
        axis.set_ylim(bottom=0)
        axis.grid(True, alpha=0.3)
    for number in range(len(names), lines * columns):
        axes[number // columns][number % columns].axis("off")
    axes[0][0].legend(fontsize="small")
    figure.suptitle("Throughput against concurrency (median of the rounds)")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return True


def write(results, output):
    """Write the report (and the chart beside it); return the text."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    facts = results["facts"]
    png = output.with_suffix(".png")
    drawn = chart(results, png)
    target_text, _ = targets(results)
    parts = [
        "# Performance: openvault against OpenBao",
        "",
        "Generated by `make bench` (`tests/bench/run.py`); every figure below comes"
        " from one run on one machine, with the servers taking turns. Re-run it"
        " to check; do not edit the figures by hand.",
        "",
        f"- run: {facts['date']}, {facts.get('seconds', '?')} s;"
        f" machine: {facts['machine']}",
        f"- load average (1 min) before / after: {facts['load_before']:.1f} /"
        f" {facts.get('load_after', 0):.1f} (other work on the machine shows here)",
        f"- OpenBao: {facts['bao']}",
        f"- rounds: {facts['args']['rounds']}, each run at most"
        f" {facts['args']['requests']} operations or {facts['args']['duration']} s"
        f" after {facts['args']['warmup']} warm-up operations; figures are the"
        " median of the rounds",
        "",
        "## Targets",
        "",
        target_text,
        "",
        "## Throughput and latency",
        "",
        "One operation is one request, except creds + verify: one cycle of two"
        " requests (its latency is the cycle's). Ratios are ours/OpenBao in"
        " operations per second. CPU is the server's (all its processes) per"
        " operation.",
        "",
        table(results),
        "",
    ]
    if drawn:
        parts += [f"![throughput against concurrency]({png.name})", ""]
    else:
        parts += [
            "(chart not drawn: matplotlib is not installed; `make bench` installs it)",
            "",
        ]
    second = results.get("second_verify", {})
    if second:
        parts += [
            "Every OTP of the cycle runs was verified once during the run and once"
            " more afterwards; a second success would count as a failure:",
            "",
            _simple_table(
                [dict(server=name, **value) for name, value in second.items()],
                [
                    ("server", lambda r: LABELS[r["server"]]),
                    ("OTPs verified", lambda r: str(r["issued"])),
                    ("accepted a second time", lambda r: str(r["accepted_again"])),
                ],
            ),
            "",
        ]
    memory = results.get("memory")
    if memory:
        parts += [
            "## Memory after the runs",
            "",
            _simple_table(
                [dict(server=name, **value) for name, value in memory.items()],
                [
                    ("server", lambda r: LABELS[r["server"]]),
                    ("PSS MB (all processes)", lambda r: f"{r['pss']:.0f}"),
                    ("USS MB (private pages)", lambda r: f"{r.get('uss', 0):.0f}"),
                    ("RSS MB (summed)", lambda r: f"{r['rss']:.0f}"),
                ],
            ),
            "",
            "PSS splits each shared page between the processes that map it, so"
            " a shared library (libpython, OpenSSL, cryptography's Rust module)"
            " costs the server less while other programs on the machine use it"
            " too: the figure moves with what else runs. USS, the pages only"
            " the server maps, does not.",
            "",
        ]
    audit = results.get("audit")
    if audit:
        found = _index(results["main"])
        rows = []
        for row in audit:
            off = found.get((row["server"], "otp_creds", 16))
            rows.append(dict(row, off=off["rate"] if off else 0))
        parts += [
            "## The audit log's cost",
            "",
            "OTP creds at concurrency 16 with one file audit device on (OpenBao -dev"
            " has none by default and is left out); the main table runs with audit"
            " off on every server.",
            "",
            _simple_table(
                rows,
                [
                    ("server", lambda r: LABELS[r["server"]]),
                    ("ops/s audit on", lambda r: f"{r['rate']:.0f}"),
                    ("ops/s audit off", lambda r: f"{r['off']:.0f}"),
                    (
                        "cost",
                        lambda r: f"{(1 - _ratio(r['rate'], r['off'])) * 100:.0f}%",
                    ),
                    ("p99 ms on", lambda r: f"{r['p99']:.1f}"),
                ],
            ),
            "",
        ]
    tune = results.get("tune")
    if tune:
        parts += [
            "## Workers and threads of our server",
            "",
            "OTP creds and creds + verify at concurrency 16 and 64, each setting a"
            " server of its own, taking turns (`workers` processes × `threads`"
            " threads); the main table runs the defaults of `config.py`:",
            "",
            _simple_table(
                sorted(
                    tune,
                    key=lambda r: (r["scenario"], r["concurrency"], _setting(r)),
                ),
                [
                    ("scenario", lambda r: _title(r["scenario"])),
                    ("conc.", lambda r: str(r["concurrency"])),
                    ("setting", lambda r: r["server"]),
                    ("ops/s", lambda r: f"{r['rate']:.0f}"),
                    ("p50 ms", lambda r: f"{r['p50']:.1f}"),
                    ("p99 ms", lambda r: f"{r['p99']:.1f}"),
                    ("CPU ms/op", lambda r: f"{r['cpu_ms']:.2f}"),
                ],
            ),
            "",
        ]
    dynamic = results.get("dynamic")
    if dynamic:
        parts += ["## Dynamic keys", ""]
        if dynamic.get("skipped"):
            parts += [f"Not run: {dynamic['skipped']}", ""]
        else:
            parts += [
                "Ours only (OpenBao no longer has the dynamic key type): creds"
                " against one real sshd test host, each installing a fresh RSA key"
                f" over SSH. Pool of {dynamic['pool']['size']} keys per size;"
                f" {dynamic['pool']['taken']} keys came from the pool and"
                f" {dynamic['pool']['generated']} were generated inside a request.",
                "",
                _simple_table(
                    dynamic["rows"],
                    [
                        ("conc.", lambda r: str(r["concurrency"])),
                        ("ops/s", lambda r: f"{r['rate']:.1f}"),
                        ("p50 ms", lambda r: f"{r['p50']:.1f}"),
                        ("p99 ms", lambda r: f"{r['p99']:.1f}"),
                        ("CPU ms/op", lambda r: f"{r['cpu_ms']:.2f}"),
                        ("failures", lambda r: str(r["failures"])),
                    ],
                ),
                "",
            ]
    scale = results.get("scale")
    if scale:
        parts += [scale["markdown"], ""]
    profile = results.get("profile")
    if profile:
        parts += ["## Where the time goes", "", profile, ""]
    if NOTES.exists():
        parts += [NOTES.read_text().strip(), ""]
    text = "\n".join(parts)
    output.write_text(text)
    return text


def main(argv=None):
    """Write the report again from a run's saved results (make bench keeps them)."""
    import json
    import sys

    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m bench.report RESULTS.json OUTPUT.md", file=sys.stderr)
        return 2
    write(json.loads(Path(argv[0]).read_text()), Path(argv[1]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
