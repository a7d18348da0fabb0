"""Start-up and shutdown: the services, the aiogram Bot and Dispatcher, and `run` (Telegram or the sandbox).

Tests build the app with these same factories and swap only the edges (database URL, TELEGRAM_API_BASE).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiogram import Bot, Dispatcher, methods
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.base import Response
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.types import BotCommand
from pydantic import SecretStr
from sqlalchemy import select

from bot.alerts import AlertSender
from bot.chat_state import BoundedMemoryStorage, PerChatIsolation
from bot.config import Settings, SettingsError
from bot.engine_service import EngineService
from bot.i18n import LANGUAGES, t
from bot.instance_lock import EngineLock
from bot.memory import reclaim_forever, tune_malloc
from bot.polling import SkipUnparseableUpdates, drop_empty_updates
from bot.services.account_money import AccountMoney
from bot.services.accounts import Accounts
from bot.services.backtests import Backtests
from bot.services.confirmations import Confirmations
from bot.services.fleet import Fleet
from bot.services.notifications import Notifications
from bot.services.range_suggestions import AccountHistory, CandleHistory, ShippedHistory
from bot.services.reports import Reports, reports_forever
from bot.services.risk import RiskGuards, guards_forever
from bot.services.strategies import Strategies
from db.migrate import upgrade_head
from db.models import User
from db.session import Database
from engine.charts import warm_up as warm_up_charts
from engine.market_data.feeds import LivePriceFeed, PriceSink, ReplayFeed
from engine.market_data.public import PublicMarketData
from engine.trend.candles import CandleSource
from engine.venues.live.accounts import LiveAccounts
from engine.venues.live.credentials import CredentialCipher, CredentialError
from engine.venues.live.registry import CcxtExchangeRegistry
from engine.venues.live.streams import StreamSettings
from engine.venues.paper.venue import PaperVenue

log = logging.getLogger(__name__)

# aiogram validates every answer as `Response[method.__returning__]`; pydantic keeps parametrised generics
# only weakly, so under load they are garbage-collected and rebuilt (~8 ms each). Holding them here
# keeps the methods the bot calls on its hot path cheap.
PINNED_RESPONSE_TYPES = tuple(
    Response[method.__returning__]  # type: ignore[name-defined]
    for method in (
        methods.GetUpdates,
        methods.SendMessage,
        methods.EditMessageText,
        methods.EditMessageReplyMarkup,
        methods.AnswerCallbackQuery,
        methods.DeleteMessage,
        methods.SendPhoto,
        methods.SendChatAction,
        methods.GetMe,
        methods.DeleteWebhook,
        methods.SetMyCommands,
    )
)

SANDBOX_TOKEN = "123456:SANDBOX"  # the emulator accepts any well-formed token
SANDBOX_USER_ID = 1001
# real 1-minute candles in engine/market_data/data, replayed for paper trading (SOURCES.md there says
# where they come from)
REPLAY_FILES = {"BTC/USDT": "btcusdt_1m_sample.csv.gz", "ETH/USDT": "ethusdt_1m_sample.csv.gz"}
COMMANDS = (
    "start",
    "bots",
    "newbot",
    "allocation",
    "stopall",
    "strategies",
    "backtest",
    "trade",
    "balance",
    "positions",
    "pnl",
    "trades",
    "report",
    "notify",
    "risk",
    "keys",
    "language",
    "help",
    "cancel",
)


@dataclass(frozen=True, slots=True)
class Services:
    """The long-lived objects of one process, handed to the Dispatcher once."""

    settings: Settings
    db: Database
    fleet: Fleet
    accounts: Accounts
    strategies: Strategies
    engine: EngineService
    money: AccountMoney
    backtests: Backtests = field(default_factory=Backtests)
    # where the grid wizard's range suggestions read candles: build_services gives each user's own venue
    # (bot.services.range_suggestions.AccountHistory: the exchange's OHLCV live, the shipped data on paper)
    candle_history: CandleHistory = field(default_factory=ShippedHistory)
    confirmations: Confirmations = field(default_factory=Confirmations)  # the two-step actions' tokens
    reports: Reports | None = None  # the daily and weekly reports (build_services makes them)
    notifications: Notifications | None = None  # which alerts reach a user, and how
    guards: RiskGuards | None = None  # the kill switch and the loss limits
    live: LiveAccounts | None = None  # the live venue's clients and websocket streams, closed last

    async def close(self) -> None:
        await self.backtests.wait_idle()
        await self.engine.shutdown()
        if self.live is not None:
            await self.live.close()
        await self.db.dispose()


def build_services(settings: Settings, *, cipher: CredentialCipher | None = None) -> Services:
    db = Database(settings.database_url)
    cipher = cipher or CredentialCipher(settings.fernet_key())
    accounts = Accounts(
        db,
        cipher,
        allowed_telegram_ids=frozenset(settings.allowed_telegram_ids),
        paper_start_balance=settings.paper_start_balance,
    )
    fleet = Fleet(db, max_bots_per_user=settings.max_bots_per_user, max_leverage=settings.max_leverage)
    venue = PaperVenue(db, maker_fee=settings.maker_fee_rate, taker_fee=settings.taker_fee_rate)
    # users in live mode trade with their own keys, on EXCHANGE_API_URL where the operator set one
    registry = CcxtExchangeRegistry(
        api_base_url=settings.exchange_api_url,
        streams=StreamSettings() if settings.exchange_streams else None,  # websocket orders and tickers
    )
    live = LiveAccounts(registry, cipher)
    accounts.key_checker = registry.check_key  # keys are checked with the exchange before they are stored
    registry.kind_listeners.append(accounts.account_kind_found)  # an account's kind found, or changed
    public = None
    if settings.price_feed == "live":  # paper bots on live prices read the exchange's public candles
        public = PublicMarketData.for_exchange(
            "bitget", api_url=settings.exchange_api_url, limiter=registry.public_limiter
        )
    engine = EngineService(
        db,
        fleet,
        venue=venue,
        live_exchange_for=live.exchange_for,
        interval=settings.tick_interval,
        candles=CandleSource(public=public),
    )
    fleet.equity = engine.equity  # allocated capital from the account's balance
    fleet.wallets = engine.wallets  # a start checks the wallet the bot trades from
    accounts.watchers.append(engine.user_seen)  # a switch between paper and live applies at once
    fleet.price_for = engine.price_for_user
    fleet.positions_for = engine.positions_for  # the venue's liquidation prices on the trend cards
    fleet.fee_rates_for = engine.fee_rates_for_user  # the account's own fees in the grid preview
    money = AccountMoney(db, fleet, engine.exchange_for)
    return Services(
        settings=settings,
        db=db,
        fleet=fleet,
        accounts=accounts,
        strategies=Strategies(db),
        engine=engine,
        money=money,
        candle_history=AccountHistory(engine.exchange_now),
        reports=Reports(db, money),
        notifications=Notifications(db),
        guards=RiskGuards(db, fleet, money),
        live=live,
    )


def spot_and_perp_sink(venue: PaperVenue) -> PriceSink:
    """Each price point of "BTC/USDT" also prices the USDT-M perpetual "BTC/USDT:USDT" (trend bots trade
    it). The perpetual goes first; the spot call commits the feed's cursor, so a point re-emitted after a
    crash reaches both again (a point that fills nothing twice is harmless)."""

    async def sink(symbol: str, price: Decimal, ts: int, *, cursor: tuple[str, int] | None = None) -> Any:
        perp = f"{symbol}:{symbol.split('/')[-1]}"
        if perp in venue.markets:
            await venue.on_price(perp, price, ts)
        return await venue.on_price(symbol, price, ts, cursor=cursor)

    return sink


def price_feeds(services: Services) -> list[ReplayFeed | LivePriceFeed]:
    """The paper venue's prices: real candles replayed in a loop, or the exchange's live tickers."""
    sink = spot_and_perp_sink(services.engine.venue)
    if services.settings.price_feed == "live":
        api_url = services.settings.exchange_api_url
        return [LivePriceFeed.for_exchange("bitget", list(REPLAY_FILES), sink=sink, api_url=api_url)]
    return [
        ReplayFeed.from_file(symbol, path, speed=services.settings.replay_speed, sink=sink)
        for symbol, path in REPLAY_FILES.items()
    ]


def build_bot(settings: Settings) -> Bot:
    """The aiogram Bot for TELEGRAM_BOT_TOKEN, talking to TELEGRAM_API_BASE when set (the emulator)."""
    if settings.telegram_bot_token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    base = settings.telegram_api_base
    session = AiohttpSession(api=TelegramAPIServer.from_base(base)) if base else AiohttpSession()
    session.middleware(SkipUnparseableUpdates())  # one update aiogram cannot parse must not stop polling
    return Bot(
        token=settings.telegram_bot_token.get_secret_value(),
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )


def build_dispatcher(services: Services) -> Dispatcher:
    from handlers import build_router
    from handlers.middlewares import UserMiddleware

    dp = Dispatcher(
        storage=BoundedMemoryStorage(),  # a conversation's state only while one is under way
        # one update at a time per chat: a double tap on "Create" or "Stop" cannot run twice at once
        events_isolation=PerChatIsolation(),
        services=services,
        strategies=services.strategies,
        settings=services.settings,
        fleet=services.fleet,
        accounts=services.accounts,
        trading=services.engine.trading,
        money=services.money,
        backtests=services.backtests,
        candle_history=services.candle_history,
        confirmations=services.confirmations,
        reports=services.reports,
        notifications=services.notifications,
        guards=services.guards,
    )
    dp.update.outer_middleware(drop_empty_updates)  # a skipped update's stand-in (bot.polling)
    dp.update.outer_middleware(UserMiddleware())
    dp.include_router(build_router())
    return dp


async def set_commands(bot: Bot) -> None:
    """The command menu of Telegram clients, in both languages (English for everyone else)."""
    for lang in LANGUAGES:
        commands = [BotCommand(command=c, description=t(lang, f"command.{c}")) for c in COMMANDS]
        await bot.set_my_commands(commands, language_code=None if lang == "en" else lang)


def tune_gc() -> None:
    """After start-up: move what start-up made out of the collector's way (gc.freeze) and collect the
    young generation less often. The default thresholds make a busy chat stop for full collections of
    everything ever allocated; measured with bench/chat_latency.py, p99 at 200 updates/s drops from
    ~160 ms to a few ms."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 1_000)


