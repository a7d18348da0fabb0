"""The fake Bitget's unified trading account (UTA) endpoints, API v3, beside the classic v2 ones of
tests/fake_bitget.py: the same books (orders, plans, positions, balances) under v3's paths, field names
and payloads. Shapes are Bitget's v3 answers as ccxt recorded them (fixtures/bitget, the "uta ..." cases
of ccxt_static_response_bitget.json: order-info, unfilled-orders, history-orders, strategy orders,
assets, current-position, tickers, candles, batches) and as Bitget's v3 documentation names them
(Get Account Info: uid, permType, permissions).

What v3 says differently from v2: an order's size is `qty` (base coin, for a spot market buy too, as
ccxt sends it), its fills `cumExecQty` / `cumExecValue` / `avgPrice`, its state `orderStatus`, its fee
`feeDetail: [{feeCoin, fee}]` with the fee paid positive; a batch is a JSON array and answers one entry
per order, a refused one with its own `code` / `msg`; a stop is a strategy order (place-strategy-order:
stopLoss, slTriggerBy, slOrderType, posSide) whose lists carry no status and no executed order id.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal
from typing import Any

from tests.fake_bitget import (
    USDT_FUTURES,
    ZERO,
    BitgetError,
    FakeAccount,
    FakeBitget,
    FakeOrder,
    FakePlan,
    _contract_of,
    _decimal,
    _places,
    fmt,
    now_ms,
)

CATEGORIES = ("SPOT", USDT_FUTURES)
V3_MAX_BATCH = 20  # v3 place-batch and cancel-batch: "Batch limit: No more than 20 orders per batch"
V3_STATUS = {
    "live": "live",
    "partially_filled": "partially_filled",
    "filled": "filled",
    "cancelled": "cancelled",
}


def _category(params: dict[str, Any], *, required: bool = True) -> str | None:
    category = str(params.get("category") or "").upper() or None
    if category is None and not required:
        return None
    if category not in CATEGORIES:
        raise BitgetError("400172", "Parameter verification failed")
    return category


# --- account ------------------------------------------------------------------------------------


def h_account_info(_f: FakeBitget, account: FakeAccount, _q: dict[str, str], _b: Any) -> Any:
    permissions = ["uta_mgt"] + (["uta_trade"] if account.can_trade else [])
    if account.can_withdraw:
        permissions.append("withdraw")
    return {
        "uid": account.uid,
        "inviterId": "",
        "parentId": "",
        "channelCode": "",
        "channel": "",
        "ips": "",
        "permType": "read-and-write" if account.can_trade or account.can_withdraw else "read-only",
        "permissions": permissions,
        "regisTime": "1746057600000",
    }


def h_account_settings(_f: FakeBitget, account: FakeAccount, _q: dict[str, str], _b: Any) -> Any:
    return {
        "assetMode": "single",
        "holdMode": account.hold_mode,
        "symbolConfigList": [
            {
                "category": USDT_FUTURES,
                "symbol": s,
                "marginMode": account.margin_modes.get(s, "crossed"),
                "leverage": str(account.leverage.get(s, 20)),
            }
            for s in sorted(set(account.leverage) | set(account.margin_modes))
        ],
        "coinConfigList": [],
    }


def h_assets(fake: FakeBitget, account: FakeAccount, _q: dict[str, str], _b: Any) -> Any:
    upnl = sum((fake._upnl(s, p) for s, p in all_positions(account)), ZERO)
    futures_equity = account.futures_wallet + upnl
    futures_free = max(futures_equity - fake._used_margin(account), ZERO)
    coins = {coin: [avail, frozen] for coin, (avail, frozen) in account.spot.items()}
    usdt = coins.setdefault("USDT", [ZERO, ZERO])
    usdt[0] += futures_free
    usdt[1] += futures_equity - futures_free
    assets = []
    for coin, (avail, locked) in coins.items():
        total = avail + locked
        assets.append(
            {
                "coin": coin,
                "equity": fmt(total),
                "usdValue": fmt(total) if coin == "USDT" else "0",
                "balance": fmt(total),
                "available": fmt(avail),
                "debt": "0",
                "locked": fmt(locked),
            }
        )
    equity = fmt(usdt[0] + usdt[1])  # in USDT; the fake values no other coin
    return {
        "accountEquity": equity,
        "usdtEquity": equity,
        "btcEquity": "0",
        "unrealisedPnl": fmt(upnl),
        "usdtUnrealisedPnl": fmt(upnl),
        "btcUnrealizedPnl": "0",
        "effEquity": equity,
        "mmr": "0",
        "imr": "0",
        "mgnRatio": "0",
        "positionMgnRatio": "0",
        "assets": assets,
    }


def h_set_leverage(_f: FakeBitget, account: FakeAccount, _q: dict[str, str], body: Any) -> Any:
    if _category(body) != USDT_FUTURES:
        raise BitgetError("400172", "Parameter verification failed")
    symbol = body.get("symbol")
    contract = _contract_of(symbol)
    raw = str(body.get("leverage", ""))
    if not raw.isdigit() or not 1 <= int(raw) <= int(contract["maxLever"]):
        raise BitgetError("400172", "Parameter verification failed")
    mode = body.get("marginMode") or "crossed"  # Bitget: cross margin unless told
    if mode == "isolated" and body.get("posSide") not in ("long", "short"):
        raise BitgetError("400172", "Parameter verification failed: posSide is required for isolated margin")
    set_margin_mode(account, symbol, mode)
    account.leverage[symbol] = int(raw)
    return "success"


def h_set_hold_mode(_f: FakeBitget, account: FakeAccount, _q: dict[str, str], body: Any) -> Any:
    mode = body.get("holdMode")
    if mode not in ("one_way_mode", "hedge_mode"):
        raise BitgetError("400172", "Parameter verification failed")
    account.hold_mode = mode
    return "success"


def h_positions(fake: FakeBitget, account: FakeAccount, query: dict[str, str], _b: Any) -> Any:
    if _category(query) != USDT_FUTURES:
        raise BitgetError("400172", "Parameter verification failed")
    out = []
    for symbol, pos in all_positions(account):
        if pos.qty == 0 or query.get("symbol") not in (None, symbol):
            continue
        lev = account.leverage.get(symbol, 20)
        size = abs(pos.qty)
        out.append(
            {
                "category": USDT_FUTURES,
                "symbol": symbol,
                "marginCoin": "USDT",
                "holdMode": account.hold_mode,
                "posSide": "long" if pos.qty > 0 else "short",
                "marginMode": account.margin_modes.get(symbol, "crossed"),
                "positionBalance": fmt(size * pos.entry / lev),
                "available": fmt(size),
                "frozen": "0",
                "total": fmt(size),
                "leverage": str(lev),
                "curRealisedPnl": "0",
                "avgPrice": fmt(pos.entry),
                "positionStatus": "normal",
                "unrealisedPnl": fmt(fake._upnl(symbol, pos)),
                "liquidationPrice": fmt(liquidation_price(account, symbol, pos, lev)),
                "mmr": "0.004",
                "profitRate": "0",
                "markPrice": fmt(fake.mark_prices.get(symbol, pos.entry)),
                "breakEvenPrice": fmt(pos.entry),
                "totalFunding": "0",
                "openFeeTotal": "0",
                "closeFeeTotal": "0",
                "createdTime": str(pos.c_time),
                "updatedTime": str(now_ms()),
            }
        )
    return {"list": out}


# --- trading ------------------------------------------------------------------------------------


def _v2_request(body: dict[str, Any], account: FakeAccount | None = None) -> dict[str, Any]:
    """A v3 order in the fake's own (v2) terms, so both APIs share the order book mechanics."""
    request = {
        "symbol": body.get("symbol"),
        "side": body.get("side"),
        "orderType": body.get("orderType"),
        "size": body.get("qty"),
        "price": body.get("price"),
        "clientOid": body.get("clientOid"),
        "force": body.get("timeInForce") or "gtc",
        "reduceOnly": "YES" if str(body.get("reduceOnly", "")).lower() == "yes" else "NO",
    }
    if account is not None and str(body.get("category", "")).upper() == USDT_FUTURES:
        v3_hedge_request(account, body, request)
    return request


