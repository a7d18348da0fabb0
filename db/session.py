"""Engines and sessions. Write transactions are serialised per user where the invariants need it:

- SQLite: WAL, a busy timeout, foreign keys on, and every transaction of the write engine begins with
  BEGIN IMMEDIATE (pysqlite's deferred BEGIN lets two read-then-write transactions interleave).
- PostgreSQL (asyncpg): the queries lock the user's row (SELECT ... FOR UPDATE) before reading sums.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

SQLITE_BUSY_TIMEOUT_MS = 30_000


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_engine(url: str, *, begin: str) -> AsyncEngine:
    engine = create_async_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        pool_size=8,
        max_overflow=8,
        pool_timeout=120,
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)

    return engine


def create_engine(url: str, *, write: bool = True) -> AsyncEngine:
    """An engine for `url`; on SQLite `write=True` makes every transaction BEGIN IMMEDIATE."""
    if is_sqlite(url):
        return _sqlite_engine(url, begin="BEGIN IMMEDIATE" if write else "BEGIN")
    return create_async_engine(
        url,
        pool_size=10,
        max_overflow=20,
        pool_timeout=120,
        pool_pre_ping=True,
        connect_args={"server_settings": {"timezone": "UTC", "application_name": "multibot"}},
    )


class Database:
    """The write and read session factories of one database URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = is_sqlite(url)
        self.engine = create_engine(url, write=True)
        # On PostgreSQL one engine serves both; on SQLite reads skip the write lock.
        self.read_engine = create_engine(url, write=False) if self.is_sqlite else self.engine
        self._write = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self._read = async_sessionmaker(self.read_engine, expire_on_commit=False, autoflush=False)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """One write transaction: committed on success, rolled back on any exception."""
        async with self._write() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._read() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()
