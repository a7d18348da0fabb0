"""The chat's per-conversation state in this process, bounded: the FSM storage and the per-chat locks.

aiogram's MemoryStorage keeps a record for every (chat, user, thread) it was ever asked about (its dict
makes one on every read: the FSM middleware reads the state of every update), and SimpleEventIsolation a
lock for every key it ever locked ("TODO: Unused locks cleaner is needed" in aiogram's source). Both grow
with everyone who ever wrote to the bot, in any chat. Here a record lives only while it holds a state or
data (a wizard or an edit under way), at most `max_records` of them (the least recently used are
dropped: an abandoned wizard, and any secret in it, does not stay forever), and a lock only while someone
holds it or waits for it.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncGenerator, Mapping
from contextlib import asynccontextmanager
from copy import copy
from typing import Any

from aiogram.exceptions import DataNotDictLikeError
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage, StateType, StorageKey

MAX_RECORDS = 50_000  # conversations under way at once; about 1 KB each


class BoundedMemoryStorage(BaseStorage):
    """In-process FSM storage (as aiogram's MemoryStorage) that forgets a conversation once it is idle."""

    def __init__(self, max_records: int = MAX_RECORDS) -> None:
        self.max_records = max_records
        self._records: OrderedDict[StorageKey, tuple[str | None, dict[str, Any]]] = OrderedDict()

    @property
    def size(self) -> int:
        """Conversations with a state or data (no __len__: aiogram tests a storage for truth)."""
        return len(self._records)

    async def close(self) -> None:
        self._records.clear()

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        self._put(key, state.state if isinstance(state, State) else state, self._record(key)[1])

    async def get_state(self, key: StorageKey) -> str | None:
        return self._record(key)[0]

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        if not isinstance(data, dict):
            msg = f"Data must be a dict or dict-like object, got {type(data).__name__}"
            raise DataNotDictLikeError(msg)
        self._put(key, self._record(key)[0], data.copy())

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        return self._record(key)[1].copy()

    async def get_value(
        self, storage_key: StorageKey, dict_key: str, default: Any | None = None
    ) -> Any | None:
        return copy(self._record(storage_key)[1].get(dict_key, default))

    def _record(self, key: StorageKey) -> tuple[str | None, dict[str, Any]]:
        return self._records.get(key) or (None, {})

    def _put(self, key: StorageKey, state: str | None, data: dict[str, Any]) -> None:
        if state is None and not data:
            self._records.pop(key, None)
            return
        self._records[key] = (state, data)
        self._records.move_to_end(key)
        while len(self._records) > self.max_records:  # the least recently written conversation goes
            self._records.popitem(last=False)


class PerChatIsolation(BaseEventIsolation):
    """One update at a time per key (as aiogram's SimpleEventIsolation), each lock dropped when free."""

    def __init__(self) -> None:
        self._locks: dict[StorageKey, tuple[asyncio.Lock, int]] = {}

    @property
    def size(self) -> int:
        """Keys locked or waited for."""
        return len(self._locks)

    @asynccontextmanager
    async def lock(self, key: StorageKey) -> AsyncGenerator[None, None]:
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    async def close(self) -> None:
        self._locks.clear()
