"""Primary-key reads, existence checks, deletes and plain inserts with SQL built once.

peewee builds and renders a query object for each call; on the hot request
path (the token of every request, the OTP of every verify, the lease and OTP
of every creds) that was about a fifth of the server's CPU. These render
their SQL once per model and reuse it, and hand back model instances just as
peewee's own get_or_none and create do.
"""

from openvault.storage import cache
from openvault.storage.db import database

_select_sql = {}
_exists_sql = {}
_delete_sql = {}
_insert_sql = {}


def _by_key(model, template, store):
    sql = store.get(model)
    if sql is None:
        sql = template.format(
            table=model._meta.table_name,
            key=model._meta.primary_key.column_name,
            param=database.param,
        )
        store[model] = sql
    return sql


def get(model, key):
    """Return the row of `model` whose primary key is `key`, or None."""
    sql = _select_sql.get(model)
    if sql is None:
        sql, _ = model.select().where(model._meta.primary_key == key).sql()
        _select_sql[model] = sql
    cursor = database.execute_sql(sql, (key,))
    row = cursor.fetchone()
    if row is None:
        return None
    columns = model._meta.columns
    data = {}
    for description, value in zip(cursor.description, row, strict=True):
        field = columns[description[0]]
        data[field.name] = None if value is None else field.python_value(value)
    return cache.instance(model, data)


def exists(model, key):
    """Tell whether `model` has a row whose primary key is `key`."""
    sql = _by_key(model, 'SELECT 1 FROM "{table}" WHERE "{key}" = {param}', _exists_sql)
    return database.execute_sql(sql, (key,)).fetchone() is not None


def delete(model, key):
    """Delete the row of `model` whose primary key is `key`; return rows deleted."""
    sql = _by_key(model, 'DELETE FROM "{table}" WHERE "{key}" = {param}', _delete_sql)
    return database.execute_sql(sql, (key,)).rowcount


def insert(model, **values):
    """Insert a row (defaults filled in as by Model.create); return the instance.

    Only for models whose primary key is given, not generated.
    """
    data = model._meta.get_default_dict()
    data.update(values)
    row = model(__no_default__=True)
    row.__data__ = data
    fields = [
        field for field in model._meta.sorted_fields if field.name in row.__data__
    ]
    key = (model, tuple(field.name for field in fields))
    sql = _insert_sql.get(key)
    if sql is None:
        columns = ", ".join(f'"{field.column_name}"' for field in fields)
        marks = ", ".join(database.param for _ in fields)
        sql = f'INSERT INTO "{model._meta.table_name}" ({columns}) VALUES ({marks})'
        _insert_sql[key] = sql
    database.execute_sql(
        sql, tuple(field.db_value(row.__data__[field.name]) for field in fields)
    )
    return row
