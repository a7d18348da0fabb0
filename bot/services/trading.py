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
from db import queries as q
from db.models import Trade, TrendPositionRow
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
        check_order_size(market, str(side), qty, price, await exchange.fetch_balance(market.type))
        return ManualOrder(clean_symbol, str(side), qty, price)

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
