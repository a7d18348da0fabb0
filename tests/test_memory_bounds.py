"""What used to grow with traffic is bounded (issue 14, item 6): the FSM storage and the per-chat locks keep
only conversations under way, the strategies' figures only the newest ones, and the allocator's free
memory goes back to the system. The whole bot's RSS over 10,000 fuzzed updates: tests/test_chat_fuzz.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiogram.fsm.storage.base import StorageKey

from bot import memory
from bot.chat_state import BoundedMemoryStorage, PerChatIsolation
from bot.sandbox import TelegramEmulator
from bot.services.backtests import Backtests
from bot.services.strategies import StrategyDTO
from engine.trend.strategies import BUILTIN_STRATEGIES
from handlers.bots import EditBot
from tests.test_handlers_e2e import ALICE, App, emu, start_app, stop_app  # noqa: F401


def key(chat: int, user: int | None = None) -> StorageKey:
    return StorageKey(bot_id=1, chat_id=chat, user_id=user or chat)


async def test_a_conversation_is_kept_only_while_it_holds_a_state_or_data() -> None:
    storage = BoundedMemoryStorage()
    for chat in range(1_000):  # the FSM middleware reads every update's state
        assert await storage.get_state(key(chat)) is None and await storage.get_data(key(chat)) == {}
    await storage.set_state(key(1), EditBot.value)
    await storage.set_data(key(1), {"bot_id": 7})
    await storage.set_data(key(2), {"exchange": "bitget"})

    assert storage.size == 2
    assert await storage.get_state(key(1)) == EditBot.value.state
    assert await storage.get_value(key(1), "bot_id") == 7 and await storage.get_value(key(1), "x", 0) == 0
    await storage.set_state(key(1), None)
    assert storage.size == 2  # data left: still under way
    await storage.set_data(key(1), {})
    await storage.set_data(key(2), {})
    assert storage.size == 0


async def test_abandoned_conversations_are_dropped_oldest_first() -> None:
    storage = BoundedMemoryStorage(max_records=3)
    for chat in range(5):
        await storage.set_state(key(chat), EditBot.value)
        await storage.set_data(key(chat), {"bot_id": chat})
    await storage.set_data(key(2), {"bot_id": 22})  # written again: the newest now

    assert storage.size == 3
    assert [await storage.get_value(key(c), "bot_id") for c in range(5)] == [None, None, 22, 3, 4]
    assert await storage.get_state(key(0)) is None  # state and data go together


async def test_a_chat_lock_exists_only_while_held_and_still_serializes() -> None:
    isolation = PerChatIsolation()
    order: list[str] = []

    async def update(name: str, chat: int, hold: float) -> None:
        async with isolation.lock(key(chat)):
            order.append(f"{name} in")
            await asyncio.sleep(hold)
            order.append(f"{name} out")

    first = asyncio.create_task(update("a", 1, 0.05))
    await asyncio.sleep(0)
    await asyncio.gather(first, update("b", 1, 0), update("c", 2, 0))

    assert order.index("a out") < order.index("b in")  # one update at a time in chat 1
    assert order.index("c in") < order.index("a out")  # chat 2 does not wait for chat 1
    assert isolation.size == 0


@pytest.fixture
async def app(emu: TelegramEmulator, db_url: str) -> AsyncIterator[App]:  # noqa: F811
    running = await start_app(emu, db_url)
    yield running
    await stop_app(running)


def records(storage: object) -> int:
    held = getattr(storage, "storage", None)  # aiogram's MemoryStorage: a dict of every key ever read
    return len(held) if held is not None else storage.size  # type: ignore[attr-defined]


def locks(isolation: object) -> int:
    held = getattr(isolation, "_locks", None)
    return len(held) if isinstance(held, dict) else isolation.size  # type: ignore[attr-defined]


async def test_many_chats_leave_no_state_and_no_lock_behind(app: App) -> None:
    """On the old code (MemoryStorage, SimpleEventIsolation) 200 group members and a wizard left 201
    records and 201 locks that no one ever removed."""
    group = -1_001_000_000_001
    app.emu.add_chat(group)
    for member in range(1, 201):
        await app.emu.push_message(8_000 + member, f"gm {member}", chat_id=group)
    wizard = await app.send(ALICE, "/newbot")  # a conversation under way: its record stays
    await app.send(ALICE, "/cancel")  # ... until it ends
    await app.emu.wait_until(lambda: not app.emu.pending_updates())

    assert wizard.buttons and records(app.dp.storage) == 0
    assert locks(app.dp.fsm.events_isolation) == 0


async def test_the_figures_of_only_the_newest_strategies_are_kept() -> None:
    """Every saved strategy with its own parameters added figures that were never dropped."""
    backtests = Backtests(figures_kept=2)
    baseline = BUILTIN_STRATEGIES[0].to_row()["params"]  # EMA 20/50 with ADX: three own copies of it
    strategies = [
        StrategyDTO(
            id=n,
            name=f"ema {n}",
            kind="ema_adx",
            timeframe="1h",
            params={**baseline, "ema_fast": 10 + n},
            description="",
            is_builtin=False,
        )
        for n in range(3)
    ]
    for strategy in strategies:
        figures = await backtests.figures([strategy])
        assert figures[strategy.id] is not None
    assert len(backtests._figures) == 2


def test_the_allocator_shares_few_arenas_and_gives_free_memory_back() -> None:
    assert memory.tune_malloc() is True  # glibc here (Debian); a no-op returning False elsewhere
    assert memory.trim_malloc() in (True, False)
