"""A bot's life with real money (DESIGN.md): start, stop, delete.

A bot is bound to the venue (paper, live, demo) and the exchange account it starts on; every tick uses
that binding, whatever the user's mode or keys are later. A bot that still holds something (an order,
coin, a position) keeps its binding when it is started again; one that holds nothing is bound afresh.

A stop is a state: `stop` writes `stopping` (with what to do with the holdings: "keep" them, or "close"
them at market) and the engine carries it out, now and, while the venue has not confirmed every order
cancelled or filled and booked, again later and across restarts; it reports back with `complete_stop`.
Delete goes through the same stop; the bot (and its allocation) is released only once it holds nothing:
a grid's coin is then sold or handed back to the user (`bot_handbacks`), a trend bot's positions closed.

No network call runs inside a database write transaction: what a start needs from the exchange (the
account's equity and wallets) is read before its transaction. On a live or demo account a bot that
holds nothing is started only when the wallet it trades from (spot for a grid or a spot trend bot,
USDT-M futures for a futures trend bot) holds what it commits (a grid's investment, a trend bot's
allocated capital = allocation % of the account's equity); otherwise the refusal says how much to move
from which wallet (bot.services.wallets; a unified account has one wallet: nothing to move).

`BotLifecycle` is a part of the fleet service (bot.services.fleet.Fleet inherits it).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import validation as v
from bot.services.dto import BotDTO
from bot.services.errors import (
    AlreadyRunning,
    DomainError,
    ExchangeOutOfReach,
    HeldElsewhere,
    NotFound,
    NotRunning,
    OppositeSides,
    StillStopping,
    ValidationError,
)
from bot.services.wallets import WalletsProvider, check_wallet
from db import queries as q
from db.base import utcnow
from db.models import BotHandback, BotInstance, GridBotConfig, TrendBotState, TrendPositionRow, User
from engine.exchange import MarketType, TemporaryExchangeError
from engine.ports import HaltReport

log = logging.getLogger(__name__)

HUNDRED = Decimal(100)
HOLDINGS = ("keep", "close")  # what a stop does with a bot's coin or positions


class FleetListener(Protocol):
    """Told after a start, a stop or an edit is committed (the engine schedules, stops, refreshes)."""

    async def bot_started(self, bot: BotDTO) -> None: ...

    async def bot_stopping(self, bot: BotDTO) -> None: ...

    async def bot_edited(self, bot: BotDTO) -> None: ...


# account equity in quote (USDT) of a user on a venue; the engine provides the exchange's
EquityProvider = Callable[[int, str], Awaitable[Decimal]]


def current_venue(user: User) -> tuple[str, str | None]:
    """The venue a user trades on now, and the exchange account their keys open (None on paper)."""
    if user.trading_mode == "live":
        return ("demo" if user.demo_trading else "live"), user.api_account_id
    return "paper", None


class InsufficientCapital(DomainError):
    code = "insufficient_capital"

    def __init__(self, needed: Decimal, allocated: Decimal) -> None:
        super().__init__(
            f"the grid needs {needed} but the bot's allocation is {allocated}",
            needed=needed,
            allocated=allocated,
        )


@dataclass(frozen=True, slots=True)
class Holdings:
    """What a bot holds: a grid's coin (base) and what it cost (quote), a trend bot's open positions and
    their sizes (base); `close_on_stop`: what a stop does with them unless told (sell / close)."""

    coin: Decimal = Decimal(0)
    asset: str = ""
    cost: Decimal = Decimal(0)
    positions: int = 0
    long_qty: Decimal = Decimal(0)
    short_qty: Decimal = Decimal(0)
    close_on_stop: bool = False

    @property
    def anything(self) -> bool:
        return self.coin > 0 or self.positions > 0


class BotLifecycle:
    """Start, stop and delete (see the module docstring); mixed into the fleet service."""

    db: Any
    listeners: list[FleetListener]
    equity: EquityProvider
    # the account's wallets on a venue (bot.services.wallets); the engine sets it, None: not checked
    wallets: WalletsProvider | None = None
    _writing: Any
    _lock_user: Any
    _owned: Any
    _dto: Any
    _summary: Any
    views: Any

    # ---- start

    async def start(self, user_id: int, bot_id: int) -> BotDTO:
        async with self.db.read() as session:
            user = await self._user_row(session, user_id)
            bot = await self._owned(session, user_id, bot_id)
            venue, account = await self._start_venue(session, user, bot)
            needed = None
            if bot.bot_type == "grid":
                grid = await q.grid_of(session, bot.id)
                if grid is not None:
                    needed = grid[0].total_investment
            # a bot that holds nothing trades from its wallet what it is allocated: that wallet must hold
            # it (one that holds coin or a position keeps what it has and the runtime's capital checks)
            market_type: MarketType = (
                "spot" if bot.bot_type == "grid" or await q.trades_spot(session, bot) else "swap"
            )
            check_wallets = (
                venue != "paper" and self.wallets is not None and not await q.bot_holds(session, bot)
            )
        wallets = None
        try:  # outside the write
            if check_wallets:
                assert self.wallets is not None
                wallets = await self.wallets(user_id, venue)
                equity: Decimal | None = wallets.equity
            else:
                equity = await self.equity(user_id, venue) if needed is not None else None
        except TemporaryExchangeError as exc:  # a refusal the chat can show; nothing was changed
            raise ExchangeOutOfReach(type(exc).__name__) from None
        async with self._writing(user_id) as session:
            user = await self._lock_user(session, user_id)
            bot = await self._owned(session, user_id, bot_id)
            if bot.is_running:
                raise AlreadyRunning()
            if bot.stopping:
                raise StillStopping(BotDTO.of(bot).name)
            if await self._start_venue(session, user, bot) != (venue, account):
                raise ValidationError("trading_mode", "the trading mode changed meanwhile: start again")
            await self._check_sides(session, bot, venue)
            if needed is not None and equity is not None:
                allocated = equity * bot.allocation_percent / HUNDRED
                if needed > allocated:
                    raise InsufficientCapital(needed, allocated.quantize(Decimal("0.01")))
            if wallets is not None:
                commits = needed if needed is not None else wallets.equity * bot.allocation_percent / HUNDRED
                check_wallet(wallets, market_type, commits)
            if (bot.venue, bot.venue_account) != (venue, account):
                await self._hand_back_dust(session, bot)
            bot.venue, bot.venue_account = venue, account
            bot.is_running = True
            bot.last_started_at = utcnow()
            bot.last_error = None
            bot.stop_note = None
            bot.updated_at = bot.last_started_at
            await q.enqueue_alert(
                session,
                user_id=user.id,
                chat_id=q.private_chat(user),
                kind="bot_started",
                bot=bot,
                payload={"bot_id": bot.id, "name": BotDTO.of(bot).name, "symbol": bot.symbol, "venue": venue},
            )
            await session.flush()
            started = await self._dto(session, bot)
        for listener in self.listeners:
            await listener.bot_started(started)
        return started

    async def _start_venue(
        self, session: AsyncSession, user: User, bot: BotInstance
    ) -> tuple[str, str | None]:
        """Where the bot trades when it starts: where it holds something, else the user's venue now."""
        venue, account = current_venue(user)
        if bot.venue is None or not await q.bot_holds(session, bot):
            return venue, account
        if bot.venue in ("live", "demo") and (
            user.api_key_enc is None or user.api_account_id != bot.venue_account
        ):
            raise HeldElsewhere(BotDTO.of(bot).name, bot.venue)
        return bot.venue, bot.venue_account

    async def _check_sides(self, session: AsyncSession, bot: BotInstance, venue: str) -> None:
        """Two trend bots of one user on one perpetual of one venue could take opposite sides, and in
        one-way mode the exchange nets them: refused, also while the other bot still holds a kept
        position. Hedge (two-way) mode is not used for this: Bitget switches an account's position mode
        only while its whole product type has no position and no open order, so once any bot trades
        futures it could not be set, and a product that relied on it would net positions in exactly the
        accounts that are busiest. One trend bot per perpetual per venue holds in every account state."""
        if bot.bot_type != "ai_trend" or await q.trades_spot(session, bot):
            return
        for other in await q.active_bots(session, bot.user_id):
            if (
                other.id != bot.id
                and other.bot_type == "ai_trend"
                and other.symbol == bot.symbol
                and (other.is_running or other.stopping or await q.bot_holds(session, other))
                and (other.venue or venue) == venue
                and not await q.trades_spot(session, other)
            ):
                raise OppositeSides(BotDTO.of(other).name, bot.symbol)

    # ---- stop

    async def stop(
        self, user_id: int, bot_id: int, *, holdings: str | None = None, reason: str = "user"
    ) -> BotDTO:
        """Stop the bot: its coin or positions are kept ("keep") or closed at market ("close"); None:
        the bot's own setting. Returns the bot as the engine left it (stopped, or still stopping)."""
        holdings = _holdings(holdings)
        async with self._writing(user_id) as session:
            user = await self._lock_user(session, user_id)
            bot = await self._owned(session, user_id, bot_id)
            if not bot.is_running and not bot.stopping:
                raise NotRunning()
            await self._mark_stopping(session, user, bot, reason, holdings)
            stopping = await self._dto(session, bot)
        await self._tell_stopping([stopping])
        return await self._fresh(user_id, bot_id)

    async def stop_all(
        self, user_id: int, *, holdings: str | None = None, reason: str = "user"
    ) -> list[BotDTO]:
        """The kill switch: every running bot of the user stops (one transaction marks them all)."""
        holdings = _holdings(holdings)
        async with self._writing(user_id) as session:
            user = await self._lock_user(session, user_id)
            stopping = []
            for bot in await q.active_bots(session, user_id):
                if bot.is_running or bot.stopping:
                    await self._mark_stopping(session, user, bot, reason, holdings)
                    stopping.append(await self._dto(session, bot))
        await self._tell_stopping(stopping)
        return [await self._fresh(user_id, bot.id) for bot in stopping]

    async def delete(self, user_id: int, bot_id: int, *, holdings: str | None = None) -> Any:
        """Delete the bot: a bot that runs or holds anything is stopped first (a trend bot's positions
        closed; a grid's coin sold with "close", handed back to the user with "keep"), and released,
        with its name and allocation, once it holds nothing. Returns the allocation summary."""
        holdings = _holdings(holdings)
        pending = None
        async with self._writing(user_id) as session:
            user = await self._lock_user(session, user_id)
            bot = await self._owned(session, user_id, bot_id)
            if bot.is_running or bot.stopping or await q.bot_holds(session, bot):
                if bot.bot_type == "ai_trend":
                    holdings = "close"
                bot.delete_requested = True
                await self._mark_stopping(session, user, bot, "deleted", holdings)
                pending = await self._dto(session, bot)
            else:
                await self._hand_back_dust(session, bot)
                _release(bot)
            await session.flush()
        if pending is not None:
            await self._tell_stopping([pending])
        async with self.db.read() as session:
            return self._summary(await q.active_bots(session, user_id))

    async def _mark_stopping(
        self, session: AsyncSession, user: User, bot: BotInstance, reason: str, holdings: str | None
    ) -> None:
        if not bot.stopping:
            bot.stop_reason = reason
            bot.stop_requested_at = utcnow()
        bot.is_running = False
        bot.stopping = True
        bot.updated_at = utcnow()
        if holdings is not None:
            await _set_holdings(session, bot, holdings == "close")
        await session.flush()

    async def _tell_stopping(self, bots: list[BotDTO]) -> None:
        for bot in bots:
            for listener in self.listeners:
                await listener.bot_stopping(bot)

    # ---- what the engine reports

    async def complete_stop(self, bot_id: int, report: HaltReport) -> BotDTO | None:
        """The engine finished the bot's stop (the venue confirmed every order gone): the bot is stopped
        and its owner alerted with what the stop did and left; a bot to delete is released (its coin
        handed back first)."""
        user_id = None
        async with self.db.write() as session:
            bot = await session.get(BotInstance, bot_id)
            if bot is None or not bot.stopping:
                return None
            user_id = bot.user_id
            user = await self._lock_user(session, bot.user_id)
            bot.stopping = False
            bot.stop_note = None
            bot.last_stopped_at = bot.updated_at = utcnow()
            name = BotDTO.of(bot).name
            payload = {
                "bot_id": bot.id,
                "name": name,
                "reason": bot.stop_reason or "user",
                "cancelled": report.cancelled,
                "held": str(report.held),
                "sold": str(report.sold),
                "asset": report.asset,
                "positions_kept": report.positions_kept,
                "positions_closed": report.positions_closed,
            }
            chat = q.private_chat(user)
            await q.enqueue_alert(
                session, user_id=user.id, chat_id=chat, kind="bot_stopped", bot=bot, payload=payload
            )
            for kind, wanted in (
                ("stop_sold_coins", report.sold > 0),
                ("stop_kept_coins", report.held > 0 and not bot.delete_requested),
                ("stop_kept_positions", report.positions_kept > 0),
            ):
                if wanted:
                    await q.enqueue_alert(
                        session, user_id=user.id, chat_id=chat, kind=kind, bot=bot, payload=payload
                    )
            if bot.delete_requested and not report.positions_kept:
                await self._hand_back(session, bot)
                _release(bot)
            await session.flush()
            done = await self._dto(session, bot)
        self.views.user_changed(user_id)
        return done

    async def note_stop(self, bot_id: int, note: str, *, alert: dict[str, Any] | None = None) -> None:
        """What a stop still waits for (shown on the card); `alert`: tell the owner once."""
        async with self.db.write() as session:
            bot = await session.get(BotInstance, bot_id)
            if bot is None or not bot.stopping:
                return
            bot.stop_note = note[:500]
            if alert is not None:
                user = await session.get(User, bot.user_id)
                assert user is not None
                await q.enqueue_alert(
                    session,
                    user_id=user.id,
                    chat_id=q.private_chat(user),
                    kind="bot_stop_stuck",
                    bot=bot,
                    payload={"bot_id": bot.id, "name": BotDTO.of(bot).name, **alert},
                )
        self.views.bot_changed(bot_id)

    # ---- what a stop would settle

    async def holdings(self, user_id: int, bot_id: int) -> Holdings:
        """What the bot holds now (owner only): a grid's coin and its cost, a trend bot's open positions,
        and what its stop does with them by default."""
        async with self.db.read() as session:
            bot = await self._owned(session, user_id, bot_id)
            if bot.bot_type == "grid":
                found = await q.grid_of(session, bot.id)
                if found is None:
                    return Holdings(asset=q.base_of(bot.symbol))
                config, rows = found
                qty, cost = config.dust_qty or Decimal(0), config.dust_cost or Decimal(0)
                for row in rows:
                    if row.status in ("buy_filled", "sell_placed") and row.held_qty:
                        qty += row.held_qty
                        cost += row.held_qty * (row.buy_filled_price or Decimal(0)) + (
                            row.buy_fee or Decimal(0)
                        )
                return Holdings(
                    coin=qty,
                    asset=q.base_of(bot.symbol),
                    cost=cost,
                    close_on_stop=config.close_position_on_stop,
                )
            rows = (
                await session.execute(
                    select(TrendPositionRow).where(
                        TrendPositionRow.bot_instance_id == bot.id,
                        TrendPositionRow.status.in_(("open", "closing")),
                    )
                )
            ).scalars()
            sizes = {"long": Decimal(0), "short": Decimal(0)}
            count = 0
            for row in rows:
                sizes[row.side] += row.qty
                count += 1
            state = await session.get(TrendBotState, bot.id)
            return Holdings(
                asset=q.base_of(bot.symbol),
                positions=count,
                long_qty=sizes["long"],
                short_qty=sizes["short"],
                close_on_stop=bool(state.close_on_stop) if state else False,
            )

    # ---- handing coin back

    async def _hand_back(self, session: AsyncSession, bot: BotInstance) -> None:
        """Everything a grid holds leaves its ledger and is the user's own again (one row per handback)."""
        if bot.bot_type != "grid":
            return
        found = await q.grid_of(session, bot.id)
        if found is None:
            return
        config, rows = found
        qty, cost = config.dust_qty or Decimal(0), config.dust_cost or Decimal(0)
        for row in rows:
            if row.status in ("buy_filled", "sell_placed") and row.held_qty:
                qty += row.held_qty
                cost += row.held_qty * (row.buy_filled_price or Decimal(0)) + (row.buy_fee or Decimal(0))
                row.status, row.held_qty, row.buy_fee = "pending", None, None
        config.dust_qty = config.dust_cost = Decimal(0)
        await self._write_handback(session, bot, qty, cost)

    async def _hand_back_dust(self, session: AsyncSession, bot: BotInstance) -> None:
        """The dust of a grid (coin below the lot step) goes back to the user when the bot moves on."""
        if bot.bot_type != "grid":
            return
        config = (
            await session.execute(select(GridBotConfig).where(GridBotConfig.bot_instance_id == bot.id))
        ).scalar_one_or_none()
        if config is None or not config.dust_qty:
            return
        await self._write_handback(session, bot, config.dust_qty, config.dust_cost or Decimal(0))
        config.dust_qty = config.dust_cost = Decimal(0)

    async def _write_handback(
        self, session: AsyncSession, bot: BotInstance, qty: Decimal, cost: Decimal
    ) -> None:
        if qty <= 0:
            return
        session.add(
            BotHandback(
                user_id=bot.user_id,
                bot_instance_id=bot.id,
                venue=bot.venue or "paper",
                asset=q.base_of(bot.symbol),
                qty=qty,
                cost=cost,
            )
        )

    # ---- internals

    async def _user_row(self, session: AsyncSession, user_id: int) -> User:
        user = await session.get(User, user_id)
        if user is None:
            raise NotFound("user")
        return user

    async def _fresh(self, user_id: int, bot_id: int) -> BotDTO:
        async with self.db.read() as session:
            bot = await session.get(BotInstance, bot_id)
            assert bot is not None and bot.user_id == user_id
            return await self._dto(session, bot)


def _holdings(value: str | None) -> str | None:
    if value is not None and value not in HOLDINGS:
        raise ValidationError("holdings", "keep or close")
    return value


async def _set_holdings(session: AsyncSession, bot: BotInstance, close: bool) -> None:
    """The bot's setting of what a stop does with its coin (grid) or positions (trend)."""
    if bot.bot_type == "grid":
        await session.execute(
            update(GridBotConfig)
            .where(GridBotConfig.bot_instance_id == bot.id)
            .values(close_position_on_stop=close)
        )
        return
    state = await session.get(TrendBotState, bot.id)
    if state is None:
        session.add(TrendBotState(bot_instance_id=bot.id, close_on_stop=close))
    else:
        state.close_on_stop = close


def _release(bot: BotInstance) -> None:
    """Soft delete: the name and the allocation become free; the history stays."""
    bot.is_active = False
    bot.delete_requested = False
    bot.name = f"{bot.name[:80]}{v.DELETED_NAME_SEPARATOR}{bot.id}"
    bot.updated_at = utcnow()


__all__ = [
    "HOLDINGS",
    "BotLifecycle",
    "EquityProvider",
    "FleetListener",
    "Holdings",
    "InsufficientCapital",
    "current_venue",
]
