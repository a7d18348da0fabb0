"""The one exchange interface every engine talks to, its value types and its errors.

Two implementations: `engine.venues.live.adapter` (live, over ccxt) and `engine.venues.paper.venue` (matching
engine). Symbols are ccxt unified symbols ("BTC/USDT" spot, "BTC/USDT:USDT" USDT-M perpetual).
Every money figure is a `Decimal`; prices are in quote currency, quantities in the exchange's
amount unit (base currency for spot and for Bitget's linear contracts, whose contract_size is 1;
contracts where `Market.contract_size` differs), timestamps in ms since the epoch (UTC).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Literal, Protocol

__all__ = [
    "AssetBalance",
    "AuthenticationFailed",
    "Balance",
    "BatchResult",
    "Candle",
    "Exchange",
    "ExchangeError",
    "ExchangeNotSupported",
    "FeeRates",
    "InsufficientFunds",
    "InvalidOrder",
    "Market",
    "MarketType",
    "Order",
    "OrderNotFound",
    "OrderRequest",
    "OrderSide",
    "OrderStatus",
    "OrderType",
    "Position",
    "PositionMode",
    "PositionSide",
    "RejectedOrder",
    "TemporaryExchangeError",
    "Ticker",
    "round_price",
    "round_qty_down",
]

MarketType = Literal["spot", "swap"]
OrderSide = Literal["buy", "sell"]
OrderType = Literal["limit", "market"]
OrderStatus = Literal["open", "closed", "canceled", "rejected"]
PositionSide = Literal["long", "short"]
PositionMode = Literal["one_way", "hedge"]

ZERO = Decimal(0)


# --- errors -------------------------------------------------------------------------------------


class ExchangeError(Exception):
    """Any failure of an exchange call. Unclassified ones stay this base class."""


class TemporaryExchangeError(ExchangeError):
    """Network, timeout, rate limit, maintenance, 5xx: retry later with backoff; a bot stopped
    by one is resumed automatically."""


class InsufficientFunds(ExchangeError):
    """The account cannot pay for the order. Fatal for the bot."""


class InvalidOrder(ExchangeError):
    """The exchange (or our pre-check) refuses the order or request as malformed. Fatal for the bot."""


class AuthenticationFailed(ExchangeError):
    """Wrong, expired or under-privileged API key. Fatal for every bot of the account."""


class OrderNotFound(ExchangeError):
    """The exchange does not know the order (or no longer lets it be cancelled)."""


class ExchangeNotSupported(ExchangeError):
    """The exchange (or this call on it) is not supported. Fatal for the bot."""


# --- value types --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Market:
    """Trading rules of one market. Fees are rates (0.001 = 0.1 %). `buy_fee_in_base`: the venue takes a
    buy's fee from the coin bought (Bitget spot), so a buy of q leaves q - q x rate."""

    symbol: str
    base: str
    quote: str
    type: MarketType
    price_tick: Decimal
    amount_step: Decimal
    min_qty: Decimal
    min_notional: Decimal
    contract_size: Decimal = Decimal(1)
    maker_fee: Decimal = ZERO
    taker_fee: Decimal = ZERO
    max_leverage: int | None = None
    buy_fee_in_base: bool = False


@dataclass(frozen=True, slots=True)
class Ticker:
    symbol: str
    last: Decimal
    bid: Decimal | None
    ask: Decimal | None
    ts: int | None


@dataclass(frozen=True, slots=True)
class Candle:
    ts: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


@dataclass(frozen=True, slots=True)
class AssetBalance:
    free: Decimal
    used: Decimal
    total: Decimal


@dataclass(frozen=True, slots=True)
class Balance:
    """Balances of one account (spot wallet or futures account), by currency code."""

    assets: Mapping[str, AssetBalance] = field(default_factory=dict)

    def free(self, currency: str) -> Decimal:
        entry = self.assets.get(currency)
        return entry.free if entry else ZERO

    def total(self, currency: str) -> Decimal:
        entry = self.assets.get(currency)
        return entry.total if entry else ZERO


