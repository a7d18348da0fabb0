"""Glue between the fleet, the scheduler and the trading engine.

Grid bots tick through engine.grid.runtime, AI trend bots through engine.trend.runtime (both
behind engine.runner.Runner). `EngineService` is a `bot.services.fleet.FleetListener`: a bot started
through the fleet gets its job, a stopped one loses it and has its orders cancelled. At start-up
every bot with is_running is resumed (its first tick reconciles with the exchange). It also wraps
each tick with the error policy:

* temporary exchange errors (network, rate limit): last_error is stored and alerted once per
  streak ("bot_error"), the bot keeps running and its ticks back off exponentially (at most
  `max_backoff` seconds between tries) until the exchange answers again;
* fatal ones (insufficient funds, invalid order, authentication, not supported) stop the bot at
  once with a "bot_stopped_error" alert (delivered even with notifications off);
* anything else counts as a failure; `max_failures` in a row stop the bot the same way.

Wiring (bot/app.py):
    venue = PaperVenue(db, maker_fee=settings.maker_fee_rate, taker_fee=settings.taker_fee_rate)
    service = EngineService(db, fleet, venue=venue)
    fleet.equity = service.equity            # allocated capital from the paper/live balance
    feed = ReplayFeed.from_file("BTC/USDT", "btcusdt_1m_sample.csv.gz", speed=1, sink=venue.on_price)
    await service.start(feeds=[feed])        # loads the book, resumes running bots, starts feeds
    ...
    await service.shutdown()
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from bot.scheduler import BotScheduler
from bot.services.dto import BotDTO, UserDTO
from bot.services.errors import DomainError
from bot.services.fleet import Fleet
from bot.services.trading import Trading
from db import queries as q
from db.bulk import in_chunks
from db.models import BotInstance, User
from db.session import Database
from engine.exchange import (
    AuthenticationFailed,
    Exchange,
    ExchangeNotSupported,
    InsufficientFunds,
    InvalidOrder,
    TemporaryExchangeError,
)
from engine.grid.runtime import GridRuntime
from engine.grid.store import GridStore
from engine.market_data.feeds import ReplayFeed
from engine.runner import Runner
from engine.trend.candles import CandleSource
from engine.trend.runtime import TrendRuntime
from engine.trend.store import TrendStore
from engine.venues.paper.venue import PaperVenue

log = logging.getLogger(__name__)

FATAL = (InsufficientFunds, InvalidOrder, AuthenticationFailed, ExchangeNotSupported)
HUNDRED = Decimal(100)
ERROR_TEXT_MAX = 500


@dataclass
class _Health:
    failures: int = 0
    temporary: int = 0
    retry_at: float = 0.0


class EngineService:
    """Runs the bots of this process. `live_exchange_for(user)` gives a live user's exchange
    (engine.venues.live.adapter); without it every user trades on the paper `venue`."""

    def __init__(
        self,
        db: Database,
        fleet: Fleet,
        *,
        venue: PaperVenue,
        live_exchange_for: Callable[[User], Awaitable[Exchange]] | None = None,
        interval: float = 1.0,
        max_failures: int = 5,
        max_backoff: float = 60.0,
        equity_ttl: float = 5.0,
        mode_ttl: float = 60.0,
        scheduler: BotScheduler | None = None,
        compressed_replay: bool = True,
    ) -> None:
        """`compressed_replay`: with a replay feed every replayed candle counts as one candle of a trend
        bot's timeframe (the sandbox trades within minutes); False resamples the replay to it."""
        self.db = db
        self.fleet = fleet
        self.venue = venue
        self.live_exchange_for = live_exchange_for
        self.max_failures = max_failures
        self.max_backoff = max_backoff
        self.equity_ttl = equity_ttl
        self.mode_ttl = mode_ttl
        self.grid = GridRuntime(GridStore(db), self.exchange_for, self.stop_bot, self.capital)
        self.trend = TrendRuntime(
            TrendStore(db),
            self.exchange_for,
            self.stop_bot,
            self.capital,
            candles=CandleSource(compressed=compressed_replay),
        )
        self.runner = Runner(self.grid, others={"ai_trend": (self.trend.tick, self.trend.halt)})
        self.trading = Trading(db, self.trend, self.exchange_for)  # the chat's manual trades
        self.scheduler = scheduler or BotScheduler(self.run_tick, interval=interval)
        self.scheduler.tick = self.run_tick
        self.feeds: list[Any] = []
        self._types: dict[int, str] = {}
        self._health: dict[int, _Health] = {}
        self._modes: dict[int, tuple[float, str]] = {}
        self._modes_wanted: set[int] = set()
        self._modes_read: asyncio.Task[None] | None = None
        self._equity_cache: dict[int, tuple[float, Decimal]] = {}
        if self not in fleet.listeners:
            fleet.listeners.append(self)

    # ---- life cycle

    async def start(self, feeds: Sequence[Any] = ()) -> list[int]:
        """Load the paper book, start the feeds and the scheduler, resume every running bot.
        Returns the ids of the resumed bots."""
        await self.venue.load()
        for feed in feeds:
            self.feeds.append(feed)
            if isinstance(feed, ReplayFeed):  # trend bots read their closed candles from it
                self.trend.candles.add_feed(feed)
            feed.start()
        self.scheduler.start()
        async with self.db.read() as session:
            rows = (
                await session.execute(
                    select(BotInstance.id, BotInstance.bot_type, BotInstance.user_id)
                    .where(BotInstance.is_running.is_(True), BotInstance.is_active.is_(True))
                    .order_by(BotInstance.id)
                )
            ).all()
        resumed = [bot_id for bot_id, bot_type, _ in rows if self.runner.handles(bot_type)]
        # what every first tick would read on its own, read at once
        await self._read_modes({user_id for _, _, user_id in rows})
        await self.grid.preload([bot_id for bot_id, bot_type, _ in rows if bot_type == "grid"])
        await self.venue.recall(self.grid.orders_out())
        for bot_id, bot_type, _ in rows:
            if self.runner.handles(bot_type):
                self._types[bot_id] = bot_type
                self.scheduler.schedule(bot_id)
        log.info("engine: resumed %d running bots", len(resumed))
        return resumed

    async def shutdown(self) -> None:
        """Stop ticking (the ticks under way are cancelled and waited for) and the feeds, then let the
        writes already asked for end, so nothing writes once the caller closes the database. A tick
        cut off here is one the next start reconciles."""
        self.scheduler.shutdown()
        await self.scheduler.wait_closed()
        for feed in self.feeds:
            await feed.stop()
        self.feeds.clear()
        await self.grid.store.drain()
        await self.venue.drain()
        if self._modes_read is not None:  # a read the cancelled ticks shared
            await asyncio.wait([self._modes_read])

    # ---- FleetListener

    async def bot_started(self, bot: BotDTO) -> None:
        if self.runner.handles(bot.bot_type):
            self._types[bot.id] = bot.bot_type
            self._health.pop(bot.id, None)
            self.scheduler.schedule(bot.id)

    async def bot_stopped(self, bot: BotDTO) -> None:
        self.scheduler.unschedule(bot.id)
        self._types.pop(bot.id, None)
        self._health.pop(bot.id, None)
        if self.runner.handles(bot.bot_type):
            try:
                await self.runner.halt(bot.id, bot.bot_type)
            except Exception as exc:  # the bot is stopped either way; its orders are cancelled on retry
                log.warning("bot %d: cancelling its orders failed: %s", bot.id, type(exc).__name__)

    # ---- ticks

    async def run_tick(self, bot_id: int) -> None:
        """One scheduled tick with the error policy of the module docstring; never raises."""
        health = self._health.setdefault(bot_id, _Health())
        if health.retry_at > time.monotonic():
            return
        bot_type = self._types.get(bot_id) or await self._bot_type(bot_id)
        if bot_type is None:
            self.scheduler.unschedule(bot_id)
            return
        try:
            await self.runner.tick(bot_id, bot_type)
        except TemporaryExchangeError as exc:
            health.temporary += 1
            health.retry_at = time.monotonic() + min(self.max_backoff, 2.0 ** min(health.temporary, 16))
            await self._record_error(bot_id, exc, alert=health.temporary == 1)
        except FATAL as exc:
            await self._stop_with_error(bot_id, exc)
        except Exception as exc:
            log.exception("bot %d: tick failed", bot_id)
            health.failures += 1
            if health.failures >= self.max_failures:
                await self._stop_with_error(bot_id, exc, failures=health.failures)
            else:
                await self._record_error(bot_id, exc, alert=health.failures == 1)
        else:
            if health.failures or health.temporary:
                health.failures = health.temporary = 0
                health.retry_at = 0.0
                await self._clear_error(bot_id)
        self.fleet.bot_changed(bot_id)  # a tick may have changed the bot's stats, grid rows or error

    async def _bot_type(self, bot_id: int) -> str | None:
        async with self.db.read() as session:
            bot = await session.get(BotInstance, bot_id)
            if bot is None or not bot.is_running:
                return None
            self._types[bot_id] = bot.bot_type
            return bot.bot_type

    async def _record_error(self, bot_id: int, exc: BaseException, *, alert: bool) -> None:
        text = _error_text(exc)
        async with self.db.write() as session:
            bot = await session.get(BotInstance, bot_id)
            if bot is None:
                return
            bot.last_error = text
            if alert:
                user = await session.get(User, bot.user_id)
                assert user is not None
                await q.enqueue_alert(
                    session,
                    user_id=user.id,
                    chat_id=user.chat_id,
                    kind="bot_error",
                    bot=bot,
                    payload={"bot_id": bot.id, "name": bot.name, "error": text},
                )

    async def _clear_error(self, bot_id: int) -> None:
        async with self.db.write() as session:
            bot = await session.get(BotInstance, bot_id)
            if bot is not None:
                bot.last_error = None

    async def _stop_with_error(self, bot_id: int, exc: BaseException, *, failures: int = 1) -> None:
        """Store the error, alert the owner (always delivered) and stop the bot through the fleet."""
        text = _error_text(exc)
        async with self.db.write() as session:
            bot = await session.get(BotInstance, bot_id)
            if bot is None:
                return
            user_id = bot.user_id
            bot.last_error = text
            user = await session.get(User, bot.user_id)
            assert user is not None
            await q.enqueue_alert(
                session,
                user_id=user.id,
                chat_id=user.chat_id,
                kind="bot_stopped_error",
                bot=bot,
                payload={"bot_id": bot.id, "name": bot.name, "error": text, "failures": failures},
            )
        await self.stop_bot(user_id, bot_id, "error")

    async def stop_bot(self, user_id: int, bot_id: int, reason: str) -> None:
        """Stop a bot through the fleet (its listeners unschedule it); already stopped is fine."""
        try:
            await self.fleet.stop(user_id, bot_id, reason=reason)
        except DomainError:
            self.scheduler.unschedule(bot_id)

    # ---- exchanges and money

    async def exchange_for(self, user_id: int) -> Exchange:
        if await self._mode(user_id) == "live" and self.live_exchange_for is not None:
            async with self.db.read() as session:
                user = await session.get(User, user_id)
            assert user is not None
            return await self.live_exchange_for(user)
        return self.venue.account(user_id)

    def user_seen(self, user: UserDTO) -> None:
        """Told by bot.services.accounts (the users' writer) of every user it answers with: a switch between
        paper and live in /keys applies to the next tick."""
        self._modes[user.id] = (time.monotonic(), user.trading_mode)

    async def _mode(self, user_id: int) -> str:
        """The user's trading mode: from `user_seen`, re-read after `mode_ttl` seconds (another
        process may have changed it). The users asked for while a read is on its way are read
        together, in one query."""
        while True:
            cached = self._modes.get(user_id)
            if cached is not None and time.monotonic() - cached[0] < self.mode_ttl:
                return cached[1]
            self._modes_wanted.add(user_id)
            if self._modes_read is None or self._modes_read.done():
                self._modes_read = asyncio.get_running_loop().create_task(self._read_wanted_modes())
            await asyncio.shield(self._modes_read)  # one tick cancelled does not cancel the others' read

    async def _read_wanted_modes(self) -> None:
        await asyncio.sleep(0)  # the ticks of this loop pass add theirs
        wanted, self._modes_wanted = self._modes_wanted, set()
        await self._read_modes(wanted)

    async def _read_modes(self, user_ids: Collection[int]) -> None:
        ids = sorted(user_ids)
        modes: dict[int, str] = {}
        async with self.db.read() as session:
            for chunk in in_chunks(ids):
                query = select(User.id, User.trading_mode).where(User.id.in_(chunk))
                modes.update((user_id, mode) for user_id, mode in (await session.execute(query)).all())
        now = time.monotonic()
        for user_id in ids:  # an unknown user trades on paper
            self._modes[user_id] = (now, modes.get(user_id) or "paper")

    async def equity(self, user: User) -> Decimal:
        """The account's USDT balance (free + locked) plus held coins at their last price, cached
        `equity_ttl` seconds (the fleet's EquityProvider: allocated capital = equity x
        allocation_percent / 100)."""
        return await self._equity(user.id)

    async def _equity(self, user_id: int) -> Decimal:
        cached = self._equity_cache.get(user_id)
        if cached is not None and time.monotonic() - cached[0] < self.equity_ttl:
            return cached[1]
        exchange = await self.exchange_for(user_id)
        balance = await exchange.fetch_balance()
        value = balance.total("USDT")
        for asset, amount in balance.assets.items():  # held base valued at the last price
            if asset != "USDT" and amount.total:
                ticker = await _ticker_or_none(exchange, f"{asset}/USDT")
                value += amount.total * ticker if ticker is not None else Decimal(0)
        self._equity_cache[user_id] = (time.monotonic(), value)
        return value

    async def capital(self, user_id: int, allocation_percent: Decimal) -> Decimal:
        """Allocated capital of a bot (quote currency); what its grid already holds is checked by
        the grid runtime before it commits more. An unknown user's account holds nothing."""
        return await self._equity(user_id) * allocation_percent / HUNDRED


async def _ticker_or_none(exchange: Exchange, symbol: str) -> Decimal | None:
    try:
        return (await exchange.fetch_ticker(symbol)).last
    except Exception:  # no price for it: left out of the equity
        return None


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:ERROR_TEXT_MAX]
