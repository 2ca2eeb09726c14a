"""Group commit: the small writes of many requests in one transaction, one fsync.

With synchronous=FULL every SQLite commit waits for the disk, one writer at
a time, and a writer that finds the database locked sleeps in SQLite's busy
handler (up to 100 ms a nap). The write path of OTP creds and verify was a
queue of such commits. Here the writes of a process queue up; the caller at
the head of the queue becomes the leader: it takes every write waiting, runs
each in one transaction on its own connection, commits once, answers each
caller, and hands the head of the queue to the next waiting caller. What a
client is told was stored is on disk, exactly as before, and no extra thread
stands between a request and its commit (a lone request commits its own
write). The leaders of several worker processes take turns through a lock
file next to the database, so they queue in the kernel instead of napping
in the busy handler.
"""

import fcntl
import itertools
import logging
import os
import threading
from collections import deque

from openvault.storage import cache
from openvault.storage.db import database
from openvault.storage.db import is_sqlite
from openvault.storage.db import write_transaction

logger = logging.getLogger(__name__)

# Jobs per transaction: enough to absorb a burst, few enough that a
# transaction stays short for the other processes.
MAX_BATCH = 128


class _Job:
    __slots__ = ("fn", "wake", "done", "result", "error")

    def __init__(self, fn, lock):
        self.fn = fn
        self.wake = threading.Condition(lock)
        self.done = False
        self.result = None
        self.error = None


class GroupCommit:
    """Writes of one process, committed together by whichever caller leads."""

    def __init__(self):
        self._reset()
        # A forked worker starts with its own, empty queue and lock file.
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self):
        self._lock = threading.Lock()
        self._queue = deque()
        self._lock_fd = None

    def run(self, fn):
        """Run fn() in a write transaction, durably committed before returning.

        fn may run on another request's thread and connection, and must do
        database work only (it may be run twice): what it raises is raised
        here, with its writes undone and the other jobs of its batch
        unaffected.
        """
        if not is_sqlite() or database.in_transaction():
            # Nothing to batch with, or the caller's transaction must hold it.
            with write_transaction():
                return fn()
        with self._lock:
            job = _Job(fn, self._lock)
            self._queue.append(job)
            while not job.done and self._queue[0] is not job:
                job.wake.wait()
            # At the head and not done: lead this caller's write and those
            # queued behind it.
            jobs = None if job.done else list(itertools.islice(self._queue, MAX_BATCH))
        if jobs:
            self._lead(jobs)
        # Written on another connection, or in a transaction of the
        # caller's own: its pinned view of the configuration may be older
        # than what it just wrote.
        cache.unpin()
        if job.error is not None:
            raise job.error
        return job.result

    def _lead(self, jobs):
        try:
            self._commit(jobs)
        except BaseException as exc:
            # Interrupted (the worker is stopping): no caller waits forever.
            for job in jobs:
                if job.error is None:
                    job.error = exc
            raise
        finally:
            with self._lock:
                for job in jobs:
                    self._queue.popleft()
                    job.done = True
                    job.wake.notify()
                if self._queue:
                    # The next caller in line leads the writes queued meanwhile.
                    self._queue[0].wake.notify()

    def _commit(self, jobs):
        # Optimistic first: no savepoints, which cost two statements a job.
        # A failing job undoes the whole batch, which is then run again with
        # a savepoint per job; jobs are database work only, safe to repeat.
        try:
            with self._process_turn(), write_transaction():
                for job in jobs:
                    job.result = job.fn()
        except Exception:
            self._commit_each(jobs)

    def _commit_each(self, jobs):
        try:
            with self._process_turn(), write_transaction():
                for job in jobs:
                    try:
                        with database.atomic():
                            job.result = job.fn()
                    except Exception as exc:
                        job.error = exc
        except Exception as exc:
            # The commit itself failed: nothing of this batch was stored.
            logger.error("group commit of %d writes failed: %s", len(jobs), exc)
            for job in jobs:
                if job.error is None:
                    job.error = exc

    def _process_turn(self):
        if self._lock_fd is None:
            path = database.obj.database
            if path == ":memory:" or not path:
                return _NoLock()
            self._lock_fd = os.open(
                path + "-writer.lock", os.O_RDWR | os.O_CREAT, 0o600
            )
        return _FileLock(self._lock_fd)


class _FileLock:
    def __init__(self, fd):
        self.fd = fd

    def __enter__(self):
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *exc):
        fcntl.flock(self.fd, fcntl.LOCK_UN)


class _NoLock:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return None


_writer = GroupCommit()


def write(fn):
    """Run fn() in a write transaction shared with other requests; return its result."""
    return _writer.run(fn)
