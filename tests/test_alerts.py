"""Invariant 4 at the sender: every alert reaches its chat, once, through 429s and an outage, within
Telegram's limits; rows are marked sent only after Telegram accepted them."""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter, defaultdict

import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from sqlalchemy import func, select

from bot.alerts import AlertSender, backoff_seconds, render_alert
from bot.sandbox.emulator import TelegramEmulator
from db.base import utcnow
from db.models import AlertOutbox, User
from db.session import Database

MARK = re.compile(r"#A(\d+)#")


def _bot(emu: TelegramEmulator) -> Bot:
    return Bot(
        "123456:ALERTS",
        session=AiohttpSession(api=TelegramAPIServer.from_base(emu.base_url)),
        default=DefaultBotProperties(parse_mode="HTML"),
    )


async def _users(database: Database, emu: TelegramEmulator, count: int) -> list[User]:
    async with database.write() as session:
        users = [
            User(telegram_id=900_000 + i, chat_id=900_000 + i, language="ko" if i % 2 else "en")
            for i in range(count)
        ]
        session.add_all(users)
    for user in users:
        emu.add_user(user.chat_id)
    return users


async def _enqueue(database: Database, users: list[User], start: int, count: int) -> None:
    async with database.write() as session:
        for n in range(start, start + count):
            user = users[n % len(users)]
            session.add(
                AlertOutbox(
                    user_id=user.id,
                    chat_id=user.chat_id,
                    kind="bot_error",
                    payload={"name": f"bot <{n}>", "error": f"#A{n}#"},
                    created_at=utcnow(),
                )
            )


async def _unsent(database: Database) -> int:
    async with database.read() as session:
        return (await session.execute(select(func.count()).where(AlertOutbox.sent_at.is_(None)))).scalar_one()


def _delivered(emu: TelegramEmulator, users: list[User]) -> Counter[int]:
    seen: Counter[int] = Counter()
    for user in users:
        for message in emu.bot_messages(user.chat_id):
            seen.update(int(m) for m in MARK.findall(message.text or ""))
    return seen


def test_render_shows_numbers_and_symbols_as_a_trader_reads_them() -> None:
    text = render_alert(
        "grid_fill",
        {
            "name": "g",
            "side": "buy",
            "qty": "0.00047100",
            "symbol": "BTC/USDT",
            "price": "105604.68",
            "interval": 11,
            "fee": "0.02984388",
        },
        "en",
    )
    assert text == "✅ <b>g</b> buy 0.000471 BTCUSDT at 105604.68 (grid 11, fee 0.02984388)"  # written before


def test_alerts_say_what_a_trader_needs() -> None:
    fill = {
        "name": "g", "side": "buy", "qty": "0.00047100", "symbol": "BTC/USDT", "price": "105604.68",
        "interval": 10, "fee": "0.02984388", "line": 11, "lines": 21, "realized_profit": "1234.5678",
        "held": "0.00420000", "asset": "BTC",
    }  # fmt: skip
    assert render_alert("grid_fill", fill, "en") == (
        "✅ <b>g</b> buy 0.000471 BTCUSDT at 105604.68 (line 11 of 21, fee 0.02984388) · "
        "grid profit +1,234.57 USDT, holds 0.0042 BTC"
    )
    closing = {**fill, "interval": -1, "line": None, "side": "sell"}
    assert "(closing sale, fee 0.02984388) · grid profit +1,234.57 USDT" in render_alert(
        "grid_fill", closing, "en"
    )
    entry = {
        "name": "t", "side": "long", "qty": "0.050", "symbol": "BTC/USDT:USDT", "price": "100000",
        "leverage": 5, "margin": "1000.00000000", "stop_loss": "97000", "take_profit": None,
        "liquidation": "80400",
    }  # fmt: skip
    assert render_alert("trend_entry", entry, "en") == (
        "📈 <b>t</b> opened long 0.05 BTCUSDT at 100000 · 5x, margin 1,000.00 USDT · SL 97000 · TP — · "
        "liquidation 80400"
    )
    exit_ = {
        "name": "t", "side": "long", "qty": "0.050", "symbol": "BTC/USDT:USDT", "price": "101000",
        "reason": "take_profit", "pnl": "49.5", "entry": "100000", "pnl_percent": "4.95",
        "held_seconds": 7500, "closed": True,
    }  # fmt: skip
    assert render_alert("trend_exit", exit_, "en") == (
        "📉 <b>t</b> closed long 0.05 BTCUSDT (take_profit): entry 100000 → exit 101000, "
        "PnL +49.50 USDT (+4.95 %), held 0d 2h 5m"
    )
    assert "보유 기간 0일 2시간 5분" in render_alert("trend_exit", exit_, "ko")
    assert "ETHUSDT" in render_alert(
        "trend_entry",
        {"name": "t", "side": "long", "qty": "1.50", "symbol": "ETH/USDT:USDT", "price": "3000"},
        "en",
    )


