"""ccxt's markets and numbers in our terms: `Market` rules from its loaded markets, and its floats and
strings as Decimal through their decimal text."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import ccxt

from engine.exchange import Market

ZERO = Decimal(0)


def dec(value: Any) -> Decimal | None:
    """ccxt's floats and strings to Decimal through their decimal text, never float arithmetic."""
    if value is None or value == "":
        return None
    return Decimal(str(value))


def dec0(value: Any) -> Decimal:
    result = dec(value)
    return ZERO if result is None else result


def markets_from_ccxt(raw_markets: Mapping[str, Any], precision_mode: int) -> dict[str, Market]:
    """Our `Market` for every spot and perpetual market ccxt loaded (futures, options left out)."""
    markets: dict[str, Market] = {}
    for symbol, raw in raw_markets.items():
        market_type = "spot" if raw.get("spot") else "swap" if raw.get("swap") else None
        if market_type is None:
            continue
        precision = raw.get("precision") or {}
        tick = precision_step(precision.get("price"), precision_mode)
        step = precision_step(precision.get("amount"), precision_mode)
        if tick is None or step is None:
            continue
        limits = raw.get("limits") or {}
        max_leverage = dec((limits.get("leverage") or {}).get("max"))
        markets[symbol] = Market(
            symbol=symbol,
            base=raw["base"],
            quote=raw["quote"],
            type=market_type,
            price_tick=tick,
            amount_step=step,
            min_qty=dec((limits.get("amount") or {}).get("min")) or step,
            min_notional=dec0((limits.get("cost") or {}).get("min")),
            contract_size=dec(raw.get("contractSize")) or Decimal(1),
            maker_fee=dec0(raw.get("maker")),
            taker_fee=dec0(raw.get("taker")),
            max_leverage=int(max_leverage) if max_leverage else None,
        )
    return markets


def precision_step(value: Any, precision_mode: int) -> Decimal | None:
    if value is None:
        return None
    if precision_mode == ccxt.TICK_SIZE:
        return dec(value)
    if precision_mode == ccxt.DECIMAL_PLACES:
        return Decimal(1).scaleb(-int(value))
    return None  # significant digits: no fixed step to round to