async def run(settings: Settings) -> int:
    """Migrate, then serve Telegram (with a token) or the sandbox chat in this terminal (without)."""
    tune_malloc()  # before the database's and the workers' threads exist (bot.memory)
    if settings.telegram_bot_token is None:
        for noisy in ("alembic", "aiogram", "bot.sandbox", "aiohttp.access"):  # the terminal is the chat
            logging.getLogger(noisy).setLevel(logging.WARNING)
    await upgrade_head(settings.database_url)
    cipher = await checked_cipher(settings)
    lock = EngineLock(settings.database_url)
    await lock.acquire()  # EngineAlreadyRunning: one line, nothing started
    try:
        services = build_services(settings, cipher=cipher)
        try:
            if settings.telegram_bot_token is not None:
                return await _run_telegram(services)
            return await _run_sandbox(services)
        finally:
            await services.close()
    finally:
        await lock.release()


async def checked_cipher(settings: Settings) -> CredentialCipher:
    """The cipher of the stored exchange keys, checked against them: a key that cannot decrypt them (a
    lost or replaced key file) stops start-up with one line instead of orphaning every live bot."""
    db = Database(settings.database_url)
    try:
        async with db.read() as session:
            stored = (
                await session.execute(select(User.api_key_enc).where(User.api_key_enc.is_not(None)).limit(1))
            ).scalar()
    finally:
        await db.dispose()
    cipher = CredentialCipher(settings.fernet_key(create=stored is None))
    if stored is not None:
        try:
            cipher.decrypt(stored)
        except CredentialError:
            key_file = f"the key file {settings.encryption_key_file}"
            where = "ENCRYPTION_KEY" if settings.encryption_key else key_file
            raise SettingsError(
                f"{where} cannot decrypt the exchange keys stored in the database: restore the key they "
                "were saved with (a new one cannot read them)"
            ) from None
    return cipher