def _place(fake: FakeBitget, account: FakeAccount, body: dict[str, Any]) -> FakeOrder:
    category = _category(body)
    assert category is not None
    request = _v2_request(body, account)
    if category == "SPOT" and request["orderType"] == "market" and request["side"] == "buy":
        # v3 sizes a spot market buy in the base coin: the fake's book takes its quote amount
        book = fake.books.get(("SPOT", request["symbol"]))
        size = _decimal(request["size"])
        if book is None or size is None:
            raise BitgetError("400172", "Parameter verification failed")
        request["size"] = fmt((size * book[1]).quantize(Decimal("0.000001"), rounding=ROUND_CEILING))
        order = fake._place(account, category, request)
        order.v3_qty = size  # type: ignore[attr-defined]
        return order
    return fake._place(account, category, request)


def h_place(fake: FakeBitget, account: FakeAccount, _q: dict[str, str], body: Any) -> Any:
    order = _place(fake, account, body)
    return {"orderId": order.order_id, "clientOid": order.client_oid}


def h_place_batch(fake: FakeBitget, account: FakeAccount, _q: dict[str, str], body: Any) -> Any:
    if not isinstance(body, list):
        raise BitgetError("400172", "Parameter verification failed")
    if len(body) > V3_MAX_BATCH:
        raise BitgetError("400172", f"Parameter verification failed: at most {V3_MAX_BATCH} orders per batch")
    out = []
    for entry in body:
        oid = str(entry.get("clientOid") or "")
        if oid in fake._dropped:
            continue
        try:
            order = _place(fake, account, entry)
        except BitgetError as exc:
            out.append({"orderId": "", "clientOid": oid, "code": exc.code, "msg": exc.msg})
            continue
        out.append({"orderId": order.order_id, "clientOid": order.client_oid})
    return out


