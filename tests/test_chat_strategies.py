"""/strategies in the chat: the figures come from our backtester on the shipped candles, a copy is saved
with the user's own parameters through a short dialog (wrong input re-asked with the reason), and only
the owner can delete it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.sandbox import TelegramEmulator
from bot.services.backtests import compute_figures
from engine.trend.strategies import get_strategy
from handlers.strategies import StratAction, StrategyCD
from tests.test_handlers_e2e import ALICE, BOB, App, labels, start_app, stop_app


@pytest.fixture
async def emu() -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator() as emulator:
        yield emulator


@pytest.fixture
async def app(emu: TelegramEmulator, db_url: str) -> AsyncIterator[App]:
    running = await start_app(emu, db_url)
    yield running
    await stop_app(running)


async def _screen(app: App, user_id: int) -> object:
    sent = await app.send(user_id, "/strategies")
    await app.emu.wait_for_edit(
        user_id, sent.message_id, timeout=240
    )  # the figures are backtests: minutes on a busy 2-core machine
    return sent


async def test_the_list_shows_each_strategys_own_backtest_figures(app: App) -> None:
    screen = await _screen(app, ALICE)
    text = screen.text  # type: ignore[attr-defined]
    assert "last 30 days" in text and "BTCUSDT" in text
    for name in ("ai_model", "conservative", "balanced", "aggressive", "ema_adx_baseline"):
        figures = compute_figures(get_strategy(name))
        roi = f"+{figures.roi_percent}" if figures.roi_percent > 0 else f"{figures.roi_percent}"
        line = (
            f"ROI {roi} % · win rate {figures.win_rate_percent} % · "
            f"max drawdown {figures.max_drawdown_percent} % · {figures.trades} trades"
        )
        assert line in text, (name, line)
    assert labels(screen) == ["➕ Save a copy"]  # type: ignore[arg-type]


async def test_save_a_copy_with_own_parameters_reasking_wrong_input(app: App) -> None:
    screen = await _screen(app, ALICE)
    await app.press(ALICE, screen, "➕ Save a copy")  # type: ignore[arg-type]
    await app.press(ALICE, screen, "conservative")  # type: ignore[arg-type]
    assert "Name your copy of conservative" in screen.text  # type: ignore[attr-defined]

    ask_params = await app.send(ALICE, "My <cons>")
    assert "ema_fast=20" in ask_params.text and "leverage=5" in ask_params.text
    assert "timeframe=4h" in ask_params.text

    unknown = await app.send(ALICE, "leverage=3 foo<b>=1")
    assert unknown.text.startswith("⚠️ Write each change as key=value")
    unknown = await app.send(ALICE, "leverage=3 bogus=1")
    assert unknown.text.startswith("⚠️ “bogus” is not a parameter of conservative.")
    bad = await app.send(ALICE, "stop_loss_percent=150")
    assert bad.text.startswith("⚠️ “150” does not fit stop_loss_percent: a percent above 0 and below 100")
    bad = await app.send(ALICE, "leverage=500")
    assert bad.text.startswith("⚠️ “500” does not fit leverage: a whole number from 1 to 100.")
    bad = await app.send(ALICE, "timeframe=3h")
    assert "does not fit timeframe" in bad.text and "Parameters of conservative" in bad.text
    user = await app.user(ALICE)
    assert [s.name for s in await app.services.strategies.list_for(user.id) if not s.is_builtin] == []

    saved = await app.send(ALICE, "leverage = 3, stop_loss_percent=2.5\nema_fast=10")
    assert (
        "Saved My <cons>, a copy of conservative (leverage=3, stop_loss_percent=2.5, ema_fast=10)"
        in saved.text
    )
    assert "<b>My &lt;cons&gt;</b>" in (saved.raw_text or "")
    mine = await app.services.strategies.by_name(user.id, "My <cons>")
    assert mine.params["risk"]["leverage"] == 3 and mine.params["risk"]["stop_loss_percent"] == "2.5"
    assert mine.params["ema_fast"] == 10 and mine.timeframe == "4h"
    # the list now shows the copy with its own figures and a delete button
    await app.emu.wait_for_edit(ALICE, saved.message_id, timeout=240)
    assert "👤 My <cons>" in saved.text and "🗑 My <cons>" in labels(saved)

    # a second copy under the same name is re-asked at the name step
    await app.press(ALICE, saved, "➕ Save a copy")
    await app.press(ALICE, saved, "balanced")
    taken = await app.send(ALICE, "My <cons>")
    assert taken.text.startswith("⚠️ You already have a strategy named “My <cons>”.")
    await app.press(ALICE, taken, "✖ Cancel")
    assert "Cancelled" in taken.text


async def test_only_the_owner_deletes_and_builtins_cannot_be_deleted(app: App) -> None:
    user = await app.services.accounts.register(telegram_id=ALICE, chat_id=ALICE)
    base = await app.services.strategies.by_name(user.id, "balanced")
    mine = await app.services.strategies.save_copy(user.id, base.id, name="Mine", overrides={"leverage": "4"})

    bob = await app.send(BOB, "/start")
    forged = await app.press_data(BOB, bob, StrategyCD(action=StratAction.delete, strategy_id=mine.id).pack())
    assert forged.show_alert and "Not found" in (forged.text or "")
    builtin = await app.press_data(
        BOB, bob, StrategyCD(action=StratAction.delete, strategy_id=base.id).pack()
    )
    assert "Not found" in (builtin.text or "")
    # an id past the 32-bit column: "not found" on PostgreSQL too (it was a DBAPIError there, found by the
    # chat fuzzer, tests/test_chat_fuzz.py)
    for strategy_id in (2**31, 2**53, -1, 0):
        huge = await app.press_data(
            BOB, bob, StrategyCD(action=StratAction.delete, strategy_id=strategy_id).pack()
        )
        assert huge.show_alert and "Not found" in (huge.text or ""), strategy_id
    assert await app.services.strategies.get(user.id, mine.id)

    screen = await _screen(app, ALICE)
    await app.press(ALICE, screen, "🗑 Mine")  # type: ignore[arg-type]
    assert "Delete your strategy Mine?" in screen.text  # type: ignore[attr-defined]
    await app.press(ALICE, screen, "🗑 Yes, delete it")  # type: ignore[arg-type]
    await app.emu.wait_until(lambda: "Mine deleted" in (screen.text or ""), timeout=30)  # type: ignore[attr-defined]
    assert [s for s in await app.services.strategies.list_for(user.id) if not s.is_builtin] == []


async def test_a_copy_chosen_in_the_wizard_is_the_bots_strategy(app: App) -> None:
    user = await app.services.accounts.register(telegram_id=ALICE, chat_id=ALICE)
    base = await app.services.strategies.by_name(user.id, "aggressive")
    mine = await app.services.strategies.save_copy(user.id, base.id, name="Calm", overrides={"leverage": "2"})
    menu = await app.send(ALICE, "/newbot")
    before = max(m.message_id for m in app.emu.transcript(ALICE))
    await app.press(ALICE, menu, "🤖 AI trend")
    await app.emu.wait_for_bot_message(ALICE, after_message_id=before)  # the name question
    await app.send(ALICE, "Bot A")
    await app.send(ALICE, "BTCUSDT")
    ask = await app.send(ALICE, "10")
    assert "Calm" in labels(ask), app.emu.format_transcript(ALICE)
    before = max(m.message_id for m in app.emu.transcript(ALICE))
    await app.press(ALICE, ask, "Calm")
    step = await app.emu.wait_for_bot_message(ALICE, after_message_id=before)
    for _ in range(4):
        before = max(m.message_id for m in app.emu.transcript(ALICE))
        await app.press(ALICE, step, next(b for b in labels(step) if b.startswith("Default")))
        step = await app.emu.wait_for_bot_message(ALICE, after_message_id=before)
    assert "Strategy: Calm" in step.text
    before = max(m.message_id for m in app.emu.transcript(ALICE))
    await app.press(ALICE, step, "✅ Create")
    await app.emu.wait_for_bot_message(ALICE, after_message_id=before)  # "created"
    [bot] = await app.services.fleet.list_bots(user.id)
    assert bot.strategy_id == mine.id
