"""Domain errors raised by the fleet service; the chat turns each into a message in the user's language.

Every error carries a stable `code` (the i18n key's suffix) and the numbers the message needs, so the
handlers never parse English text.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any


class DomainError(Exception):
    """A request the service refused; nothing was changed."""

    code = "domain_error"

    def __init__(self, message: str, **params: Any) -> None:
        super().__init__(message)
        self.message = message
        self.params = params

    def __str__(self) -> str:
        return self.message


class ValidationError(DomainError):
    """An input value breaks a rule; `field` names the input."""

    code = "invalid"

    def __init__(self, field: str, message: str, **params: Any) -> None:
        super().__init__(message, field=field, **params)
        self.field = field


class NotFound(DomainError):
    """The bot does not exist, is deleted, or belongs to someone else (the caller cannot tell which)."""

    code = "not_found"

    def __init__(self, what: str = "bot") -> None:
        super().__init__(f"{what} not found", what=what)


class NameTaken(ValidationError):
    code = "name_taken"

    def __init__(self, name: str) -> None:
        super().__init__("name", f"you already have an active bot named {name!r}", name=name)


class OverAllocation(DomainError):
    """The allocation would push the user's active bots past 100 %."""

    code = "over_allocation"

    def __init__(self, requested: Decimal, free: Decimal) -> None:
        super().__init__(
            f"allocation {requested}% is more than the {free}% still free", requested=requested, free=free
        )
        self.requested = requested
        self.free = free


class TooManyBots(DomainError):
    code = "too_many_bots"

    def __init__(self, limit: int) -> None:
        super().__init__(f"at most {limit} active bots per user", limit=limit)
        self.limit = limit


class AlreadyRunning(DomainError):
    code = "already_running"

    def __init__(self) -> None:
        super().__init__("the bot is already running")


class NotRunning(DomainError):
    code = "not_running"

    def __init__(self) -> None:
        super().__init__("the bot is not running")


class StopBotFirst(DomainError):
    """A setting that cannot change under a running bot."""

    code = "stop_first"

    def __init__(self, setting: str) -> None:
        super().__init__(f"stop the bot before changing {setting}", setting=setting)


class NotAllowed(DomainError):
    """The Telegram id is not on the allowlist."""

    code = "not_allowed"

    def __init__(self) -> None:
        super().__init__("this bot is private")


class NoPrice(DomainError):
    """The market has no price now, so an order's value (and whether the balance covers it) is unknown."""

    code = "no_price"

    def __init__(self, symbol: str) -> None:
        super().__init__(f"no price for {symbol} right now", symbol=symbol)


class OrderTooSmall(DomainError):
    """Under the market's minimum quantity (base currency) or minimum order value (quote currency)."""

    code = "order_too_small"

    def __init__(self, symbol: str, base: str, min_qty: Decimal, min_value: Decimal) -> None:
        super().__init__(
            f"the smallest order on {symbol} is {min_qty} {base} and {min_value} in value",
            symbol=symbol,
            base=base,
            min_qty=min_qty,
            min_value=min_value,
        )


class OrderStep(DomainError):
    """A quantity that is not a multiple of the market's lot step (base currency)."""

    code = "order_step"

    def __init__(self, symbol: str, base: str, step: Decimal) -> None:
        super().__init__(f"{symbol} trades in steps of {step} {base}", symbol=symbol, base=base, step=step)


class InsufficientBalance(DomainError):
    """The order needs more of `currency` than the account holds free."""

    code = "insufficient_balance"

    def __init__(self, currency: str, needed: Decimal, free: Decimal) -> None:
        super().__init__(
            f"the order needs {needed} {currency}, {free} is free",
            currency=currency,
            needed=needed,
            free=free,
        )


class ExchangeOutOfReach(DomainError):
    """The exchange could not be reached (after the retries): nothing was changed."""

    code = "exchange_out_of_reach"

    def __init__(self, reason: str) -> None:
        super().__init__(f"the exchange cannot be reached: {reason}")
