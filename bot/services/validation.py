"""Pure validation of what a user asks for. Each function returns the cleaned value or raises ValidationError.

Units: percents are 0-100 (not fractions); prices and amounts are quote currency (USDT) as Decimal.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal

from bot.services.errors import ValidationError
from engine.markets import QUOTES  # longest-first matters only for overlapping suffixes; none overlap

NAME_MAX = 100
MONEY_MAX = Decimal("999999999999.99999999")  # Numeric(20, 8)
PERCENT_MAX = Decimal("999.99")  # Numeric(5, 2)
GRID_COUNT_MIN, GRID_COUNT_MAX = 2, 100
LEVERAGE_MIN, LEVERAGE_MAX = 1, 100
POSITIONS_MIN, POSITIONS_MAX = 1, 20
GRID_MODES = ("arithmetic", "geometric")
DELETED_NAME_SEPARATOR = "\x1f"  # a control character: never in a valid name, so a freed name cannot clash

_SYMBOL_RE = re.compile(r"^[A-Z0-9]{2,16}$")


def parse_decimal(value: object, field: str) -> Decimal:
    """A finite Decimal from user input: Decimal, int, or text in plain digits ('1234.5', '1,234.5', '0,5',
    '12.5%'). Floats are refused.

    Text is read so that no number can change its magnitude: '.' is the decimal point; a comma is a
    thousands separator where only that reading fits ('1,234.5', '1,500,000') and the decimal separator
    where only that one does ('0,5', '1,5', '12,25'); where both fit ('1,500': 1500 or 1.5) the number is
    refused as ambiguous. Scientific notation, NaN, infinities, '-0', hex, underscores and digits of other
    scripts are refused everywhere (full-width digits count as digits)."""
    if isinstance(value, bool) or isinstance(value, float):
        raise ValidationError(field, f"{field} must be given as text or Decimal, not float")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, str):
        number = Decimal(_plain_number(value, field))
    else:
        raise ValidationError(field, f"{field} must be a number")
    if not number.is_finite():
        raise ValidationError(field, f"{field} must be a finite number")
    if number.is_zero() and number.is_signed():
        raise ValidationError(field, f"{field} must not be -0")
    return number


_PLAIN = re.compile(r"[+-]?[0-9.,]+")
_GROUPED = re.compile(r"[1-9][0-9]{0,2}(,[0-9]{3})+")  # 1,234 / 12,345,678: thousands only


def _plain_number(value: str, field: str) -> str:
    """`value` as Decimal's text ('1234.5'), or ValidationError / AmbiguousNumber."""
    text = unicodedata.normalize("NFKC", value).strip().removesuffix("%").strip()
    if not text or len(text) > 40 or not _PLAIN.fullmatch(text) or not any(c.isdigit() for c in text):
        raise ValidationError(field, f"{field} must be a number in plain digits")
    sign, digits = (text[0], text[1:]) if text[0] in "+-" else ("", text)
    if "," not in digits:
        if digits.count(".") > 1:
            raise ValidationError(field, f"{field} must be a number in plain digits")
        return sign + digits
    whole, dot, fraction = digits.partition(".")
    if dot:  # a comma before the decimal point groups thousands, or the number is unclear ('1.234,5')
        if not _GROUPED.fullmatch(whole) or "," in fraction or "." in fraction:
            raise AmbiguousNumber(field, value)
        return sign + whole.replace(",", "") + "." + fraction
    if digits.count(",") > 1:
        if not _GROUPED.fullmatch(digits):
            raise ValidationError(field, f"{field} must be a number in plain digits")
        return sign + digits.replace(",", "")
    head, _, tail = digits.partition(",")
    if not tail:
        raise ValidationError(field, f"{field} must be a number in plain digits")
    if len(tail) == 3 and head.strip("0"):  # '1,500' or '1234,567': thousands or a decimal comma
        raise AmbiguousNumber(field, value)
    return sign + (head or "0") + "." + tail


