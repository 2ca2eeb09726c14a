"""The group commit behind the bench's write speed, on a real SQLite file.

Writes from many threads share transactions; what each caller is told must
still be true of the database file, seen from another connection.
"""

import sqlite3
import threading
import time

import peewee
import pytest
from openvault.storage import batch
from openvault.storage.db import open_database
from openvault.storage.models import OTP
from openvault.storage.models import create_schema

THREADS = 24


@pytest.fixture
def db_path(tmp_path):
    """A fresh database file with the server's schema, bound in this process."""
    path = tmp_path / "openvault.db"
    open_database(f"sqlite:///{path}")
    create_schema()
    return path


def _otp(digest):
    return lambda: OTP.create(
        digest=digest,
        mount="ssh",
        lease_id=f"ssh/creds/r/{digest}",
        username="alice",
        ip="10.0.0.1",
        role_name="r",
        expire_time=time.time() + 60,
    )


def _in_threads(jobs):
    outcomes = [None] * len(jobs)
    start = threading.Barrier(len(jobs))

    def run(index):
        start.wait()
        try:
            outcomes[index] = ("ok", batch.write(jobs[index]))
        except Exception as exc:  # noqa: BLE001 - the outcome is what is tested
            outcomes[index] = ("error", exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return outcomes


def _digests(path):
    with sqlite3.connect(path) as conn:
        return {row[0] for row in conn.execute("SELECT digest FROM otp")}


def test_batch_commits_every_write_before_answering(db_path):
    """Each caller that got an answer finds its row through another connection."""
    outcomes = _in_threads([_otp(f"d{i}") for i in range(THREADS)])
    assert all(kind == "ok" for kind, _ in outcomes), outcomes
    assert _digests(db_path) == {f"d{i}" for i in range(THREADS)}


def test_batch_fails_only_the_write_that_fails(db_path):
    """A duplicate key fails its own caller; the writes batched with it stay."""
    batch.write(_otp("taken"))
    jobs = [_otp(f"n{i}") for i in range(THREADS - 1)] + [_otp("taken")]
    outcomes = _in_threads(jobs)
    errors = [value for kind, value in outcomes if kind == "error"]
    assert len(errors) == 1
    assert isinstance(errors[0], peewee.IntegrityError)
    assert _digests(db_path) == {"taken"} | {f"n{i}" for i in range(THREADS - 1)}


def test_batch_lets_one_of_racing_deletes_win(db_path):
    """Of many callers consuming the same row, exactly one removes it."""
    batch.write(_otp("once"))
    consume = lambda: OTP.delete().where(OTP.digest == "once").execute()  # noqa: E731
    outcomes = _in_threads([consume] * THREADS)
    assert sorted(value for _, value in outcomes) == [0] * (THREADS - 1) + [1]
    assert _digests(db_path) == set()
