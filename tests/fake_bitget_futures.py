"""The fake Bitget's futures settings, both kinds of account: margin mode per symbol, position mode (one-way
or hedge) and the positions of each side, the account's own fee rates, liquidation prices.

What Bitget answers, as the fake does:
- v2 POST mix/account/set-margin-mode: the symbol's margin mode; refused with 45117 ("Currently holding
  positions or orders, the margin mode cannot be adjusted") while the symbol holds a position or an
  order and the mode would change (setting the mode it has already is no change, and no refusal);
- v2 GET mix/account/account: the symbol's `marginMode` and the account's `posMode` (the recorded
  fetchMarginMode answer's shape); v3 GET account/settings: `holdMode`, `symbolConfigList[].marginMode`;
- hedge mode orders: v2 names the position by Bitget's side and `tradeSide` (open long: buy/open, close
  long: buy/close, open short: sell/open, close short: sell/close); v3 by `posSide` with the order's own
  side (close long: sell + posSide long). An order without them is refused (40774); one-way mode ignores
  them. Isolated margin in hedge mode takes each side's leverage: v2 set-leverage without `holdSide` is
  refused (40808 "hold side is null");
- fee rates: v2 GET common/trade-rate (businessType spot / mix), v3 GET account/fee-rate (category): the
  account's rates, configurable per account and product (`add_account(fee_rates=...)`), else the market's;
- liquidation price of a position: what a test set (`FakeAccount.liquidation`), else for isolated margin
  entry x (1 - 1/leverage + mmr) for a long and entry x (1 + 1/leverage - mmr) for a short (mmr = the
  keepMarginRate 0.004 the positions show), on the price tick; cross margin "0" as in the recording.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from tests.fake_bitget import (
    DEFAULT_LEVERAGE,
    USDT_FUTURES,
    ZERO,
    BitgetError,
    FakeAccount,
    FakeBitget,
    FakeOrder,
    FakePosition,
    _contract_of,
    _product,
    _spot_rules,
    fmt,
)

MMR = Decimal("0.004")
MARGIN_MODES = ("isolated", "crossed")


# --- positions of both modes --------------------------------------------------------------------


def all_positions(account: FakeAccount) -> Iterator[tuple[str, FakePosition]]:
    """(symbol, position) of both modes: one-way's by symbol, hedge mode's one per side."""
    yield from account.positions.items()
    for (symbol, _side), pos in account.hedge_positions.items():
        yield symbol, pos


def position_of(account: FakeAccount, order: FakeOrder, *, create: bool = True) -> FakePosition:
    if order.pos_side:
        key = (order.symbol, order.pos_side)
        if not create:
            return account.hedge_positions.get(key, FakePosition())
        return account.hedge_positions.setdefault(key, FakePosition())
    if not create:
        return account.positions.get(order.symbol, FakePosition())
    return account.positions.setdefault(order.symbol, FakePosition())


def hedge_side(account: FakeAccount, req: dict[str, Any]) -> tuple[str, bool, str]:
    """A v2 futures order's (direction it trades, reduce-only, position side in hedge mode or "")."""
    side = str(req.get("side"))
    reduce_only = str(req.get("reduceOnly", "NO")).upper() == "YES"
    if account.hold_mode != "hedge_mode":
        return side, reduce_only, ""
    trade_side = str(req.get("tradeSide") or "").lower()
    if trade_side not in ("open", "close"):
        raise BitgetError(
            "40774", "The order type for unilateral position must also be the unilateral position type"
        )
    pos_side = "long" if side == "buy" else "short"
    if trade_side == "open":
        return side, False, pos_side
    return ("sell" if side == "buy" else "buy"), True, pos_side


def position_fields(side: str, reduce_only: bool, pos_side: str) -> dict[str, str]:
    """How a v2 order (or plan) names its side and position: hedge mode with the position's side."""
    if not pos_side:
        return {
            "side": side,
            "posSide": "net",
            "tradeSide": f"{side}_single",
            "posMode": "one_way_mode",
            "reduceOnly": "YES" if reduce_only else "NO",
        }
    return {
        "side": "buy" if pos_side == "long" else "sell",
        "posSide": pos_side,
        "tradeSide": "close" if reduce_only else "open",
        "posMode": "hedge_mode",
        "reduceOnly": "YES" if reduce_only else "NO",
    }


def v3_hedge_request(account: FakeAccount, body: dict[str, Any], request: dict[str, Any]) -> None:
    """A v3 futures order in hedge mode in v2 terms: `posSide` and the order's side say open or close."""
    if account.hold_mode != "hedge_mode":
        return
    pos_side = body.get("posSide")
    if pos_side not in ("long", "short"):
        raise BitgetError(
            "40774", "The order type for unilateral position must also be the unilateral position type"
        )
    opens = (body.get("side") == "buy") == (pos_side == "long")
    request["side"] = "buy" if pos_side == "long" else "sell"
    request["tradeSide"] = "open" if opens else "close"
    request["reduceOnly"] = "NO"


