"""The database connection: opened from a URL, one connection per thread."""

import logging
import os
from urllib.parse import urlparse

import peewee
from playhouse.db_url import connect

logger = logging.getLogger(__name__)

database = peewee.DatabaseProxy()

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    # FULL: a lease or OTP acknowledged to a client survives a power cut.
    "synchronous": "full",
    "busy_timeout": 10000,
    "foreign_keys": 1,
}


class StorageError(Exception):
    """The storage cannot be opened; the message says where and why."""


def open_database(url):
    """Bind the models to the database at `url` (sqlite:///path or postgresql://)."""
    scheme = urlparse(url).scheme
    if scheme == "sqlite":
        path = url[len("sqlite:///") :] if url.startswith("sqlite:///") else url[9:]
        _check_sqlite_directory(path)
        db = peewee.SqliteDatabase(path, pragmas=SQLITE_PRAGMAS, timeout=10)
    elif scheme in ("postgres", "postgresql"):
        db = connect(url)
    else:
        raise ValueError(
            f"storage URL must start with sqlite:/// or postgresql://, got {scheme}://"
        )
    database.initialize(db)
    # peewee logs every SQL statement with its parameters at DEBUG, secrets
    # included; keep it quiet unless a developer turns it on on purpose.
    logging.getLogger("peewee").setLevel(logging.INFO)
    return db


def _check_sqlite_directory(path):
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise StorageError(
            f"storage path {path}: directory {directory} does not exist; create it"
            " (writable by the server only) or point 'path' elsewhere"
        )
    if not os.access(directory, os.W_OK | os.X_OK):
        raise StorageError(
            f"storage path {path}: directory {directory} is not writable"
        )


def connect_thread():
    """Make sure this thread has an open connection."""
    database.connect(reuse_if_open=True)


def close_thread():
    """Close this thread's connection, if any."""
    if not database.is_closed():
        database.close()


def write_transaction():
    """Start a transaction that takes the write lock at once on SQLite.

    A deferred SQLite transaction that reads before it writes can fail with
    'database is locked' when another writer got there first; taking the lock
    up front makes concurrent writers queue behind the busy timeout instead.
    """
    if isinstance(database.obj, peewee.SqliteDatabase):
        return database.atomic(lock_type="IMMEDIATE")
    return database.atomic()


def is_sqlite():
    """Tell whether the bound database is SQLite."""
    return isinstance(database.obj, peewee.SqliteDatabase)