def _find_any(account: FakeAccount, ref: dict[str, Any]) -> FakeOrder | None:
    order_id, client_oid = ref.get("orderId"), ref.get("clientOid")
    if not order_id and not client_oid:
        raise BitgetError("400172", "Parameter verification failed")
    for order in account.orders.values():
        if (order_id and order.order_id == str(order_id)) or (client_oid and order.client_oid == client_oid):
            return order
    return None


def h_cancel(fake: FakeBitget, account: FakeAccount, _q: dict[str, str], body: Any) -> Any:
    order = _find_any(account, body)
    if order is None or not order.live:
        raise BitgetError("40768", "Order does not exist")
    fake._cancel(account, order)
    return {"orderId": order.order_id, "clientOid": order.client_oid}


def h_cancel_batch(fake: FakeBitget, account: FakeAccount, _q: dict[str, str], body: Any) -> Any:
    if not isinstance(body, list) or len(body) > V3_MAX_BATCH:
        raise BitgetError("400172", "Parameter verification failed")
    out = []
    for ref in body:
        order = _find_any(account, ref)
        if order is None or not order.live:
            out.append(
                {
                    "orderId": str(ref.get("orderId", "")),
                    "clientOid": str(ref.get("clientOid", "")),
                    "code": "40768",
                    "msg": "Order does not exist",
                }
            )
            continue
        fake._cancel(account, order)
        out.append({"orderId": order.order_id, "clientOid": order.client_oid})
    return out


def order_view(order: FakeOrder, account: FakeAccount) -> dict[str, Any]:
    spot = order.product == "SPOT"
    qty = getattr(order, "v3_qty", None) or order.size
    fee = fmt(order.fee) if order.fee else ""
    return {
        "orderId": order.order_id,
        "clientOid": order.client_oid,
        "category": order.product,
        "symbol": order.symbol,
        "orderType": order.order_type,
        "side": order.side,
        "price": fmt(order.price) if order.price is not None else "0",
        "qty": fmt(qty),
        "amount": fmt(qty * order.price) if spot and order.price is not None else "0",
        "cumExecQty": fmt(order.filled),
        "cumExecValue": fmt(order.quote_filled),
        "avgPrice": fmt(order.avg_price),
        "timeInForce": order.force,
        "orderStatus": V3_STATUS[order.status],
        "posSide": "" if spot else (order.pos_side or ("long" if order.side == "buy" else "short")),
        "holdMode": "" if spot else account.hold_mode,
        "reduceOnly": "YES" if order.reduce_only else "NO",
        "feeDetail": [{"feeCoin": order.fee_coin if order.fee else "", "fee": fee}],
        "createdTime": str(order.c_time),
        "updatedTime": str(order.u_time),
        "cancelReason": "normal_cancel" if order.status == "cancelled" else "",
        "execType": "normal",
        "stpMode": "none",
        "tpTriggerBy": None,
        "slTriggerBy": None,
        "takeProfit": None,
        "stopLoss": None,
        "tpOrderType": None,
        "slOrderType": None,
        "tpLimitPrice": None,
        "slLimitPrice": None,
    }


def h_order_info(_f: FakeBitget, account: FakeAccount, query: dict[str, str], _b: Any) -> Any:
    order = _find_any(account, query)
    if order is None:
        raise BitgetError("40109", "The data of the order cannot be found, please confirm the order number")
    return order_view(order, account)


