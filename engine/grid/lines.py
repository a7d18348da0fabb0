"""Grid math and the per-interval state machine (pure: no I/O, no DB, no aiogram).

Vocabulary (DESIGN.md, "The grid bot"):

* ``count`` (``grid_count``) is the number of intervals between ``lower`` and
  ``upper``; there are ``count + 1`` lines, k = 0..count.
* Interval ``i`` (0 <= i < count) buys at line ``i`` and sells at line ``i + 1``.
* Prices are quote currency per base unit, amounts of base currency are
  quantities (``qty``), money amounts (fees, profits, investments) are quote
  currency. Everything is ``Decimal``; recorded money amounts have 8 decimals
  (ROUND_HALF_EVEN).

The same state machine drives live trading, the paper exchange and the
backtest: an interval goes ``pending -> buy_placed -> buy_filled -> sell_placed
-> sell_filled -> buy_placed -> ...``; each completed cycle (a sell fill)
increments ``cycle`` and yields a :class:`CycleResult` with the cycle's profit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, localcontext
from enum import StrEnum

EIGHT_PLACES = Decimal("0.00000001")
CENTS = Decimal("0.01")
ZERO = Decimal(0)
MODES = ("arithmetic", "geometric")
# Working precision for line and quantity math; far above any price's digits.
_PRECISION = 50
_CLIENT_ID_MAX = 32
_CLIENT_ID_RE = re.compile(r"[A-Za-z0-9]{1,32}")
_RESENT = re.compile(r"^(.*?)(?:r(\d+))?$")  # an id and how many times its order went out again


class GridTooSmall(ValueError):
    """The investment is too small for every interval to meet the market's minimums.

    ``min_investment`` (quote currency, 2 decimals) is the smallest total
    investment that works for the same lines.
    """

    def __init__(self, min_investment: Decimal, total_investment: Decimal | None = None) -> None:
        self.min_investment = min_investment
        self.total_investment = total_investment
        have = f" (got {total_investment})" if total_investment is not None else ""
        super().__init__(f"investment too small for this grid{have}: at least {min_investment} is needed")


# --------------------------------------------------------------------------- math


def q8(amount: Decimal) -> Decimal:
    """An amount recorded with 8 decimals (ROUND_HALF_EVEN)."""
    return amount.quantize(EIGHT_PLACES, rounding=ROUND_HALF_EVEN)


def round_to_tick(price: Decimal, tick: Decimal) -> Decimal:
    """``price`` rounded to the nearest multiple of ``tick`` (ties to even)."""
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        steps = (price / tick).to_integral_value(rounding=ROUND_HALF_EVEN)
        return (steps * tick).quantize(tick)


def floor_to_step(amount: Decimal, step: Decimal) -> Decimal:
    """``amount`` rounded down to a multiple of ``step`` (lot size)."""
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        ctx.rounding = ROUND_FLOOR
        steps = (amount / step).to_integral_value(rounding=ROUND_FLOOR)
        return (steps * step).quantize(step)


def grid_lines(
    lower: Decimal,
    upper: Decimal,
    count: int,
    mode: str,
    price_tick: Decimal | None = None,
) -> list[Decimal]:
    """The ``count + 1`` grid lines from ``lower`` to ``upper`` (quote currency).

    Arithmetic: ``lower + k (upper - lower) / count``; geometric:
    ``lower (upper / lower) ^ (k / count)``, computed with 50 significant digits.
    Each line is rounded to ``price_tick`` (ROUND_HALF_EVEN) when one is given,
    else to 8 decimals. Raises ``ValueError`` for bad arguments or when rounding
    makes two lines equal (a tick too coarse for the range).
    """
    lower, upper = Decimal(lower), Decimal(upper)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be a positive integer, got {count!r}")
    if not lower.is_finite() or not upper.is_finite() or lower <= 0 or upper <= lower:
        raise ValueError(f"need 0 < lower < upper, got lower={lower} upper={upper}")
    if price_tick is not None and (not Decimal(price_tick).is_finite() or Decimal(price_tick) <= 0):
        raise ValueError(f"price tick must be > 0, got {price_tick}")

    raw: list[Decimal] = []
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        if mode == "arithmetic":
            span = upper - lower
            raw = [lower + span * k / count for k in range(count + 1)]
        else:
            log_ratio = (upper / lower).ln()
            raw = [lower * (log_ratio * k / count).exp() for k in range(count + 1)]
        raw[0], raw[-1] = lower, upper  # exact ends, whatever exp/ln did
        if price_tick is None:
            lines = [x.quantize(EIGHT_PLACES, rounding=ROUND_HALF_EVEN) for x in raw]
        else:
            lines = [round_to_tick(x, Decimal(price_tick)) for x in raw]
    for k in range(count):
        if lines[k + 1] <= lines[k]:
            raise ValueError(
                f"grid lines {k} and {k + 1} both round to {lines[k]}: "
                "the range is too narrow for this many grids at this price tick"
            )
    if lines[0] <= 0:
        raise ValueError(f"the lowest line rounds to {lines[0]}; it must be > 0")
    return lines


def per_grid_amount(total_investment: Decimal, count: int) -> Decimal:
    """Quote currency per interval: ``total_investment / count``, 8 decimals, rounded down."""
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        return (Decimal(total_investment) / count).quantize(EIGHT_PLACES, rounding=ROUND_DOWN)


def interval_qty(per_grid_amount: Decimal, buy_price: Decimal, amount_step: Decimal) -> Decimal:
    """Base quantity of an interval: ``per_grid_amount / buy_price`` rounded down to the lot step."""
    if buy_price <= 0 or amount_step <= 0:
        raise ValueError("buy price and amount step must be > 0")
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        ctx.rounding = ROUND_FLOOR  # a floored quotient never crosses a step boundary upwards
        steps = (per_grid_amount / (buy_price * amount_step)).to_integral_value(rounding=ROUND_FLOOR)
        return (steps * amount_step).quantize(amount_step)


def interval_quantities(lines: Sequence[Decimal], per_grid: Decimal, amount_step: Decimal) -> list[Decimal]:
    """:func:`interval_qty` of every interval (buy lines ``lines[0..count-1]``)."""
    return [interval_qty(per_grid, line, amount_step) for line in lines[:-1]]


def fee_for(price: Decimal, qty: Decimal, rate: Decimal) -> Decimal:
    """Fee of a fill in quote currency: ``price * qty * rate``, 8 decimals."""
    return q8(price * qty * rate)


def cycle_profit(
    qty: Decimal, buy_price: Decimal, sell_price: Decimal, buy_fee: Decimal, sell_fee: Decimal
) -> Decimal:
    """Net profit of one buy-then-sell cycle: ``qty (sell - buy) - buy_fee - sell_fee``, 8 decimals."""
    return q8(qty * (sell_price - buy_price) - buy_fee - sell_fee)


def min_investment_for(
    lines: Sequence[Decimal],
    count: int,
    amount_step: Decimal,
    min_qty: Decimal = ZERO,
    min_notional: Decimal = ZERO,
) -> Decimal:
    """Smallest total investment (quote currency, 2 decimals) that makes every interval valid.

    Valid means: quantity (see :func:`interval_qty`) >= ``min_qty``, >= one lot
    step, and ``qty * buy line >= min_notional``. The answer is rounded up to
    a cent and checked against :func:`per_grid_amount`'s rounding.
    """
    if len(lines) != count + 1:
        raise ValueError(f"expected {count + 1} lines for {count} grids, got {len(lines)}")
    needed_per_grid = ZERO
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        for line in lines[:-1]:
            qty = max(min_qty, min_notional / line, amount_step)
            qty = (qty / amount_step).to_integral_value(rounding=ROUND_CEILING) * amount_step
            needed_per_grid = max(needed_per_grid, qty * line)
        needed_per_grid = needed_per_grid.quantize(EIGHT_PLACES, rounding=ROUND_CEILING)
        total = (needed_per_grid * count).quantize(CENTS, rounding=ROUND_CEILING)
    while not _investment_fits(total, lines, count, amount_step, min_qty, min_notional):
        total += CENTS  # pragma: no cover - the bound above is already sufficient
    return total


def _investment_fits(
    total: Decimal,
    lines: Sequence[Decimal],
    count: int,
    amount_step: Decimal,
    min_qty: Decimal,
    min_notional: Decimal,
) -> bool:
    per_grid = per_grid_amount(total, count)
    for line in lines[:-1]:
        qty = interval_qty(per_grid, line, amount_step)
        if qty <= 0 or qty < min_qty or qty * line < min_notional:
            return False
    return True


def check_grid_investment(
    total_investment: Decimal,
    lines: Sequence[Decimal],
    count: int,
    amount_step: Decimal,
    min_qty: Decimal = ZERO,
    min_notional: Decimal = ZERO,
) -> None:
    """Raise :class:`GridTooSmall` (carrying the minimum that works) unless every interval is valid."""
    if not _investment_fits(Decimal(total_investment), lines, count, amount_step, min_qty, min_notional):
        minimum = min_investment_for(lines, count, amount_step, min_qty, min_notional)
        raise GridTooSmall(minimum, Decimal(total_investment))


# ------------------------------------------------------------------ state machine


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

    def client_order_id(self, bot_id: int) -> str:
        return client_order_id(bot_id, self.interval, self.cycle, self.side)


@dataclass(frozen=True, slots=True)
class CycleResult:
    """One completed buy-then-sell cycle of an interval (money in quote currency)."""

    interval: int
    cycle: int
    qty: Decimal
    buy_price: Decimal
    sell_price: Decimal
    buy_fee: Decimal
    sell_fee: Decimal
    profit: Decimal
    ts: int


@dataclass(frozen=True, slots=True)
class IntervalState:
    """Interval ``index``: buys ``qty`` at ``buy_price`` (line i), sells at ``sell_price`` (line i+1).

    ``cycle`` counts completed cycles. While holding, ``entry_price`` and
    ``entry_fee`` are the buy fill of the current cycle (a market buy at the
    start fills at the market price, not at the line). ``realized_profit`` sums
    the profits of the completed cycles; ``last_fill_ts`` is ms since the epoch.
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
    """The buy filled (a limit at line i, or the start's market buy at ``price``).

    Returns the ``buy_filled`` state and the sell to place at line i+1.
    """
    _expect(state, IntervalStatus.BUY_PLACED, IntervalStatus.PENDING)
    new = replace(
        state, status=IntervalStatus.BUY_FILLED, qty=qty, entry_price=price, entry_fee=fee, last_fill_ts=ts
    )
    return new, OrderIntent(state.index, state.cycle, Side.SELL, state.sell_price, qty)


