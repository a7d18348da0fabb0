"""What a bot type's runtime gets from the application: the callables that hand it a bot's exchange
account, stop a bot through the fleet, and size a bot's allocated capital."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal

from engine.exchange import Exchange

ExchangeFor = Callable[[int], Awaitable[Exchange]]  # user_id -> the user's exchange account
Stopper = Callable[[int, int, str], Awaitable[None]]  # (user_id, bot_id, reason)
CapitalFor = Callable[[int, Decimal], Awaitable[Decimal]]  # (user_id, allocation %) -> quote
