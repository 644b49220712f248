"""Bulk row writes for the hot paths: the matcher's records of settled trades and the order desk's placements.

Django's `bulk_create` and `bulk_update` prepare every value through the field machinery, and a multi-row
statement with a parameter per value makes the PostgreSQL driver quote each one into a query string as long as the
rows (its client-side binding), which costs more than the database's own work. Here every write is one short
statement, however many rows it carries:
- PostgreSQL: inserts are a COPY, updates take each column as a single array parameter and `unnest` them;
- SQLite runs the one-row statement for every row in its driver's C loop (`executemany`).
Values must be what the database stores: a foreign key's id, a datetime prepared with the field's
`get_db_prep_value` (see `db_now`).
"""

from __future__ import annotations

from functools import lru_cache

from django.db import connection
from django.db.models import Model
from django.utils import timezone


def _columns(model: type[Model], fields: list[str]) -> tuple[str, list[str], list[str]]:
    return _columns_of(model, tuple(fields), connection.vendor)


@lru_cache(maxsize=256)
def _columns_of(model: type[Model], fields: tuple[str, ...], vendor: str) -> tuple[str, list[str], list[str]]:
    """The table, quoted columns and column types of `fields` (a function of the model and the database's kind)."""
    meta, quote = model._meta, connection.ops.quote_name
    chosen = [meta.get_field(name) for name in fields]
    return (quote(meta.db_table), [quote(f.column) for f in chosen],
            [f.db_type(connection) for f in chosen])


def db_now(model: type[Model], field: str = "created_at", now=None):
    """The current time (or `now`) as `model.field` stores it: one value for a whole batch of rows."""
    return model._meta.get_field(field).get_db_prep_value(now or timezone.now(), connection)


def insert_rows(model: type[Model], fields: list[str], rows: list[tuple], *, ids: bool = False) -> list[int]:
    """Insert `rows` (values in the order of `fields`); with `ids`, returns the new rows' ids in the same order.

    PostgreSQL: COPY (its rows are parsed by the server, not planned one by one), with the ids, when wanted,
    drawn from the table's sequence first. SQLite: the driver's loop, one statement per row."""
    if not rows:
        return []
    table, columns, _ = _columns(model, fields)
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            new_ids: list[int] = []
            if ids:
                cur.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                            [model._meta.db_table, len(rows)])
                new_ids = [row[0] for row in cur.fetchall()]
                columns = ["id", *columns]
                rows = [(pk, *row) for pk, row in zip(new_ids, rows)]
            with connection.wrap_database_errors:  # a COPY's errors are psycopg's own otherwise
                with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            return new_ids
        statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
        if not ids:
            cur.executemany(statement, rows)
            return []
        new_ids = []
        for row in rows:
            cur.execute(statement, row)
            new_ids.append(cur.lastrowid)
        return new_ids


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


def insert_objects(objs: list[Model]) -> None:
    """Insert new instances of one model with `insert_rows` and give them their ids. Fields that set themselves on
    insert (`auto_now_add`) get one time for the lot; every other value must already be what the database stores
    (numbers, strings, booleans, bytes, foreign keys by id), as it is on instances built for a hot path."""
    if not objs:
        return
    meta = objs[0]._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    now = timezone.now()
    stamped = [f for f in fields if getattr(f, "auto_now_add", False) or getattr(f, "auto_now", False)]
    for obj in objs:
        for f in stamped:
            setattr(obj, f.attname, now)
    prepared = {f.attname: db_now(type(objs[0]), f.name, now) for f in stamped}
    rows = [tuple(prepared[f.attname] if f.attname in prepared else getattr(obj, f.attname) for f in fields)
            for obj in objs]
    ids = insert_rows(type(objs[0]), [f.name for f in fields], rows, ids=True)
    for obj, pk in zip(objs, ids, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = connection.alias
