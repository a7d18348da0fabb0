"""What a bot type's runtime gets from the application (the callables that hand it a bot's exchange
account, stop a bot through the fleet and size a bot's allocated capital) and what its stop answers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from engine.exchange import Exchange

# (user_id, venue) -> the user's account on that venue ("paper", "live" or "demo": the bot's binding)
ExchangeFor = Callable[[int, str], Awaitable[Exchange]]
Stopper = Callable[[int, int, str], Awaitable[None]]  # (user_id, bot_id, reason)
CapitalFor = Callable[[int, str, Decimal], Awaitable[Decimal]]  # (user_id, venue, allocation %) -> quote


class StopIncomplete(Exception):
    """A stop cannot be finished yet: orders of the bot are still open on the venue (a cancel that
    failed or did not take). The engine tries again later; `orders` are their client order ids."""

    def __init__(self, orders: Sequence[str], reason: str = "") -> None:
        self.orders = list(orders)
        self.reason = reason
        super().__init__(f"{len(self.orders)} orders still open{': ' + reason if reason else ''}")


@dataclass(frozen=True, slots=True)
class HaltReport:
    """What a finished stop did and left: orders cancelled, coin (base) still held and sold, positions
    kept with their exchange-side stop loss and take profit, positions closed."""

    cancelled: int = 0
    held: Decimal = Decimal(0)
    sold: Decimal = Decimal(0)
    positions_kept: int = 0
    positions_closed: int = 0
    asset: str = ""

    @property
    def holds_anything(self) -> bool:
        return self.held > 0 or self.positions_kept > 0
