"""Numbers typed on the command line (`multibot backtest`, `multibot sweep`): checked with the chat's
validation rules, errors as ValidationError (one line each)."""

from __future__ import annotations

import sys
from decimal import ROUND_HALF_EVEN, Decimal

from bot.services.errors import ValidationError
from bot.services.validation import parse_decimal


def fail(message: str, prog: str = "multibot sweep") -> int:
    """Print one error line to stderr; the exit status of a usage error."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    return 2


def rate(value: str, field: str) -> Decimal:
    """A fee or slippage rate: a fraction at least 0 and below 1."""
    number = parse_decimal(value, field)
    if not 0 <= number < 1:
        raise ValidationError(field, f"{field} must be at least 0 and below 1")
    return number


def positive(value: str, field: str) -> Decimal:
    number = parse_decimal(value, field)
    if number <= 0:
        raise ValidationError(field, f"{field} must be more than 0")
    return number


def int_in(value: str, field: str, low: int, high: int) -> int:
    number = parse_decimal(value, field)
    if number != number.to_integral_value() or not low <= number <= high:
        raise ValidationError(field, f"{field} must be a whole number from {low} to {high}")
    return int(number)


def percent_or_none(value: str | None, field: str) -> Decimal | str | None:
    """A percent 0..100 (exclusive of 100); 0 means none; None keeps the strategy's default."""
    if value is None:
        return "default"
    number = parse_decimal(value, field)
    if not 0 <= number < 100:
        raise ValidationError(field, f"{field} must be at least 0 and below 100 (0 = none)")
    return number if number > 0 else None


def decimal_range(text: str, field: str, steps: int, tick: Decimal | None = None) -> list[Decimal]:
    """``A``, ``A:B`` (``steps`` values, rounded to ``tick``) or ``A:B:STEP`` as a list of Decimals."""
    parts = text.split(":")
    if not 1 <= len(parts) <= 3:
        raise ValidationError(field, f"{field} must be A, A:B or A:B:STEP")
    values = [positive(p, field) for p in parts]
    if len(values) == 1:
        return values
    low, high = values[0], values[1]
    if high < low:
        raise ValidationError(field, f"{field}: {high} is below {low}")
    if len(values) == 3:
        step = values[2]
        if (high - low) / step > 10_000:
            raise ValidationError(field, f"{field}: more than 10,000 values")
        out, value = [], low
        while value <= high:
            out.append(value)
            value += step
        return out
    if steps < 2 or low == high:
        return [low]
    out = []
    for k in range(steps):
        value = low + (high - low) * k / (steps - 1)
        out.append(value.quantize(tick, rounding=ROUND_HALF_EVEN) if tick is not None else value)
    return sorted(set(out))


def int_range(text: str, field: str, low: int, high: int) -> list[int]:
    """``N``, ``N:M`` (up to 10 whole numbers from N to M) or ``N:M:STEP``."""
    try:
        parts = [int(p) for p in text.split(":")]
    except ValueError:
        raise ValidationError(field, f"{field} must be whole numbers N, N:M or N:M:STEP") from None
    if not 1 <= len(parts) <= 3 or any(not low <= p <= high for p in parts[:2]):
        raise ValidationError(
            field, f"{field} must be whole numbers from {low} to {high} (N, N:M or N:M:STEP)"
        )
    if len(parts) == 1:
        return parts
    first, last = parts[0], parts[1]
    if last < first:
        raise ValidationError(field, f"{field}: {last} is below {first}")
    step = parts[2] if len(parts) == 3 else max(1, -(-(last - first) // 9))
    if step < 1:
        raise ValidationError(field, f"{field}: the step must be at least 1")
    values = list(range(first, last + 1, step))
    if values[-1] != last and len(parts) == 2:
        values.append(last)
    return values
