"""Position rules of the AI trend bot (pure: no I/O). Live, paper and backtest share them.

On every closed candle of the bot's timeframe the runner calls :func:`decide`
with that candle's signal (+1 long, -1 short, 0 nothing; see
:mod:`engine.trend.strategies`) and the bot's :class:`TrendState`; it gets back
:class:`TrendIntent` s (market orders) to send:

1. an opposite signal closes every open position of the other side (reason
   ``signal``);
2. then a signal opens one new position on its side (spot: long only; a short
   signal on spot only closes longs) when fewer than ``max_positions`` remain.
   Its margin is ``entry_percent`` of the allocated capital, capped by what the
   open positions leave of it (a bot never commits more than its allocated
   capital); quantity = margin x leverage / price, rounded down to the lot
   step; an entry under the market's minimum quantity or notional is skipped.

Units: prices in quote currency; quantities in base units; percents 0-100;
timestamps ms since the epoch (a candle's open time). Every amount is Decimal;
recorded money (fees, pnl) has 8 decimals.

The state only changes when the exchange reports a fill
(:func:`on_entry_filled`, :func:`on_exit_filled`), so re-running a candle
before its fills are known yields the same intents with the same
deterministic client order ids, which the exchange refuses as duplicates.

Every position carries its stop loss and take profit (percents of the entry
price, rounded to the tick) and, on futures, the price at which its isolated
margin would be gone (``liquidation``: entry x (1 -/+ 1/leverage), maintenance
margin ignored), which acts as a stop when the stop loss is further away or unset.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Literal

from engine.client_ids import BACKTEST_NAMESPACE, bot_prefix, checked
from engine.exchange import Market, MarketType, OrderRequest
from engine.money import ZERO, fee_for, floor_to_step, q8, round_to_tick

PositionSide = Literal["long", "short"]
ExitReason = Literal["tp", "sl", "signal", "manual", "liquidation", "end"]
EXIT_REASONS: tuple[str, ...] = ("tp", "sl", "signal", "manual", "liquidation", "end")
HUNDRED = Decimal(100)
ONE = Decimal(1)


@dataclass(frozen=True, slots=True)
class TrendSettings:
    """A bot's risk settings as the rules use them.

    ``leverage``: the leverage applied (already capped by the bot's
    max_leverage; always 1 on spot). ``stop_loss_percent`` /
    ``take_profit_percent``: of the entry price, None = none. ``entry_percent``:
    margin per entry as a percent of the allocated capital.
    """

    leverage: int
    max_positions: int
    stop_loss_percent: Decimal | None
    take_profit_percent: Decimal | None
    entry_percent: Decimal
    market_type: MarketType = "swap"

    def __post_init__(self) -> None:
        if not 1 <= self.leverage <= 100:
            raise ValueError(f"leverage must be 1..100, got {self.leverage}")
        if self.market_type == "spot" and self.leverage != 1:
            raise ValueError("spot trades without leverage (leverage must be 1)")
        if self.max_positions < 1:
            raise ValueError(f"max_positions must be at least 1, got {self.max_positions}")
        if not ZERO < self.entry_percent <= HUNDRED:
            raise ValueError(f"entry_percent must be above 0 and at most 100, got {self.entry_percent}")
        for name in ("stop_loss_percent", "take_profit_percent"):
            value = getattr(self, name)
            if value is not None and not ZERO < value < HUNDRED:
                raise ValueError(f"{name} must be above 0 and below 100, got {value}")

    @classmethod
    def for_bot(
        cls,
        strategy_leverage: int,
        entry_percent: Decimal,
        *,
        max_leverage: int,
        max_positions: int,
        stop_loss_percent: Decimal | None,
        take_profit_percent: Decimal | None,
        market_type: MarketType = "swap",
    ) -> TrendSettings:
        """Settings of a bot: the strategy's leverage capped at the bot's ``max_leverage``."""
        leverage = 1 if market_type == "spot" else max(1, min(strategy_leverage, max_leverage))
        return cls(
            leverage, max_positions, stop_loss_percent, take_profit_percent, entry_percent, market_type
        )


@dataclass(frozen=True, slots=True)
class TrendPosition:
    """One open position of a bot; ``seq`` numbers the bot's positions (1, 2, ...)."""

    seq: int
    side: PositionSide
    qty: Decimal
    entry_price: Decimal
    entry_fee: Decimal
    entry_ts: int
    margin: Decimal
    leverage: int
    stop_loss: Decimal | None
    take_profit: Decimal | None
    liquidation: Decimal | None

    @property
    def direction(self) -> int:
        return 1 if self.side == "long" else -1

    def unrealized_pnl(self, price: Decimal) -> Decimal:
        """Price pnl at ``price`` (fees not included)."""
        return self.direction * self.qty * (price - self.entry_price)


