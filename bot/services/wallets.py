"""An account's wallets and equity (DESIGN.md: equity = spot USDT + coins at mark + futures equity), and
the check a start makes: a bot trades from one wallet (a grid and a spot trend bot the spot wallet, a
futures trend bot the USDT-M futures account), and that wallet must hold what the bot is allocated.

A unified account (Bitget UTA) and the paper venue keep one wallet for both: there is nothing to move
there, and its USDT is counted once."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import ROUND_UP, Decimal

from bot.services.errors import DomainError
from engine.exchange import Exchange, ExchangeError, MarketType

ZERO = Decimal(0)
CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Wallets:
    """USDT per wallet (total and free) and the spot coins at their last price. With `one_wallet` the
    spot figures are the one wallet's and the futures ones repeat them."""

    one_wallet: bool
    spot_usdt: Decimal
    spot_free: Decimal
    futures_usdt: Decimal
    futures_free: Decimal
    coins_value: Decimal = ZERO

    @property
    def equity(self) -> Decimal:
        futures = ZERO if self.one_wallet else self.futures_usdt
        return self.spot_usdt + self.coins_value + futures

    def free(self, market_type: MarketType) -> Decimal:
        """The USDT a bot trading `market_type` can commit from its wallet now."""
        return self.futures_free if market_type == "swap" else self.spot_free


# (user_id, venue) -> the user's wallets on that venue; the engine provides the exchange's
WalletsProvider = Callable[[int, str], Awaitable[Wallets]]


async def read_wallets(exchange: Exchange) -> Wallets:
    """The wallets of an exchange account: one balance read for a unified account (or the paper venue),
    spot and futures apart for a classic one; spot coins valued at their last price (left out when the
    venue has none)."""
    spot = await exchange.fetch_balance("spot")
    # asked after the first call: keys stored before their kind was known learn it there (40085)
    one = bool(getattr(exchange, "one_wallet", False))
    futures = spot if one else await exchange.fetch_balance("swap")
    coins = ZERO
    for asset, amount in spot.assets.items():  # held base valued at the last price
        if asset != "USDT" and amount.total:
            with contextlib.suppress(ExchangeError):
                coins += amount.total * (await exchange.fetch_ticker(f"{asset}/USDT")).last
    return Wallets(
        one_wallet=one,
        spot_usdt=spot.total("USDT"),
        spot_free=spot.free("USDT"),
        futures_usdt=futures.total("USDT"),
        futures_free=futures.free("USDT"),
        coins_value=coins,
    )


class WalletShort(DomainError):
    """The wallet a bot trades from does not hold what it is allocated: move `move` USDT from `source`
    to `wallet` (the other wallet holds `available` of it)."""

    code = "wallet_short"

    def __init__(self, wallet: str, needed: Decimal, held: Decimal, source: str, available: Decimal) -> None:
        move = (needed - held).quantize(CENT, rounding=ROUND_UP)  # enough, to the cent
        super().__init__(
            f"the {wallet} wallet holds {held} USDT, the bot needs {needed}: move {move} USDT from {source}",
            wallet=wallet,
            needed=needed.quantize(CENT),
            held=held.quantize(CENT),
            move=move,
            source=source,
            available=available.quantize(CENT),
        )


def check_wallet(wallets: Wallets, market_type: MarketType, needed: Decimal) -> None:
    """`WalletShort` when the bot's wallet holds less free USDT than `needed` (one wallet: nothing to
    move, the allocation check covers it)."""
    if wallets.one_wallet:
        return
    held = wallets.free(market_type)
    if held >= needed:
        return
    wallet, source = ("futures", "spot") if market_type == "swap" else ("spot", "futures")
    other = wallets.free("spot" if market_type == "swap" else "swap")
    raise WalletShort(wallet, needed, held, source, other)


__all__ = ["WalletShort", "Wallets", "WalletsProvider", "check_wallet", "read_wallets"]