@contextlib.asynccontextmanager
async def background(services: Services, bot: Bot) -> AsyncIterator[AlertSender]:
    """The loops that run beside polling: the alert sender, the price feeds and the bots' scheduler."""
    sender = AlertSender(services.db, bot)
    task = asyncio.create_task(sender.run(), name="alert-sender")
    reclaiming = asyncio.create_task(reclaim_forever(), name="memory-reclaim")
    loops = []
    if services.reports is not None:
        loops.append(asyncio.create_task(reports_forever(services.reports, sender.notify), name="reports"))
    if services.guards is not None:
        loops.append(asyncio.create_task(guards_forever(services.guards, sender.notify), name="risk-guards"))
    await services.engine.start(feeds=price_feeds(services))
    try:
        yield sender
    finally:
        reclaiming.cancel()
        for loop in loops:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loop
        await services.engine.shutdown()
        sender.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=5)
        with contextlib.suppress(asyncio.CancelledError):
            await reclaiming


async def _run_telegram(services: Services) -> int:
    bot = build_bot(services.settings)
    dp = build_dispatcher(services)
    try:
        await bot.delete_webhook()  # polling does not do it, and a set webhook makes getUpdates fail
        await set_commands(bot)
        await asyncio.to_thread(warm_up_charts)  # before the freeze, which keeps matplotlib out of gc
        async with background(services, bot):
            tune_gc()
            await dp.start_polling(bot)
    finally:
        await bot.session.close()
    return 0


