"""A grid bot's card in the chat: the status view of its lines and the chart of its own fills."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from sqlalchemy import update

from bot.sandbox import TelegramEmulator
from bot.services.dto import BotDTO
from db.base import utcnow
from db.models import GridBotConfig, GridOrder, Trade
from tests.test_handlers_e2e import ALICE, BOB, App, labels, start_app, stop_app

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
async def emu() -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator() as emulator:
        yield emulator


@pytest.fixture
async def app(emu: TelegramEmulator, db_url: str) -> AsyncIterator[App]:
    running = await start_app(emu, db_url)
    yield running
    await stop_app(running)


async def _grid_bot(app: App, telegram_id: int = ALICE) -> BotDTO:
    user = await app.services.accounts.register(telegram_id=telegram_id, chat_id=telegram_id)
    change = await app.services.fleet.create_grid_bot(
        user.id,
        name="Grid <1>",
        symbol="BTCUSDT",
        allocation_percent="20",
        lower_price="60000",
        upper_price="70000",
        grid_count=10,
        total_investment="1000",
    )
    return change.bot


async def _fills(app: App, bot: BotDTO, user_id: int) -> None:
    """What the grid runtime writes after interval 3 bought at 63000 and sold at 64000."""
    async with app.services.db.write() as session:
        for side, price, pnl in (("buy", "63000", None), ("sell", "64000", "1.54")):
            session.add(
                Trade(
                    user_id=user_id,
                    bot_instance_id=bot.id,
                    trade_source="grid_bot",
                    symbol="BTCUSDT",
                    side=side,
                    qty=Decimal("0.001587"),
                    price=Decimal(price),
                    fee=Decimal("0.02"),
                    realized_pnl=Decimal(pnl) if pnl else None,
                    client_order_id=f"mb{bot.id}i3c0{side[0]}",
                    executed_at=utcnow(),
                )
            )
        await session.execute(
            update(GridBotConfig).values(
                current_price=Decimal("64321.5"), active_buy_orders=3, realized_profit=Decimal("1.54")
            )
        )
        await session.execute(update(GridOrder).where(GridOrder.grid_index < 3).values(status="buy_placed"))
        await session.execute(
            update(GridOrder)
            .where(GridOrder.grid_index == 3)
            .values(status="buy_placed", cycle=1, profit=Decimal("1.54"))
        )


async def test_grid_card_shows_the_lines_and_their_orders(app: App) -> None:
    bot = await _grid_bot(app)
    await _fills(app, bot, (await app.user(ALICE)).id)
    card = await app.send(ALICE, "/bots")
    await app.press(ALICE, card, labels(card)[0])
    assert "🧱 Grid" in labels(card) and "🖼 Chart" in labels(card)

    await app.press(ALICE, card, "🧱 Grid")

    text = card.text
    assert "Grid &lt;1&gt;" not in text and "Grid <1>" in text  # escaped on the wire, shown as typed
    assert "Price: 64321.5 USDT" in text
    assert "🟢 3: 63000 → 64000 · 1 cycles · +1.54" in text
    assert "⚪ 9: 69000 → 70000" in text
    assert "Realized profit: +1.54 USDT" in text


async def test_chart_sends_the_picture_of_the_bots_own_fills(app: App) -> None:
    bot = await _grid_bot(app)
    await _fills(app, bot, (await app.user(ALICE)).id)
    card = await app.send(ALICE, "/bots")
    await app.press(ALICE, card, labels(card)[0])

    await app.press(ALICE, card, "🖼 Chart")

    photo = await app.emu.wait_for_call("sendPhoto", timeout=30)  # matplotlib draws it in a thread
    assert photo.ok and photo.chat_id == ALICE
    message = app.emu.bot_messages(ALICE)[-1]
    assert "Fills of" in (message.caption or "") and "2" in (message.caption or "")
    assert message.photo is not None and message.photo.data.startswith(PNG_MAGIC)


async def test_no_fills_no_chart_and_others_cannot_see_it(app: App) -> None:
    bot = await _grid_bot(app)
    card = await app.send(ALICE, "/bots")
    await app.press(ALICE, card, labels(card)[0])
    answer = await app.press(ALICE, card, "🖼 Chart")
    assert "No fills yet" in (answer.text or "")
    assert not app.emu.calls_to("sendPhoto")

    other = await app.send(BOB, "/start")
    answer = await app.press_data(BOB, other, f"b:chart:{bot.id}")
    assert (
        "not found" in (answer.text or "").lower()
        or "not found" in app.emu.bot_messages(BOB)[-1].text.lower()
    )
    assert not app.emu.calls_to("sendPhoto")
