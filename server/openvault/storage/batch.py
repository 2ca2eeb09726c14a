"""Group commit: the small writes of many requests in one transaction, one fsync.

With synchronous=FULL every SQLite commit waits for the disk, one writer at
a time, and a writer that finds the database locked sleeps in SQLite's busy
handler (up to 100 ms a nap). The write path of OTP creds and verify was a
queue of such commits. Here one writer thread per process takes every write
job waiting, runs each in a savepoint of its own inside one transaction,
commits once, and only then answers each caller: what a client is told was
stored is on disk, exactly as before. The writer threads of several worker
processes take turns through a lock file next to the database, so they queue
in the kernel instead of napping in the busy handler.
"""

import fcntl
import logging
import os
import threading
from collections import deque

from openvault.storage import cache
from openvault.storage.db import connect_thread
from openvault.storage.db import database
from openvault.storage.db import is_sqlite
from openvault.storage.db import write_transaction

logger = logging.getLogger(__name__)

# Jobs per transaction: enough to absorb a burst, few enough that a
# transaction stays short for the other processes.
MAX_BATCH = 128


class _Job:
    __slots__ = ("fn", "done", "result", "error")

    def __init__(self, fn):
        self.fn = fn
        self.done = threading.Event()
        self.result = None
        self.error = None


class GroupCommit:
    """A writer thread that commits queued jobs together."""

    def __init__(self):
        self._cond = threading.Condition()
        self._queue = deque()
        self._pid = None
        self._lock_fd = None

    def run(self, fn):
        """Run fn() in a write transaction, durably committed before returning.

        fn runs on the writer thread and must do database work only (it may
        be run twice): what it raises is raised here, with its writes undone
        and the other jobs of its batch unaffected.
        """
        if not is_sqlite() or database.in_transaction():
            # Nothing to batch with, or the caller's transaction must hold it.
            with write_transaction():
                return fn()
        job = _Job(fn)
        with self._cond:
            self._ensure_thread()
            self._queue.append(job)
            self._cond.notify()
        job.done.wait()
        # Written on another connection: the caller's pinned view of the
        # configuration may be older than what it just wrote.
        cache.unpin()
        if job.error is not None:
            raise job.error
        return job.result

    def _ensure_thread(self):
        # After a fork (the server's workers) the parent's thread is gone.
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._queue.clear()
            self._lock_fd = None
            threading.Thread(target=self._run, name="group-commit", daemon=True).start()

    def _run(self):
        connect_thread()
        while True:
            with self._cond:
                while not self._queue:
                    self._cond.wait()
                jobs = []
                while self._queue and len(jobs) < MAX_BATCH:
                    jobs.append(self._queue.popleft())
            self._commit(jobs)

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
            return
        for job in jobs:
            job.done.set()

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
        for job in jobs:
            job.done.set()

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
