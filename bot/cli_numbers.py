"""Numbers typed on the command line (`multibot backtest`, `multibot sweep`): checked with the chat's
validation rules, errors as ValidationError (one line each)."""

from __future__ import annotations

from decimal import Decimal

from bot.services.errors import ValidationError
from bot.services.validation import parse_decimal


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
