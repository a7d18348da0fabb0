"""The grid wizard's "suggest a range", end to end through the real Dispatcher and the Bot API emulator:
the suggestions (text, PNG, buttons) come from the sweep on the last 30 and 7 days of candles; one tap
fills the range, grid count and spacing; a slow computation does not hold up other users."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from decimal import Decimal as D
from pathlib import Path

import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode

from bot.app import Services, build_dispatcher
from bot.config import Settings
from bot.engine_service import EngineService
from bot.sandbox import TelegramEmulator
from bot.services.account_money import AccountMoney
from bot.services.accounts import Accounts
from bot.services.fleet import Fleet
from bot.services.range_suggestions import ShippedHistory, suggest
from bot.services.strategies import Strategies
from db.session import Database
from engine.venues.paper.venue import PaperVenue
from handlers.grid_suggestions import render
from tests.test_ccxt_exchange import ALICE
from tests.test_wizards import TOKEN, USER, Chat, QuickCloseSession, plain, user_id

PNG = b"\x89PNG\r\n\x1a\n"


class SlowHistory(ShippedHistory):
    """The shipped candles, after a second in a worker thread (a slow exchange)."""

    async def recent(self, user_id: int, symbol: str, days: int):  # type: ignore[no-untyped-def]
        await asyncio.to_thread(time.sleep, 1.5)
        return await super().recent(user_id, symbol, days)


async def _app(database: Database, fleet: Fleet, accounts: Accounts, tmp_path: Path, history) -> tuple:
    settings = Settings(_env_file=None, encryption_key_file=tmp_path / "key")  # type: ignore[call-arg]
    engine = EngineService(database, fleet, venue=PaperVenue(database))
    services = Services(
        settings=settings, db=database, fleet=fleet, accounts=accounts, strategies=Strategies(database),
        engine=engine, candle_history=history, money=AccountMoney(database, fleet, engine.exchange_for),
    )  # fmt: skip
    return services, build_dispatcher(services)


@pytest.fixture(params=[ShippedHistory], ids=["shipped"])
async def emu(request, database: Database, fleet: Fleet, accounts: Accounts, tmp_path: Path) -> AsyncIterator:
    history = getattr(request, "param_history", None) or request.param()
    _, dp = await _app(database, fleet, accounts, tmp_path, history)
    async with TelegramEmulator() as emulator:
        bot = Bot(
            token=TOKEN,
            session=QuickCloseSession(api=TelegramAPIServer.from_base(emulator.base_url)),
            default=DefaultBotProperties(parse_mode=ParseMode.HTML),
        )
        await bot.delete_webhook()
        task = asyncio.create_task(
            dp.start_polling(bot, handle_signals=False, close_bot_session=False, polling_timeout=2)
        )
        await emulator.wait_until(lambda: emulator.calls_to("getUpdates"))
        try:
            yield emulator
        finally:
            await dp.stop_polling()
            await task
            await bot.session.close()


async def _to_lower_step(chat: Chat):  # type: ignore[no-untyped-def]
    menu = await chat.say("/newbot")
    await chat.tap(menu, "🧱 Grid")
    ask_symbol = await chat.say("Suggested")
    ask_allocation = await chat.tap(ask_symbol, "BTCUSDT")
    return await chat.say("10") if ask_allocation else ask_allocation


async def _suggestions(chat: Chat, ask_lower):  # type: ignore[no-untyped-def]
    before = max(m.message_id for m in chat.emu.transcript(USER))
    query = await chat.emu.press_button_text(USER, ask_lower.message_id, "🔮 Suggest a range")
    await chat.emu.wait_for_callback_answer(query)
    photo = await chat.emu.wait_for_bot_message(USER, after_message_id=before, timeout=60)
    assert photo.photo is not None and photo.photo.data.startswith(PNG)
    return await chat.emu.wait_for_bot_message(USER, after_message_id=photo.message_id, timeout=60)


async def test_suggested_ranges_fill_the_wizard(
    emu: TelegramEmulator, fleet: Fleet, accounts: Accounts
) -> None:
    chat = Chat(emu, USER)
    ask_lower = await _to_lower_step(chat)
    assert "🔮 Suggest a range" in [b["text"] for b in ask_lower.buttons]
    shown = await _suggestions(chat, ask_lower)
    # the figures are the sweep's and the backtester's on the same candles (the shipped data's last 30 days)
    market = await fleet.markets.rules("BTCUSDT")
    candles = await ShippedHistory().recent(0, "BTCUSDT", 30)
    expected = suggest(candles, "BTCUSDT", market, D("0.0002"), D("0.0006"))
    assert len(expected.items) == 3
    assert plain(render(expected, "en")) in shown.text
    assert "30 d:" in shown.text and "7 d:" in shown.text and "APR" in shown.text
    assert "up to the last one (2026-02-18 23:00 UTC)" in shown.text  # "now" is the data's last candle
    labels = [b["text"] for b in shown.buttons]
    first = next(label for label in labels if label.startswith("1: "))

    ask_investment = await chat.tap(shown, first)
    assert "step 8/11" in ask_investment.text and "Total investment" in ask_investment.text
    ask_trigger = await chat.say("1000")
    ask_stop_upper = await chat.tap(ask_trigger, "⏭ Skip")
    ask_stop_lower = await chat.tap(ask_stop_upper, "⏭ Skip")
    preview = await chat.tap(ask_stop_lower, "⏭ Skip")
    best = expected.items[0]
    assert f"{best.grids} grids" in preview.text
    await chat.tap(preview, "✅ Create")
    [bot] = await fleet.list_bots(await user_id(accounts))
    grid = (await fleet.get_bot(await user_id(accounts), bot.id)).grid
    assert grid is not None
    assert (grid.lower_price, grid.upper_price, grid.grid_count, grid.grid_mode) == (
        best.lower,
        best.upper,
        best.grids,
        best.mode,
    )


async def test_a_forged_suggestion_is_checked_like_typed_text(emu: TelegramEmulator) -> None:
    chat = Chat(emu, USER)
    ask_lower = await _to_lower_step(chat)
    from handlers.wizard import WizardAction, WizardCD

    before = max(m.message_id for m in chat.emu.transcript(USER))
    forged = WizardCD(step="lower_price", action=WizardAction.answer, value="s~70000~60000~10~a").pack()
    await chat.press(ask_lower, forged, forged=True)
    refused = await chat.emu.wait_for_bot_message(USER, after_message_id=before)
    assert refused.text.startswith("⚠️ The upper price must be a number above the lower price")


@pytest.mark.parametrize("emu", [SlowHistory], indirect=True, ids=["slow"])
async def test_a_slow_suggestion_does_not_hold_up_other_users(emu: TelegramEmulator) -> None:
    chat = Chat(emu, USER)
    ask_lower = await _to_lower_step(chat)
    query = await emu.press_button_text(USER, ask_lower.message_id, "🔮 Suggest a range")
    await emu.wait_for_callback_answer(query)
    started = time.monotonic()
    other = Chat(emu, USER + 1)
    answer = await other.say("/start")
    assert "Hello" in (answer.text or "")
    assert time.monotonic() - started < 1.5  # answered while the history still sleeps
    shown = await emu.wait_for_bot_message(USER, after_message_id=ask_lower.message_id + 1, timeout=60)
    assert shown.photo is not None or "Suggested ranges" in (shown.text or "")


# --- where the candles come from: the user's own venue ------------------------------------------------


def _bitget_rows(candles) -> list[list[str]]:  # type: ignore[no-untyped-def]
    """Real candles as Bitget's v2 spot candles rows (ts, o, h, l, c, base vol, quote vol, usdt vol)."""
    return [
        [str(ts), o, h, lo, c, v, "0", "0"]
        for ts, o, h, lo, c, v in zip(
            candles.timestamps, candles.open_text, candles.high_text, candles.low_text, candles.close_text,
            candles.volume_text, strict=True,
        )
    ]  # fmt: skip


