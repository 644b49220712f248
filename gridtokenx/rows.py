"""Bulk row writes for the hot paths: the matcher's records of settled trades and the order desk's placements.

Django's `bulk_create` and `bulk_update` prepare every value through the field machinery, and a multi-row
statement with a parameter per value makes the PostgreSQL driver quote each one into a query string as long as the
rows (its client-side binding), which costs more than the database's own work. Here every write is one short
statement, however many rows it carries:
- PostgreSQL takes each column as a single array parameter and `unnest`s them into rows;
- SQLite runs the one-row statement for every row in its driver's C loop (`executemany`).
Values must be what the database stores: a foreign key's id, a datetime prepared with the field's
`get_db_prep_value` (see `db_now`).
"""

from __future__ import annotations

from django.db import connection
from django.db.models import Model
from django.utils import timezone

SQLITE_IN_CHUNK = 900  # keys per `IN (...)` on SQLite, well under its limit of bound parameters


def _columns(model: type[Model], fields: list[str]) -> tuple[str, list[str], list[str]]:
    meta, quote = model._meta, connection.ops.quote_name
    chosen = [meta.get_field(name) for name in fields]
    return (quote(meta.db_table), [quote(f.column) for f in chosen],
            [f.db_type(connection) for f in chosen])


def db_now(model: type[Model], field: str = "created_at", now=None):
    """The current time (or `now`) as `model.field` stores it: one value for a whole batch of rows."""
    return model._meta.get_field(field).get_db_prep_value(now or timezone.now(), connection)


def insert_rows(model: type[Model], fields: list[str], rows: list[tuple], *, key: str | None = None) -> dict:
    """Insert `rows` (values in the order of `fields`). With `key` (a unique field among `fields`), returns
    {that value: the new row's id}; otherwise {}."""
    if not rows:
        return {}
    table, columns, types = _columns(model, fields)
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            arrays = ", ".join(f"%s::{t}[]" for t in types)
            returning = f" RETURNING {connection.ops.quote_name(key)}, id" if key else ""
            cur.execute(f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({arrays}){returning}",
                        [list(column) for column in zip(*rows)])
            return dict(cur.fetchall()) if key else {}
        cur.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})",
                        rows)
        if not key:
            return {}
        at = fields.index(key)
        keys = [row[at] for row in rows]
        ids = {}
        for start in range(0, len(keys), SQLITE_IN_CHUNK):
            part = keys[start:start + SQLITE_IN_CHUNK]
            cur.execute(f"SELECT {connection.ops.quote_name(key)}, id FROM {table} WHERE "
                        f"{connection.ops.quote_name(key)} IN ({', '.join(['%s'] * len(part))})", part)
            ids.update(cur.fetchall())
        return ids


def update_rows(model: type[Model], fields: list[str], rows: list[tuple]) -> None:
    """Set `fields` of many rows by id: each row is (id, values in the order of `fields`)."""
    if not rows:
        return
    table, columns, types = _columns(model, fields)
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            names = [f"c{i}" for i in range(len(columns))]
            arrays = ", ".join(f"%s::{t}[]" for t in ["bigint", *types])
            cur.execute(f"UPDATE {table} SET {', '.join(f'{c} = v.{n}' for c, n in zip(columns, names))} "
                        f"FROM unnest({arrays}) AS v(id, {', '.join(names)}) WHERE {table}.id = v.id",
                        [list(column) for column in zip(*rows)])
            return
        cur.executemany(f"UPDATE {table} SET {', '.join(f'{c} = %s' for c in columns)} WHERE id = %s",
                        [(*row[1:], row[0]) for row in rows])
