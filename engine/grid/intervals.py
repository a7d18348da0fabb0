"""The per-interval state machine of a grid bot, and its intervals' client order ids (pure: no I/O).

An interval goes ``pending -> buy_placed -> buy_filled -> sell_placed -> sell_filled -> buy_placed ->
...``; each completed cycle (a sell fill) increments ``cycle`` and yields a :class:`CycleResult` with
the cycle's profit. The same machine drives live trading, the paper exchange and the backtest. Prices
are quote currency per base unit, quantities base currency, money quote currency (8 decimals).

An interval buys its own quantity ``qty`` every cycle (fill rule 2) and holds, once bought, ``held``: what
the fill left it on the lot step (a fee taken in the coin and a partial fill make it less than ``qty``);
its sell is for ``held``. A sell that fills only in part (then cancelled) books the part sold and leaves
the interval holding the rest (:func:`on_sell_partly_filled`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum

from engine.client_ids import base_client_id, bot_prefix, checked
from engine.grid.lines import cycle_profit
from engine.money import ZERO, q8


class IntervalStatus(StrEnum):
    PENDING = "pending"
    BUY_PLACED = "buy_placed"
    BUY_FILLED = "buy_filled"
    SELL_PLACED = "sell_placed"
    SELL_FILLED = "sell_filled"


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """An order an interval wants on the book. ``price`` None means a market order."""

    interval: int
    cycle: int
    side: Side
    price: Decimal | None
    qty: Decimal

    def client_order_id(self, namespace: str, bot_id: int) -> str:
        return client_order_id(namespace, bot_id, self.interval, self.cycle, self.side)


@dataclass(frozen=True, slots=True)
class CycleResult:
    """A sale of what an interval held (money in quote currency): a completed cycle, or the part of it a
    sell that filled only in part sold (``complete`` False)."""

    interval: int
    cycle: int
    qty: Decimal
    buy_price: Decimal
    sell_price: Decimal
    buy_fee: Decimal
    sell_fee: Decimal
    profit: Decimal
    ts: int
    complete: bool = True


@dataclass(frozen=True, slots=True)
class IntervalState:
    """Interval ``index``: buys ``qty`` at ``buy_price`` (line i), sells at ``sell_price`` (line i+1).

    ``cycle`` counts completed cycles. While holding, ``held`` is the coin the
    interval holds (what its sell sells), ``entry_price`` and ``entry_fee`` the buy
    fill of the current cycle (a market buy at the start fills at the market
    price, not at the line; ``entry_fee`` in quote, the part still held's).
    ``realized_profit`` sums the profits of the sales; ``last_fill_ts`` is ms since
    the epoch.
    """

    index: int
    buy_price: Decimal
    sell_price: Decimal
    qty: Decimal
    status: IntervalStatus = IntervalStatus.PENDING
    cycle: int = 0
    entry_price: Decimal | None = None
    entry_fee: Decimal | None = None
    realized_profit: Decimal = ZERO
    last_fill_ts: int | None = None
    held: Decimal | None = None


def new_interval(index: int, lines: Sequence[Decimal], qty: Decimal) -> IntervalState:
    """A pending interval ``index`` of the grid ``lines``."""
    if not 0 <= index < len(lines) - 1:
        raise ValueError(f"interval {index} out of range for {len(lines) - 1} grids")
    return IntervalState(index=index, buy_price=lines[index], sell_price=lines[index + 1], qty=qty)


def initial_placement(lines: Sequence[Decimal], price: Decimal) -> tuple[list[int], list[int]]:
    """Split the intervals at the start price (fill rule 3).

    Returns ``(buy_intervals, market_intervals)``: intervals whose buy line is
    below ``price`` get a buy limit; those whose buy line is at or above it are
    bought at market (in one order) and get their sell placed.
    """
    count = len(lines) - 1
    buy = [i for i in range(count) if lines[i] < price]
    market = [i for i in range(count) if lines[i] >= price]
    return buy, market


def _expect(state: IntervalState, *allowed: IntervalStatus) -> None:
    if state.status not in allowed:
        names = " or ".join(s.value for s in allowed)
        raise ValueError(f"interval {state.index} is {state.status.value}, expected {names}")


def place_buy(state: IntervalState) -> tuple[IntervalState, OrderIntent]:
    """The buy limit at line i for a pending interval (or one whose sell filled)."""
    _expect(state, IntervalStatus.PENDING, IntervalStatus.SELL_FILLED)
    intent = OrderIntent(state.index, state.cycle, Side.BUY, state.buy_price, state.qty)
    return replace(state, status=IntervalStatus.BUY_PLACED), intent


def market_buy(state: IntervalState) -> OrderIntent:
    """The interval's share of the start's market buy (the interval stays pending until filled)."""
    _expect(state, IntervalStatus.PENDING)
    return OrderIntent(state.index, state.cycle, Side.BUY, None, state.qty)


def on_order_placed(state: IntervalState, intent: OrderIntent) -> IntervalState:
    """The exchange accepted ``intent``: ``buy_placed`` / ``sell_placed``."""
    if intent.interval != state.index or intent.cycle != state.cycle:
        raise ValueError(f"order {intent} does not belong to interval {state.index} cycle {state.cycle}")
    if intent.side is Side.SELL:
        _expect(state, IntervalStatus.BUY_FILLED, IntervalStatus.SELL_PLACED)
        return replace(state, status=IntervalStatus.SELL_PLACED)
    _expect(state, IntervalStatus.SELL_FILLED, IntervalStatus.PENDING, IntervalStatus.BUY_PLACED)
    return replace(state, status=IntervalStatus.BUY_PLACED)


def on_buy_filled(
    state: IntervalState, price: Decimal, qty: Decimal, fee: Decimal, ts: int
) -> tuple[IntervalState, OrderIntent]:
    """The buy filled (a limit at line i, or the start's market buy at ``price``): the interval holds
    ``qty`` (what the fill left it on the lot step: net of a fee taken in the coin), bought for ``fee``
    (quote). Returns the ``buy_filled`` state and the sell of ``qty`` to place at line i+1.
    """
    _expect(state, IntervalStatus.BUY_PLACED, IntervalStatus.PENDING)
    if qty <= 0:
        raise ValueError(f"interval {state.index}: a buy fill holds more than 0, not {qty}")
    new = replace(
        state, status=IntervalStatus.BUY_FILLED, held=qty, entry_price=price, entry_fee=fee, last_fill_ts=ts
    )
    return new, OrderIntent(state.index, state.cycle, Side.SELL, state.sell_price, qty)


def on_sell_filled(
    state: IntervalState, price: Decimal, qty: Decimal, fee: Decimal, ts: int
) -> tuple[IntervalState, CycleResult, OrderIntent]:
    """The sell of everything the interval held filled: the cycle is complete.

    Returns the ``sell_filled`` state (``cycle`` + 1, profit added), the
    :class:`CycleResult` and the buy of the interval's own ``qty`` to place again at line i.
    """
    _expect(state, IntervalStatus.SELL_PLACED, IntervalStatus.BUY_FILLED)
    assert state.entry_price is not None and state.entry_fee is not None
    if state.held is not None and qty != state.held:
        raise ValueError(f"interval {state.index} holds {state.held}, a complete sale sells that, not {qty}")
    profit = cycle_profit(qty, state.entry_price, price, state.entry_fee, fee)
    result = CycleResult(
        interval=state.index,
        cycle=state.cycle,
        qty=qty,
        buy_price=state.entry_price,
        sell_price=price,
        buy_fee=state.entry_fee,
        sell_fee=fee,
        profit=profit,
        ts=ts,
    )
    new = replace(
        state,
        status=IntervalStatus.SELL_FILLED,
        cycle=state.cycle + 1,
        entry_price=None,
        entry_fee=None,
        held=None,
        realized_profit=state.realized_profit + profit,
        last_fill_ts=ts,
    )
    intent = OrderIntent(state.index, new.cycle, Side.BUY, state.buy_price, state.qty)
    return new, result, intent


def on_sell_partly_filled(
    state: IntervalState, price: Decimal, qty: Decimal, fee: Decimal, ts: int
) -> tuple[IntervalState, CycleResult]:
    """A sell that sold only ``qty`` of what the interval held and is gone (cancelled, expired): the part
    sold is booked (its share of the entry fee with it) and the interval holds the rest (``buy_filled``,
    its sell of the rest still to place). ``qty`` >= what it holds is a complete sale."""
    _expect(state, IntervalStatus.SELL_PLACED, IntervalStatus.BUY_FILLED)
    assert state.entry_price is not None and state.entry_fee is not None and state.held is not None
    if not 0 < qty < state.held:
        raise ValueError(f"interval {state.index} holds {state.held}: {qty} is not a part of it")
    fee_part = q8(state.entry_fee * qty / state.held)
    profit = cycle_profit(qty, state.entry_price, price, fee_part, fee)
    result = CycleResult(
        interval=state.index,
        cycle=state.cycle,
        qty=qty,
        buy_price=state.entry_price,
        sell_price=price,
        buy_fee=fee_part,
        sell_fee=fee,
        profit=profit,
        ts=ts,
        complete=False,
    )
    new = replace(
        state,
        status=IntervalStatus.BUY_FILLED,
        held=state.held - qty,
        entry_fee=state.entry_fee - fee_part,
        realized_profit=state.realized_profit + profit,
        last_fill_ts=ts,
    )
    return new, result


def client_order_prefix(namespace: str, bot_id: int) -> str:
    """What every client order id of a grid bot's intervals starts with (its market buys and resent
    orders included): the installation's namespace, the bot's id and ``i``, e.g. ``q7k2x12i``."""
    return f"{bot_prefix(namespace, bot_id)}i"


def client_order_id(namespace: str, bot_id: int, interval: int, cycle: int, side: str) -> str:
    """Deterministic exchange client order id, e.g. ``q7k2x12i3c7b`` (<= 32 letters and digits).

    Re-running a tick asks for the same id, so the exchange refuses a duplicate
    instead of placing the order twice.
    """
    for name, value in (("interval", interval), ("cycle", cycle)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    side = str(side)
    if side not in (Side.BUY, Side.SELL):
        raise ValueError(f"side must be 'buy' or 'sell', got {side!r}")
    return checked(f"{client_order_prefix(namespace, bot_id)}{interval}c{cycle}{side[0]}")


def close_order_id(namespace: str, bot_id: int, trades: int) -> str:
    """The market sale of everything a grid holds when it stops (``trades``: the sales it booked so far,
    so a later sale has another id, and a sale sent again after a lost answer the same), e.g.
    ``q7k2x12x40``."""
    return checked(f"{bot_prefix(namespace, bot_id)}x{trades}")


def is_market_client_id(cid: str) -> bool:
    """The id names the one market buy of a grid's intervals at or above the price (resent or not)."""
    return base_client_id(cid).endswith("m")