@dataclass(frozen=True, slots=True)
class TrendState:
    """What the rules need to remember: the open positions and the next position number."""

    positions: tuple[TrendPosition, ...] = ()
    next_seq: int = 1

    def committed_margin(self) -> Decimal:
        return sum((p.margin for p in self.positions), ZERO)


@dataclass(frozen=True, slots=True)
class TrendIntent:
    """A market order the rules want. ``action`` "open" or "close"; ``position_side`` the
    position it opens or closes; ``reference_price`` the close it was sized at."""

    action: Literal["open", "close"]
    side: Literal["buy", "sell"]
    position_side: PositionSide
    seq: int
    qty: Decimal
    reference_price: Decimal
    client_order_id: str
    reason: str = ""
    margin: Decimal = ZERO

    def order_request(self, symbol: str, market_type: MarketType = "swap") -> OrderRequest:
        """The :class:`OrderRequest` for the exchange (closes are reduce-only on futures)."""
        return OrderRequest(
            symbol=symbol,
            side=self.side,
            type="market",
            qty=self.qty,
            price=self.reference_price,
            client_order_id=self.client_order_id,
            reduce_only=self.action == "close" and market_type == "swap",
        )


@dataclass(frozen=True, slots=True)
class ClosedTrade:
    """A round trip. ``pnl`` = direction x qty x (exit - entry) - entry_fee - exit_fee (quote)."""

    seq: int
    side: PositionSide
    qty: Decimal
    entry_ts: int
    entry_price: Decimal
    entry_fee: Decimal
    exit_ts: int
    exit_price: Decimal
    exit_fee: Decimal
    pnl: Decimal
    reason: str

    @property
    def fees(self) -> Decimal:
        return self.entry_fee + self.exit_fee


def allocated_capital(equity: Decimal, allocation_percent: Decimal) -> Decimal:
    """The bot's share of the account: ``equity`` (quote) x ``allocation_percent`` / 100."""
    return equity * allocation_percent / HUNDRED


