"""Engines and sessions. Write transactions are serialised per user where the invariants need it:

- SQLite: WAL, a busy timeout, foreign keys on, and every transaction of the write engine begins with
  BEGIN IMMEDIATE (pysqlite's deferred BEGIN lets two read-then-write transactions interleave).
  SQLite has one writer per file, so the process queues its writers on one asyncio lock
  (`Database.write`, `Database.run_write`) instead of letting them meet in SQLite's busy handler,
  which sleeps its thread in 1..100 ms steps long after the lock is free again.
- PostgreSQL (asyncpg): the queries lock the user's row (SELECT ... FOR UPDATE) before reading sums.

`run_write(fn)` is the engine's hot path: `fn(connection)` issues Core statements (db.bulk's multi-row
batches) in one transaction. On SQLite it runs in a dedicated writer thread on a synchronous pysqlite
connection, so a whole transaction costs one hop between the event loop and a thread instead of one
per statement; on PostgreSQL it runs through `AsyncConnection.run_sync`.

A write session cancelled in the middle of a statement (the engine cancels its ticks at shutdown,
APScheduler too, a stop cancels the retry of an earlier one) frees the writer only once its connection
has settled: SQLAlchemy invalidates a connection cut off mid-statement and queues its close behind the
statement, and on SQLite that connection holds the file's write lock until the close has run. Freed
earlier, the next writer met that lock in SQLite's busy handler (and a connection dropped unclosed
keeps it until the garbage collector finds it: "database is locked" 30 s later). The normal path pays
nothing for this: only a session that ends in an exception waits for its connection's queue.

Reads go through their own engine on SQLite, with `PRAGMA query_only`: a write there would take the
file's write lock outside the writer queue.

WAL checkpoints (copying the log back into the database file) run in a thread of their own on its own
connection, beside the writer: SQLite would otherwise run them inside the commit that crosses
`wal_autocheckpoint`, and every transaction queued behind it would wait. The writer keeps a far larger
automatic checkpoint as a backstop, should the checkpoint thread ever fall behind.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
import weakref
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from sqlalchemy import Connection, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

SQLITE_BUSY_TIMEOUT_MS = 30_000
DISPOSE_TIMEOUT = 5.0
# page cache of the writer thread's connection: the engine's inserts and updates touch index pages all
# over a growing file; SQLite's default 2 MB makes them re-read pages from the OS on most rows
WRITER_CACHE_KIB = 128 * 1024
CHECKPOINT_EVERY = 0.5  # seconds between the checkpoint thread's passes
WRITER_AUTOCHECKPOINT = 16_384  # pages (64 MB of log): the writer's own checkpoint, a backstop
T = TypeVar("T")
# the driver connections the write sessions of the current task began on (Database.write)
_BEGUN_ON: ContextVar[list[Any] | None] = ContextVar("begun_on", default=None)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_engine(url: str, *, begin: str, query_only: bool = False) -> AsyncEngine:
    engine = create_async_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        pool_size=8,
        max_overflow=8,
        pool_timeout=120,
    )
    # the write sessions' engine tells Database.write which connection a session began on
    _sqlite_setup(engine.sync_engine, begin=begin, query_only=query_only, track=begin == "BEGIN IMMEDIATE")
    return engine


def _sqlite_writer_engine(url: str) -> Engine:
    """The synchronous pysqlite engine of the writer thread (one connection, that thread's only)."""
    sync_url = make_url(url).set(drivername="sqlite")
    engine = create_sync_engine(
        sync_url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        pool_size=1,
        max_overflow=0,
    )
    _sqlite_setup(
        engine, begin="BEGIN IMMEDIATE", cache_kib=WRITER_CACHE_KIB, autocheckpoint=WRITER_AUTOCHECKPOINT
    )
    return engine


def _sqlite_setup(
    engine: Engine,
    *,
    begin: str,
    cache_kib: int = 2_000,
    autocheckpoint: int | None = None,
    query_only: bool = False,
    track: bool = False,
) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA cache_size=-{cache_kib}")
        # statement journals (a multi-row statement's undo, kept until it ends) in memory, not a temp file
        cursor.execute("PRAGMA temp_store=MEMORY")
        if autocheckpoint is not None:
            cursor.execute(f"PRAGMA wal_autocheckpoint={autocheckpoint}")
        if query_only:
            cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        begun_on = _BEGUN_ON.get() if track else None
        if begun_on is not None:
            begun_on.append(connection.connection.driver_connection)
        connection.exec_driver_sql(begin)


def create_engine(url: str, *, write: bool = True) -> AsyncEngine:
    """An engine for `url`; on SQLite `write=True` makes every transaction BEGIN IMMEDIATE."""
    if is_sqlite(url):
        return _sqlite_engine(url, begin="BEGIN IMMEDIATE" if write else "BEGIN", query_only=not write)
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
        # per event loop (a lock is bound to the loop it first waited in; tests run several loops)
        self._writer_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self._writer_engine: Engine | None = None
        self._writer_thread: _WriterThread | None = None
        self._checkpointer: _Checkpointer | None = None

    @asynccontextmanager
    async def _writer(self) -> AsyncIterator[None]:
        """SQLite: this process's one writer at a time (a write must not wait for another inside it)."""
        if not self.is_sqlite:
            yield
            return
        loop = asyncio.get_running_loop()
        lock = self._writer_locks.get(loop)
        if lock is None:
            lock = self._writer_locks[loop] = asyncio.Lock()
        async with lock:
            yield

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """One write transaction: committed on success, rolled back on any exception."""
        async with self._writer():
            session = self._write()
            # the connection its BEGIN ran on (_sqlite_setup), to see it settle. Set, not reset with a
            # token: a tick's write may begin in one task and end in another (bot/scheduler.py)
            drivers: list[Any] = []
            _BEGUN_ON.set(drivers)
            try:
                yield session
                await session.commit()
            except BaseException:
                await _to_the_end(_abandon(session, drivers[0] if drivers else None))
                raise
            else:
                await session.close()
            finally:
                _BEGUN_ON.set(None)

    async def run_write(self, fn: Callable[[Connection], T]) -> T:
        """`fn(connection)` in one write transaction (committed when it returns, rolled back when it
        raises); see the module docstring. Once started it is not abandoned: a cancelled caller
        waits for the transaction's end, so the caller's in-memory state can follow its outcome."""
        async with self._writer():
            if not self.is_sqlite:
                async with self.engine.begin() as connection:
                    return await connection.run_sync(fn)
            if self._writer_engine is None or self._writer_thread is None:
                self._writer_engine = _sqlite_writer_engine(self.url)
                self._writer_thread = _WriterThread()
                path = make_url(self.url).database
                if path and path != ":memory:" and not path.startswith("file:"):
                    self._checkpointer = _Checkpointer(path)
            future = asyncio.wrap_future(self._writer_thread.submit(_transaction, self._writer_engine, fn))
            # a cancelled caller holds the writer until the transaction, which runs on, has ended
            return await _to_the_end(future)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._read() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()
        if self._checkpointer is not None:
            checkpointer, self._checkpointer = self._checkpointer, None
            await asyncio.to_thread(checkpointer.stop)
        if self._writer_thread is not None and self._writer_engine is not None:
            engine, thread = self._writer_engine, self._writer_thread
            self._writer_engine = self._writer_thread = None
            try:  # a transaction stuck behind a lock is not waited for (SQLite rolls it back)
                await asyncio.wait_for(asyncio.wrap_future(thread.submit(engine.dispose)), DISPOSE_TIMEOUT)
            except TimeoutError:
                pass
            thread.stop()


async def _to_the_end(awaitable: Any) -> Any:
    """Await `awaitable` to its end even when the caller is cancelled meanwhile; then the cancellation
    is raised (the caller is not cut off from what it started)."""
    task = asyncio.ensure_future(awaitable)
    cancelled = False
    while True:
        try:
            result = await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.done():  # it ended (or was itself cancelled) as the cancellation came
                raise
            cancelled = True
            continue
        if cancelled:
            raise asyncio.CancelledError()
        return result


async def _abandon(session: AsyncSession, driver: Any) -> None:
    """Roll back and close `session`, then wait until its aiosqlite connection (`driver`) has run all it
    was given: the statement a cancel cut off, the rollback, the close of an invalidated connection."""
    try:
        try:
            await session.rollback()
        finally:
            await session.close()
    finally:
        if driver is not None:
            await _settled(driver)


async def _settled(driver: Any) -> None:
    """Once this returns, an aiosqlite connection has run everything queued before (its worker thread
    runs its queue in order), or it is closed and its thread has ended."""
    try:
        await driver.execute("SELECT 1")
    except ValueError:  # closed ("no active connection"): its thread ends after the close
        thread = getattr(driver, "_thread", None)
        if thread is not None and thread.is_alive():
            await asyncio.to_thread(thread.join, DISPOSE_TIMEOUT)
    except sqlite3.Error:
        pass


class _WriterThread:
    """The SQLite writer thread: runs what it is given, one at a time. A daemon thread: the process
    never waits for it at exit (ThreadPoolExecutor would, for a transaction stuck behind a lock)."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]] | None] = (
            queue.SimpleQueue()
        )
        threading.Thread(target=self._run, name="db-writer", daemon=True).start()

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        future: Future[T] = Future()
        self._queue.put((future, fn, args))
        return future

    def stop(self) -> None:
        self._queue.put(None)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            future, fn, args = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # handed to the awaiting coroutine
                future.set_exception(exc)


class _Checkpointer:
    """Checkpoints the WAL of one SQLite file every CHECKPOINT_EVERY seconds, in its own daemon thread
    on its own connection (PASSIVE: it never waits for the writer or the readers, and copies what it
    can). SQLite runs the checkpoint without holding the GIL, so it takes the other core."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._stopped = threading.Event()
        self.passes = 0  # checkpoints run (for the tests)
        self._thread = threading.Thread(target=self._run, name="db-checkpoint", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(DISPOSE_TIMEOUT)

    def _run(self) -> None:
        connection = sqlite3.connect(self._path, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        try:
            while not self._stopped.wait(CHECKPOINT_EVERY):
                try:
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:  # busy, or the file is gone: the next pass tries again
                    continue
                self.passes += 1
        finally:
            connection.close()


def _transaction(engine: Engine, fn: Callable[[Connection], T]) -> T:
    with engine.begin() as connection:
        return fn(connection)