class AmbiguousNumber(ValidationError):
    """A comma that could be a thousands or a decimal separator ('1,500': 1500 or 1.5); `thousands` and
    `decimal` are the two readings."""

    code = "ambiguous_number"

    def __init__(self, field: str, text: str) -> None:
        digits = unicodedata.normalize("NFKC", text).strip().removesuffix("%").strip()
        thousands = _reading(digits.replace(",", ""))
        decimal = _reading(digits.replace(".", "").replace(",", "."))
        super().__init__(
            field,
            f"{text!r} could be {thousands} or {decimal}; write it without the comma",
            text=text.strip()[:40],
            thousands=thousands,
            decimal=decimal,
        )


def _reading(text: str) -> str:
    return f"{Decimal(text).normalize():f}"


def _decimals(number: Decimal) -> int:
    exponent = number.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _bounded(number: Decimal, field: str, *, places: int, maximum: Decimal) -> Decimal:
    if _decimals(number) > places:
        raise ValidationError(field, f"{field} takes at most {places} decimals", places=places)
    if number > maximum:
        raise ValidationError(field, f"{field} must be at most {maximum}", maximum=maximum)
    return number


def parse_int(value: object, field: str) -> int:
    if isinstance(value, bool):
        raise ValidationError(field, f"{field} must be a whole number")
    if isinstance(value, int):
        return value
    number = parse_decimal(value, field)
    if number != number.to_integral_value():
        raise ValidationError(field, f"{field} must be a whole number")
    return int(number)


def validate_name(name: object) -> str:
    if not isinstance(name, str):
        raise ValidationError("name", "name must be text")
    cleaned = " ".join(name.split())
    if not 1 <= len(cleaned) <= NAME_MAX:
        raise ValidationError("name", f"name must be 1 to {NAME_MAX} characters", maximum=NAME_MAX)
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") for ch in cleaned):
        raise ValidationError("name", "name must not contain control characters")
    return cleaned


def normalize_symbol(symbol: object) -> str:
    """'BTCUSDT', 'btc/usdt', 'BTC/USDT:USDT' and 'BTC-USDT' all name the market 'BTCUSDT'."""
    if not isinstance(symbol, str):
        raise ValidationError("symbol", "symbol must be text")
    text = symbol.strip().upper()
    if ":" in text:
        text, _, settle = text.partition(":")
        if settle not in QUOTES:
            raise ValidationError("symbol", f"unknown symbol {symbol!r}", symbol=symbol)
    if "/" in text or "-" in text or "_" in text:
        parts = re.split(r"[/\-_]", text)
        if len(parts) != 2 or parts[1] not in QUOTES or not parts[0]:
            raise ValidationError("symbol", f"unknown symbol {symbol!r}", symbol=symbol)
        text = "".join(parts)
    if not _SYMBOL_RE.match(text) or not any(text.endswith(q) and len(text) > len(q) for q in QUOTES):
        raise ValidationError("symbol", f"unknown symbol {symbol!r}", symbol=symbol)
    return text


def split_symbol(symbol: str) -> tuple[str, str]:
    """('BTC', 'USDT') of a normalised symbol."""
    for quote in QUOTES:
        if symbol.endswith(quote) and len(symbol) > len(quote):
            return symbol[: -len(quote)], quote
    raise ValidationError("symbol", f"unknown symbol {symbol!r}", symbol=symbol)


def validate_allocation(value: object) -> Decimal:
    """Percent of the account balance, 0 < x <= 100, at most 2 decimals."""
    number = parse_decimal(value, "allocation")
    if number <= 0 or number > 100:
        raise ValidationError("allocation", "allocation must be more than 0 and at most 100 %")
    return _bounded(number, "allocation", places=2, maximum=Decimal(100))


def validate_leverage(value: object, cap: int = LEVERAGE_MAX) -> int:
    top = min(cap, LEVERAGE_MAX)
    try:
        leverage = parse_int(value, "leverage")
    except ValidationError:  # the text names the range, whatever was wrong
        message = f"leverage must be a whole number 1 to {top}"
        raise ValidationError("leverage", message, maximum=top) from None
    if not LEVERAGE_MIN <= leverage <= top:
        raise ValidationError("leverage", f"leverage must be 1 to {top}", maximum=top)
    return leverage