def client_order_id(
    bot_id: int, candle_ts: int, seq: int, action: str, side: str, *, namespace: str = BACKTEST_NAMESPACE
) -> str:
    """Deterministic client order id, e.g. ``q7k2x12t28471680o3l`` (<= 32 letters and digits): the
    installation's namespace, the bot, ``t``, the candle's open time in minutes, ``action`` o(pen),
    c(lose on signal) or m(anual close), the position's number and side (l/s)."""
    for name, value in (("candle_ts", candle_ts), ("seq", seq)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    if action not in ("o", "c", "m"):
        raise ValueError(f"action must be o, c or m, got {action!r}")
    return checked(f"{bot_prefix(namespace, bot_id)}t{candle_ts // 60_000}{action}{seq}{side[0]}")


def protective_order_ids(bot_id: int, seq: int, *, namespace: str = BACKTEST_NAMESPACE) -> tuple[str, str]:
    """Client ids of a position's exchange-side take-profit and stop-loss orders."""
    prefix = bot_prefix(namespace, bot_id)
    return checked(f"{prefix}p{seq}tp"), checked(f"{prefix}p{seq}sl")


def exit_order_id(bot_id: int, seq: int, *, namespace: str = BACKTEST_NAMESPACE) -> str:
    """The base of the id of a market close the runtime sends itself (a stop it watches, a manual
    close): never the stop loss's or the take profit's own id (resends get a suffix)."""
    return checked(f"{bot_prefix(namespace, bot_id)}p{seq}x")


def exit_levels(
    side: PositionSide, entry_price: Decimal, settings: TrendSettings, price_tick: Decimal
) -> tuple[Decimal | None, Decimal | None, Decimal | None]:
    """``(stop_loss, take_profit, liquidation)`` prices of a position entered at ``entry_price``."""
    sign = 1 if side == "long" else -1
    sl = tp = liq = None
    if settings.stop_loss_percent is not None:
        sl = round_to_tick(entry_price * (ONE - sign * settings.stop_loss_percent / HUNDRED), price_tick)
    if settings.take_profit_percent is not None:
        tp = round_to_tick(entry_price * (ONE + sign * settings.take_profit_percent / HUNDRED), price_tick)
    if settings.market_type == "swap" and not (side == "long" and settings.leverage == 1):
        liq = round_to_tick(entry_price * (ONE - sign * ONE / settings.leverage), price_tick)
    return sl, tp, liq


def exit_hit(position: TrendPosition, price: Decimal) -> str | None:
    """The exit a price touches (``sl``, ``liquidation`` or ``tp``), or None."""
    if position.side == "long":
        stop = _long_stop(position)
        if stop is not None and price <= stop[0]:
            return stop[1]
        if position.take_profit is not None and price >= position.take_profit:
            return "tp"
    else:
        stop = _short_stop(position)
        if stop is not None and price >= stop[0]:
            return stop[1]
        if position.take_profit is not None and price <= position.take_profit:
            return "tp"
    return None


def _long_stop(p: TrendPosition) -> tuple[Decimal, str] | None:
    if p.stop_loss is not None and (p.liquidation is None or p.stop_loss >= p.liquidation):
        return p.stop_loss, "sl"
    return (p.liquidation, "liquidation") if p.liquidation is not None else None


def _short_stop(p: TrendPosition) -> tuple[Decimal, str] | None:
    if p.stop_loss is not None and (p.liquidation is None or p.stop_loss <= p.liquidation):
        return p.stop_loss, "sl"
    return (p.liquidation, "liquidation") if p.liquidation is not None else None


def stop_of(position: TrendPosition) -> tuple[Decimal, str] | None:
    """The price and reason of the position's effective stop (stop loss or liquidation)."""
    return _long_stop(position) if position.side == "long" else _short_stop(position)


def decide(
    bot_id: int,
    candle_ts: int,
    signal: int,
    price: Decimal,
    state: TrendState,
    allocated: Decimal,
    settings: TrendSettings,
    market: Market,
    *,
    namespace: str = BACKTEST_NAMESPACE,
) -> list[TrendIntent]:
    """The orders for the closed candle ``candle_ts`` (see the module docstring).

    ``price``: the candle's close (quote); ``allocated``: the bot's allocated
    capital (quote, see :func:`allocated_capital`).
    """
    if signal not in (-1, 0, 1):
        raise ValueError(f"signal must be -1, 0 or 1, got {signal!r}")
    if signal == 0:
        return []
    intents: list[TrendIntent] = []
    opposite: PositionSide = "short" if signal > 0 else "long"
    staying = []
    for p in state.positions:
        if p.side == opposite:
            intents.append(_close_intent(bot_id, candle_ts, p, price, "c", "signal", namespace))
        else:
            staying.append(p)
    if signal < 0 and settings.market_type == "spot":
        return intents
    if len(staying) >= settings.max_positions:
        return intents
    committed = sum((p.margin for p in staying), ZERO)
    margin = min(allocated * settings.entry_percent / HUNDRED, allocated - committed)
    if margin <= 0 or price <= 0:
        return intents
    qty = floor_to_step(margin * settings.leverage / price, market.amount_step)
    if qty <= 0 or qty < market.min_qty or qty * price < market.min_notional:
        return intents
    side: PositionSide = "long" if signal > 0 else "short"
    seq = state.next_seq
    intents.append(
        TrendIntent(
            action="open",
            side="buy" if side == "long" else "sell",
            position_side=side,
            seq=seq,
            qty=qty,
            reference_price=price,
            client_order_id=client_order_id(bot_id, candle_ts, seq, "o", side, namespace=namespace),
            reason="signal",
            margin=q8(qty * price / settings.leverage),
        )
    )
    return intents


def _close_intent(
    bot_id: int, candle_ts: int, p: TrendPosition, price: Decimal, action: str, reason: str, namespace: str
) -> TrendIntent:
    return TrendIntent(
        action="close",
        side="sell" if p.side == "long" else "buy",
        position_side=p.side,
        seq=p.seq,
        qty=p.qty,
        reference_price=price,
        client_order_id=client_order_id(bot_id, candle_ts, p.seq, action, p.side, namespace=namespace),
        reason=reason,
    )


def manual_close(
    bot_id: int, ts: int, state: TrendState, price: Decimal, *, namespace: str = BACKTEST_NAMESPACE
) -> list[TrendIntent]:
    """Market closes of every open position (the bot card's "close"), reason ``manual``."""
    return [_close_intent(bot_id, ts, p, price, "m", "manual", namespace) for p in state.positions]


def on_entry_filled(
    state: TrendState,
    intent: TrendIntent,
    price: Decimal,
    qty: Decimal,
    fee: Decimal,
    ts: int,
    settings: TrendSettings,
    price_tick: Decimal,
) -> tuple[TrendState, TrendPosition]:
    """An open order filled at ``price`` (fee in quote): the position, with its exits from the
    fill price, joins the state and the next position number moves on."""
    if intent.action != "open":
        raise ValueError("on_entry_filled needs an open intent")
    sl, tp, liq = exit_levels(intent.position_side, price, settings, price_tick)
    position = TrendPosition(
        seq=intent.seq,
        side=intent.position_side,
        qty=qty,
        entry_price=price,
        entry_fee=q8(fee),
        entry_ts=ts,
        margin=q8(qty * price / settings.leverage),
        leverage=settings.leverage,
        stop_loss=sl,
        take_profit=tp,
        liquidation=liq,
    )
    new = replace(state, positions=(*state.positions, position), next_seq=max(state.next_seq, intent.seq + 1))
    return new, position


def on_entry_failed(state: TrendState, intent: TrendIntent) -> TrendState:
    """The exchange refused an open: skip its number so the next try gets a fresh id."""
    return replace(state, next_seq=max(state.next_seq, intent.seq + 1))


def on_exit_filled(
    state: TrendState, seq: int, price: Decimal, fee: Decimal, ts: int, reason: str
) -> tuple[TrendState, ClosedTrade]:
    """Position ``seq`` was closed at ``price`` (by TP, SL, signal, manual, ...)."""
    if reason not in EXIT_REASONS:
        raise ValueError(f"unknown exit reason {reason!r}")
    found = [p for p in state.positions if p.seq == seq]
    if not found:
        raise ValueError(f"no open position {seq}")
    p = found[0]
    exit_fee = q8(fee)
    pnl = q8(p.unrealized_pnl(price) - p.entry_fee - exit_fee)
    trade = ClosedTrade(
        seq=p.seq,
        side=p.side,
        qty=p.qty,
        entry_ts=p.entry_ts,
        entry_price=p.entry_price,
        entry_fee=p.entry_fee,
        exit_ts=ts,
        exit_price=price,
        exit_fee=exit_fee,
        pnl=pnl,
        reason=reason,
    )
    return replace(state, positions=tuple(x for x in state.positions if x.seq != seq)), trade


def market_fee(price: Decimal, qty: Decimal, rate: Decimal) -> Decimal:
    """Fee of a fill: price x qty x rate, 8 decimals (quote)."""
    return fee_for(price, qty, rate)
