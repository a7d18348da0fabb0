"""Manual trading from the chat: close a trend bot's positions at market, and a market order on the
user's account outside any bot (/trade). Both are written as trades with trade_source 'manual'.

Every method checks ownership (another user's bot is "not found") and returns small frozen values.
Exchange refusals (insufficient funds, invalid order) become a TradeRefused domain error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select

from bot.services import validation as v
from bot.services.errors import (
    DomainError,
    InsufficientBalance,
    NoPrice,
    NotFound,
    OrderStep,
    OrderTooSmall,
    ValidationError,
)
from bot.services.lifecycle import current_venue
from db import queries as q
from db.models import Trade, TrendPositionRow, User
from db.session import Database
from engine.client_ids import checked
from engine.exchange import (
    Balance,
    ExchangeError,
    InsufficientFunds,
    InvalidOrder,
    Market,
    OrderRequest,
    TemporaryExchangeError,
)
from engine.markets import unified_symbol
from engine.trend.runtime import TrendRuntime

SIDES = ("buy", "sell")
MAX_NONCE = 2**31


class TradeRefused(DomainError):
    """The exchange refused the order (the reason is the exchange's)."""

    code = "trade_refused"

    def __init__(self, reason: str) -> None:
        super().__init__(f"the exchange refused the order: {reason}", reason=reason)


class HeldByBots(DomainError):
    """The free balance would cover the order only with what the user's bots hold outside orders."""

    code = "insufficient_balance_bots"

    def __init__(self, currency: str, needed: Decimal, free: Decimal, held: Decimal) -> None:
        super().__init__(
            f"the order needs {needed} {currency}, {free} is free beside the {held} the bots hold",
            currency=currency,
            needed=needed,
            free=free,
            held=held,
        )


# a grid's intervals whose cash waits for its buy (free USDT on the venue, the bot's own)
GRID_CASH = ("pending", "sell_filled")


class NothingToClose(DomainError):
    code = "nothing_to_close"

    def __init__(self) -> None:
        super().__init__("the bot has no open position")


@dataclass(frozen=True, slots=True)
class OpenPositions:
    """A trend bot's open positions: how many, and their total quantity (base currency) per side."""

    bot_id: int
    name: str
    symbol: str
    count: int
    long_qty: Decimal
    short_qty: Decimal


@dataclass(frozen=True, slots=True)
class CloseResult:
    bot_id: int
    name: str
    closed: int
    pnl: Decimal  # quote currency, after fees


@dataclass(frozen=True, slots=True)
class ManualOrder:
    """An order /trade asks for (preview) or placed (price and fee set): qty in base, money in quote."""

    symbol: str  # "BTCUSDT"
    side: str
    qty: Decimal
    price: Decimal | None
    fee: Decimal | None = None


class Trading:
    """`exchange_for(user_id)` is EngineService.user_exchange (the venue the user trades on now);
    `trend` the engine's TrendRuntime."""

    def __init__(self, db: Database, trend: TrendRuntime, exchange_for) -> None:  # type: ignore[no-untyped-def]
        self.db = db
        self.trend = trend
        self.exchange_for = exchange_for
        self._namespace: str | None = None

    async def open_positions(self, user_id: int, bot_id: int) -> OpenPositions:
        """The bot's open positions (owner only; trend bots only)."""
        async with self.db.read() as session:
            bot = await _owned_trend_bot(session, user_id, bot_id)
            rows = (
                await session.execute(
                    select(TrendPositionRow).where(
                        TrendPositionRow.bot_instance_id == bot.id,
                        TrendPositionRow.status.in_(("open", "closing")),
                    )
                )
            ).scalars()
            qty = {"long": Decimal(0), "short": Decimal(0)}
            count = 0
            for row in rows:
                qty[row.side] += row.qty
                count += 1
            return OpenPositions(
                bot.id, bot.name.split("\x1f", 1)[0], bot.symbol, count, qty["long"], qty["short"]
            )

    async def close_bot(self, user_id: int, bot_id: int) -> CloseResult:
        """Close every open position of the bot at market (reduce-only, the bot's own quantity)."""
        positions = await self.open_positions(user_id, bot_id)
        if not positions.count:
            raise NothingToClose()
        try:
            closed = await self.trend.close_positions(bot_id)
        except (InsufficientFunds, InvalidOrder) as exc:
            raise TradeRefused(str(exc)) from None
        except TemporaryExchangeError as exc:
            raise TradeRefused(f"try again later ({exc})") from None
        return CloseResult(bot_id, positions.name, len(closed), sum((t.pnl for t in closed), Decimal(0)))

    async def preview(self, user_id: int, symbol: object, side: object, amount: object) -> ManualOrder:
        """Checks a /trade request and prices it at the last price; nothing is sent."""
        clean_symbol = v.normalize_symbol(symbol)
        if side not in SIDES:
            raise ValidationError("side", "side must be buy or sell")
        qty = v.parse_decimal(amount, "amount")
        if qty <= 0:
            raise ValidationError("amount", "amount must be more than 0")
        try:
            exchange = await self.exchange_for(user_id)
            await exchange.load_markets()
        except TemporaryExchangeError as exc:  # the exchange is out of reach: nothing to preview
            raise TradeRefused(f"try again later ({exc})") from None
        try:
            market = exchange.market(unified_symbol(clean_symbol))
            ticker = await exchange.fetch_ticker(unified_symbol(clean_symbol))
        except InvalidOrder:
            raise ValidationError("symbol", f"unknown symbol {symbol!r}", symbol=str(symbol)) from None
        except TemporaryExchangeError:
            ticker = None
        price = ticker.last if ticker else None
        balance = await exchange.fetch_balance(market.type)
        check_order_size(market, str(side), qty, price, balance)
        check_not_held(market, str(side), qty, price, balance, await self.held_by_bots(user_id, clean_symbol))
        return ManualOrder(clean_symbol, str(side), qty, price)

    async def held_by_bots(self, user_id: int, symbol: str) -> tuple[Decimal, Decimal]:
        """(coin of `symbol`, USDT) the user's bots on the venue the user trades on now own outside the
        venue's orders, which the venue counts as free (DESIGN.md invariant 7: the balances are the untouched
        funds plus the bots' ledgers): a grid's coin bought and not yet on sale and its dust, a spot trend
        bot's open position, and a running grid's cash for the intervals whose buy is not out (all of it
        while it waits for its trigger). What rests in orders is not free on the venue already."""
        coin = cash = Decimal(0)
        async with self.db.read() as session:
            user = await session.get(User, user_id)
            if user is None:
                return coin, cash
            venue = current_venue(user)
            for bot in await q.active_bots(session, user_id):
                if (bot.venue, bot.venue_account) != venue:
                    continue  # a bot that never started, or one bound to another venue or account
                same = bot.symbol == symbol
                if bot.bot_type == "grid":
                    found = await q.grid_of(session, bot.id)
                    if found is None:
                        continue
                    config, rows = found
                    if same:
                        coin += (config.dust_qty or 0) + sum(
                            (r.held_qty or Decimal(0) for r in rows if r.status == "buy_filled"), Decimal(0)
                        )
                    if bot.is_running:
                        waiting = sum(1 for r in rows if r.status in GRID_CASH)
                        per_grid = config.per_grid_amount or config.total_investment / config.grid_count
                        cash += per_grid * waiting if rows else config.total_investment
                elif same and await q.trades_spot(session, bot):
                    held = await session.execute(
                        select(TrendPositionRow.qty).where(
                            TrendPositionRow.bot_instance_id == bot.id,
                            TrendPositionRow.status.in_(("open", "closing")),
                        )
                    )
                    coin += sum(held.scalars(), Decimal(0))
        return coin, cash

    async def market_order(
        self, user_id: int, symbol: object, side: object, amount: object, *, nonce: int
    ) -> ManualOrder:
        """A spot market order outside any bot. `nonce` (e.g. the confirmation message's id) makes the
        client order id, so a second tap on the same confirmation places nothing more."""
        order = await self.preview(user_id, symbol, side, amount)
        if not 0 <= nonce < MAX_NONCE:
            raise ValidationError("nonce", "bad confirmation")
        async with self.db.read() as session:
            if self._namespace is None:
                self._namespace = await q.installation_id(session)
        cid = checked(f"{self._namespace}u{user_id}n{nonce}")
        async with self.db.read() as session:
            done = (
                await session.execute(select(Trade).where(Trade.client_order_id == cid))
            ).scalar_one_or_none()
            if done is not None:
                return ManualOrder(done.symbol, done.side, done.qty, done.price, done.fee)
        exchange = await self.exchange_for(user_id)
        market = exchange.market(unified_symbol(order.symbol))
        try:
            placed = await exchange.create_order(
                OrderRequest(market.symbol, order.side, "market", order.qty, order.price, cid)  # type: ignore[arg-type]
            )
        except (InsufficientFunds, InvalidOrder, TemporaryExchangeError) as exc:
            raise TradeRefused(str(exc)) from None
        except ExchangeError as exc:
            raise TradeRefused(type(exc).__name__) from None
        price = placed.avg_fill_price or placed.price or order.price
        async with self.db.write() as session:
            if (await session.execute(select(Trade.id).where(Trade.client_order_id == cid))).first() is None:
                session.add(
                    Trade(
                        user_id=user_id,
                        bot_instance_id=None,
                        trade_source="manual",
                        symbol=order.symbol,
                        side=placed.side,
                        order_type="market",
                        qty=placed.filled_qty,
                        price=price,
                        fee=placed.fee,
                        fee_currency=market.base if placed.fee_base else market.quote,
                        fee_base=placed.fee_base or None,
                        exchange_order_id=placed.id,
                        client_order_id=cid,
                        executed_at=_executed_at(placed.ts),
                    )
                )
        return ManualOrder(order.symbol, placed.side, placed.filled_qty, price, placed.fee)


def check_order_size(
    market: Market, side: str, qty: Decimal, price: Decimal | None, balance: Balance
) -> None:
    """Refuses a /trade quantity (base currency) that the market or the account cannot take, before anything
    is confirmed: at least the market's minimum quantity and order value (qty x price, quote), within the
    free balance (a buy: qty x price plus the taker fee, in quote; a sell: qty, in base), and a multiple of
    the lot step. Without a price nothing can be checked, so nothing is offered."""
    if price is None or price <= 0:
        raise NoPrice(market.symbol)
    value = qty * price
    if qty < market.min_qty or value < market.min_notional:
        raise OrderTooSmall(market.symbol, market.base, market.min_qty, market.min_notional)
    if side == "buy":
        needed, currency = value * (1 + market.taker_fee), market.quote
    else:
        needed, currency = qty, market.base
    if needed > balance.free(currency):  # checked before the step: a huge qty never reaches the division
        raise InsufficientBalance(currency, needed, balance.free(currency))
    if qty % market.amount_step:
        raise OrderStep(market.symbol, market.base, market.amount_step)


def check_not_held(
    market: Market,
    side: str,
    qty: Decimal,
    price: Decimal | None,
    balance: Balance,
    held: tuple[Decimal, Decimal],
) -> None:
    """`HeldByBots` when the order needs more than the free balance less what the bots hold of it
    (`held` = (coin, USDT) from Trading.held_by_bots); run after check_order_size."""
    assert price is not None
    if side == "buy":
        needed, currency, bots = qty * price * (1 + market.taker_fee), market.quote, held[1]
    else:
        needed, currency, bots = qty, market.base, held[0]
    free = balance.free(currency)
    if bots > 0 and needed > free - bots:
        raise HeldByBots(currency, needed, max(free - bots, Decimal(0)), bots)


async def _owned_trend_bot(session, user_id: int, bot_id: int):  # type: ignore[no-untyped-def]
    if not isinstance(bot_id, int) or isinstance(bot_id, bool) or not 0 < bot_id < 2**31:
        raise NotFound()
    bot = await q.owned_bot(session, user_id, bot_id)
    if bot is None or bot.bot_type != "ai_trend":
        raise NotFound()
    return bot


def _executed_at(ts: int | None) -> datetime:
    now = datetime.now(UTC) if ts is None else datetime.fromtimestamp(ts / 1000, UTC)
    return now.replace(tzinfo=None)