def test_render_escapes_and_falls_back() -> None:
    assert "&lt;b&gt;" in render_alert("bot_error", {"name": "<b>", "error": "x"}, "en")
    assert "오류" in render_alert("bot_stopped_error", {"name": "n", "error": "e"}, "ko")
    assert "mystery" in render_alert("mystery", {"a": 1}, "en")
    assert "bot_error" in render_alert("bot_error", {"name": "missing error field"}, "en")
    assert [backoff_seconds(n) for n in (1, 2, 3, 10)] == [1, 2, 4, 30]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_500_alerts_for_20_chats_through_429s_and_a_30_second_outage(database: Database) -> None:
    async with TelegramEmulator() as emu:
        users = await _users(database, emu, 20)
        bot = _bot(emu)
        sender = AlertSender(database, bot, poll_interval=0.05, backoff_cap=4)
        runner = asyncio.create_task(sender.run())
        try:
            for batch in range(10):  # 500 alerts arrive over ~5 s
                await _enqueue(database, users, batch * 50, 50)
                sender.notify()
                if batch == 2:
                    emu.inject_failures("sendMessage", status=429, retry_after=2, count=3)
                if batch == 5:
                    await emu.outage(30)
                await asyncio.sleep(0.5)
            deadline = time.monotonic() + 90
            while await _unsent(database) and time.monotonic() < deadline:
                await asyncio.sleep(0.25)
        finally:
            sender.stop()
            await runner
            await bot.session.close()
        assert await _unsent(database) == 0
        delivered = _delivered(emu, users)
        assert set(delivered) == set(range(500)), "an alert was lost"
        assert max(delivered.values()) == 1, "an alert was delivered twice"
        assert emu.early_retries() == [], "a 429 was answered with an early retry"
        assert sender.sent_messages < 500  # queued alerts of one chat were merged
        sends = [c for c in emu.calls_to("sendMessage") if c.status == 200]
        per_chat: dict[int, list[float]] = defaultdict(list)
        for call in sends:
            per_chat[call.chat_id].append(call.started_at)
        for times in per_chat.values():  # ~1 message/s per chat: a burst of 3, then 1 per second
            times.sort()
            for i, first in enumerate(times):
                in_window = sum(1 for later in times[i:] if later - first < 5.0)
                assert in_window <= 3 + 5
        everything = sorted(c.started_at for c in sends)
        for i, first in enumerate(everything):  # at most 25/s overall, with a small burst
            assert sum(1 for later in everything[i:] if later - first < 1.0) <= 30


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_unsent_rows_survive_a_restart_and_nothing_is_marked_before_accept(database: Database) -> None:
    async with TelegramEmulator() as emu:
        users = await _users(database, emu, 2)
        await _enqueue(database, users, 0, 6)
        await emu.outage(60)
        bot = _bot(emu)
        first = AlertSender(database, bot, poll_interval=0.05)
        await first.drain_once()  # every send fails: nothing may be marked sent
        assert await _unsent(database) == 6
        await emu.end_outage()
        async with database.write() as session:  # the backoff has passed (as after a restart later on)
            await session.execute(AlertOutbox.__table__.update().values(next_attempt_at=None))
        second = AlertSender(database, bot, poll_interval=0.05)  # a new process
        await second.drain_once()
        await bot.session.close()
        assert await _unsent(database) == 0
        assert set(_delivered(emu, users)) == set(range(6))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_blocked_chat_does_not_hold_up_the_others(database: Database) -> None:
    async with TelegramEmulator() as emu:
        users = await _users(database, emu, 2)
        emu.block_bot(users[0].chat_id)
        await _enqueue(database, users, 0, 4)
        bot = _bot(emu)
        await AlertSender(database, bot).drain_once()
        await bot.session.close()
        assert await _unsent(database) == 0
        assert set(_delivered(emu, users)) == {1, 3}
        async with database.read() as session:
            errors = (
                (await session.execute(select(AlertOutbox.last_error).order_by(AlertOutbox.id)))
                .scalars()
                .all()
            )
        assert errors == ["undeliverable", None, "undeliverable", None]


async def test_an_alert_uses_the_bots_current_name(database: Database, fleet) -> None:  # type: ignore[no-untyped-def]
    """Written while the bot was "Old", sent after a rename: it says "New" (before: "Old")."""
    async with TelegramEmulator() as emu:
        [user] = await _users(database, emu, 1)
        created = await fleet.create_trend_bot(user.id, name="Old", symbol="BTCUSDT", allocation_percent="10")
        async with database.write() as session:
            session.add(
                AlertOutbox(
                    user_id=user.id,
                    chat_id=user.chat_id,
                    bot_instance_id=created.bot.id,
                    kind="bot_error",
                    payload={"name": "Old", "error": "#A1#"},
                    created_at=utcnow(),
                )
            )
        await fleet.rename(user.id, created.bot.id, "New")
        bot = _bot(emu)
        await AlertSender(database, bot, poll_interval=0.05).drain_once()
        await bot.session.close()
        [message] = emu.bot_messages(user.chat_id)
        assert "New" in (message.text or "") and "Old" not in (message.text or "")
