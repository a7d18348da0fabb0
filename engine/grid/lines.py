"""Grid math: the lines, the per-interval amounts and quantities, a cycle's profit and the minimum
investment (pure: no I/O, no DB, no aiogram). The intervals' state machine is engine.grid.intervals.

Vocabulary (DESIGN.md, "The grid bot"):

* ``count`` (``grid_count``) is the number of intervals between ``lower`` and
  ``upper``; there are ``count + 1`` lines, k = 0..count.
* Interval ``i`` (0 <= i < count) buys at line ``i`` and sells at line ``i + 1``.
* Prices are quote currency per base unit, amounts of base currency are
  quantities (``qty``), money amounts (fees, profits, investments) are quote
  currency. Everything is ``Decimal``; recorded money amounts have 8 decimals
  (ROUND_HALF_EVEN).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, localcontext

from engine.money import CENTS, EIGHT_PLACES, PRECISION, ZERO, q8, round_to_tick

MODES = ("arithmetic", "geometric")


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
        ctx.prec = PRECISION
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
        ctx.prec = PRECISION
        return (Decimal(total_investment) / count).quantize(EIGHT_PLACES, rounding=ROUND_DOWN)


def interval_qty(per_grid_amount: Decimal, buy_price: Decimal, amount_step: Decimal) -> Decimal:
    """Base quantity of an interval: ``per_grid_amount / buy_price`` rounded down to the lot step."""
    if buy_price <= 0 or amount_step <= 0:
        raise ValueError("buy price and amount step must be > 0")
    with localcontext() as ctx:
        ctx.prec = PRECISION
        ctx.rounding = ROUND_FLOOR  # a floored quotient never crosses a step boundary upwards
        steps = (per_grid_amount / (buy_price * amount_step)).to_integral_value(rounding=ROUND_FLOOR)
        return (steps * amount_step).quantize(amount_step)


def interval_quantities(lines: Sequence[Decimal], per_grid: Decimal, amount_step: Decimal) -> list[Decimal]:
    """:func:`interval_qty` of every interval (buy lines ``lines[0..count-1]``)."""
    return [interval_qty(per_grid, line, amount_step) for line in lines[:-1]]


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
        ctx.prec = PRECISION
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