def liquidation_price(account: FakeAccount, symbol: str, pos: FakePosition, leverage: int) -> Decimal:
    if symbol in account.liquidation:
        return account.liquidation[symbol]
    if account.margin_modes.get(symbol) != "isolated" or pos.qty == 0:
        return ZERO
    tick = Decimal(1).scaleb(-int(_contract_of(symbol)["pricePlace"]))
    move = Decimal(1) / Decimal(leverage) - MMR
    price = pos.entry * (1 - move) if pos.qty > 0 else pos.entry * (1 + move)
    return price.quantize(tick, rounding=ROUND_HALF_UP)


def symbol_busy(account: FakeAccount, symbol: str) -> bool:
    """A position or a live order (or plan) on the perpetual: its margin mode cannot change."""
    if any(s == symbol and p.qty != 0 for s, p in all_positions(account)):
        return True
    if any(o.symbol == symbol and o.product != "SPOT" and o.live for o in account.orders.values()):
        return True
    return any(p.symbol == symbol and p.status == "live" for p in account.plans.values())


def set_margin_mode(account: FakeAccount, symbol: str, mode: str) -> None:
    if mode not in MARGIN_MODES:
        raise BitgetError("40017", "Parameter verification failed")
    if account.margin_modes.get(symbol, "crossed") != mode and symbol_busy(account, symbol):
        raise BitgetError(
            "45117", "Currently holding positions or orders, the margin mode cannot be adjusted"
        )
    account.margin_modes[symbol] = mode


def fee_rates(account: FakeAccount, product: str, symbol: str) -> dict[str, str]:
    if product in account.fee_rates:
        maker, taker = account.fee_rates[product]
    else:
        rules = _spot_rules(symbol) if product == "SPOT" else _contract_of(symbol)
        maker, taker = Decimal(rules["makerFeeRate"]), Decimal(rules["takerFeeRate"])
    return {"makerFeeRate": fmt(maker), "takerFeeRate": fmt(taker)}


# --- v2 -----------------------------------------------------------------------------------------


def h_set_margin_mode(_f: FakeBitget, account: FakeAccount, _q: dict[str, str], body: Any) -> Any:
    _product(body)
    symbol = body.get("symbol")
    _contract_of(symbol)
    set_margin_mode(account, symbol, str(body.get("marginMode")))
    lev = str(account.leverage.get(symbol, DEFAULT_LEVERAGE))
    return {
        "symbol": symbol,
        "marginCoin": "USDT",
        "longLeverage": lev,
        "shortLeverage": lev,
        "marginMode": account.margin_modes[symbol],
    }


def h_single_account(fake: FakeBitget, account: FakeAccount, query: dict[str, str], _b: Any) -> Any:
    _product(query)
    symbol = query.get("symbol")
    _contract_of(symbol)
    if (query.get("marginCoin") or "").upper() != "USDT":
        raise BitgetError("40017", "Parameter verification failed")
    [wallet] = fake.h_mix_accounts(account, query, None)
    lev = str(account.leverage.get(symbol, DEFAULT_LEVERAGE))
    return {
        **{k: wallet[k] for k in ("marginCoin", "locked", "available", "crossedMaxAvailable")},
        **{k: wallet[k] for k in ("isolatedMaxAvailable", "maxTransferOut", "accountEquity", "usdtEquity")},
        "btcEquity": "0",
        "crossedRiskRate": "0",
        "crossedMarginLeverage": lev,
        "isolatedLongLever": lev,
        "isolatedShortLever": lev,
        "marginMode": account.margin_modes.get(symbol, "crossed"),
        "posMode": account.hold_mode,
        "unrealizedPL": wallet["unrealizedPL"],
        "coupon": "0",
        "crossedUnrealizedPL": wallet["crossedUnrealizedPL"],
        "isolatedUnrealizedPL": "",
        "grant": "",
    }


def h_trade_rate(_f: FakeBitget, account: FakeAccount, query: dict[str, str], _b: Any) -> Any:
    business = query.get("businessType")
    if business not in ("spot", "mix", "margin"):
        raise BitgetError("40017", "Parameter verification failed")
    return fee_rates(account, "SPOT" if business in ("spot", "margin") else USDT_FUTURES, query.get("symbol"))


# --- v3 -----------------------------------------------------------------------------------------


def h_fee_rate(_f: FakeBitget, account: FakeAccount, query: dict[str, str], _b: Any) -> Any:
    category = str(query.get("category") or "").upper()
    if category not in ("SPOT", USDT_FUTURES):
        raise BitgetError("400172", "Parameter verification failed")
    return fee_rates(account, category, query.get("symbol"))


FUTURES_ROUTES = {
    ("POST", "/api/v2/mix/account/set-margin-mode"): h_set_margin_mode,
    ("GET", "/api/v2/mix/account/account"): h_single_account,
    ("GET", "/api/v2/common/trade-rate"): h_trade_rate,
    ("GET", "/api/v3/account/fee-rate"): h_fee_rate,
}