async def _run_sandbox(services: Services) -> int:
    """The local Telegram Bot API emulator, the real bot against it, and a chat on stdin/stdout."""
    from bot.sandbox.emulator import TelegramEmulator
    from bot.sandbox.terminal import run_terminal_chat

    async with TelegramEmulator() as emulator:
        settings = services.settings.model_copy(
            update={"telegram_bot_token": SecretStr(SANDBOX_TOKEN), "telegram_api_base": emulator.base_url}
        )
        bot = build_bot(settings)
        dp = build_dispatcher(services)
        await bot.delete_webhook()
        await set_commands(bot)
        polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False, close_bot_session=False))
        print(f"multibot sandbox: paper trading, database {_safe_url(settings.database_url)}", flush=True)
        # the local user's chat exists from the start, as a Telegram chat does: alerts written before
        # their first message since this start (fills while it started, what the last run left unsent)
        # are delivered, not refused as "chat not found" and dropped as undeliverable
        emulator.add_user(SANDBOX_USER_ID, first_name="Trader", language_code=_terminal_language())
        try:
            async with background(services, bot):
                tune_gc()
                await run_terminal_chat(
                    emulator, SANDBOX_USER_ID, language_code=_terminal_language(), first_name="Trader"
                )
        finally:
            with contextlib.suppress(RuntimeError):  # polling already stopped
                await dp.stop_polling()
            with contextlib.suppress(asyncio.CancelledError):
                await polling
            await bot.session.close()
    return 0


def _terminal_language() -> str:
    """'ko' when the terminal's locale is Korean, else 'en' (the user can switch with /language)."""
    locale = os.environ.get("LC_ALL") or os.environ.get("LC_MESSAGES") or os.environ.get("LANG") or ""
    return "ko" if locale.lower().startswith("ko") else "en"


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
