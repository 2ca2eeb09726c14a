"""Smoke run of the bench harness: a few requests against OpenBao and our server.

Asserts correctness only (no failed request, every OTP verified exactly
once, a report written); the figures of so short a run mean nothing.
"""

import importlib.util
import json

import pytest
from bench import run


@pytest.mark.xdist_group("bench")
def test_bench_smoke_runs_every_scenario_on_both_servers(tmp_path):
    """The harness drives OpenBao (raft and -dev) and ours, and writes the report."""
    output = tmp_path / "performance.md"
    raw = tmp_path / "results.json"
    code = run.main(
        [
            "--rounds=1",
            "--duration=1",
            "--requests=8",
            "--warmup=2",
            "--concurrency=1,4",
            "--lookup-sizes=1,5",
            "--no-tune",
            "--no-dynamic",
            "--no-profile",
            "--scale-sizes=50,100",
            "--scale-roles=10,20",
            f"--output={output}",
            f"--json={raw}",
        ]
    )
    results = json.loads(raw.read_text())
    assert code == 0
    rows = results["main"]
    servers = {"openvault", "openbao-raft", "openbao-dev"}
    scenarios = {"otp_creds", "otp_cycle", "lookup_1", "lookup_5"}
    assert {(r["server"], r["scenario"], r["concurrency"]) for r in rows} == {
        (server, scenario, concurrency)
        for server in servers
        for scenario in scenarios
        for concurrency in (1, 4)
    }
    assert all(r["ops"] > 0 and r["failures"] == 0 for r in rows), rows
    for name, verified in results["second_verify"].items():
        assert verified["issued"] > 0, name
        assert verified["accepted_again"] == 0, name
    assert {r["server"] for r in results["audit"]} == {"openvault", "openbao-raft"}
    assert all(r["failures"] == 0 for r in results["audit"])
    assert [r["leases"] for r in results["scale"]["leases"]] == [50, 100]
    assert all(r["revoked"] == 100 for r in results["scale"]["leases"])
    assert all(r["failures"] == 0 for r in results["scale"]["roles"])
    assert "expire_time<?" in results["scale"]["plans"]["sweep: expired leases"]
    text = output.read_text()
    assert "| scenario | conc. | server |" in text
    for label in ("openvault (SQLite)", "OpenBao raft", "OpenBao -dev"):
        assert label in text
    if importlib.util.find_spec("matplotlib"):
        assert output.with_suffix(".png").read_bytes().startswith(b"\x89PNG")
