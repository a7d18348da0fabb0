"""Executemany of plain rows, for the engine's hot path (inside `Database.run_write`).

On SQLite a statement is compiled once per (table, columns) and the rows go to the DBAPI cursor's
executemany as tuples, each value passed through its column type's own bind processor: SQLAlchemy's
per-row bookkeeping costs several times SQLite's own work there. On other databases it is Core's
executemany. The column defaults Core would apply are filled in here (scalar and Python defaults of
omitted columns on INSERT, `onupdate` on UPDATE: updated_at), so both paths write the same rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, and_, bindparam, insert, update
from sqlalchemy.exc import DBAPIError

_Compiled = tuple[str, list[str], list[Any]]  # SQL, parameter names in order, their processors
_CACHE: dict[tuple[Any, ...], _Compiled] = {}


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
    if connection.dialect.name != "sqlite":
        if or_ignore:
            raise ValueError("or_ignore is for SQLite")
        return connection.execute(insert(table), [{**row, **extra} for row in rows]).rowcount
    sql, order, processors = _compiled(connection, ("insert", table, tuple(names), or_ignore), table, names)
    return _executemany(connection, sql, order, processors, rows, extra)


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
    if connection.dialect.name != "sqlite":
        condition = and_(*(table.c[column] == bindparam(param) for param, column in where.items()))
        return connection.execute(update(table).where(condition), [{**row, **extra} for row in rows]).rowcount
    columns = sets + list(extra)
    key = ("update", table, tuple(columns), tuple(where.items()))
    sql, order, processors = _compiled(connection, key, table, columns, where)
    return _executemany(connection, sql, order, processors, rows, extra)


def _default(default: Any) -> Any:
    if default.is_scalar:
        return default.arg
    if default.is_callable:
        return default.arg(None)  # SQLAlchemy wraps a no-argument callable into one taking a context
    raise ValueError(f"cannot apply the default {default!r} outside Core")


def _compiled(
    connection: Connection,
    key: tuple[Any, ...],
    table: Table,
    columns: Sequence[str],
    where: Mapping[str, str] | None = None,
) -> _Compiled:
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    dialect = connection.dialect
    values = {name: bindparam(name, type_=table.c[name].type) for name in columns}
    types = {name: table.c[name].type for name in columns}
    if where is None:
        statement: Any = insert(table).values(values)
        if key[3]:
            statement = statement.prefix_with("OR IGNORE")
    else:
        condition = and_(
            *(
                table.c[column] == bindparam(param, type_=table.c[column].type)
                for param, column in where.items()
            )
        )
        statement = update(table).where(condition).values(values)
        types.update({param: table.c[column].type for param, column in where.items()})
    compiled = statement.compile(dialect=dialect)
    order = list(compiled.positiontup or ())
    # as Core does (through the dialect's impl: TypeDecorator.load_dialect_impl, e.g. money as text on SQLite)
    processors = [types[name]._cached_bind_processor(dialect) for name in order]
    _CACHE[key] = (compiled.string, order, processors)
    return _CACHE[key]


def _executemany(
    connection: Connection,
    sql: str,
    order: list[str],
    processors: list[Any],
    rows: Sequence[Mapping[str, Any]],
    extra: Mapping[str, Any],
) -> int:
    steps = list(zip(order, processors, strict=True))
    params = []
    for row in rows:
        values = []
        for name, process in steps:
            value = row[name] if name in row else extra[name]
            values.append(process(value) if process is not None and value is not None else value)
        params.append(values)
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    dbapi = connection.dialect.loaded_dbapi
    try:
        cursor.executemany(sql, params)
        return int(cursor.rowcount)
    except dbapi.Error as exc:  # as SQLAlchemy raises it (sqlalchemy.exc.IntegrityError, ...)
        raise DBAPIError.instance(sql, params, exc, dbapi.Error) from exc
    finally:
        cursor.close()
