"""Trading rules of a market (tick, lot step, minimums) and where the fleet looks them up.

The fleet needs them before any exchange connection exists (grid lines are rounded to the tick when a
bot is created), so a static catalog of Bitget's spot rules ships with the product; a live catalog built
from ccxt's loaded markets replaces it where an exchange is reachable.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from engine.exchange import InvalidOrder

QUOTES = ("USDT", "USDC", "BTC", "ETH")


@dataclass(frozen=True, slots=True)
class MarketRules:
    """`symbol` in our form ('BTCUSDT'); prices in quote currency, amounts in base currency."""

    symbol: str
    base: str
    quote: str
    price_tick: Decimal
    amount_step: Decimal
    min_qty: Decimal
    min_notional: Decimal


class MarketCatalog(Protocol):
    async def rules(self, symbol: str) -> MarketRules | None:
        """The rules of a normalised symbol, or None when the market does not exist."""
        ...


# Bitget spot rules (pricePrecision / quantityPrecision / minTradeUSDT of /api/v2/spot/public/symbols).
BITGET_SPOT = {
    "BTCUSDT": MarketRules(
        "BTCUSDT", "BTC", "USDT", Decimal("0.01"), Decimal("0.000001"), Decimal("0.000001"), Decimal("1")
    ),
    "ETHUSDT": MarketRules(
        "ETHUSDT", "ETH", "USDT", Decimal("0.01"), Decimal("0.0001"), Decimal("0.0001"), Decimal("1")
    ),
}


class StaticMarketCatalog:
    def __init__(self, markets: dict[str, MarketRules] | None = None) -> None:
        self._markets = dict(BITGET_SPOT if markets is None else markets)

    async def rules(self, symbol: str) -> MarketRules | None:
        return self._markets.get(symbol)


def unified_symbol(symbol: str) -> str:
    """Our symbol ('BTCUSDT') as ccxt's unified spot symbol ('BTC/USDT')."""
    if "/" in symbol:
        return symbol
    for quote in QUOTES:
        if symbol.endswith(quote) and len(symbol) > len(quote):
            return f"{symbol[: -len(quote)]}/{quote}"
    raise InvalidOrder(f"unknown symbol {symbol!r}")