def _listed(account: FakeAccount, query: dict[str, str], *, live: bool) -> list[dict[str, Any]]:
    category = _category(query)
    symbol = query.get("symbol")
    start = int(query.get("startTime") or 0)
    return [
        order_view(o, account)
        for o in account.orders.values()
        if o.product == category and o.live == live and symbol in (None, o.symbol) and o.c_time >= start
    ]


def h_unfilled(_f: FakeBitget, account: FakeAccount, query: dict[str, str], _b: Any) -> Any:
    orders = _listed(account, query, live=True)
    return {"list": orders, "cursor": orders[-1]["orderId"] if orders else ""}


def h_history(_f: FakeBitget, account: FakeAccount, query: dict[str, str], _b: Any) -> Any:
    orders = _listed(account, query, live=False)
    orders.reverse()  # newest first, as Bitget lists its history
    return {"list": orders, "cursor": orders[-1]["orderId"] if orders else ""}


def h_fills(_f: FakeBitget, account: FakeAccount, query: dict[str, str], _b: Any) -> Any:
    fills = []
    for order in account.orders.values():
        if not order.filled or query.get("orderId") not in (None, order.order_id):
            continue
        fills.append(
            {
                "execId": order.order_id + "1",
                "orderId": order.order_id,
                "category": order.product,
                "symbol": order.symbol,
                "orderType": order.order_type,
                "side": order.side,
                "execPrice": fmt(order.avg_price),
                "execQty": fmt(order.filled),
                "execValue": fmt(order.quote_filled),
                "tradeScope": "taker" if order.order_type == "market" else "maker",
                "feeDetail": [{"feeCoin": order.fee_coin, "fee": fmt(order.fee)}],
                "createdTime": str(order.u_time),
                "updatedTime": str(order.u_time),
                "execPnl": fmt(order.realized),
            }
        )
    return {"list": fills, "cursor": ""}


# --- strategy orders: a unified account's stops ------------------------------------------------------


def h_place_strategy(fake: FakeBitget, account: FakeAccount, _q: dict[str, str], body: Any) -> Any:
    if _category(body) != USDT_FUTURES:
        raise BitgetError("400172", "Parameter verification failed")
    client_oid = str(body.get("clientOid") or next(fake._ids))
    if any(o.client_oid == client_oid for o in account.orders.values()) or any(
        p.client_oid == client_oid for p in account.plans.values()
    ):
        raise BitgetError("40786", "Duplicate clientOid")
    rules = _contract_of(body.get("symbol"))
    stop, qty = _decimal(body.get("stopLoss")), _decimal(body.get("qty"))
    pos_side = body.get("posSide")
    if (
        stop is None
        or stop <= 0
        or qty is None
        or qty <= 0
        or pos_side not in ("long", "short")
        or body.get("slOrderType", "market") != "market"  # a stop-market: the only kind the adapter sends
        or body.get("slTriggerBy", "mark") not in ("market", "mark")
        or body.get("takeProfit")
    ):
        raise BitgetError("400172", "Parameter verification failed")
    if _places(stop) > int(rules["pricePlace"]) or _places(qty) > int(rules["volumePlace"]):
        raise BitgetError("41103", "param price scale error error")
    plan = FakePlan(
        order_id=str(next(fake._ids)),
        client_oid=client_oid,
        symbol=body["symbol"],
        side="sell" if pos_side == "long" else "buy",
        size=qty,
        trigger_price=stop,
        trigger_type=body.get("slTriggerBy", "mark"),
        reduce_only=True,
        pos_side=pos_side if account.hold_mode == "hedge_mode" else "",
    )
    account.plans[plan.order_id] = plan
    return {"orderId": plan.order_id, "clientOid": plan.client_oid}


def strategy_view(plan: FakePlan) -> dict[str, Any]:
    return {
        "orderId": plan.order_id,
        "clientOid": plan.client_oid,
        "symbol": plan.symbol,
        "category": USDT_FUTURES,
        "qty": fmt(plan.size),
        "posSide": "long" if plan.side == "sell" else "short",
        "tpTriggerBy": "market",
        "slTriggerBy": plan.trigger_type,
        "takeProfit": "",
        "stopLoss": fmt(plan.trigger_price),
        "tpOrderType": "market",
        "slOrderType": "market",
        "tpLimitPrice": "",
        "slLimitPrice": "",
        "createdTime": str(plan.c_time),
        "updatedTime": str(plan.u_time),
    }


def _strategies(account: FakeAccount, query: dict[str, str], *, live: bool) -> list[dict[str, Any]]:
    if _category(query) != USDT_FUTURES:
        raise BitgetError("400172", "Parameter verification failed")
    symbol = query.get("symbol")
    return [
        strategy_view(p)
        for p in account.plans.values()
        if (p.status == "live") == live and symbol in (None, p.symbol)
    ]


