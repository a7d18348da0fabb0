"""/backtest in the chat: the production Dispatcher long-polling the Bot API emulator. Bot type ->
parameters (prefilled from one of the user's bots, or a strategy's defaults) -> period -> a progress
message edited as the run goes -> the summary and the chart as a photo; a slow run does not hold up other
users; forged bot ids are refused; the progress throttle and the per-user cap are tested directly.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from bot.sandbox import ChatMessage, TelegramEmulator
from bot.services.backtests import (
    Backtests,
    GridRequest,
    TrendRequest,
    compute_grid,
    compute_trend,
)
from bot.services.dto import BotDTO
from engine.trend.strategies import get_strategy
from handlers.backtest import BacktestCD, BtStep, kind_keyboard, period_keyboard
from tests.test_handlers_e2e import ALICE, BOB, App, labels, start_app, stop_app

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
async def emu() -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator() as emulator:
        yield emulator


@pytest.fixture
async def app(emu: TelegramEmulator, db_url: str) -> AsyncIterator[App]:
    running = await start_app(emu, db_url)
    running.services.backtests.progress_interval = 0.0  # every 10 % step is shown
    yield running
    await running.dp["backtests"].wait_idle()
    await stop_app(running)


def backtests(app: App) -> Backtests:
    return app.services.backtests


async def _grid_bot(app: App, telegram_id: int = ALICE, name: str = "Grid <1>") -> BotDTO:
    user = await app.services.accounts.register(telegram_id=telegram_id, chat_id=telegram_id)
    change = await app.services.fleet.create_grid_bot(
        user.id, name=name, symbol="BTCUSDT", allocation_percent="20", lower_price="80000",
        upper_price="100000", grid_count=8, grid_mode="geometric", total_investment="2000",
    )  # fmt: skip
    return change.bot


async def _photo(app: App, user_id: int) -> ChatMessage:
    await app.emu.wait_for_call("sendPhoto", predicate=lambda c: c.chat_id == user_id, timeout=60)
    message = app.emu.bot_messages(user_id)[-1]
    assert message.photo is not None and message.photo.data.startswith(PNG_MAGIC)
    return message


def _progress_texts(message: ChatMessage) -> list[str]:
    return [v.text or "" for v in message.edits if "Backtest running" in (v.text or "")]


async def test_grid_backtest_prefilled_from_a_bot_with_progress_summary_and_chart(app: App) -> None:
    bot = await _grid_bot(app)
    screen = await app.send(ALICE, "/backtest")
    assert labels(screen) == ["🤖 AI trend", "🧱 Grid", "✖ Cancel"]
    assert "2024-02-19 to 2026-02-18" in screen.text

    await app.press(ALICE, screen, "🧱 Grid")
    assert labels(screen) == ["🤖 Grid <1>", "⚙️ Defaults", "✖ Cancel"]  # as typed, escaped on the wire
    await app.press(ALICE, screen, "🤖 Grid <1>")
    assert "80000 – 100000 USDT, 8 grids (geometric), 2000 USDT" in screen.text
    assert labels(screen) == ["7 days", "30 days", "90 days", "All", "✏️ Change parameters", "✖ Cancel"]
    assert "The candles end at 2026-02-18 23:00 UTC" in screen.text  # "now" is the data's last candle

    await app.press(ALICE, screen, "90 days")
    photo = await _photo(app, ALICE)

    # the progress message went 0 % -> some steps -> the summary, in place
    progress = _progress_texts(screen)
    assert progress and "0 %" in progress[0] and len(progress) >= 2
    assert "Grid backtest · BTCUSDT" in screen.text and "2026-02-18" in screen.text
    assert "Range 80000 – 100000 USDT, 8 grids (geometric), 2000 USDT" in screen.text
    # the figures are the backtester's own on the same candles
    expected = compute_grid(
        GridRequest("BTCUSDT", Decimal(80000), Decimal(100000), 8, "geometric", Decimal(2000)),
        90,
        lambda p: None,
    )
    assert f"Cycles: {expected.result.cycles} · fills: {len(expected.result.fills)}" in screen.text
    assert "Grid" in (photo.caption or "")
    assert bot.id  # the bot itself is untouched
    assert backtests(app).running((await app.user(ALICE)).id) == 0


async def test_grid_backtest_with_typed_parameters_warns_when_the_range_misses_the_prices(app: App) -> None:
    screen = await app.send(ALICE, "/backtest")
    await app.press(ALICE, screen, "🧱 Grid")  # no grid bot: the defaults
    await app.press(ALICE, screen, "✏️ Change parameters")
    assert "key value" in screen.text
    wrong = await app.send(ALICE, "lower abc upper 90000")
    assert wrong.text.startswith("⚠️") and "Type them again" in wrong.text
    wrong = await app.send(ALICE, "colour blue")
    assert "unknown parameter 'colour'" in wrong.text
    asked = await app.send(
        ALICE, "lower 100000 upper 110000 grids 12 mode geometric investment 1500 stop_lower 95000"
    )
    assert "100000 – 110000 USDT, 12 grids (geometric), 1500 USDT · lower stop 95000" in asked.text
    await app.press(ALICE, asked, "30 days")
    await _photo(app, ALICE)
    expected = compute_grid(
        GridRequest(
            "BTCUSDT",
            Decimal(100000),
            Decimal(110000),
            12,
            "geometric",
            Decimal(1500),
            stop_lower=Decimal(95000),
        ),
        30,
        lambda p: None,
    )
    # the last 30 days of the shipped candles (60,000 - 92,870) stay below 100,000: the start buys every
    # interval at market and no line fills after
    assert expected.outside
    r = expected.result
    assert f"Cycles: {r.cycles} · fills: {len(r.fills)}" in asked.text
    assert "never touches this period's prices" in asked.text
    assert "(60000 – 92870)" in asked.text


async def test_trend_backtest_with_typed_leverage_stops_and_timeframe(app: App) -> None:
    screen = await app.send(ALICE, "/backtest")
    await app.press(ALICE, screen, "🤖 AI trend")
    await app.press(ALICE, screen, "balanced")
    await app.press(ALICE, screen, "✏️ Change parameters")
    asked = await app.send(ALICE, "strategy conservative leverage 3 sl 0 tp 6 timeframe 4h")
    assert "conservative on BTCUSDT (4h): leverage 3x, SL none, TP 6 %" in asked.text
    await app.press(ALICE, asked, "90 days")
    await _photo(app, ALICE)
    expected = compute_trend(
        TrendRequest(
            "BTCUSDT", get_strategy("conservative"), 3, 3, None, Decimal(6), leverage=3, timeframe="4h"
        ),
        90,
        lambda p: None,
        False,
    )
    r = expected.result
    assert "AI trend backtest · conservative · BTCUSDT 4h" in asked.text
    assert "Leverage 3x · SL none · TP 6 %" in asked.text
    assert f"Trades: {len(r.trades)} · win rate: {r.win_rate * 100:.2f} %" in asked.text


async def test_trend_backtest_with_a_chosen_strategy_and_its_defaults(app: App) -> None:
    screen = await app.send(ALICE, "/backtest")
    await app.press(ALICE, screen, "🤖 AI trend")  # no trend bot yet: straight to the strategies
    assert "no bot of this kind yet" in screen.text
    assert {"ai_model", "conservative", "balanced", "aggressive", "ema_adx_baseline"} <= set(labels(screen))
    await app.press(ALICE, screen, "balanced")
    assert "balanced on BTCUSDT (1h): leverage 8x, SL 2 %, TP 4 %, up to 3 positions" in screen.text

    await app.press(ALICE, screen, "30 days")
    await _photo(app, ALICE)

    expected = compute_trend(
        TrendRequest("BTCUSDT", get_strategy("balanced"), 8, 3, Decimal(2), Decimal(4)),
        30,
        lambda p: None,
        False,
    )
    r = expected.result
    assert "AI trend backtest · balanced · BTCUSDT 1h" in screen.text
    assert f"Trades: {len(r.trades)} · win rate: {r.win_rate * 100:.2f} %" in screen.text
    assert f"Max drawdown: {r.max_drawdown * 100:.2f} %" in screen.text


async def test_trend_backtest_from_a_bot_uses_its_strategy_and_risk(app: App) -> None:
    user = await app.services.accounts.register(telegram_id=ALICE, chat_id=ALICE)
    aggressive = await app.services.strategies.by_name(user.id, "aggressive")
    from bot.services.fleet import RiskLimits

    await app.services.fleet.create_trend_bot(
        user.id, name="Ether", symbol="ETHUSDT", allocation_percent="10", strategy_id=aggressive.id,
        risk=RiskLimits(max_leverage=3, max_positions=2, stop_loss_percent=Decimal("1.5"), take_profit_percent=Decimal(6)),
    )  # fmt: skip
    screen = await app.send(ALICE, "/backtest")
    await app.press(ALICE, screen, "🤖 AI trend")
    await app.press(ALICE, screen, "🤖 Ether")
    # the strategy's 10x is capped by the bot's max leverage, as the live bot does
    assert "aggressive on ETHUSDT (1h): leverage 3x, SL 1.5 %, TP 6 %, up to 2 positions" in screen.text
    await app.press(ALICE, screen, "7 days")
    await _photo(app, ALICE)
    assert "AI trend backtest · aggressive · ETHUSDT 1h" in screen.text
    assert "Leverage 3x · SL 1.5 % · TP 6 %" in screen.text


async def test_a_slow_backtest_does_not_hold_up_other_users(app: App) -> None:
    service = backtests(app)
    service.on_step = lambda percent: time.sleep(1.0)  # the worker thread sleeps at every step
    screen = await app.send(ALICE, "/backtest")
    await app.press(ALICE, screen, "🤖 AI trend")
    await app.press(ALICE, screen, "conservative")
    await app.press(ALICE, screen, "All")
    alice = (await app.user(ALICE)).id
    await app.emu.wait_until(lambda: service.running(alice))
    started = time.monotonic()

    answer = await app.send(BOB, "/start")
    assert "Hello" in answer.text
    assert time.monotonic() - started < 3.0  # answered while the run sleeps for several seconds

    # Alice's own commands are answered too, and a second run of hers is refused while one runs
    other = await app.send(ALICE, "/backtest")
    await app.press(ALICE, other, "🧱 Grid")
    refused = await app.press(ALICE, other, "30 days")
    assert refused.show_alert and "still running" in (refused.text or "")
    assert service.running(alice) == 1  # the slow run was still going all along

    await _photo(app, ALICE)
    assert "AI trend backtest · conservative" in screen.text
    assert len(_progress_texts(screen)) >= 3  # edited as the run went


async def test_a_forged_bot_id_is_not_found_and_stale_buttons_are_refused(app: App) -> None:
    alices = await _grid_bot(app, ALICE)
    await _grid_bot(app, BOB, name="Bob grid")
    screen = await app.send(BOB, "/backtest")
    await app.press(BOB, screen, "🧱 Grid")

    forged = BacktestCD(step=BtStep.source, value=str(alices.id)).pack()
    answer = await app.press_data(BOB, screen, forged)
    assert answer.show_alert and "Not found" in (answer.text or "")
    garbage = await app.press_data(BOB, screen, BacktestCD(step=BtStep.source, value="1e9").pack())
    assert "Not found" in (garbage.text or "")

    # a button of another step is refused without changing anything
    stale = await app.press_data(BOB, screen, BacktestCD(step=BtStep.period, value="7").pack())
    assert "earlier question" in (stale.text or "")
    assert not app.emu.calls_to("sendPhoto")

    await app.press(BOB, screen, "✖ Cancel")
    assert "Cancelled" in screen.text


def test_callback_data_fits_telegram() -> None:
    from handlers.backtest import source_keyboard, strategy_keyboard

    markups = [kind_keyboard("en"), period_keyboard("ko")]
    bot = type("B", (), {"id": 2**63 - 1, "name": "x" * 100})()
    markups.append(source_keyboard([bot], "en"))  # type: ignore[list-item]
    strategy = type("S", (), {"id": 2**63 - 1, "name": "y" * 100})()
    markups.append(strategy_keyboard([strategy], "en"))  # type: ignore[list-item]
    for markup in markups:
        for row in markup.inline_keyboard:
            for button in row:
                assert len((button.callback_data or "").encode()) <= 64, button.callback_data


async def test_progress_is_throttled_to_steps_and_intervals() -> None:
    service = Backtests(progress_step=10, progress_interval=0.2)
    shown: list[int] = []

    async def progress(percent: int) -> None:
        shown.append(percent)

    def work(report) -> str:  # type: ignore[no-untyped-def]
        for percent in range(0, 101, 2):
            report(percent)
            time.sleep(0.01)
        return "done"

    assert await service._run(work, progress) == "done"
    assert shown == sorted(shown) and all(b - a >= 10 for a, b in itertools.pairwise(shown))
    assert 100 not in shown  # the result itself replaces the progress message
    assert 2 <= len(shown) <= 6  # about 1 s of work, at most one update per 0.2 s


async def test_the_per_user_cap_and_the_overall_slots() -> None:
    service = Backtests(per_user=1, overall=1)
    gate = asyncio.Event()

    async def job() -> None:
        await gate.wait()

    service.launch(1, job)
    with pytest.raises(Exception, match="already running"):
        service.launch(1, job)
    service.launch(2, job)  # another user may queue
    assert service.running(1) == service.running(2) == 1
    gate.set()
    await service.wait_idle()
    assert service.running(1) == service.running(2) == 0
