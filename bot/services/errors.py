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


class StillStopping(DomainError):
    """The bot's stop is still being carried out (orders to cancel, coin or positions to settle)."""

    code = "still_stopping"

    def __init__(self, name: str) -> None:
        super().__init__(f"{name} is still stopping", name=name)


class BotsOnVenue(DomainError):
    """A change of mode or keys would leave bots on the venue or account they run on: stop them first.
    `names` are the bots (comma separated), `count` how many."""

    code = "bots_on_venue"

    def __init__(self, names: list[str]) -> None:
        super().__init__(
            f"stop these bots first: {', '.join(names)}", names=", ".join(names), count=len(names)
        )
        self.names = names


class HeldElsewhere(DomainError):
    """The bot holds coin or positions on a venue or account other than the one the user trades on now,
    and cannot be moved there."""

    code = "held_elsewhere"

    def __init__(self, name: str, venue: str) -> None:
        super().__init__(f"{name} holds coin or positions on {venue}", name=name, venue=venue)


class OppositeSides(DomainError):
    """Another running bot of the user trades the same perpetual and one-way mode would net them."""

    code = "opposite_sides"

    def __init__(self, other: str, symbol: str) -> None:
        super().__init__(
            f"{other} already trades {symbol}: two bots on one perpetual could net each other out",
            other=other,
            symbol=symbol,
        )


class PrivateChatOnly(DomainError):
    """Keys and the trading mode are handled in the private chat with the bot only."""

    code = "private_only"

    def __init__(self) -> None:
        super().__init__("this is done in the private chat with the bot")


class AgainstThePrice(ValidationError):
    """A grid's trigger or stop makes no sense at the price now: a trigger more than half the price away
    (a typo such as 10 for 105,000), a stop the price has already passed (the bot would stop at once)."""

    code = "against_price"

    def __init__(self, field: str, reason: str, value: Any, price: Any) -> None:
        super().__init__(
            field, f"{field} {value} against the price {price}: {reason}", value=value, price=price
        )
        self.reason = reason


class KeysRefused(DomainError):
    """Keys that were checked with the exchange before being stored and are not to be trusted: `reason`
    is auth (the exchange refused them: wrong key, secret or passphrase, or a revoked key), no_trade (the
    key may not trade), or exchange (the check could not be made). `exchange_code` is the exchange's own
    code where it gave one. Nothing was stored."""

    code = "keys_refused"

    def __init__(self, reason: str, exchange_code: str = "", detail: str = "") -> None:
        super().__init__(
            f"keys refused ({reason}) {exchange_code} {detail}".strip(), exchange_code=exchange_code
        )
        self.reason = reason
        self.exchange_code = exchange_code


class KeysNeeded(ValidationError):
    """Live or demo trading needs keys for that environment (Bitget's demo keys work only in demo trading,
    live keys only live): none are stored, or the stored ones were checked for the other one. `demo`
    says which keys to ask for."""

    code = "keys_needed"

    def __init__(self, demo: bool) -> None:
        super().__init__("trading_mode", "set your exchange API keys for this mode first")
        self.demo = demo
        self.params["demo"] = demo


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