def h_unfilled_strategy(_f: FakeBitget, account: FakeAccount, query: dict[str, str], _b: Any) -> Any:
    return _strategies(account, query, live=True)  # a bare list, as recorded


def h_history_strategy(_f: FakeBitget, account: FakeAccount, query: dict[str, str], _b: Any) -> Any:
    plans = _strategies(account, query, live=False)
    return {"list": plans, "cursor": plans[-1]["orderId"] if plans else ""}


def h_cancel_strategy(_f: FakeBitget, account: FakeAccount, _q: dict[str, str], body: Any) -> Any:
    order_id, client_oid = body.get("orderId"), body.get("clientOid")
    plan = next(
        (
            p
            for p in account.plans.values()
            if (order_id and p.order_id == str(order_id)) or (client_oid and p.client_oid == client_oid)
        ),
        None,
    )
    if plan is None or plan.status != "live":
        raise BitgetError("40768", "Order does not exist")
    plan.status, plan.u_time = "cancelled", now_ms()
    return None  # v3 answers a cancelled strategy order with data null, as recorded


# --- market data --------------------------------------------------------------------------------


def h_tickers(fake: FakeBitget, _a: Any, query: dict[str, str], _b: Any) -> Any:
    category = _category(query)
    recorded = fake._recorded[("fetchTicker", "uta spot ticker" if category == "SPOT" else "uta swap ticker")]
    symbol = query.get("symbol")
    found = [dict(t) for t in recorded["data"] if symbol in (None, t["symbol"])]
    if symbol and not found:
        raise BitgetError("40034", f"Parameter {symbol} does not exist")
    if category == "SPOT":
        # the v2 spot ticker is the one the fake's book fills against: v3 shows the same book
        v2 = fake._recorded[("fetchTicker", "public spot ticker")]["data"][0]
        for ticker in found:
            ticker.update(lastPrice=v2["lastPr"], bid1Price=v2["bidPr"], ask1Price=v2["askPr"])
    return found


def h_candles(fake: FakeBitget, _a: Any, query: dict[str, str], _b: Any) -> Any:
    category = _category(query)
    name = "Spot ohlcv" if category == "SPOT" else "linear ohlcv"  # the same recorded rows as v2
    return fake.candle_rows("v3 recent", query, name)


def h_history_candles(fake: FakeBitget, _a: Any, query: dict[str, str], _b: Any) -> Any:
    category = _category(query)
    name = "Spot ohlcv" if category == "SPOT" else "linear ohlcv"
    return fake.candle_rows("v3 history", query, name)


V3_ROUTES = {
    ("GET", "/api/v3/account/info"): h_account_info,
    ("GET", "/api/v3/account/settings"): h_account_settings,
    ("GET", "/api/v3/account/assets"): h_assets,
    ("POST", "/api/v3/account/set-leverage"): h_set_leverage,
    ("POST", "/api/v3/account/set-hold-mode"): h_set_hold_mode,
    ("GET", "/api/v3/position/current-position"): h_positions,
    ("POST", "/api/v3/trade/place-order"): h_place,
    ("POST", "/api/v3/trade/place-batch"): h_place_batch,
    ("POST", "/api/v3/trade/cancel-order"): h_cancel,
    ("POST", "/api/v3/trade/cancel-batch"): h_cancel_batch,
    ("GET", "/api/v3/trade/order-info"): h_order_info,
    ("GET", "/api/v3/trade/unfilled-orders"): h_unfilled,
    ("GET", "/api/v3/trade/history-orders"): h_history,
    ("GET", "/api/v3/trade/fills"): h_fills,
    ("POST", "/api/v3/trade/place-strategy-order"): h_place_strategy,
    ("GET", "/api/v3/trade/unfilled-strategy-orders"): h_unfilled_strategy,
    ("GET", "/api/v3/trade/history-strategy-orders"): h_history_strategy,
    ("POST", "/api/v3/trade/cancel-strategy-order"): h_cancel_strategy,
    ("GET", "/api/v3/market/tickers"): h_tickers,
    ("GET", "/api/v3/market/candles"): h_candles,
    ("GET", "/api/v3/market/history-candles"): h_history_candles,
}

# margin mode and hedge mode (tests/fake_bitget_futures.py builds on both fakes' names)
from tests.fake_bitget_futures import (  # noqa: E402
    all_positions,
    liquidation_price,
    set_margin_mode,
    v3_hedge_request,
)
