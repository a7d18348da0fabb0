"""Many rows in few statements, for the engine's hot path (inside `Database.run_write`).

The rows go in multi-row statements, `INSERT INTO t (...) VALUES (...), (...), ...` and
`WITH v(...) AS (VALUES (...), ...) UPDATE t SET ... FROM v WHERE ...`, a few hundred rows each, with
every value passed through its column type's own bind processor (as Core does). On SQLite a DBAPI
executemany steps SQLite once per row and gives up and takes back the GIL each time, which under a
busy event loop costs far more than SQLite's own work; on PostgreSQL (asyncpg) Core's executemany
runs the statement once per row on the server. The UPDATE's VALUES are cast to their columns' types
there (a bare parameter in VALUES would be text). The column defaults Core would apply are filled in
here (scalar and Python defaults of omitted columns on INSERT, `onupdate` on UPDATE: updated_at), so
these statements write the rows Core writes (tests/test_db.py compares them).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any, TypeVar

from sqlalchemy import Column, ColumnElement, Connection, Table, func, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import DBAPIError

from db.types import ExactDecimal

T = TypeVar("T")

MAX_VARIABLES = 32_000  # SQLite's limit is 32,766 host parameters per statement (3.32+)
MAX_ROWS = 500  # rows per statement
IN_CHUNK = 500  # values per "IN (...)" of the queries that look many rows up at once


def in_chunks(values: Sequence[T]) -> Iterator[Sequence[T]]:
    """`values` in chunks of IN_CHUNK, one "IN (...)" each."""
    for k in range(0, len(values), IN_CHUNK):
        yield values[k : k + IN_CHUNK]


def insert_rows(
    connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]], *, or_ignore: bool = False
) -> int:
    """INSERT every row; returns how many were inserted. `or_ignore` (SQLite only): rows that break a
    UNIQUE constraint are skipped instead of failing."""
    groups: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row), []).append(row)
    return sum(_insert_group(connection, table, group, or_ignore) for group in groups.values())


def _insert_group(
    connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]], or_ignore: bool
) -> int:
    keys = list(rows[0])
    extra = {
        c.name: _default(c.default)
        for c in table.columns
        if c.name not in rows[0] and c.default is not None and not c.primary_key
    }
    names = keys + list(extra)
    if or_ignore and connection.dialect.name != "sqlite":
        raise ValueError("or_ignore is for SQLite")
    prefix = "INSERT OR IGNORE" if or_ignore else "INSERT"
    quote = connection.dialect.identifier_preparer.quote
    head = f"{prefix} INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) VALUES "
    return _many(connection, table, names, names, rows, extra, lambda values: head + values)


def ids_where(
    connection: Connection, id_column: Column[Any], condition: ColumnElement[bool], ids: Iterable[int]
) -> set[int]:
    """The ids among `ids` whose rows meet `condition`. On SQLite each chunk's answer comes as one JSON
    array: a row-by-row fetch steps SQLite once per row, and the writer thread gives up and takes back
    the GIL at every step."""
    found: set[int] = set()
    for chunk in in_chunks(sorted(set(ids))):
        where = (id_column.in_(chunk), condition)
        if connection.dialect.name == "sqlite":
            found.update(
                json.loads(
                    connection.execute(select(func.json_group_array(id_column)).where(*where)).scalar_one()
                )
            )
        else:
            found.update(connection.execute(select(id_column).where(*where)).scalars())
    return found


def update_rows_where(
    connection: Connection, table: Table, where: Mapping[str, str], rows: Sequence[Mapping[str, Any]]
) -> int:
    """UPDATE `table` SET <the row's other keys> WHERE column = row[param] for each (param, column)
    of `where` (e.g. {"_id": "id"}), every row with the same keys; returns the rows changed."""
    if not rows:
        return 0
    sets = [k for k in rows[0] if k not in where]
    extra = {
        c.name: _default(c.onupdate) for c in table.columns if c.onupdate is not None and c.name not in sets
    }
    columns = sets + list(extra)
    params = list(where) + columns
    types = [where[p] for p in where] + columns  # the column whose type each value has
    quote = connection.dialect.identifier_preparer.quote
    names = [f"v{k}" for k in range(len(params))]
    sets_sql = ", ".join(f"{quote(c)} = v.v{len(where) + k}" for k, c in enumerate(columns))
    match = " AND ".join(f"{quote(table.name)}.{quote(where[p])} = v.v{k}" for k, p in enumerate(where))
    unique = list({tuple(row[p] for p in where): row for row in rows}.values())  # the last one wins

    target = f"UPDATE {quote(table.name)} SET {sets_sql} FROM v WHERE {match}"

    def statement(values: str) -> str:
        return f"WITH v({', '.join(names)}) AS (VALUES {values}) {target}"

    return _many(connection, table, params, types, unique, extra, statement, cast=True)


def _processor(type_: Any, dialect: Any) -> Any:
    """The column type's bind processor; on SQLite money's without the TypeDecorator's wrapping and
    naive datetimes through `isoformat` (the same text, checked against Core's in tests/test_db.py)."""
    if dialect.name == "sqlite":
        if isinstance(type_, ExactDecimal):
            return type_.sqlite_text
        impl = type_.dialect_impl(dialect)
        if isinstance(impl, sqlite.DATETIME) and impl._storage_format == _SQLITE_DATETIME_FORMAT:
            return _sqlite_datetime(impl._cached_bind_processor(dialect))
    return type_._cached_bind_processor(dialect)


_SQLITE_DATETIME_FORMAT = sqlite.DATETIME._storage_format  # "YYYY-MM-DD HH:MM:SS.ffffff"


def _sqlite_datetime(core: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """SQLite's DATETIME text of a naive datetime as `isoformat` writes it in C (Core's own `%`
    formatting for anything else)."""

    def process(value: Any) -> Any:
        if type(value) is datetime and value.tzinfo is None:
            return value.isoformat(" ", "microseconds")
        return core(value)

    return process


def _default(default: Any) -> Any:
    if default.is_scalar:
        return default.arg
    if default.is_callable:
        return default.arg(None)  # SQLAlchemy wraps a no-argument callable into one taking a context
    raise ValueError(f"cannot apply the default {default!r} outside Core")


_PROCESSORS: dict[tuple[Any, ...], list[Any]] = {}


def _base_type(type_: Any, dialect: Any) -> str:
    """ "::TYPE" of a column without its length or precision (a cast to VARCHAR(20) would cut a long
    value instead of refusing it; the column itself still checks it)."""
    return "::" + re.sub(r"\(.*\)", "", type_.compile(dialect=dialect)).strip()


def _many(
    connection: Connection,
    table: Table,
    params: Sequence[str],
    columns: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    extra: Mapping[str, Any],
    statement: Any,
    *,
    cast: bool = False,
) -> int:
    """Run `statement(values)` over chunks of `rows`; `params[k]` is the row key of the k-th value of
    a row and `columns[k]` the column whose type binds it. Every row has the same keys, and the names
    that are not among them come from `extra` (the same value for every row, so bound once). `cast`:
    on PostgreSQL each value is cast to its column's type. Returns the rows changed."""
    dialect = connection.dialect
    key = (dialect.name, table, tuple(columns))
    processors = _PROCESSORS.get(key)
    if processors is None:  # as Core binds them (TypeDecorator.load_dialect_impl: money as text here)
        processors = _PROCESSORS[key] = [_processor(table.c[c].type, dialect) for c in columns]
    own = [k for k, name in enumerate(params) if name in rows[0]]
    assert own == list(range(len(own))), "a row's own keys come before the defaults"
    get = itemgetter(*params[: len(own)])
    processed = [(k, processors[k]) for k in own if processors[k] is not None]
    tail = [
        processors[k](extra[name]) if processors[k] is not None and extra[name] is not None else extra[name]
        for k, name in enumerate(params)
        if k >= len(own)
    ]
    width = len(params)
    per_chunk = max(1, min(MAX_ROWS, MAX_VARIABLES // width))

    def chunks() -> Iterator[tuple[int, list[Any]]]:
        for start in range(0, len(rows), per_chunk):
            chunk = rows[start : start + per_chunk]
            values: list[Any] = []
            for row in chunk:
                mine = get(row)
                row_values = list(mine) if len(own) > 1 else [mine]
                for k, process in processed:
                    value = row_values[k]
                    if value is not None:
                        row_values[k] = process(value)
                values += row_values
                values += tail
            yield len(chunk), values

    if dialect.name != "sqlite":  # PostgreSQL: $n parameters, through the connection (its errors)
        types = [_base_type(table.c[c].type, dialect) if cast else "" for c in columns]
        changed = 0
        for count, values in chunks():
            rows_sql = ", ".join(
                "(" + ", ".join(f"${r * width + k + 1}{types[k]}" for k in range(width)) + ")"
                for r in range(count)
            )
            changed += connection.exec_driver_sql(statement(rows_sql), tuple(values)).rowcount
        return changed
    one = "(" + ", ".join("?" * width) + ")"
    raw = connection.connection.driver_connection
    cursor = raw.cursor()  # type: ignore[union-attr]
    dbapi = dialect.loaded_dbapi
    before = raw.total_changes  # type: ignore[union-attr]  # (rowcount is -1 for a WITH ... UPDATE)
    try:
        for count, values in chunks():
            sql = statement(", ".join([one] * count))
            try:
                cursor.execute(sql, values)
            except dbapi.Error as exc:  # as SQLAlchemy raises it (sqlalchemy.exc.IntegrityError, ...)
                raise DBAPIError.instance(sql, values, exc, dbapi.Error) from exc
    finally:
        cursor.close()
    return int(raw.total_changes - before)  # type: ignore[union-attr]
