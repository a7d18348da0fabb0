"""One engine per database: a second `multibot run` on the same database would run every bot a second
time (and two paper venues would match the same orders), so the engine takes an exclusive lock first.

SQLite: an exclusive `flock` on a lock file beside the database file (released by the kernel when the
process dies, SIGKILL included). PostgreSQL: a session advisory lock held on a connection of its own
for the life of the process (a session lock is tied to its connection, so it must be a dedicated one,
never a pooled connection and never through PgBouncer's transaction pooling; it goes when that
connection closes, a killed process's included).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

# pg_try_advisory_lock's key: a fixed 64-bit number that says "the multibot engine"
ENGINE_LOCK_KEY = 0x6D756C7469626F74  # "multibot"


class EngineAlreadyRunning(Exception):
    """Another process runs the engine on this database; the message is one line for the operator."""


class EngineLock:
    """Held from `acquire` to `release` (or the end of the process)."""

    def __init__(self, database_url: str) -> None:
        self.url = make_url(database_url)
        self._file: int | None = None
        self._connection: Any = None

    @property
    def held(self) -> bool:
        return self._file is not None or self._connection is not None

    async def acquire(self) -> None:
        if self.url.get_backend_name() == "sqlite":
            self._lock_file()
        else:
            await self._lock_postgres()

    async def release(self) -> None:
        if self._file is not None:
            os.close(self._file)  # closing the descriptor drops the flock
            self._file = None
        if self._connection is not None:
            try:
                await self._connection.close()
            finally:
                self._connection = None

    def _lock_file(self) -> None:
        database = self.url.database
        if not database or database == ":memory:":
            return
        path = Path(f"{database}.lock")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise EngineAlreadyRunning(
                f"another multibot process (pid {holder}) already runs the engine on {database}; "
                "stop it first"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._file = fd

    async def _lock_postgres(self) -> None:
        import asyncpg

        dsn = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
        connection = await asyncpg.connect(dsn)
        try:
            got = await connection.fetchval("SELECT pg_try_advisory_lock($1)", ENGINE_LOCK_KEY)
        except BaseException:
            await connection.close()
            raise
        if not got:
            await connection.close()
            raise EngineAlreadyRunning(
                f"another multibot process already runs the engine on the database {self.url.database}; "
                "stop it first"
            )
        self._connection = connection
