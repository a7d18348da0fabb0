"""The fleet service: create, allocate, edit, start, stop and delete a user's bots (the start, stop and
delete of bot.services.lifecycle, which this class inherits).

Handlers call only this (and `bot.services.accounts`). Every method owns its transaction, checks ownership (a
bot of another user is "not found"), validates before it changes anything, and returns frozen DTOs. Invariant
1 (allocations of a user's active bots add up to at most 100 %) holds because every write that can change the
sum locks the user's row first (see db.queries).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import validation as v
from bot.services.dto import AllocationChange, AllocationSummary, BotDTO, BotShare, GridDTO, TradeDTO
from bot.services.errors import (
    ExchangeOutOfReach,
    NameTaken,
    NotFound,
    OverAllocation,
    StopBotFirst,
    TooManyBots,
    ValidationError,
)
from bot.services.fleet_views import BotView, BotViews
from bot.services.grid_money import Fill, grid_money
from bot.services.grid_plan import FeeRatesFor, plan_grid
from bot.services.grid_plan import GridTooSmall as GridTooSmall  # re-exported: handlers catch it
from bot.services.lifecycle import BotLifecycle, EquityProvider, FleetListener, current_venue
from bot.services.lifecycle import InsufficientCapital as InsufficientCapital  # re-exported
from bot.services.strategies import visible_to
from bot.services.trend_money import (
    OpenPosition,
    PositionsFor,
    TrendMoney,
    trend_money,
    with_venue_liquidation,
)
from db import queries as q
from db.base import utcnow
from db.models import BotInstance, GridBotConfig, GridOrder, Strategy, Trade, TrendPositionRow, User
from db.session import Database
from engine.exchange import ExchangeError, TemporaryExchangeError
from engine.markets import MarketCatalog, MarketRules, StaticMarketCatalog

log = logging.getLogger(__name__)

HUNDRED = Decimal(100)


PriceFor = Callable[[int, str], Awaitable[Decimal | None]]


async def _no_price(user_id: int, symbol: str) -> Decimal | None:
    return None


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """Percents are 0-100."""

    max_leverage: int = 10
    max_positions: int = 3
    stop_loss_percent: Decimal = Decimal("5.0")
    take_profit_percent: Decimal = Decimal("10.0")


class Fleet(BotLifecycle):
    def __init__(
        self,
        db: Database,
        *,
        max_bots_per_user: int = 10,
        max_leverage: int = 100,
        markets: MarketCatalog | None = None,
        equity: EquityProvider | None = None,
        view_cache: bool | None = None,
    ) -> None:
        self.db = db
        self.max_bots_per_user = max_bots_per_user
        self.max_leverage = max_leverage
        self.markets = markets or StaticMarketCatalog()
        self.equity: EquityProvider = equity or self._paper_balance  # the engine sets the exchange's
        self.listeners: list[FleetListener] = []
        # Views are kept only where this process is the database's one writer besides the engine that
        # tells it (SQLite: one process by nature); with PostgreSQL several processes may serve users.
        self.views = BotViews(enabled=db.is_sqlite if view_cache is None else view_cache)
        self.price_for: PriceFor = _no_price  # (user_id, symbol) -> price; the engine sets it
        self.positions_for: PositionsFor | None = None  # a venue's positions; the engine sets it
        self.fee_rates_for: FeeRatesFor | None = None  # an account's fee rates; the engine sets it

    # ---- reading

    async def list_bots(self, user_id: int) -> list[BotDTO]:
        async with self.db.read() as session:
            return [BotDTO.of(b) for b in await q.active_bots(session, user_id)]

    async def get_bot(self, user_id: int, bot_id: int) -> BotDTO:
        async with self.db.read() as session:
            bot = await self._owned(session, user_id, bot_id)
            return await self._dto(session, bot)

    async def overview(self, user_id: int) -> tuple[list[BotDTO], AllocationSummary]:
        """The user's active bots and the allocation summary, read in one transaction."""
        view = self.views.get(user_id)
        if view is None:
            version = self.views.version(user_id)
            async with self.db.read() as session:
                bots = await q.active_bots(session, user_id)
                dtos = tuple(BotDTO.of(b) for b in bots)
                # a trend bot's card is its list entry; a grid bot's card also needs its grid rows
                cards = {dto.id: dto for dto in dtos if dto.bot_type != "grid"}
                view = BotView(dtos, self._summary(bots), cards)
            self.views.keep(user_id, view, version)
        return list(view.bots), view.summary

    async def card(self, user_id: int, bot_id: int) -> tuple[BotDTO, AllocationSummary]:
        """One bot (owner only) with the user's allocation summary and its money (read in one
        transaction; a trend bot's mark price and capital are asked of its venue after it)."""
        async with self.db.read() as session:
            bots = await q.active_bots(session, user_id)
            bot = next((b for b in bots if b.id == bot_id), None)
            if bot is None:
                raise NotFound()
            dto, summary = await self._dto(session, bot), self._summary(bots)
            if bot.bot_type == "ai_trend":
                positions = await q.open_trend_positions(session, bot.id)
                fills = await q.bot_fees_and_pnl(session, bot.id)
        if bot.bot_type == "ai_trend":
            dto = replace(dto, trend=await self._trend_money(user_id, dto, positions, fills))
        return dto, summary

    async def _trend_money(
        self,
        user_id: int,
        bot: BotDTO,
        positions: list[TrendPositionRow],
        fills: list[tuple[Decimal, Decimal | None]],
    ) -> TrendMoney:
        mark = capital = None
        with contextlib.suppress(ExchangeError):  # the card shows what it can without the venue
            mark = await self.price_for(user_id, bot.symbol) if positions else None
        with contextlib.suppress(ExchangeError, ExchangeOutOfReach):
            equity = await (self.equity(user_id, bot.venue) if bot.venue else self.account_equity(user_id))
            capital = equity * bot.allocation_percent / 100
        opens = [
            OpenPosition(
                p.side,
                p.qty,
                p.entry_price or p.reference_price,
                p.entry_fee or Decimal(0),
                p.leverage,
                p.liquidation,
                p.stop_loss,
                p.take_profit,
            )
            for p in positions
        ]
        if self.positions_for is not None and bot.venue and any(p.liquidation for p in positions):
            with contextlib.suppress(ExchangeError):  # futures: the venue's own liquidation price
                opens = with_venue_liquidation(
                    opens, await self.positions_for(user_id, bot.venue, bot.symbol)
                )
        return trend_money(
            opens,
            fills,
            mark=mark,
            trades=bot.total_trades,
            wins=bot.winning_trades,
            capital=capital,
        )

    def bot_changed(self, bot_id: int) -> None:
        """Told by the engine after a tick: the bot's stats, grid or error may have changed."""
        self.views.bot_changed(bot_id)

    @asynccontextmanager
    async def _writing(self, user_id: int) -> AsyncIterator[AsyncSession]:
        """A write transaction of the user's; their kept view is dropped once it is over."""
        try:
            async with self.db.write() as session:
                yield session
        finally:
            self.views.user_changed(user_id)

    async def trades(self, user_id: int, bot_id: int, *, limit: int | None = 20) -> list[TradeDTO]:
        """The bot's fills, newest first (owner only); `limit` None gives all of them."""
        async with self.db.read() as session:
            bot = await self._owned(session, user_id, bot_id)
            query = (
                select(Trade)
                .where(Trade.bot_instance_id == bot.id, Trade.user_id == user_id)
                .order_by(Trade.executed_at.desc(), Trade.id.desc())
            )
            if limit is not None:
                query = query.limit(limit)
            rows = (await session.execute(query)).scalars().all()
            return [TradeDTO.of(r) for r in rows]

    async def allocation(self, user_id: int) -> AllocationSummary:
        async with self.db.read() as session:
            return self._summary(await q.active_bots(session, user_id))

    async def last_price(self, user_id: int, symbol: str) -> Decimal | None:
        """The last price of a normalised symbol ('BTCUSDT') on the venue the user trades on now (the
        exchange's for a live user, the paper venue's replay or live feed otherwise), if known."""
        try:
            return await self.price_for(user_id, symbol)
        except Exception as exc:  # no price to show is better than a wizard that fails
            log.info("no price of %s for user %d: %s", symbol, user_id, type(exc).__name__)
            return None

    async def account_equity(self, user_id: int) -> Decimal:
        """The user's account equity in quote currency (USDT) on the venue they trade on now."""
        async with self.db.read() as session:
            user = await session.get(User, user_id)
            if user is None:
                raise NotFound("user")
            venue, _ = current_venue(user)
        try:
            return await self.equity(user_id, venue)
        except TemporaryExchangeError as exc:  # a refusal the chat can show: the exchange is out of reach
            raise ExchangeOutOfReach(type(exc).__name__) from None

    async def grid_wallet_free(self, user_id: int) -> Decimal | None:
        """The free USDT of the spot wallet a new grid trades from where the user trades now, which its
        start checks (bot.services.wallets.check_wallet); None where nothing is checked: the paper venue,
        one wallet for both, or no wallets to read."""
        if self.wallets is None:
            return None
        async with self.db.read() as session:
            user = await session.get(User, user_id)
            if user is None:
                raise NotFound("user")
            venue, _ = current_venue(user)
        if venue == "paper":  # one paper balance: the start checks no wallet there
            return None
        try:
            wallets = await self.wallets(user_id, venue)
        except TemporaryExchangeError as exc:
            raise ExchangeOutOfReach(type(exc).__name__) from None
        return None if wallets.one_wallet else wallets.spot_free

    async def _paper_balance(self, user_id: int, venue: str) -> Decimal:
        """Without an engine: the user's paper balance, on every venue."""
        async with self.db.read() as session:
            balance = (await session.execute(select(User.paper_balance).where(User.id == user_id))).scalar()
        if balance is None:
            raise NotFound("user")
        return balance

    # ---- creating

    async def create_trend_bot(
        self,
        user_id: int,
        *,
        name: str,
        symbol: str,
        allocation_percent: object,
        risk: RiskLimits | None = None,
        strategy_id: int | None = None,
        description: str | None = None,
    ) -> AllocationChange:
        clean = await self._clean_common(name, symbol, allocation_percent, risk or RiskLimits())
        async with self._writing(user_id) as session:
            if strategy_id is not None:
                visible = await session.execute(
                    select(Strategy.id).where(Strategy.id == strategy_id, visible_to(user_id))
                )
                if visible.scalar_one_or_none() is None:
                    raise NotFound("strategy")
            bot = await self._insert_bot(session, user_id, "ai_trend", clean, strategy_id, description)
            summary = self._summary(await q.active_bots(session, user_id))
            return AllocationChange(BotDTO.of(bot), summary.free_percent)

    async def create_grid_bot(
        self,
        user_id: int,
        *,
        name: str,
        symbol: str,
        allocation_percent: object,
        lower_price: object,
        upper_price: object,
        grid_count: object,
        grid_mode: object = "arithmetic",
        total_investment: object,
        trigger_price: object = None,
        stop_upper: object = None,
        stop_lower: object = None,
        close_position_on_stop: bool = False,
        risk: RiskLimits | None = None,
    ) -> AllocationChange:
        """A grid bot with its lines and one pending grid_orders row per interval, in one transaction."""
        clean = await self._clean_common(name, symbol, allocation_percent, risk or RiskLimits(max_leverage=1))
        params = v.validate_grid_params(
            lower=lower_price,
            upper=upper_price,
            grid_count=grid_count,
            mode=grid_mode,
            total_investment=total_investment,
            trigger_price=trigger_price,
            stop_upper=stop_upper,
            stop_lower=stop_lower,
        )
        plan = plan_grid(params, clean.market)
        async with self._writing(user_id) as session:
            bot = await self._insert_bot(session, user_id, "grid", clean, None, None)
            config = GridBotConfig(
                bot_instance_id=bot.id,
                lower_price=params.lower,
                upper_price=params.upper,
                grid_count=params.grid_count,
                grid_mode=params.mode,
                total_investment=params.total_investment,
                per_grid_amount=plan.per_grid_amount,
                trigger_price=params.trigger_price,
                stop_upper=params.stop_upper,
                stop_lower=params.stop_lower,
                close_position_on_stop=close_position_on_stop,
            )
            session.add(config)
            await session.flush()
            orders = [
                GridOrder(
                    grid_config_id=config.id, grid_index=i, grid_price=plan.lines[i], qty=plan.quantities[i]
                )
                for i in range(params.grid_count)
            ]
            session.add_all(orders)
            await session.flush()
            summary = self._summary(await q.active_bots(session, user_id))
            return AllocationChange(BotDTO.of(bot, GridDTO.of(config, orders)), summary.free_percent)

    # ---- editing

    async def set_allocation(self, user_id: int, bot_id: int, allocation_percent: object) -> AllocationChange:
        percent = v.validate_allocation(allocation_percent)
        async with self._writing(user_id) as session:
            await self._lock_user(session, user_id)
            bot = await self._owned(session, user_id, bot_id)
            if bot.is_running:
                raise StopBotFirst("allocation")
            bots = await q.active_bots(session, user_id)
            free = HUNDRED - q.allocation_used(bots, excluding=bot.id)
            if percent > free:
                raise OverAllocation(percent, free)
            bot.allocation_percent = percent
            bot.updated_at = utcnow()
            await session.flush()
            return AllocationChange(await self._dto(session, bot), free - percent)

    async def set_risk(
        self,
        user_id: int,
        bot_id: int,
        *,
        max_leverage: object = None,
        max_positions: object = None,
        stop_loss_percent: object = None,
        take_profit_percent: object = None,
        max_loss: object = None,
        pnl_take_profit: object = None,
        pnl_stop_loss: object = None,
    ) -> BotDTO:
        """Leverage and positions change only while stopped; SL and TP are safe to change while running, as
        are the bot's guards (max loss, TP / SL on its total PnL %: "0" or "off" removes one)."""
        guards = {
            name: v.validate_limit(value, name, percent=name != "max_loss")
            for name, value in (
                ("max_loss", max_loss),
                ("pnl_take_profit", pnl_take_profit),
                ("pnl_stop_loss", pnl_stop_loss),
            )
            if value is not None
        }
        leverage = v.validate_leverage(max_leverage, self.max_leverage) if max_leverage is not None else None
        positions = v.validate_positions(max_positions) if max_positions is not None else None
        stop_loss = v.validate_stop_loss(stop_loss_percent) if stop_loss_percent is not None else None
        take_profit = v.validate_take_profit(take_profit_percent) if take_profit_percent is not None else None
        async with self._writing(user_id) as session:
            bot = await self._owned(session, user_id, bot_id, lock=True)
            if bot.is_running and (leverage is not None or positions is not None):
                raise StopBotFirst("leverage" if leverage is not None else "max_positions")
            if leverage is not None:
                bot.max_leverage = leverage
            if positions is not None:
                bot.max_positions = positions
            if stop_loss is not None:
                bot.stop_loss_percent = stop_loss
            if take_profit is not None:
                bot.take_profit_percent = take_profit
            for name, limit in guards.items():
                setattr(bot, name, limit)
            bot.updated_at = utcnow()
            await session.flush()
            edited = await self._dto(session, bot)
        if stop_loss is not None or take_profit is not None:  # a running bot's resting orders follow
            for listener in self.listeners:
                await listener.bot_edited(edited)
        return edited

    async def set_notify(self, user_id: int, bot_id: int, enabled: bool) -> BotDTO:
        async with self._writing(user_id) as session:
            bot = await self._owned(session, user_id, bot_id, lock=True)
            bot.telegram_notify = bool(enabled)
            bot.updated_at = utcnow()
            await session.flush()
            return await self._dto(session, bot)

    async def rename(self, user_id: int, bot_id: int, name: str) -> BotDTO:
        clean_name = v.validate_name(name)
        async with self._writing(user_id) as session:
            await self._lock_user(session, user_id)
            bot = await self._owned(session, user_id, bot_id)
            if await q.active_name_taken(session, user_id, clean_name, excluding=bot.id):
                raise NameTaken(clean_name)
            bot.name = clean_name
            bot.updated_at = utcnow()
            await session.flush()
            return await self._dto(session, bot)

    # ---- internals

    async def _clean_common(
        self, name: str, symbol: str, allocation_percent: object, risk: RiskLimits
    ) -> _CleanBot:
        clean_name = v.validate_name(name)
        clean_symbol = v.normalize_symbol(symbol)
        market = await self.markets.rules(clean_symbol)
        if market is None:
            raise ValidationError("symbol", f"unknown symbol {symbol!r}", symbol=str(symbol))
        return _CleanBot(
            name=clean_name,
            symbol=clean_symbol,
            market=market,
            allocation=v.validate_allocation(allocation_percent),
            leverage=v.validate_leverage(risk.max_leverage, self.max_leverage),
            positions=v.validate_positions(risk.max_positions),
            stop_loss=v.validate_stop_loss(risk.stop_loss_percent),
            take_profit=v.validate_take_profit(risk.take_profit_percent),
        )

    async def _insert_bot(
        self,
        session: AsyncSession,
        user_id: int,
        bot_type: str,
        clean: _CleanBot,
        strategy_id: int | None,
        description: str | None,
    ) -> BotInstance:
        await self._lock_user(session, user_id)
        bots = await q.active_bots(session, user_id)
        if len(bots) >= self.max_bots_per_user:
            raise TooManyBots(self.max_bots_per_user)
        if any(b.name == clean.name for b in bots):
            raise NameTaken(clean.name)
        free = HUNDRED - q.allocation_used(bots)
        if clean.allocation > free:
            raise OverAllocation(clean.allocation, free)
        bot = BotInstance(
            user_id=user_id,
            strategy_id=strategy_id,
            name=clean.name,
            description=description,
            bot_type=bot_type,
            allocation_percent=clean.allocation,
            symbol=clean.symbol,
            max_leverage=clean.leverage,
            max_positions=clean.positions,
            stop_loss_percent=clean.stop_loss,
            take_profit_percent=clean.take_profit,
        )
        session.add(bot)
        try:
            await session.flush()
        except IntegrityError:  # the unique (user_id, name) constraint is the last line of defence
            raise NameTaken(clean.name) from None
        return bot

    async def _lock_user(self, session: AsyncSession, user_id: int) -> User:
        user = await q.lock_user(session, user_id)
        if user is None:
            raise NotFound("user")
        return user

    async def _owned(
        self, session: AsyncSession, user_id: int, bot_id: int, *, lock: bool = False
    ) -> BotInstance:
        if not isinstance(bot_id, int) or isinstance(bot_id, bool) or not 0 < bot_id < 2**31:
            raise NotFound()
        bot = await q.owned_bot(session, user_id, bot_id, lock=lock)
        if bot is None:
            raise NotFound()
        return bot

    async def _dto(self, session: AsyncSession, bot: BotInstance) -> BotDTO:
        grid = await q.grid_of(session, bot.id) if bot.bot_type == "grid" else None
        if grid is None:
            return BotDTO.of(bot)
        config, orders = grid
        money = grid_money(
            (Fill(*row) for row in await q.bot_fills(session, bot.id)),
            investment=config.total_investment,
            grid_profit=config.realized_profit or Decimal(0),
            cycles=sum(o.cycle for o in orders),
            mark=config.current_price,
            started_at=bot.last_started_at,
            now=utcnow(),
            buys_resting=config.active_buy_orders or 0,
            sells_resting=config.active_sell_orders or 0,
        )
        return BotDTO.of(bot, GridDTO.of(config, orders, money))

    @staticmethod
    def _summary(bots: list[BotInstance]) -> AllocationSummary:
        used = q.allocation_used(bots)
        shares = tuple(
            BotShare(b.id, BotDTO.of(b).name, b.bot_type, b.allocation_percent, bool(b.is_running))
            for b in bots
        )
        return AllocationSummary(shares=shares, used_percent=used, free_percent=HUNDRED - used)


@dataclass(frozen=True, slots=True)
class _CleanBot:
    name: str
    symbol: str
    market: MarketRules
    allocation: Decimal
    leverage: int
    positions: int
    stop_loss: Decimal
    take_profit: Decimal