def on_sell_filled(
    state: IntervalState, price: Decimal, qty: Decimal, fee: Decimal, ts: int
) -> tuple[IntervalState, CycleResult, OrderIntent]:
    """The sell filled: the cycle is complete.

    Returns the ``sell_filled`` state (``cycle`` + 1, profit added), the
    :class:`CycleResult` and the buy to place again at line i (for the next cycle).
    """
    _expect(state, IntervalStatus.SELL_PLACED, IntervalStatus.BUY_FILLED)
    assert state.entry_price is not None and state.entry_fee is not None
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
        realized_profit=state.realized_profit + profit,
        last_fill_ts=ts,
    )
    intent = OrderIntent(state.index, new.cycle, Side.BUY, state.buy_price, state.qty)
    return new, result, intent


def client_order_prefix(bot_id: int) -> str:
    """What every client order id of a grid bot's intervals starts with (its market buys and resent
    orders included): ``mb12i``."""
    return f"mb{bot_id}i"


def client_order_id(bot_id: int, interval: int, cycle: int, side: str) -> str:
    """Deterministic exchange client order id, e.g. ``mb12i3c7b`` (<= 32 chars, [A-Za-z0-9]).

    Re-running a tick asks for the same id, so the exchange refuses a duplicate
    instead of placing the order twice.
    """
    for name, value in (("bot_id", bot_id), ("interval", interval), ("cycle", cycle)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    side = str(side)
    if side not in (Side.BUY, Side.SELL):
        raise ValueError(f"side must be 'buy' or 'sell', got {side!r}")
    cid = f"{client_order_prefix(bot_id)}{interval}c{cycle}{side[0]}"
    if len(cid) > _CLIENT_ID_MAX or not _CLIENT_ID_RE.fullmatch(cid):
        raise ValueError(f"client order id {cid!r} longer than {_CLIENT_ID_MAX} characters")
    return cid


def next_client_id(cid: str) -> str:
    """The id to use when `cid` was cancelled and its order must go out again: 'x' -> 'xr1' -> 'xr2'."""
    base, n = _RESENT.match(cid).groups()  # type: ignore[union-attr]
    return f"{base}r{int(n or 0) + 1}"


def is_market_client_id(cid: str) -> bool:
    """The id names the one market buy of a grid's intervals at or above the price (resent or not)."""
    base, _ = _RESENT.match(cid).groups()  # type: ignore[union-attr]
    return base.endswith("m")
