"""Money as the engine records it: Decimal amounts with 8 decimals, prices on the tick, quantities on
the lot step, and the fee of a fill. Shared by every engine package (pure: no I/O)."""

from __future__ import annotations

from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, localcontext

EIGHT_PLACES = Decimal("0.00000001")
CENTS = Decimal("0.01")
ZERO = Decimal(0)
# Working precision for price and quantity math; far above any price's digits.
PRECISION = 50


def q8(amount: Decimal) -> Decimal:
    """An amount recorded with 8 decimals (ROUND_HALF_EVEN)."""
    return amount.quantize(EIGHT_PLACES, rounding=ROUND_HALF_EVEN)


def round_to_tick(price: Decimal, tick: Decimal) -> Decimal:
    """``price`` rounded to the nearest multiple of ``tick`` (ties to even)."""
    with localcontext() as ctx:
        ctx.prec = PRECISION
        steps = (price / tick).to_integral_value(rounding=ROUND_HALF_EVEN)
        return (steps * tick).quantize(tick)


def floor_to_step(amount: Decimal, step: Decimal) -> Decimal:
    """``amount`` rounded down to a multiple of ``step`` (lot size)."""
    with localcontext() as ctx:
        ctx.prec = PRECISION
        ctx.rounding = ROUND_FLOOR
        steps = (amount / step).to_integral_value(rounding=ROUND_FLOOR)
        return (steps * step).quantize(step)


def fee_for(price: Decimal, qty: Decimal, rate: Decimal) -> Decimal:
    """Fee of a fill in quote currency: ``price * qty * rate``, 8 decimals."""
    return q8(price * qty * rate)
