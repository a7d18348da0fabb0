"""The paper venue's markets: Bitget's rules for every symbol the static catalog knows, and the fees.

Every market of Bitget's spot catalog (engine.markets) is traded twice: spot ("BTC/USDT", the catalog's
rules) and as a USDT-M perpetual ("BTC/USDT:USDT": Bitget's perpetual price tick and quantity step,
the quantity step as minimum quantity, a 5 USDT minimum order value, leverage up to 125). Fee rates
are fractions of the order value (0.0002 = 0.02 %). As on Bitget, a spot buy's fee is taken from the coin
bought (`spot_buy_fee_in_base`), a sell's and every perpetual's in USDT.
"""

from __future__ import annotations

from decimal import Decimal

from engine.exchange import Market
from engine.markets import BITGET_SPOT

DEFAULT_MAKER_FEE = Decimal("0.0002")
DEFAULT_TAKER_FEE = Decimal("0.0006")
# Bitget USDT-M perpetual rules for the markets the static catalog knows (pricePlace / volumePlace).
_SWAP_RULES = {"BTC": (Decimal("0.1"), Decimal("0.0001")), "ETH": (Decimal("0.01"), Decimal("0.01"))}


def paper_markets(
    maker_fee: Decimal = DEFAULT_MAKER_FEE,
    taker_fee: Decimal = DEFAULT_TAKER_FEE,
    *,
    spot_buy_fee_in_base: bool = True,
) -> dict[str, Market]:
    """The paper venue's markets: Bitget's spot rules ("BTC/USDT") and USDT-M perpetuals ("BTC/USDT:USDT")."""
    markets: dict[str, Market] = {}
    for rules in BITGET_SPOT.values():
        spot = f"{rules.base}/{rules.quote}"
        markets[spot] = Market(
            spot,
            rules.base,
            rules.quote,
            "spot",
            rules.price_tick,
            rules.amount_step,
            rules.min_qty,
            rules.min_notional,
            maker_fee=maker_fee,
            taker_fee=taker_fee,
            buy_fee_in_base=spot_buy_fee_in_base,
        )
        tick, step = _SWAP_RULES.get(rules.base, (rules.price_tick, rules.amount_step))
        swap = f"{spot}:{rules.quote}"
        markets[swap] = Market(
            swap,
            rules.base,
            rules.quote,
            "swap",
            tick,
            step,
            step,
            Decimal("5"),
            maker_fee=maker_fee,
            taker_fee=taker_fee,
            max_leverage=125,
        )
    return markets


def spot_symbol(base: str, quote: str) -> str:
    return f"{base}/{quote}"
