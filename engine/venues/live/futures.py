"""One account's futures settings on Bitget, asked once and kept: the margin mode of each perpetual
(isolated, DESIGN.md: a bot can lose at most its capital), its leverage per position side, the account's
position mode (one-way or hedge), and the account's own fee rates per market.

The calls, per account kind (ccxt's own methods where it has them, its implicit endpoint methods where not):
- margin and position mode of a symbol: v2 GET mix/account/account (`marginMode`, `posMode`); v3 GET
  account/settings (`holdMode`, `symbolConfigList[].marginMode`);
- isolated margin: v2 ccxt `set_margin_mode` (POST mix/account/set-margin-mode); v3 POST
  account/set-leverage with `marginMode: isolated` and `posSide` (v3 has no margin-mode endpoint, and
  ccxt's `set_margin_mode` calls v2 only, which refuses a unified account's key);
- leverage: ccxt `set_leverage` (v2 mix/account/set-leverage, `holdSide` in isolated hedge mode; v3
  account/set-leverage, `marginMode`, `posSide`);
- fee rates: ccxt `fetch_trading_fee` (v2 GET common/trade-rate; v3 GET account/fee-rate).

Bitget refuses a margin-mode change while the symbol holds a position or an order (45117): when the
symbol is already isolated that is no refusal at all (the settings are read first), otherwise the bot is
told with `InvalidOrder` (the user has cross-margin business on that perpetual).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from engine.exchange import FeeRates, InvalidOrder, Market, PositionMode, PositionSide, TemporaryExchangeError
from engine.venues.live.markets import dec

log = logging.getLogger(__name__)

MARGIN_MODE_LOCKED = "45117"  # "Currently holding positions or orders, the margin mode cannot be adjusted"
# "The order type for unilateral position must also be the unilateral position type": the order named no
# position in hedge mode (or one in one-way mode)
POSITION_MODE_MISMATCH = "40774"


class FuturesSettings:
    """The futures settings of one account (one per `CcxtExchange`): what was set or read is kept, so a
    fleet of bots asks each symbol's settings once per process, not once per order."""

    def __init__(self, client: Any, call: Callable[..., Awaitable[Any]]) -> None:
        self._client = client
        self._call = call  # the adapter's retrying call
        self._isolated: set[str] = set()
        self._leverage: dict[tuple[str, PositionSide | None], int] = {}
        self._mode: PositionMode | None = None
        self._fees: dict[str, FeeRates] = {}
        self._lock = asyncio.Lock()

    @property
    def uta(self) -> bool:
        return bool(self._client.options.get("uta"))

    def forget(self) -> None:
        """The account's kind changed (another API, other settings): read everything again."""
        self._isolated.clear()
        self.forget_mode()

    def forget_mode(self) -> None:
        """Bitget refused an order for the position mode (40774: the user switched it since it was
        read): read it, and set each side's leverage, again."""
        self._leverage.clear()
        self._mode = None

    # --- reading

    async def _symbol_settings(self, market: Market) -> tuple[str | None, PositionMode]:
        """(margin mode of the symbol or None when never set, position mode of the account)."""
        raw_market = self._client.market(market.symbol)
        if self.uta:
            answer = await self._call(self._client.privateUtaGetV3AccountSettings, {})
            data = answer.get("data") or {}
            margin = None
            for entry in data.get("symbolConfigList") or []:
                category = str(entry.get("category", "")).upper()
                if entry.get("symbol") == raw_market["id"] and category.endswith("USDT-FUTURES"):
                    margin = entry.get("marginMode")
            return margin, _mode(data.get("holdMode"))
        product_type, _ = self._client.handle_product_type_and_params(raw_market, {})
        answer = await self._call(
            self._client.privateMixGetV2MixAccountAccount,
            {"symbol": raw_market["id"], "productType": product_type, "marginCoin": raw_market["settleId"]},
        )
        data = answer.get("data") or {}
        return data.get("marginMode"), _mode(data.get("posMode"))

    async def position_mode(self, market: Market) -> PositionMode:
        if self._mode is None:
            _, self._mode = await self._symbol_settings(market)
        return self._mode

    # --- setting

    async def isolate(self, market: Market) -> None:
        """Isolated margin on the market, once (see the module docstring)."""
        if market.symbol in self._isolated:
            return
        async with self._lock:
            if market.symbol in self._isolated:
                return
            margin, self._mode = await self._symbol_settings(market)
            if margin != "isolated":
                if self.uta:
                    # v3 sets the margin mode with the leverage (`leverage` below sends marginMode)
                    self._leverage = {k: v for k, v in self._leverage.items() if k[0] != market.symbol}
                else:
                    await self._set_v2_isolated(market)
            self._isolated.add(market.symbol)

    async def _set_v2_isolated(self, market: Market) -> None:
        try:
            await self._call(self._client.set_margin_mode, "isolated", market.symbol)
        except TemporaryExchangeError:
            raise
        except Exception as exc:
            if MARGIN_MODE_LOCKED in str(exc):
                raise InvalidOrder(
                    f"{market.symbol} is in cross margin and holds a position or an order on Bitget:"
                    " close them (or switch the symbol to isolated margin) before a bot trades it"
                    f" ({exc})"
                ) from exc
            raise

    async def leverage(self, market: Market, leverage: int, side: PositionSide | None) -> None:
        """The leverage of the market's isolated position of `side` (both sides' when None)."""
        mode = await self.position_mode(market)
        key = (market.symbol, side if mode == "hedge" or self.uta else None)
        if self._leverage.get(key) == leverage:
            return
        calls: list[dict[str, Any]] = [{}]
        if self.uta:
            # v3's isolated leverage is per position side (posSide required): both, unless told which
            sides = (side,) if side else ("long", "short")
            calls = [{"marginMode": "isolated", "posSide": s} for s in sides]
        elif mode == "hedge" and side is not None:
            calls = [{"holdSide": side}]
        try:
            for params in calls:
                await self._call(self._client.set_leverage, leverage, market.symbol, params)
        except Exception as exc:
            if self.uta and MARGIN_MODE_LOCKED in str(exc):
                self._isolated.discard(market.symbol)
                raise InvalidOrder(
                    f"{market.symbol} is in cross margin and holds a position or an order on Bitget:"
                    f" close them before a bot trades it ({exc})"
                ) from exc
            raise
        self._leverage[key] = leverage

    # --- fees

    async def fee_rates(self, market: Market) -> FeeRates:
        cached = self._fees.get(market.symbol)
        if cached is not None:
            return cached
        listed = FeeRates(market.maker_fee, market.taker_fee, "market")
        try:
            raw = await self._call(self._client.fetch_trading_fee, market.symbol)
        except TemporaryExchangeError:
            return listed  # not kept: asked again next time
        except Exception as exc:  # the exchange does not say (not supported, a refusal): the listed rates
            log.info("fee rates of %s not read (%s): the market's listed ones", market.symbol, exc)
            self._fees[market.symbol] = listed
            return listed
        info = raw.get("info") or {}
        maker = dec(info.get("makerFeeRate")) if info.get("makerFeeRate") not in (None, "") else None
        taker = dec(info.get("takerFeeRate")) if info.get("takerFeeRate") not in (None, "") else None
        maker = maker if maker is not None else dec(raw.get("maker"))
        taker = taker if taker is not None else dec(raw.get("taker"))
        rates = FeeRates(maker, taker, "account") if maker is not None and taker is not None else listed
        self._fees[market.symbol] = rates
        return rates


def _mode(raw: Any) -> PositionMode:
    return "hedge" if raw == "hedge_mode" else "one_way"


__all__ = ["MARGIN_MODE_LOCKED", "POSITION_MODE_MISMATCH", "FuturesSettings"]
