"""Glue between the fleet, the scheduler and the trading engine.

Grid bots tick through engine.grid.runtime, AI trend bots through engine.trend.runtime (both behind
engine.runner.Runner). `EngineService` is a `bot.services.lifecycle.FleetListener`: a bot started through
the fleet gets its job; a bot marked stopping loses it and has its stop carried out (`_finish_stop`):
its orders cancelled under the bot's own tick lock, what raced the cancel booked, its holdings kept or
closed, and the fleet told (`Fleet.complete_stop`). A stop the venue does not confirm (a cancel that
fails, an exchange that is down) is tried again with backoff, across restarts, until it does; after
`stop_alert_after` seconds the owner is told which orders are still open and why. A stopped trend bot
that kept its positions (their stop loss and take profit resting on the exchange) is watched: their
fills are booked and alerted.

Every bot trades on the venue it was started on (bot_instances.venue: paper, live or demo), whatever
its owner's mode is now (`exchange_for`). At start-up every running bot is resumed (its first tick
reconciles with the exchange), every stop under way goes on, every kept position is watched.

Each tick runs with the error policy:
* temporary exchange errors (network, rate limit): last_error is stored and alerted once per
  streak ("bot_error"), the bot keeps running and its ticks back off exponentially (at most
  `max_backoff` seconds between tries) until the exchange answers again;
* fatal ones (insufficient funds, invalid order, authentication, not supported) stop the bot at
  once with a "bot_stopped_error" alert (delivered even with notifications off), keeping its coin and
  its positions with their protection (an automatic stop never removes it);
* anything else counts as a failure; `max_failures` in a row stop the bot the same way.
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
from bot.services.wallets import Wallets, read_wallets
from db import queries as q
from db.bulk import in_chunks
from db.models import BotInstance, GridBotConfig, GridOrder, TrendPositionRow, User
from db.session import Database
from engine.client_ids import bot_of_client_id
from engine.exchange import (
    AuthenticationFailed,
    Exchange,
    ExchangeError,
    ExchangeNotSupported,
    FeeRates,
    InsufficientFunds,
    InvalidOrder,
    Position,
    TemporaryExchangeError,
)
from engine.grid.runtime import GridRuntime
from engine.grid.store import GridStore
from engine.market_data.feeds import ReplayFeed
from engine.markets import unified_symbol
from engine.ports import StopIncomplete
from engine.runner import Runner
from engine.trend.candles import CandleSource
from engine.trend.runtime import TrendRuntime
from engine.trend.store import TrendStore
from engine.venues.paper.venue import PaperVenue

log = logging.getLogger(__name__)

FATAL = (InsufficientFunds, InvalidOrder, AuthenticationFailed, ExchangeNotSupported)
HUNDRED = Decimal(100)
ERROR_TEXT_MAX = 500
PRICE_TTL = 2.0  # seconds a live price shown in the chat is reused
# reasons of stops nobody asked for: they keep the coin and the positions with their protection
AUTOMATIC = frozenset({"error", "kill_switch"})


@dataclass
class _Health:
    failures: int = 0
    temporary: int = 0
    retry_at: float = 0.0


# a live or demo user's exchange: (user row, demo) -> the account's handle (engine.venues.live)
LiveExchangeFor = Callable[[User, bool], Awaitable[Exchange]]


class EngineService:
    """Runs the bots of this process. `live_exchange_for(user, demo)` gives a user's live (or demo)
    exchange account (engine.venues.live.accounts); without it every bot trades on the paper `venue`."""

    def __init__(
        self,
        db: Database,
        fleet: Fleet,
        *,
        venue: PaperVenue,
        live_exchange_for: LiveExchangeFor | None = None,
        interval: float = 1.0,
        max_failures: int = 5,
        max_backoff: float = 60.0,
        equity_ttl: float = 5.0,
        mode_ttl: float = 60.0,
        scheduler: BotScheduler | None = None,
        compressed_replay: bool = True,
        candles: CandleSource | None = None,
        stop_retry: tuple[float, float] = (1.0, 60.0),
        stop_alert_after: float = 180.0,
    ) -> None:
        """`compressed_replay`: with a replay feed every replayed candle counts as one candle of a trend
        bot's timeframe (the sandbox trades within minutes); False resamples the replay to it.
        `stop_retry`: the first and the longest wait between two tries of a stop (s)."""
        self.db = db
        self.fleet = fleet
        self.venue = venue
        self.live_exchange_for = live_exchange_for
        self._followed: dict[int, Exchange] = {}  # live account handles whose order pushes tick bots
        # (user, venue) -> (when read, the live handle): re-read after mode_ttl, or when the user changed
        self._live_handles: dict[tuple[int, str], tuple[float, Exchange]] = {}
        self.max_failures = max_failures
        self.max_backoff = max_backoff
        self.equity_ttl = equity_ttl
        self.mode_ttl = mode_ttl
        self.stop_retry = stop_retry
        self.stop_alert_after = stop_alert_after
        self.grid = GridRuntime(GridStore(db), self.exchange_for, self.stop_bot, self.capital)
        self.trend = TrendRuntime(
            TrendStore(db),
            self.exchange_for,
            self.stop_bot,
            self.capital,
            candles=candles or CandleSource(compressed=compressed_replay),
        )
        self.runner = Runner(self.grid, self.trend)
        self.trading = Trading(db, self.trend, self.user_exchange)  # the chat's manual trades
        self.scheduler = scheduler or BotScheduler(self.run_tick, interval=interval)
        self.scheduler.tick = self.run_tick
        self.feeds: list[Any] = []
        self._types: dict[int, str] = {}
        self._health: dict[int, _Health] = {}
        self._watching: set[int] = set()  # stopped trend bots whose kept positions are watched
        self._stops: dict[int, asyncio.Task[None]] = {}  # stops waiting for their next try
        self._stuck_told: set[int] = set()  # stops whose owner was told they take too long
        self._modes: dict[int, tuple[float, str]] = {}
        self._modes_wanted: set[int] = set()
        self._modes_read: asyncio.Task[None] | None = None
        self._equity_cache: dict[tuple[int, str], tuple[float, Wallets]] = {}
        self._prices: dict[tuple[str, str], tuple[float, Decimal]] = {}  # the chat's prices of live venues
        self._closing = False
        if self not in fleet.listeners:
            fleet.listeners.append(self)

    # ---- life cycle

    async def start(self, feeds: Sequence[Any] = ()) -> list[int]:
        """Load the paper book, start the feeds and the scheduler, resume every running bot, go on
        with every stop under way and watch every kept position. Returns the ids of the resumed bots."""
        self._closing = False
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
            stopping = list(
                (
                    await session.execute(
                        select(BotInstance.id).where(BotInstance.stopping.is_(True)).order_by(BotInstance.id)
                    )
                ).scalars()
            )
            watched = list(
                (
                    await session.execute(
                        select(BotInstance.id)
                        .join(TrendPositionRow, TrendPositionRow.bot_instance_id == BotInstance.id)
                        .where(
                            BotInstance.is_running.is_(False),
                            BotInstance.stopping.is_(False),
                            BotInstance.is_active.is_(True),
                            TrendPositionRow.status.in_(q.ACTIVE_TREND),
                        )
                        .distinct()
                    )
                ).scalars()
            )
        resumed = [bot_id for bot_id, bot_type, _ in rows if self.runner.handles(bot_type)]
        # what every first tick would read on its own, read at once
        await self._read_modes({user_id for _, _, user_id in rows})
        await self.grid.preload([bot_id for bot_id, bot_type, _ in rows if bot_type == "grid"])
        await self.venue.recall(self.grid.orders_out())
        for bot_id, bot_type, _ in rows:
            if self.runner.handles(bot_type):
                self._types[bot_id] = bot_type
                self.scheduler.schedule(bot_id)
        for bot_id in stopping:  # tried once now (the paper venue confirms at once), then with backoff
            if not await self._finish_stop(bot_id):
                self._retry_stop(bot_id)
        for bot_id in watched:
            self._watch(bot_id)
        log.info(
            "engine: resumed %d running bots, %d stops under way, %d kept positions watched",
            len(resumed),
            len(stopping),
            len(watched),
        )
        return resumed

    async def shutdown(self) -> None:
        """Stop ticking (the ticks under way are cancelled and waited for) and the feeds, then let the
        writes already asked for end, so nothing writes once the caller closes the database. A tick
        cut off here is one the next start reconciles; a stop under way goes on at the next start."""
        self._closing = True
        self.scheduler.shutdown()
        await self.scheduler.wait_closed()
        for task in list(self._stops.values()):
            task.cancel()
        if self._stops:
            await asyncio.wait(list(self._stops.values()))
        self._stops.clear()
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
            self._watching.discard(bot.id)
            self._types[bot.id] = bot.bot_type
            self._health.pop(bot.id, None)
            self.runner.resume(bot.id, bot.bot_type)
            self.scheduler.schedule(bot.id)

    async def bot_stopping(self, bot: BotDTO) -> None:
        """Carry the stop out now; when the venue does not confirm it, again later (`_retry_stop`)."""
        self.scheduler.unschedule(bot.id)
        self._types.pop(bot.id, None)
        self._health.pop(bot.id, None)
        self._watching.discard(bot.id)
        pending = self._stops.pop(bot.id, None)
        if pending is not None:
            pending.cancel()
        if not await self._finish_stop(bot.id):
            self._retry_stop(bot.id)

    async def bot_edited(self, bot: BotDTO) -> None:
        """A running (or watched) trend bot's stop loss or take profit changed: its resting orders follow."""
        if bot.bot_type != "ai_trend":
            return
        try:
            await self.trend.refresh(bot.id)
        except (ExchangeError, StopIncomplete) as exc:  # the next tick or watch places them
            log.warning("bot %d: new exits not placed yet: %s", bot.id, _error_text(exc))

    # ---- stops

    async def _finish_stop(self, bot_id: int) -> bool:
        """One try of the bot's stop; True once it is done (or nothing is left to stop)."""
        async with self.db.read() as session:
            bot = await session.get(BotInstance, bot_id)
            if bot is None or not bot.stopping:
                return True
            bot_type, reason, requested = bot.bot_type, bot.stop_reason or "user", bot.stop_requested_at
        close: bool | None = False if reason in AUTOMATIC else None
        try:
            report = await self.runner.halt(bot_id, bot_type, close=close)
        except (ExchangeError, StopIncomplete) as exc:
            await self._stop_problem(bot_id, exc, requested)
            return False
        except Exception as exc:
            log.exception("bot %d: stop failed", bot_id)
            await self._stop_problem(bot_id, exc, requested)
            return False
        await self.fleet.complete_stop(bot_id, report)
        self._stuck_told.discard(bot_id)
        if report.positions_kept:
            self._watch(bot_id)
        return True

    async def _stop_problem(self, bot_id: int, exc: BaseException, requested: Any) -> None:
        """Note what the stop waits for on the bot; tell the owner once it has lasted too long, or at once
        when the exchange refuses the account's keys (revoked or expired: nothing can be cancelled, so
        the owner is told which orders the bot's books hold open on the exchange)."""
        orders = exc.orders if isinstance(exc, StopIncomplete) else []
        refused_keys = isinstance(exc, AuthenticationFailed)
        if refused_keys:
            orders = await self._orders_on_books(bot_id)
        note = _error_text(exc)
        waited = time.time() - requested.timestamp() if requested is not None else 0.0
        stuck = refused_keys or waited >= self.stop_alert_after
        alert = None
        if stuck and bot_id not in self._stuck_told:  # told once per stop
            self._stuck_told.add(bot_id)
            alert = {"orders": ", ".join(orders[:20]) or "-", "count": len(orders), "error": note}
        text = f"{len(orders)} orders left: {note}" if orders else note
        await self.fleet.note_stop(bot_id, text, alert=alert)

    async def _orders_on_books(self, bot_id: int) -> list[str]:
        """The client ids of the orders the bot's books say rest on the exchange (grid lines placed, a
        trend position's take profit and stop loss)."""
        async with self.db.read() as session:
            grid = await session.execute(
                select(GridOrder.status, GridOrder.buy_order_id, GridOrder.sell_order_id)
                .join(GridBotConfig, GridBotConfig.id == GridOrder.grid_config_id)
                .where(GridBotConfig.bot_instance_id == bot_id)
                .order_by(GridOrder.grid_index)
            )
            orders = [
                buy if status == "buy_placed" else sell
                for status, buy, sell in grid
                if (status == "buy_placed" and buy) or (status == "sell_placed" and sell)
            ]
            trend = await session.execute(
                select(TrendPositionRow.tp_order_id, TrendPositionRow.sl_order_id).where(
                    TrendPositionRow.bot_instance_id == bot_id,
                    TrendPositionRow.status.in_(("open", "closing")),
                )
            )
            orders += [cid for row in trend for cid in row if cid]
        return orders

    def _retry_stop(self, bot_id: int, *, delay: float | None = None) -> None:
        if self._closing or bot_id in self._stops:
            return
        self._stops[bot_id] = asyncio.get_running_loop().create_task(
            self._stop_loop(bot_id, self.stop_retry[0] if delay is None else delay), name=f"stop {bot_id}"
        )

    async def _stop_loop(self, bot_id: int, delay: float) -> None:
        """Try the stop again with growing waits until the venue confirms it (or the process ends)."""
        try:
            while True:
                await asyncio.sleep(delay)
                if await self._finish_stop(bot_id):
                    return
                delay = min(self.stop_retry[1], max(delay * 2, self.stop_retry[0]))
        finally:
            if self._stops.get(bot_id) is asyncio.current_task():
                self._stops.pop(bot_id, None)

    def _watch(self, bot_id: int) -> None:
        self._watching.add(bot_id)
        self._types[bot_id] = "ai_trend"
        self.scheduler.schedule(bot_id)

    # ---- ticks

    async def run_tick(self, bot_id: int) -> None:
        """One scheduled tick with the error policy of the module docstring; never raises."""
        if bot_id in self._watching:
            await self._watch_tick(bot_id)
            return
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

    async def _watch_tick(self, bot_id: int) -> None:
        health = self._health.setdefault(bot_id, _Health())
        if health.retry_at > time.monotonic():
            return
        try:
            holding = await self.trend.watch(bot_id)
        except Exception as exc:  # kept positions are watched whatever happens; the next look retries
            health.temporary += 1
            health.retry_at = time.monotonic() + min(self.max_backoff, 2.0 ** min(health.temporary, 16))
            log.warning("bot %d: watching its positions failed: %s", bot_id, _error_text(exc))
            return
        health.temporary = 0
        health.retry_at = 0.0
        if not holding:
            self._watching.discard(bot_id)
            self.scheduler.unschedule(bot_id)
            self._types.pop(bot_id, None)
        self.fleet.bot_changed(bot_id)

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
                    chat_id=q.private_chat(user),
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
        """Store the error, alert the owner (always delivered) and stop the bot through the fleet, keeping
        its holdings (an automatic stop never removes a position's protection)."""
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
                chat_id=q.private_chat(user),
                kind="bot_stopped_error",
                bot=bot,
                payload={"bot_id": bot.id, "name": bot.name, "error": text, "failures": failures},
            )
        await self.stop_bot(user_id, bot_id, "error")

    async def stop_bot(self, user_id: int, bot_id: int, reason: str) -> None:
        """Stop a bot through the fleet (its listeners carry the stop out); already stopped is fine."""
        try:
            keep = "keep" if reason in AUTOMATIC else None
            await self.fleet.stop(user_id, bot_id, reason=reason, holdings=keep)
        except DomainError:
            self.scheduler.unschedule(bot_id)

    # ---- exchanges and money

    async def exchange_now(self, user_id: int) -> Exchange:
        """The user's account on the venue they trade on now (the wizard's range suggestions read it)."""
        return await self.exchange_for(user_id, await self.user_venue(user_id))

    async def exchange_for(self, user_id: int, venue: str) -> Exchange:
        """The user's account on `venue` (a bot's binding): the paper venue's, or their live or demo
        exchange account."""
        if venue == "paper":
            return self.venue.account(user_id)
        if self.live_exchange_for is None:
            raise ExchangeNotSupported(f"this process has no {venue} exchange")
        cached = self._live_handles.get((user_id, venue))
        if cached is not None and time.monotonic() - cached[0] < self.mode_ttl:
            return cached[1]  # every tick of every live bot asks: the user's row is read once a ttl
        async with self.db.read() as session:
            user = await session.get(User, user_id)
        if user is None:
            raise AuthenticationFailed(f"user {user_id} is gone")
        exchange = await self.live_exchange_for(user, venue == "demo")
        self._follow_pushes(exchange)
        self._live_handles[(user_id, venue)] = (time.monotonic(), exchange)
        return exchange

    def _follow_pushes(self, exchange: Exchange) -> None:
        """A live account's pushed order changes tick the bot that owns the order at once (a fill is
        booked then, not at the bot's next interval); asked once per account handle."""
        if id(exchange) in self._followed:
            return
        follow = getattr(exchange, "on_order_change", None)
        if follow is not None and follow(self._order_pushed):
            self._followed[id(exchange)] = exchange

    def _order_pushed(self, symbol: str, client_order_id: str) -> None:
        bot_id = bot_of_client_id(client_order_id)
        if bot_id is not None:
            self.scheduler.kick(bot_id)

    async def user_exchange(self, user_id: int) -> Exchange:
        """The user's account on the venue they trade on now (the chat's manual trades and prices)."""
        return await self.exchange_for(user_id, await self.user_venue(user_id))

    async def price_for_user(self, user_id: int, symbol: str) -> Decimal | None:
        """The last price of our symbol ('BTCUSDT') where the user trades now: the paper venue's (its
        replay or live feed), or the user's own exchange's (a live user never sees replayed prices)."""
        unified = unified_symbol(symbol)
        venue = await self.user_venue(user_id)
        if venue == "paper":
            return self.venue.last_price(unified)
        key = (venue, unified)
        cached = self._prices.get(key)
        if cached is not None and time.monotonic() - cached[0] < PRICE_TTL:
            return cached[1]
        exchange = await self.exchange_for(user_id, venue)
        await exchange.load_markets()
        price = (await exchange.fetch_ticker(unified)).last
        self._prices[key] = (time.monotonic(), price)
        return price

    async def fee_rates_for_user(self, user_id: int, symbol: str) -> FeeRates | None:
        """The account's own fee rates on our symbol ('BTCUSDT', spot) where the user trades now (the
        exchange's, read once per account and market); None on paper (the venue's configured rates)."""
        venue = await self.user_venue(user_id)
        if venue == "paper":
            return None
        exchange = await self.exchange_for(user_id, venue)
        await exchange.load_markets()
        return await exchange.fee_rates(unified_symbol(symbol))

    async def positions_for(self, user_id: int, venue: str, symbol: str) -> list[Position]:
        """The account's open positions on our perpetual ('BTCUSDT') on `venue`, as the venue reports
        them (their liquidation price is the exchange's)."""
        exchange = await self.exchange_for(user_id, venue)
        await exchange.load_markets()
        spot = unified_symbol(symbol)
        return await exchange.fetch_positions([f"{spot}:{spot.split('/')[1]}"])

    def user_seen(self, user: UserDTO) -> None:
        """Told by bot.services.accounts (the users' writer) of every user it answers with."""
        self._modes[user.id] = (time.monotonic(), _venue_of(user.trading_mode, user.demo_trading))
        for venue in ("live", "demo"):  # new keys, a new mode: the next tick reads the user again
            self._live_handles.pop((user.id, venue), None)

    async def user_venue(self, user_id: int) -> str:
        """The venue the user trades on now: from `user_seen`, re-read after `mode_ttl` seconds
        (another process may have changed it). The users asked for while a read is on its way are
        read together, in one query."""
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
                query = select(User.id, User.trading_mode, User.demo_trading).where(User.id.in_(chunk))
                for user_id, mode, demo in (await session.execute(query)).all():
                    modes[user_id] = _venue_of(mode, demo)
        now = time.monotonic()
        for user_id in ids:  # an unknown user trades on paper
            self._modes[user_id] = (now, modes.get(user_id) or "paper")

    async def equity(self, user_id: int, venue: str) -> Decimal:
        """The account's equity on `venue` (DESIGN.md: spot USDT + coins at their last price + futures
        equity; a unified account's one wallet counted once), cached `equity_ttl` seconds (the fleet's
        EquityProvider: allocated capital = equity x allocation_percent / 100)."""
        return (await self.wallets(user_id, venue)).equity

    async def wallets(self, user_id: int, venue: str) -> Wallets:
        """The account's wallets on `venue` (bot.services.wallets), cached `equity_ttl` seconds."""
        key = (user_id, venue)
        cached = self._equity_cache.get(key)
        if cached is not None and time.monotonic() - cached[0] < self.equity_ttl:
            return cached[1]
        value = await read_wallets(await self.exchange_for(user_id, venue))
        self._equity_cache[key] = (time.monotonic(), value)
        return value

    async def capital(self, user_id: int, venue: str, allocation_percent: Decimal) -> Decimal:
        """Allocated capital of a bot (quote currency) on its venue; what its grid already holds is
        checked by the grid runtime before it commits more."""
        return await self.equity(user_id, venue) * allocation_percent / HUNDRED


def _venue_of(mode: str, demo: bool | None) -> str:
    if mode == "live":
        return "demo" if demo else "live"
    return "paper"


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:ERROR_TEXT_MAX]
