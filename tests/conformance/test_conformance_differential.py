"""The same requests to a live OpenBao and to our server must get the same answers.

Every difference must be listed, with its reason, in allowed_differences.yaml;
an entry whose difference no longer occurs fails too.
"""

from __future__ import annotations

import pytest
import yaml
from conformance.differ import ALLOWED_FILE
from conformance.differ import DUMPER
from conformance.differ import check
from conformance.differ import entry_key
from conformance.differ import load_allowed
from conformance.differ import load_sequences
from conformance.differ import report

pytestmark = pytest.mark.xdist_group("conformance")

SEQUENCES = load_sequences()
BY_NAME = {sequence["name"]: sequence for sequence in SEQUENCES}
ALLOWED = load_allowed()


@pytest.mark.parametrize("sequence", SEQUENCES, ids=[s["name"] for s in SEQUENCES])
def test_conformance_sequence_agrees_with_openbao(runner, sequence):
    results = runner.run(sequence)

    unexplained, stale = check(results, ALLOWED)

    assert not unexplained and not stale, (
        f"sequence {sequence['name']} disagrees with OpenBao:\n"
        + report(results, unexplained, stale)
    )


def test_conformance_allowed_entries_name_real_steps():
    steps = {(s["name"], step["id"]) for s in SEQUENCES for step in s["steps"]}
    keys = [entry_key(entry) for entry in ALLOWED]

    unknown = [
        f"{e['sequence']}/{e['step']}"
        for e in ALLOWED
        if (e["sequence"], e["step"]) not in steps
    ]

    assert not unknown, f"allowed differences name steps that do not exist: {unknown}"
    assert len(keys) == len(set(keys)), "an allowed difference is listed twice"


@pytest.mark.parametrize(
    "index",
    range(len(ALLOWED)),
    ids=[f"{e['sequence']}-{e['step']}-{e['aspect']}" for e in ALLOWED],
)
def test_conformance_deleting_an_allowed_entry_fails(runner, tmp_path, index):
    entry = ALLOWED[index]
    copy = tmp_path / ALLOWED_FILE.name
    remaining = ALLOWED[:index] + ALLOWED[index + 1 :]
    copy.write_text(yaml.dump(remaining, Dumper=DUMPER, sort_keys=False))
    results = runner.run(BY_NAME[entry["sequence"]])

    unexplained, stale = check(results, load_allowed(copy))
    text = report(results, unexplained, stale)

    assert [entry_key(entry)] == [d.key() for d in unexplained]
    assert not stale
    assert f"== {entry['sequence']} / {entry['step']}:" in text
    assert "openbao" in text and "| openvault" in text


def test_conformance_an_entry_whose_difference_is_gone_is_stale(runner, tmp_path):
    sequence = BY_NAME["verify"]
    invented = {
        "sequence": "verify",
        "step": "echo",
        "aspect": "status",
        "path": "",
        "openbao": 200,
        "ours": 418,
        "reason": "a difference that does not occur",
    }
    copy = tmp_path / ALLOWED_FILE.name
    copy.write_text(yaml.dump([*ALLOWED, invented], Dumper=DUMPER, sort_keys=False))
    results = runner.run(sequence)

    unexplained, stale = check(results, load_allowed(copy))
    text = report(results, unexplained, stale)

    assert unexplained == []
    assert stale == [invented]
    assert "stale entries" in text and "verify / echo status" in text