def validate_positions(value: object) -> int:
    positions = parse_int(value, "max_positions")
    if not POSITIONS_MIN <= positions <= POSITIONS_MAX:
        raise ValidationError("max_positions", f"max positions must be 1 to {POSITIONS_MAX}", maximum=20)
    return positions


def validate_stop_loss(value: object) -> Decimal:
    number = parse_decimal(value, "stop_loss")
    if number <= 0 or number >= 100:
        raise ValidationError("stop_loss", "stop loss must be more than 0 and less than 100 %")
    return _bounded(number, "stop_loss", places=2, maximum=PERCENT_MAX)


def validate_take_profit(value: object) -> Decimal:
    number = parse_decimal(value, "take_profit")
    if number <= 0:
        raise ValidationError("take_profit", "take profit must be more than 0 %")
    return _bounded(number, "take_profit", places=2, maximum=PERCENT_MAX)


def validate_limit(value: object, field: str, *, percent: bool) -> Decimal | None:
    """An optional limit the user types: a positive amount (USDT, or a percent), 0 or "off" for none."""
    if isinstance(value, str) and value.strip().lower() in ("off", "none", "-"):
        return None
    number = parse_decimal(value, field)
    if number < 0:
        raise ValidationError(field, f"{field} must be 0 (off) or more")
    if number == 0:
        return None
    if percent:
        return _bounded(number, field, places=2, maximum=PERCENT_MAX)
    return _bounded(number, field, places=8, maximum=MONEY_MAX)


def validate_price(value: object, field: str) -> Decimal:
    number = parse_decimal(value, field)
    if number <= 0:
        raise ValidationError(field, f"{field} must be more than 0")
    return _bounded(number, field, places=8, maximum=MONEY_MAX)


def validate_grid_count(value: object) -> int:
    count = parse_int(value, "grid_count")
    if not GRID_COUNT_MIN <= count <= GRID_COUNT_MAX:
        raise ValidationError("grid_count", f"grid count must be {GRID_COUNT_MIN} to {GRID_COUNT_MAX}")
    return count


def validate_grid_mode(value: object) -> str:
    mode = str(value).strip().lower()
    if mode not in GRID_MODES:
        raise ValidationError("grid_mode", "grid mode must be arithmetic or geometric")
    return mode


@dataclass(frozen=True, slots=True)
class GridParams:
    lower: Decimal
    upper: Decimal
    grid_count: int
    mode: str
    total_investment: Decimal
    trigger_price: Decimal | None = None
    stop_upper: Decimal | None = None
    stop_lower: Decimal | None = None


def validate_grid_range(lower: object, upper: object) -> tuple[Decimal, Decimal]:
    low = validate_price(lower, "lower_price")
    high = validate_price(upper, "upper_price")
    if high <= low:
        raise ValidationError("upper_price", "the upper price must be above the lower price")
    return low, high


def validate_grid_params(
    *,
    lower: object,
    upper: object,
    grid_count: object,
    mode: object = "arithmetic",
    total_investment: object,
    trigger_price: object = None,
    stop_upper: object = None,
    stop_lower: object = None,
) -> GridParams:
    """All of a grid's numbers, checked together (stop_lower < lower < upper < stop_upper)."""
    low, high = validate_grid_range(lower, upper)
    count = validate_grid_count(grid_count)
    grid_mode = validate_grid_mode(mode)
    investment = validate_price(total_investment, "total_investment")
    trigger = validate_price(trigger_price, "trigger_price") if trigger_price is not None else None
    stop_high = validate_price(stop_upper, "stop_upper") if stop_upper is not None else None
    stop_low = validate_price(stop_lower, "stop_lower") if stop_lower is not None else None
    if stop_high is not None and stop_high <= high:
        raise ValidationError("stop_upper", "stop_upper must be above the upper price")
    if stop_low is not None and stop_low >= low:
        raise ValidationError("stop_lower", "stop_lower must be below the lower price")
    return GridParams(low, high, count, grid_mode, investment, trigger, stop_high, stop_low)