@pytest.fixture
async def bitget() -> AsyncIterator:
    """The fake Bitget over HTTP and a ccxt registry pointed at it (as tests/test_ccxt_exchange.py)."""
    from engine.venues.live.registry import CcxtExchangeRegistry
    from tests.fake_bitget import FakeBitget

    server = FakeBitget()
    await server.start()
    server.add_account(ALICE.api_key, ALICE.secret, ALICE.passphrase or "", spot={"USDT": "10000"})
    registry = CcxtExchangeRegistry(
        api_base_url=server.url, ccxt_options={"rateLimit": 1, "timeout_on_exit": 0}
    )
    try:
        yield server, registry
    finally:
        await registry.close()
        await server.close()


async def test_a_live_account_reads_its_exchange_and_paper_the_shipped_candles(
    bitget,
    database: Database,  # type: ignore[no-untyped-def]
) -> None:
    from bot.services.backtests import hourly_candles
    from bot.services.range_suggestions import AccountHistory
    from engine.exchange import ExchangeError

    shipped = await ShippedHistory().recent(0, "BTCUSDT", 30)
    assert shipped is not None
    # the exchange serves the last 40 days of the real hourly BTC candles; its "now" is 30 minutes into
    # the hour after the last one, so every candle is closed
    every = hourly_candles("BTCUSDT")
    recent = every.slice(len(every) - 40 * 24, len(every))
    fake, registry = bitget
    fake._recorded[("fetchOHLCV", "Spot ohlcv")]["data"] = _bitget_rows(recent)
    alice = await registry.connect("bitget", 1, ALICE)
    now = recent.timestamps[-1] + 90 * 60_000
    paper = PaperVenue(database)

    async def exchange_for(user_id: int):  # type: ignore[no-untyped-def]
        return alice if user_id == 1 else paper.account(user_id)

    history = AccountHistory(exchange_for, now_ms=lambda: now)
    live = await history.recent(1, "BTCUSDT", 30)
    assert live is not None and len(live) == 30 * 24 + 1  # 30 days and one hour asked, all closed
    assert live.timestamps.tolist() == recent.timestamps.tolist()[-len(live) :]
    assert live.close_a.tolist() == recent.close_a.tolist()[-len(live) :]
    assert fake.requests_to("/api/v2/spot/market/candles") or fake.requests_to(
        "/api/v2/spot/market/history-candles"
    )  # over HTTP, through ccxt
    # a paper account has no candle history on its venue: the shipped candles
    on_paper = await history.recent(2, "BTCUSDT", 30)
    assert on_paper is not None and on_paper.timestamps.tolist() == shipped.timestamps.tolist()

    # an exchange that fails gives no suggestions rather than an error
    async def broken(user_id: int):  # type: ignore[no-untyped-def]
        raise ExchangeError("exchange down")

    assert await AccountHistory(broken).recent(1, "BTCUSDT", 30) is None


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_the_app_reads_each_users_own_venue(db_url: str, tmp_path: Path) -> None:
    """Through the app's own wiring: a paper user's suggestions read the shipped candles. Found by the
    100,000-update chat fuzz after the merge: the wiring called the engine's exchange_for(user_id) without
    the venue (TypeError), which this test fails with."""
    from bot.app import build_services
    from bot.services.range_suggestions import AccountHistory

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, encryption_key_file=tmp_path / "key", database_url=db_url
    )
    services = build_services(settings)
    try:
        assert isinstance(services.candle_history, AccountHistory)
        user = await services.accounts.register(telegram_id=1, chat_id=1)
        await services.engine.venue.load()
        assert await services.candle_history.recent(user.id, "BTCUSDT", 30) is not None
    finally:
        await services.close()
