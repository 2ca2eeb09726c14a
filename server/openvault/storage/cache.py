"""Per-process caches of rarely changed data: mounts, roles, policies.

SQLite triggers (installed with the schema) bump the counter row
`meta.config_generation` in the same transaction as any insert, update or
delete on the watched tables, whatever process or code path makes it. Every
cached read first reads that row (one primary-key lookup, no query building);
when it has moved, this process drops all its entries. So a change committed
by one worker is seen by the very next read in every other worker.

A request pins the generation it read first (`pin`) and its later reads
reuse it, unless this thread's connection has written since: then they read
the row again, so a request sees its own changes.

Entries hold plain data, never model instances, so a handler that changes
the object it was given cannot change the cache. Reads inside a transaction
bypass the cache: what they see may still be rolled back.
"""

import threading

from openvault.storage.db import database
from openvault.storage.db import is_sqlite

KEY = "config_generation"
WATCHED = ("mount", "role", "role_block", "policy")

_lock = threading.Lock()
_generation = None
_entries = {}
_pinned = threading.local()


def install():
    """Create the counter row and the triggers that bump it (SQLite only).

    Limitation: on PostgreSQL there are no triggers yet, so nothing is cached
    and every read goes to the database.
    """
    if not is_sqlite():
        return
    database.execute_sql(
        "INSERT OR IGNORE INTO meta (key, value) VALUES (?, '0')", (KEY,)
    )
    for table in WATCHED:
        for event in ("INSERT", "UPDATE", "DELETE"):
            database.execute_sql(
                f'CREATE TRIGGER IF NOT EXISTS "{table}_{event.lower()}_generation"'
                f' AFTER {event} ON "{table}" BEGIN'
                f" UPDATE meta SET value = CAST(value AS INTEGER) + 1"
                f" WHERE key = '{KEY}'; END"
            )


def current():
    """Return the stored generation, or None when it cannot be relied on."""
    if not is_sqlite():
        return None
    row = database.execute_sql(
        "SELECT value FROM meta WHERE key = ?", (KEY,)
    ).fetchone()
    return row[0] if row else None


def pin():
    """Start a request on this thread: its first cached read reads the
    generation, its later ones reuse that."""
    _pinned.active = True
    _pinned.generation = None


def unpin():
    """End the pin: from now on every cached read reads the generation."""
    _pinned.active = False
    _pinned.generation = None


def _changes():
    # Rows this thread's connection has written so far, triggers included.
    return database.connection().total_changes if is_sqlite() else 0


def _request_generation():
    if not getattr(_pinned, "active", False):
        return current()
    changes = _changes()
    if _pinned.generation is None or _pinned.changes != changes:
        _pinned.generation = current()
        _pinned.changes = changes
    return _pinned.generation


def cached(kind, key, load):
    """Return load() for (kind, key), reused while no watched table has changed."""
    if database.in_transaction():
        return load()
    generation = _request_generation()
    if generation is None:
        return load()
    entries = _entries_at(generation)
    try:
        return entries[(kind, key)]
    except KeyError:
        pass
    # Loaded after the generation was read, so at least as new as it: a
    # change committed in between only makes the next read reload.
    value = load()
    entries[(kind, key)] = value
    return value


def _entries_at(generation):
    global _generation, _entries
    with _lock:
        if generation != _generation:
            _generation = generation
            _entries = {}
        return _entries


def clear():
    """Drop every entry of this process."""
    global _generation, _entries
    with _lock:
        _generation = None
        _entries = {}


def instance(model, data):
    """Return a fresh model instance of cached row data, as if just loaded."""
    # Filling __data__ at once skips a field accessor call per column; the
    # models given here have no foreign keys, whose accessors would matter.
    row = model(__no_default__=True)
    row.__data__ = dict(data)
    return row