@dataclass(frozen=True, slots=True)
class Position:
    """An open futures position (one-way mode: one per symbol; hedge mode: one per symbol and side).
    `qty` is positive. `liquidation_price`: the exchange's (the paper venue computes its own isolated
    one); None when the venue gives none. `margin_mode`: "isolated" or "crossed", where known."""

    symbol: str
    side: PositionSide
    qty: Decimal
    entry_price: Decimal
    leverage: Decimal
    unrealized_pnl: Decimal
    liquidation_price: Decimal | None = None
    margin_mode: str | None = None


@dataclass(frozen=True, slots=True)
class FeeRates:
    """An account's fee rates on one market (0.001 = 0.1 %); `source`: "account" (the exchange's answer
    for this account) or "market" (the market's listed rates, when the account's could not be read)."""

    maker: Decimal
    taker: Decimal
    source: str = "market"


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """An order to place. `client_order_id` is deterministic per bot and order slot, so a
    retry or a restart can find the order again instead of placing it twice (invariant 3).
    For a market order `price` may carry a reference price (spot market buys are sized in
    quote currency from it); without one the adapter reads the ticker.

    `trigger_price` makes a market order a stop-market order: it rests on the exchange until the last
    price reaches it (a sell at or below it, a buy at or above it), then fills at market. Only
    reduce-only stops on USDT-M perpetuals are supported (a position's exchange-side stop loss)."""

    symbol: str
    side: OrderSide
    type: OrderType
    qty: Decimal
    price: Decimal | None
    client_order_id: str
    reduce_only: bool = False
    post_only: bool = False
    trigger_price: Decimal | None = None

    def __post_init__(self) -> None:
        if self.side not in ("buy", "sell"):
            raise ValueError(f"side must be buy or sell, not {self.side!r}")
        if self.type not in ("limit", "market"):
            raise ValueError(f"type must be limit or market, not {self.type!r}")
        if self.type == "limit" and self.price is None:
            raise ValueError("a limit order needs a price")
        if not self.client_order_id:
            raise ValueError("client_order_id is required")
        if self.trigger_price is not None:
            if self.type != "market" or not self.reduce_only:
                raise ValueError("a stop (trigger_price) must be a reduce-only market order")
            if self.trigger_price <= 0:
                raise ValueError(f"trigger_price must be above 0, not {self.trigger_price}")


@dataclass(frozen=True, slots=True)
class Order:
    """An order as the exchange reports it. `filled_qty` is what filled, whatever the status (an order
    cancelled after a partial fill has some). `fee` is the fill's fee valued in quote currency; where
    the venue took it from the coin bought (Bitget spot buys), `fee_base` is that coin (base currency)
    and the buyer received `filled_qty - fee_base`. `ts`: the time of the last fill once anything
    filled (the trade's time, never the order's creation), else the order's creation (ms)."""

    id: str
    client_order_id: str | None
    symbol: str
    side: OrderSide
    type: OrderType
    price: Decimal | None
    qty: Decimal
    filled_qty: Decimal
    avg_fill_price: Decimal | None
    fee: Decimal
    status: OrderStatus
    ts: int | None
    reduce_only: bool = False
    trigger_price: Decimal | None = None  # a stop-market order's trigger (see OrderRequest)
    fee_base: Decimal = ZERO

    @property
    def received_qty(self) -> Decimal:
        """What the fill left the account: `filled_qty`, less a fee taken in the coin bought."""
        return self.filled_qty - self.fee_base

    @property
    def remaining_qty(self) -> Decimal:
        return max(self.qty - self.filled_qty, ZERO)

    @property
    def is_open(self) -> bool:
        return self.status == "open"


@dataclass(frozen=True, slots=True)
class RejectedOrder:
    client_order_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class BatchResult:
    """Outcome of `create_orders`: what the exchange took, what it refused and why, and the
    client order ids whose fate stayed unknown after every retry (reconcile them by id)."""

    accepted: tuple[Order, ...] = ()
    rejected: tuple[RejectedOrder, ...] = ()
    unknown: tuple[str, ...] = ()

    @property
    def rejected_ids(self) -> set[str]:
        return {r.client_order_id for r in self.rejected}


# --- pure helpers -------------------------------------------------------------------------------


def round_price(market: Market, price: Decimal) -> Decimal:
    """`price` to the nearest multiple of the market's tick (halves away from zero)."""
    tick = market.price_tick
    ticks = (price / tick).to_integral_value(rounding=ROUND_HALF_UP)
    return (ticks * tick).quantize(tick)


def round_qty_down(market: Market, qty: Decimal) -> Decimal:
    """`qty` down to a multiple of the market's lot step (never spends more than asked)."""
    step = market.amount_step
    steps = (qty / step).to_integral_value(rounding=ROUND_DOWN)
    return (steps * step).quantize(step)


# --- the interface ------------------------------------------------------------------------------


class Exchange(Protocol):
    """What an engine may ask of an exchange account. All calls are async and raise only the
    errors above; `TemporaryExchangeError` means it is worth trying again later."""

    async def load_markets(self) -> Mapping[str, Market]:
        """Markets by unified symbol (loaded once, then served from memory)."""
        ...

    def market(self, symbol: str) -> Market:
        """Rules of a loaded market; `InvalidOrder` for an unknown symbol."""
        ...

    async def fetch_ticker(self, symbol: str) -> Ticker: ...

    async def fetch_candles(
        self, symbol: str, timeframe: str, since: int | None = None, limit: int | None = None
    ) -> list[Candle]:
        """Candles oldest first; `timeframe` in ccxt form ("1m", "1h", "4h", "1d")."""
        ...

    async def fetch_balance(self, market_type: MarketType | None = None) -> Balance:
        """The spot wallet or the futures (USDT-M) account; None = the account's default."""
        ...

    async def fetch_positions(self, symbols: Sequence[str] | None = None) -> list[Position]:
        """Open futures positions (zero-size ones left out)."""
        ...

    async def create_order(self, req: OrderRequest) -> Order:
        """Place one order, price rounded to the tick and qty down to the lot step."""
        ...

    async def create_orders(self, reqs: Sequence[OrderRequest]) -> BatchResult:
        """Place many orders in as few requests as the exchange allows."""
        ...

    async def cancel_order(self, order_id: str, symbol: str) -> None:
        """Cancel an open order; `OrderNotFound` when it is unknown or already done."""
        ...

    async def cancel_orders(self, order_ids: Sequence[str], symbol: str) -> list[str]:
        """Cancel several orders of one symbol; returns the ids actually cancelled."""
        ...

    async def fetch_order(self, order_id: str, symbol: str) -> Order:
        """`OrderNotFound` when the exchange does not know the id."""
        ...

    async def fetch_order_by_client_id(self, client_order_id: str, symbol: str) -> Order | None:
        """The order placed with this client id, or None when the exchange never got it."""
        ...

    async def fetch_open_orders(self, symbol: str) -> list[Order]: ...

    async def set_leverage(
        self,
        symbol: str,
        leverage: int,
        max_leverage: int | None = None,
        *,
        side: PositionSide | None = None,
    ) -> None:
        """Set a futures market's leverage (isolated margin: for the position of `side`); `InvalidOrder`
        above `max_leverage` (the bot's cap) or the market's own maximum."""
        ...

    async def set_isolated_margin(self, symbol: str) -> None:
        """Trade `symbol` (a perpetual) with isolated margin, so a position can lose at most its own
        margin. Idempotent: once set (or found set) it is not asked again; `InvalidOrder` when the
        exchange keeps the symbol in cross margin because it holds a position or an order there."""
        ...

    async def position_mode(self) -> PositionMode:
        """The account's futures position mode: one-way (one position per symbol) or hedge (a long and
        a short one). In hedge mode every futures order carries the side of the position it opens or
        closes (the adapter adds it: a buy opens a long, a reduce-only sell closes it)."""
        ...

    async def fee_rates(self, symbol: str) -> FeeRates:
        """The account's own maker and taker rates on `symbol`, read once and kept; the market's listed
        rates when the exchange does not say."""
        ...

    @property
    def one_wallet(self) -> bool:
        """True when spot and futures trade from one wallet (a unified account, the paper venue)."""
        ...

    async def close(self) -> None:
        """Release the connection (shared connections close with their last user)."""
        ...
