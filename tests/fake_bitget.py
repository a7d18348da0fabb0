"""A local fake of Bitget's REST API for the ccxt adapter's tests: v2 for classic accounts, v3
(tests/fake_bitget_v3.py) for unified trading accounts.

It serves real ccxt over HTTP on 127.0.0.1: checks Bitget's request signature, answers in
Bitget's v2 payload shapes (recorded ones from `fixtures/bitget/`, see SOURCES.md), keeps per
account balances, orders and positions consistent, injects faults and records every request.

    fake = FakeBitget()
    await fake.start()
    fake.add_account("key", "secret", "pass", spot={"USDT": "10000"}, futures_usdt="10000")
    ...  # point ccxt's urls['api'] entries at fake.url
    await fake.close()
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

from aiohttp import web

from tests.fake_bitget_candles import CandleBook, CandleError

FIXTURES = Path(__file__).parent / "fixtures" / "bitget"
USDT_FUTURES = "USDT-FUTURES"
MIX_PRODUCT_TYPES = (
    USDT_FUTURES,
    "COIN-FUTURES",
    "USDC-FUTURES",
    "SUSDT-FUTURES",
    "SCOIN-FUTURES",
    "SUSDC-FUTURES",
)
MAX_BATCH = 50
TIMESTAMP_WINDOW_MS = 30_000
ZERO = Decimal(0)

# Market lists (not recorded by ccxt): Bitget's documented field names, see SOURCES.md.
SPOT_SYMBOLS: list[dict[str, str]] = [
    {
        "symbol": "BTCUSDT",
        "baseCoin": "BTC",
        "quoteCoin": "USDT",
        "minTradeAmount": "0.0001",
        "maxTradeAmount": "10000",
        "takerFeeRate": "0.001",
        "makerFeeRate": "0.001",
        "pricePrecision": "2",
        "quantityPrecision": "6",
        "quotePrecision": "6",
        "minTradeUSDT": "5",
        "status": "online",
        "buyLimitPriceRatio": "0.05",
        "sellLimitPriceRatio": "0.05",
        "orderQuantity": "200",
        "areaSymbol": "no",
    },
    {
        "symbol": "ETHUSDT",
        "baseCoin": "ETH",
        "quoteCoin": "USDT",
        "minTradeAmount": "0.0001",
        "maxTradeAmount": "10000",
        "takerFeeRate": "0.001",
        "makerFeeRate": "0.001",
        "pricePrecision": "2",
        "quantityPrecision": "4",
        "quotePrecision": "6",
        "minTradeUSDT": "5",
        "status": "online",
        "buyLimitPriceRatio": "0.05",
        "sellLimitPriceRatio": "0.05",
        "orderQuantity": "200",
        "areaSymbol": "no",
    },
]


def _contract(symbol: str, base: str, price_place: str, volume_place: str, step: str) -> dict[str, Any]:
    return {
        "symbol": symbol,
        "baseCoin": base,
        "quoteCoin": "USDT",
        "buyLimitPriceRatio": "0.05",
        "sellLimitPriceRatio": "0.05",
        "feeRateUpRatio": "0.005",
        "makerFeeRate": "0.0002",
        "takerFeeRate": "0.0006",
        "openCostUpRatio": "0.01",
        "supportMarginCoins": ["USDT"],
        "minTradeNum": step,
        "priceEndStep": "1",
        "volumePlace": volume_place,
        "pricePlace": price_place,
        "sizeMultiplier": step,
        "symbolType": "perpetual",
        "minTradeUSDT": "5",
        "maxSymbolOrderNum": "200",
        "maxProductOrderNum": "400",
        "maxPositionNum": "150",
        "symbolStatus": "normal",
        "offTime": "-1",
        "limitOpenTime": "-1",
        "deliveryTime": "",
        "deliveryStartTime": "",
        "deliveryPeriod": "",
        "launchTime": "",
        "fundInterval": "8",
        "minLever": "1",
        "maxLever": "125",
        "posLimit": "0.05",
        "maintainTime": "",
    }


CONTRACTS: list[dict[str, Any]] = [
    _contract("BTCUSDT", "BTC", "1", "4", "0.0001"),
    _contract("ETHUSDT", "ETH", "2", "2", "0.01"),
]


def fmt(value: Decimal) -> str:
    """Bitget's plain decimal strings: no exponent, no trailing zeros."""
    if value == 0:
        return "0"
    text = format(value.normalize(), "f")
    return text


def now_ms() -> int:
    return int(time.time() * 1000)


class BitgetError(Exception):
    """An error answer: Bitget's code and message, HTTP 400 unless told otherwise."""

    def __init__(self, code: str, msg: str, http_status: int = 400) -> None:
        super().__init__(f"{code} {msg}")
        self.code = code
        self.msg = msg
        self.http_status = http_status


def recorded_responses() -> dict[tuple[str, str], Any]:
    """(ccxt method, description) -> recorded `httpResponse`."""
    raw = json.loads((FIXTURES / "ccxt_static_response_bitget.json").read_text())
    out: dict[tuple[str, str], Any] = {}
    for method, cases in raw["methods"].items():
        for case in cases:
            if "httpResponse" in case:
                out[(method, case["description"])] = case["httpResponse"]
    return out


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]
    ts: int


@dataclass
class Fault:
    path: str
    kind: str
    times: int
    when: str  # "before": answer the fault instead; "after": do the work, then answer the fault


@dataclass
class FakeOrder:
    order_id: str
    client_oid: str
    symbol: str
    product: str  # "SPOT" or "USDT-FUTURES"
    side: str
    order_type: str
    price: Decimal | None
    size: Decimal  # base amount; for a spot market buy Bitget's size is the quote amount
    force: str
    reduce_only: bool
    leverage: int
    status: str = "live"  # live, partially_filled, filled, cancelled
    pos_side: str = ""  # hedge mode: the position (long, short) it opens or closes
    filled: Decimal = ZERO
    quote_filled: Decimal = ZERO
    fee: Decimal = ZERO  # positive, in fee_coin
    fee_coin: str = ""
    frozen: Decimal = ZERO  # spot: funds held (quote for buys, base for sells); swap: margin held
    realized: Decimal = ZERO
    c_time: int = field(default_factory=now_ms)
    u_time: int = field(default_factory=now_ms)

    @property
    def live(self) -> bool:
        return self.status in ("live", "partially_filled")

    @property
    def avg_price(self) -> Decimal:
        return self.quote_filled / self.filled if self.filled else ZERO


@dataclass
class FakePlan:
    """A futures plan order (place-plan-order, planType normal_plan): a market order sent when the
    last price reaches `trigger_price` (a sell at or below it, a buy at or above it)."""

    order_id: str
    client_oid: str
    symbol: str
    side: str
    size: Decimal
    trigger_price: Decimal
    trigger_type: str
    reduce_only: bool
    status: str = "live"  # live, executed, cancelled
    executed: FakeOrder | None = None
    pos_side: str = ""  # hedge mode: the position it closes
    c_time: int = field(default_factory=now_ms)
    u_time: int = field(default_factory=now_ms)


@dataclass
class FakePosition:
    qty: Decimal = ZERO  # signed: > 0 long, < 0 short (one-way mode; hedge mode: each side's own)
    entry: Decimal = ZERO
    c_time: int = field(default_factory=now_ms)


@dataclass
class FakeAccount:
    api_key: str
    secret: str
    passphrase: str
    spot: dict[str, list[Decimal]]  # coin -> [available, frozen]
    futures_wallet: Decimal
    orders: dict[str, FakeOrder] = field(default_factory=dict)
    positions: dict[str, FakePosition] = field(default_factory=dict)
    leverage: dict[str, int] = field(default_factory=dict)
    plans: dict[str, FakePlan] = field(default_factory=dict)
    kind: str = "classic"  # classic (API v2 only) or uta (unified trading account, API v3 only)
    uid: str = "7264631750"
    can_trade: bool = True
    can_withdraw: bool = False
    hold_mode: str = "one_way_mode"
    # hedge mode's positions, by (symbol, side); one-way mode's are `positions`, by symbol
    hedge_positions: dict[tuple[str, str], FakePosition] = field(default_factory=dict)
    margin_modes: dict[str, str] = field(default_factory=dict)  # symbol -> isolated / crossed (default)
    # the account's own fee rates by product ("SPOT", "USDT-FUTURES"): (maker, taker); else the market's
    fee_rates: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)
    liquidation: dict[str, Decimal] = field(default_factory=dict)  # symbol -> liquidation price (a test's)
    demo: bool = (
        False  # a demo-trading account: its keys work only with PAPTRADING: 1, live keys only without
    )


class FakeBitget:
    """The fake server. `timeout_delay` is how long a "timeout" fault holds the answer (s)."""

    def __init__(self, *, timeout_delay: float = 1.0) -> None:
        self.timeout_delay = timeout_delay
        self.requests: list[RecordedRequest] = []
        self.accounts: dict[str, FakeAccount] = {}
        self._faults: list[Fault] = []
        self._rejections: dict[str, tuple[str, str]] = {}
        self._dropped: set[str] = set()
        self._ids = itertools.count(1_200_000_000_000_000_001)
        self._recorded = recorded_responses()
        self.candles = CandleBook()  # the candle endpoints' series and market clock
        swap_ticker = self._recorded[("fetchTicker", "uta swap ticker")]["data"][0]
        spot_ticker = self._recorded[("fetchTicker", "public spot ticker")]["data"][0]
        # Best bid/ask each market fills against, from the recorded tickers.
        self.books: dict[tuple[str, str], tuple[Decimal, Decimal]] = {
            ("SPOT", "BTCUSDT"): (Decimal(spot_ticker["bidPr"]), Decimal(spot_ticker["askPr"])),
            (USDT_FUTURES, "BTCUSDT"): (Decimal(swap_ticker["bid1Price"]), Decimal(swap_ticker["ask1Price"])),
        }
        self.mark_prices: dict[str, Decimal] = {"BTCUSDT": Decimal(swap_ticker["markPrice"])}
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.ws = FakeBitgetWs(self)  # the websocket endpoints (tests/fake_bitget_ws.py)

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application()
        self.ws.mount(app)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, shutdown_timeout=0.2, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self.url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- test controls --------------------------------------------------------------------------

    def add_account(
        self,
        api_key: str,
        secret: str,
        passphrase: str,
        *,
        spot: dict[str, str] | None = None,
        futures_usdt: str = "0",
        kind: str = "classic",
        can_trade: bool = True,
        can_withdraw: bool = False,
        uid: str | None = None,
        demo: bool = False,
        fee_rates: dict[str, tuple[str, str]] | None = None,
        hold_mode: str = "one_way_mode",
    ) -> FakeAccount:
        """An account of either kind: a classic one answers only v2, a unified one (`kind="uta"`) only
        v3, each refusing the other's endpoints with Bitget's codes (40085 / 40084). A unified
        account's one wallet is shown by v3 as the sum of the fake's spot and futures pools."""
        if kind not in ("classic", "uta"):
            raise ValueError(f"unknown account kind {kind}")
        account = FakeAccount(
            api_key,
            secret,
            passphrase,
            spot={coin: [Decimal(amount), ZERO] for coin, amount in (spot or {}).items()},
            futures_wallet=Decimal(futures_usdt),
            kind=kind,
            can_trade=can_trade,
            can_withdraw=can_withdraw,
            uid=uid or str(7_264_631_750 + len(self.accounts)),
            demo=demo,
            hold_mode=hold_mode,
            fee_rates={k: (Decimal(m), Decimal(t)) for k, (m, t) in (fee_rates or {}).items()},
        )
        self.accounts[api_key] = account
        return account

    def inject(self, path: str, kind: str, *, times: int = 1, when: str = "before") -> None:
        """Make the next `times` requests to `path` fail with `kind`: rate_limit, server_error,
        timeout, maintenance, insufficient, invalid_param, not_found."""
        if kind not in FAULTS and kind != "timeout":
            raise ValueError(f"unknown fault {kind}")
        self._faults.append(Fault(path, kind, times, when))

    def reject_client_oids(
        self,
        client_oids: Iterable[str],
        code: str = "45110",
        msg: str = "less than the minimum amount 5 USDT",
    ) -> None:
        """Refuse these orders wherever they come (batch failureList, single error)."""
        for oid in client_oids:
            self._rejections[oid] = (code, msg)

    def drop_client_oids(self, client_oids: Iterable[str]) -> None:
        """Refuse these orders in batches without a word: in neither successList nor failureList."""
        self._dropped.update(client_oids)

    def fill(self, api_key: str, order_id: str, qty: Decimal | None = None) -> None:
        """Fill a resting limit order at its own price as maker (all of it, or `qty`)."""
        account = self.accounts[api_key]
        order = account.orders[order_id]
        assert order.live and order.price is not None
        amount = order.size - order.filled if qty is None else qty
        self._fill(account, order, amount, order.price, taker=False)

    def trigger_plans(self, api_key: str, symbol: str, last: Decimal) -> list[FakePlan]:
        """The last price of `symbol` is `last`: every live plan order it reaches sends its market
        order (filled at the book as a taker); returns the plans executed."""
        account = self.accounts[api_key]
        done = []
        for plan in list(account.plans.values()):
            if plan.status != "live" or plan.symbol != symbol:
                continue
            if (plan.side == "sell" and last <= plan.trigger_price) or (
                plan.side == "buy" and last >= plan.trigger_price
            ):
                request = {
                    "symbol": plan.symbol,
                    "side": plan.side,
                    "orderType": "market",
                    "size": fmt(plan.size),
                    "reduceOnly": "YES" if plan.reduce_only else "NO",
                }
                if plan.pos_side:  # hedge mode: Bitget's side is the position's, closed
                    request["side"] = "buy" if plan.pos_side == "long" else "sell"
                    request["tradeSide"] = "close"
                plan.executed = self._place(account, USDT_FUTURES, request)
                plan.status, plan.u_time = "executed", now_ms()
                done.append(plan)
        return done

    def requests_to(self, path: str, method: str | None = None) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path and (method is None or r.method == method)]

    def orders_with_client_oid(self, api_key: str, client_oid: str) -> list[FakeOrder]:
        return [o for o in self.accounts[api_key].orders.values() if o.client_oid == client_oid]

    # --- HTTP -----------------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        body_text = await request.text()
        query = dict(parse_qsl(request.query_string, keep_blank_values=True))
        try:
            body = json.loads(body_text) if body_text else None
        except ValueError:
            body = None
        self.requests.append(
            RecordedRequest(request.method, request.path, query, body, dict(request.headers), now_ms())
        )
        fault = self._take_fault(request.path)
        if fault is not None and fault.when == "before":
            return await self._fault_response(fault, request.path)
        try:
            handler = ROUTES.get((request.method, request.path))
            if handler is None:
                raise BitgetError("40404", "Request URL NOT FOUND", 404)
            account = None
            if not _is_public(request.path):
                account = self._authenticate(request, body_text)
            data = handler(self, account, query, body)
        except BitgetError as exc:
            if fault is not None:
                return await self._fault_response(fault, request.path)
            return _error(exc)
        if fault is not None:
            return await self._fault_response(fault, request.path, data)
        return web.json_response({"code": "00000", "msg": "success", "requestTime": now_ms(), "data": data})

    def _take_fault(self, path: str) -> Fault | None:
        for fault in self._faults:
            if fault.path == path and fault.times > 0:
                fault.times -= 1
                return fault
        return None

    async def _fault_response(self, fault: Fault, path: str, data: Any = None) -> web.StreamResponse:
        if fault.kind == "timeout":
            await asyncio.sleep(self.timeout_delay)
            return web.json_response(
                {"code": "00000", "msg": "success", "requestTime": now_ms(), "data": data}
            )
        if fault.kind == "server_error":
            return web.Response(
                status=503,
                text="<html><body>503 Service Temporarily Unavailable</body></html>",
                content_type="text/html",
            )
        code, msg, status = FAULTS[fault.kind]
        if fault.kind == "insufficient" and path.startswith("/api/v2/mix/"):
            code, msg = "40762", "The order amount exceeds the balance"
        if fault.kind == "not_found" and path.startswith("/api/v2/mix/"):
            code, msg = "40109", "The data of the order cannot be found, please confirm the order number"
        return _error(BitgetError(code, msg, status))

    def _authenticate(self, request: web.Request, body_text: str) -> FakeAccount:
        headers = request.headers
        key = headers.get("ACCESS-KEY")
        sign = headers.get("ACCESS-SIGN")
        timestamp = headers.get("ACCESS-TIMESTAMP")
        passphrase = headers.get("ACCESS-PASSPHRASE")
        if not key:
            raise BitgetError("40001", "ACCESS_KEY cannot be empty")
        if not sign:
            raise BitgetError("40003", "Signature cannot be empty")
        if not timestamp:
            raise BitgetError("40005", "Invalid ACCESS_TIMESTAMP")
        if not passphrase:
            raise BitgetError("40011", "ACCESS_PASSPHRASE cannot be empty")
        account = self.accounts.get(key)
        if account is None:
            raise BitgetError("40006", "Invalid ACCESS_KEY")
        if not timestamp.isdigit() or abs(now_ms() - int(timestamp)) > TIMESTAMP_WINDOW_MS:
            raise BitgetError("40008", "Request timestamp expired")
        if passphrase != account.passphrase:
            raise BitgetError("40012", "apikey/password is incorrect")
        # Bitget signs timestamp + METHOD + requestPath (+ "?" + query string) + body.
        prehash = timestamp + request.method.upper() + request.path
        if request.query_string:
            prehash += "?" + unquote(request.query_string)
        prehash += body_text
        expected = base64.b64encode(
            hmac.new(account.secret.encode(), prehash.encode(), hashlib.sha256).digest()
        ).decode()
        if not hmac.compare_digest(expected, sign):
            raise BitgetError("40009", "sign signature error")
        if (headers.get("PAPTRADING") == "1") != account.demo:
            # demo keys are made in Bitget's demo trading and work only there (and live keys only live)
            raise BitgetError("40099", "exchange environment is incorrect")
        if request.path.startswith("/api/v2/") and account.kind == "uta":
            raise BitgetError(
                "40085",
                "You are in Unified Account mode, and the Classic Account API is not supported at this time",
            )
        if request.path.startswith("/api/v3/") and account.kind == "classic":
            raise BitgetError(
                "40084", "You are in Classic Account mode, and the Unified Account API is not supported"
            )
        if request.method == "POST" and not account.can_trade:
            raise BitgetError("40014", "Incorrect permissions")
        return account

    # --- public endpoints -----------------------------------------------------------------------

    def h_time(self, _a: Any, _q: dict[str, str], _b: Any) -> Any:
        return {"serverTime": str(now_ms())}

    def h_coins(self, _a: Any, _q: dict[str, str], _b: Any) -> Any:
        return self._recorded[("fetchCurrencies", "default")]["data"]

    def h_spot_symbols(self, _a: Any, query: dict[str, str], _b: Any) -> Any:
        symbol = query.get("symbol")
        return [s for s in SPOT_SYMBOLS if symbol in (None, s["symbol"])]

    def h_margin_currencies(self, _a: Any, _q: dict[str, str], _b: Any) -> Any:
        return []

    def h_contracts(self, _a: Any, query: dict[str, str], _b: Any) -> Any:
        product = query.get("productType", "").upper()
        if product not in MIX_PRODUCT_TYPES:
            raise BitgetError("40017", "Parameter verification failed")
        return CONTRACTS if product == USDT_FUTURES else []

    def h_spot_tickers(self, _a: Any, query: dict[str, str], _b: Any) -> Any:
        recorded = self._recorded[("fetchTicker", "public spot ticker")]["data"]
        symbol = query.get("symbol")
        found = [t for t in recorded if symbol in (None, t["symbol"])]
        if symbol and not found:
            raise BitgetError("40034", f"Parameter {symbol} does not exist")
        return found

    def h_mix_ticker(self, _a: Any, query: dict[str, str], _b: Any) -> Any:
        uta = self._recorded[("fetchTicker", "uta swap ticker")]["data"][0]
        if query.get("symbol") != uta["symbol"]:
            raise BitgetError("40034", f"Parameter {query.get('symbol')} does not exist")
        return [
            {
                "symbol": uta["symbol"],
                "lastPr": uta["lastPrice"],
                "askPr": uta["ask1Price"],
                "bidPr": uta["bid1Price"],
                "bidSz": uta["bid1Size"],
                "askSz": uta["ask1Size"],
                "high24h": uta["highPrice24h"],
                "low24h": uta["lowPrice24h"],
                "ts": uta["ts"],
                "change24h": uta["price24hPcnt"],
                "baseVolume": uta["volume24h"],
                "quoteVolume": uta["turnover24h"],
                "usdtVolume": uta["turnover24h"],
                "openUtc": uta["openPrice24h"],
                "changeUtc24h": uta["price24hPcnt"],
                "indexPrice": uta["indexPrice"],
                "fundingRate": uta["fundingRate"],
                "holdingAmount": uta["openInterest"],
                "deliveryStartTime": None,
                "deliveryTime": None,
                "deliveryStatus": "",
                "open24h": uta["openPrice24h"],
                "markPrice": uta["markPrice"],
            }
        ]

    def h_spot_candles(self, _a: Any, query: dict[str, str], _b: Any) -> Any:
        return self.candle_rows("v2 spot recent", query, "Spot ohlcv")

    def h_spot_history_candles(self, _a: Any, query: dict[str, str], _b: Any) -> Any:
        return self.candle_rows("v2 spot history", query, "Spot ohlcv")

    def h_mix_candles(self, _a: Any, query: dict[str, str], _b: Any) -> Any:
        return self.candle_rows("v2 mix recent", query, "linear ohlcv")

    def h_mix_history_candles(self, _a: Any, query: dict[str, str], _b: Any) -> Any:
        return self.candle_rows("v2 mix history", query, "linear ohlcv")

    def candle_rows(self, endpoint: str, query: dict[str, str], recorded: str) -> list[list[str]]:
        """Bitget's answer to a candle request (tests/fake_bitget_candles.py: limits, paging, real rows)."""
        try:
            return self.candles.answer(endpoint, query, self._recorded[("fetchOHLCV", recorded)]["data"])
        except CandleError as exc:
            raise BitgetError(*exc.args) from None

    # --- spot trading ---------------------------------------------------------------------------

    def h_spot_place(self, account: FakeAccount, _q: dict[str, str], body: Any) -> Any:
        order = self._place(account, "SPOT", body)
        return {"orderId": order.order_id, "clientOid": order.client_oid}

    def h_spot_batch(self, account: FakeAccount, _q: dict[str, str], body: Any) -> Any:
        return self._batch_place(account, "SPOT", body)

    def h_spot_cancel(self, account: FakeAccount, _q: dict[str, str], body: Any) -> Any:
        order = self._find(account, "SPOT", body)
        if order is None or not order.live:
            raise BitgetError("43001", "The order does not exist")
        self._cancel(account, order)
        return {"orderId": order.order_id, "clientOid": order.client_oid}

    def h_spot_batch_cancel(self, account: FakeAccount, _q: dict[str, str], body: Any) -> Any:
        return self._batch_cancel(account, "SPOT", body, body.get("orderList") or [])

    def h_spot_order_info(self, account: FakeAccount, query: dict[str, str], _b: Any) -> Any:
        order = self._find(account, "SPOT", query)
        return [] if order is None else [self._spot_view(order, detail=True)]

    def h_spot_unfilled(self, account: FakeAccount, query: dict[str, str], _b: Any) -> Any:
        symbol = query.get("symbol")
        return [
            self._spot_view(o, detail=False)
            for o in account.orders.values()
            if o.product == "SPOT" and o.live and symbol in (None, o.symbol)
        ]

    def h_spot_account_info(self, account: FakeAccount, _q: dict[str, str], _b: Any) -> Any:
        # Bitget "Get Account Information": authorities are the key's permissions (stow spot trade,
        # coow / cpow futures orders and positions, wwow withdrawals; stor / coor / cpor read only)
        authorities = ["stow", "coow", "cpow"] if account.can_trade else ["stor", "coor", "cpor"]
        if account.can_withdraw:
            authorities.append("wwow")
        return {
            "userId": account.uid,
            "inviterId": "",
            "ips": "",
            "authorities": authorities,
            "parentId": 0,
            "traderType": "not_trader",
            "channelCode": "",
            "channel": "",
            "regisTime": "1700000000000",
        }

    def h_spot_assets(self, account: FakeAccount, _q: dict[str, str], _b: Any) -> Any:
        return [
            {
                "coin": coin,
                "available": fmt(avail),
                "limitAvailable": "0",
                "frozen": fmt(frozen),
                "locked": "0",
                "uTime": str(now_ms()),
            }
            for coin, (avail, frozen) in account.spot.items()
        ]

    # --- futures (mix) trading ------------------------------------------------------------------

    def h_mix_place(self, account: FakeAccount, _q: dict[str, str], body: Any) -> Any:
        _product(body)
        order = self._place(account, USDT_FUTURES, body)
        return {"orderId": order.order_id, "clientOid": order.client_oid}

    def h_mix_batch(self, account: FakeAccount, _q: dict[str, str], body: Any) -> Any:
        _product(body)
        return self._batch_place(account, USDT_FUTURES, body)

    def h_mix_cancel(self, account: FakeAccount, _q: dict[str, str], body: Any) -> Any:
        _product(body)
        order = self._find(account, USDT_FUTURES, body)
        if order is None or not order.live:
            raise BitgetError("40768", "Order does not exist")
        self._cancel(account, order)
        return {"orderId": order.order_id, "clientOid": order.client_oid}

    def h_mix_batch_cancel(self, account: FakeAccount, _q: dict[str, str], body: Any) -> Any:
        _product(body)
        return self._batch_cancel(account, USDT_FUTURES, body, body.get("orderIdList") or [])

    def h_mix_detail(self, account: FakeAccount, query: dict[str, str], _b: Any) -> Any:
        _product(query)
        order = self._find(account, USDT_FUTURES, query)
        if order is None:
            raise BitgetError(
                "40109", "The data of the order cannot be found, please confirm the order number"
            )
        return self._mix_view(order, state_key="state")

    def h_mix_pending(self, account: FakeAccount, query: dict[str, str], _b: Any) -> Any:
        _product(query)
        symbol = query.get("symbol")
        orders = [
            self._mix_view(o, state_key="status")
            for o in account.orders.values()
            if o.product == USDT_FUTURES and o.live and symbol in (None, o.symbol)
        ]
        return {"entrustedList": orders, "endId": orders[-1]["orderId"] if orders else None}

    def h_mix_place_plan(self, account: FakeAccount, _q: dict[str, str], body: Any) -> Any:
        _product(body)
        client_oid = str(body.get("clientOid") or next(self._ids))
        if any(o.client_oid == client_oid for o in account.orders.values()) or any(
            p.client_oid == client_oid for p in account.plans.values()
        ):
            raise BitgetError("40786", "Duplicate clientOid")
        rules = _contract_of(body.get("symbol"))
        trigger, size = _decimal(body.get("triggerPrice")), _decimal(body.get("size"))
        if (
            body.get("planType") != "normal_plan"
            or body.get("orderType") != "market"  # a stop-market: the only kind the adapter sends
            or body.get("side") not in ("buy", "sell")
            or trigger is None
            or trigger <= 0
            or size is None
            or size <= 0
            or body.get("triggerType") not in ("fill_price", "mark_price")
        ):
            raise BitgetError("40017", "Parameter verification failed")
        if _places(trigger) > int(rules["pricePlace"]) or _places(size) > int(rules["volumePlace"]):
            raise BitgetError("41103", "param price scale error error")
        side, reduce_only, pos_side = hedge_side(account, body)
        plan = FakePlan(
            order_id=str(next(self._ids)),
            client_oid=client_oid,
            symbol=body["symbol"],
            side=side,
            size=size,
            trigger_price=trigger,
            trigger_type=body["triggerType"],
            reduce_only=reduce_only,
            pos_side=pos_side,
        )
        account.plans[plan.order_id] = plan
        return {"orderId": plan.order_id, "clientOid": plan.client_oid}

    def h_mix_plan_pending(self, account: FakeAccount, query: dict[str, str], _b: Any) -> Any:
        return self._plans(account, query, live=True)

    def h_mix_plan_history(self, account: FakeAccount, query: dict[str, str], _b: Any) -> Any:
        return self._plans(account, query, live=False)

    def _plans(self, account: FakeAccount, query: dict[str, str], *, live: bool) -> Any:
        _product(query)
        if not query.get("planType"):
            raise BitgetError("40017", "Parameter verification failed")
        symbol, order_id, client_oid = query.get("symbol"), query.get("orderId"), query.get("clientOid")
        plans = [
            self._plan_view(p)
            for p in account.plans.values()
            if (p.status == "live") == live
            and query["planType"] in ("normal_plan", "profit_loss")
            and symbol in (None, p.symbol)
            and order_id in (None, p.order_id)
            and client_oid in (None, p.client_oid)
        ]
        return {"entrustedList": plans, "endId": plans[-1]["orderId"] if plans else None}

    def h_mix_cancel_plan(self, account: FakeAccount, _q: dict[str, str], body: Any) -> Any:
        _product(body)
        success, failure = [], []
        for ref in body.get("orderIdList") or []:
            plan = next(
                (
                    p
                    for p in account.plans.values()
                    if p.symbol == body.get("symbol")
                    and (p.order_id == ref.get("orderId") or p.client_oid == ref.get("clientOid"))
                ),
                None,
            )
            if plan is None or plan.status != "live":
                failure.append(
                    {
                        "orderId": ref.get("orderId", ""),
                        "clientOid": ref.get("clientOid", ""),
                        "errorMsg": "The order does not exist",
                        "errorCode": "40768",
                    }
                )
                continue
            plan.status, plan.u_time = "cancelled", now_ms()
            success.append({"orderId": plan.order_id, "clientOid": plan.client_oid})
        return {"successList": success, "failureList": failure}

    def _plan_view(self, plan: FakePlan) -> dict[str, Any]:
        done = plan.executed
        return {
            "planType": "normal_plan",
            "symbol": plan.symbol,
            "size": fmt(plan.size),
            "orderId": plan.order_id,
            "clientOid": plan.client_oid,
            "planStatus": plan.status,
            "price": "",
            "executePrice": "0",
            "priceAvg": fmt(done.avg_price) if done is not None and done.filled else "",
            "baseVolume": fmt(done.filled) if done is not None else "0",
            # Bitget's plan history names the market order a triggered plan sent (its fills and fee are
            # that order's: the plan's own entry carries no fee)
            "executeOrderId": done.order_id if done is not None else "",
            "callbackRatio": "",
            "triggerPrice": fmt(plan.trigger_price),
            "triggerType": plan.trigger_type,
            **position_fields(plan.side, plan.reduce_only, plan.pos_side),
            "marginCoin": "USDT",
            "marginMode": "crossed",
            "enterPointSource": "API",
            "orderType": "market",
            "reduceOnly": "YES" if plan.reduce_only else "NO",
            "stopSurplusTriggerPrice": "",
            "stopSurplusExecutePrice": "",
            "stopSurplusTriggerType": "fill_price",
            "stopLossTriggerPrice": "",
            "stopLossExecutePrice": "",
            "stopLossTriggerType": "fill_price",
            "cTime": str(plan.c_time),
            "uTime": str(plan.u_time),
        }

    def h_mix_accounts(self, account: FakeAccount, query: dict[str, str], _b: Any) -> Any:
        _product(query)
        upnl = sum((self._upnl(s, p) for s, p in all_positions(account)), ZERO)
        equity = account.futures_wallet + upnl
        available = max(equity - self._used_margin(account), ZERO)
        return [
            {
                "marginCoin": "USDT",
                "locked": "0",
                "available": fmt(available),
                "crossedMaxAvailable": fmt(available),
                "isolatedMaxAvailable": fmt(available),
                "maxTransferOut": fmt(available),
                "accountEquity": fmt(equity),
                "usdtEquity": fmt(equity),
                "btcEquity": "0",
                "crossedRiskRate": "0",
                "unrealizedPL": fmt(upnl),
                "coupon": "0",
                "crossedUnrealizedPL": fmt(upnl),
                "isolatedUnrealizedPL": "",
                "assetMode": "single",
            }
        ]

    def h_mix_positions(self, account: FakeAccount, query: dict[str, str], _b: Any) -> Any:
        _product(query)
        out = []
        for symbol, pos in all_positions(account):
            if pos.qty == 0:
                continue
            lev = account.leverage.get(symbol, DEFAULT_LEVERAGE)
            size = abs(pos.qty)
            margin_mode = account.margin_modes.get(symbol, "crossed")
            out.append(
                {
                    "marginCoin": "USDT",
                    "symbol": symbol,
                    "holdSide": "long" if pos.qty > 0 else "short",
                    "openDelegateSize": "0",
                    "marginSize": fmt(size * pos.entry / lev),
                    "available": fmt(size),
                    "locked": "0",
                    "total": fmt(size),
                    "leverage": str(lev),
                    "achievedProfits": "0",
                    "openPriceAvg": fmt(pos.entry),
                    "marginMode": margin_mode,
                    "posMode": account.hold_mode,
                    "unrealizedPL": fmt(self._upnl(symbol, pos)),
                    "liquidationPrice": fmt(liquidation_price(account, symbol, pos, lev)),
                    "keepMarginRate": "0.004",
                    "markPrice": fmt(self.mark_prices.get(symbol, pos.entry)),
                    "marginRatio": "0",
                    "cTime": str(pos.c_time),
                    "uTime": str(now_ms()),
                }
            )
        return out

    def h_mix_set_leverage(self, account: FakeAccount, _q: dict[str, str], body: Any) -> Any:
        _product(body)
        symbol = body.get("symbol")
        contract = _contract_of(symbol)
        raw = str(body.get("leverage", ""))
        if not raw.isdigit() or not 1 <= int(raw) <= int(contract["maxLever"]):
            raise BitgetError("40017", "Parameter verification failed")
        isolated = account.margin_modes.get(symbol) == "isolated"
        if isolated and account.hold_mode == "hedge_mode" and body.get("holdSide") not in ("long", "short"):
            # isolated margin in hedge mode: each side has its own leverage
            raise BitgetError("40808", "Parameter verification exception double fixed, hold side is null")
        account.leverage[symbol] = int(raw)
        return {
            "symbol": symbol,
            "marginCoin": "USDT",
            "longLeverage": raw,
            "shortLeverage": raw,
            "crossMarginLeverage": raw,
            "marginMode": account.margin_modes.get(symbol, "crossed"),
        }

    # --- order book mechanics -------------------------------------------------------------------

    def _place(self, account: FakeAccount, product: str, req: dict[str, Any]) -> FakeOrder:
        client_oid = str(req.get("clientOid") or next(self._ids))
        if client_oid in self._rejections:
            code, msg = self._rejections[client_oid]
            raise BitgetError(code, msg)
        if any(o.client_oid == client_oid for o in account.orders.values()) or any(
            p.client_oid == client_oid for p in account.plans.values()
        ):
            raise BitgetError("40786", "Duplicate clientOid")
        symbol = req.get("symbol")
        side = req.get("side")
        order_type = req.get("orderType")
        if side not in ("buy", "sell") or order_type not in ("limit", "market"):
            raise BitgetError("40017", "Parameter verification failed")
        size = _decimal(req.get("size"))
        price = _decimal(req.get("price")) if order_type == "limit" else None
        if size is None or size <= 0 or (order_type == "limit" and (price is None or price <= 0)):
            raise BitgetError("40017", "Parameter verification failed")
        reduce_only = str(req.get("reduceOnly", "NO")).upper() == "YES"
        pos_side = ""
        if product != "SPOT":
            side, reduce_only, pos_side = hedge_side(account, req)
        force = str(req.get("force") or "gtc").lower()
        if product == "SPOT":
            rules = _spot_rules(symbol)
            price_places, size_places = int(rules["pricePrecision"]), int(rules["quantityPrecision"])
            if order_type == "market" and side == "buy":
                size_places = int(rules["quotePrecision"])
        else:
            rules = _contract_of(symbol)
            price_places, size_places = int(rules["pricePlace"]), int(rules["volumePlace"])
        if price is not None and _places(price) > price_places:
            raise BitgetError("41103", "param price scale error error")
        if _places(size) > size_places:
            raise BitgetError(
                "40808",
                f"Parameter verification exception size checkBDScale error value={size}"
                f" checkScale={size_places}",
            )
        book = self.books.get((product, symbol))
        if order_type == "market" and book is None:
            raise BitgetError("40034", f"Parameter {symbol} does not exist")
        reference = price if price is not None else (book[1] if side == "buy" else book[0])  # type: ignore[index]
        notional = (
            size if (product == "SPOT" and order_type == "market" and side == "buy") else size * reference
        )
        if notional < Decimal(rules["minTradeUSDT"]):
            raise BitgetError("45110", f"less than the minimum amount {rules['minTradeUSDT']} USDT")
        order = FakeOrder(
            order_id=str(next(self._ids)),
            client_oid=client_oid,
            symbol=symbol,
            product=product,
            side=side,
            order_type=order_type,
            price=price,
            size=size,
            force=force,
            reduce_only=reduce_only,
            leverage=account.leverage.get(symbol, DEFAULT_LEVERAGE),
            pos_side=pos_side,
        )
        if product == "SPOT":
            self._hold_spot(account, order, rules, reference)
        else:
            self._hold_margin(account, order, reference)
        account.orders[order.order_id] = order
        self.ws.order_changed(account, order, None)
        crosses = (
            book is not None
            and price is not None
            and ((side == "buy" and price >= book[1]) or (side == "sell" and price <= book[0]))
        )
        if order_type == "market" or crosses:
            if force == "post_only":
                self._cancel(account, order)
            else:
                assert book is not None
                fill_price = book[1] if side == "buy" else book[0]
                qty = order.size
                if product == "SPOT" and order_type == "market" and side == "buy":
                    qty = (order.size / fill_price).quantize(
                        Decimal(1).scaleb(-int(rules["quantityPrecision"])), rounding=ROUND_DOWN
                    )
                self._fill(account, order, qty, fill_price, taker=True)
        return order

    def _hold_spot(
        self, account: FakeAccount, order: FakeOrder, rules: dict[str, str], reference: Decimal
    ) -> None:
        base, quote = rules["baseCoin"], rules["quoteCoin"]
        if order.side == "buy":
            coin, amount = quote, (order.size if order.order_type == "market" else order.size * reference)
        else:
            coin, amount = base, order.size
        wallet = account.spot.setdefault(coin, [ZERO, ZERO])
        if wallet[0] < amount:
            raise BitgetError("43012", "Insufficient balance")
        wallet[0] -= amount
        wallet[1] += amount
        order.frozen = amount

    def _hold_margin(self, account: FakeAccount, order: FakeOrder, reference: Decimal) -> None:
        pos = position_of(account, order, create=False)
        if order.reduce_only:
            closing = pos.qty < 0 if order.side == "buy" else pos.qty > 0
            if not closing or order.size > abs(pos.qty):
                raise BitgetError("22002", "No position to close")
            return
        margin = order.size * reference / order.leverage
        equity = account.futures_wallet + sum((self._upnl(s, p) for s, p in all_positions(account)), ZERO)
        if equity - self._used_margin(account) < margin:
            raise BitgetError("40762", "The order amount exceeds the balance")
        order.frozen = margin

    def _fill(
        self, account: FakeAccount, order: FakeOrder, qty: Decimal, price: Decimal, *, taker: bool
    ) -> None:
        if qty <= 0:
            return
        if order.product == "SPOT":
            rules = _spot_rules(order.symbol)
            rate = Decimal(rules["takerFeeRate" if taker else "makerFeeRate"])
            if "SPOT" in account.fee_rates:  # the account's own rates
                rate = account.fee_rates["SPOT"][1 if taker else 0]
            base, quote = rules["baseCoin"], rules["quoteCoin"]
            cost = qty * price
            if order.side == "buy":
                held = cost if order.order_type == "market" else qty * order.price  # type: ignore[operator]
                account.spot[quote][1] -= held
                order.frozen -= held
                account.spot[quote][0] += held - cost  # a better price than the limit gives change
                fee = qty * rate
                account.spot.setdefault(base, [ZERO, ZERO])[0] += qty - fee
                order.fee_coin = base
            else:
                account.spot[base][1] -= qty
                order.frozen -= qty
                fee = cost * rate
                account.spot.setdefault(quote, [ZERO, ZERO])[0] += cost - fee
                order.fee_coin = quote
            if order.order_type == "market" and order.side == "buy":  # unspent quote of a market buy
                account.spot[quote][1] -= order.frozen
                account.spot[quote][0] += order.frozen
                order.frozen = ZERO
        else:
            rate = Decimal(_contract_of(order.symbol)["takerFeeRate" if taker else "makerFeeRate"])
            if USDT_FUTURES in account.fee_rates:  # the account's own rates
                rate = account.fee_rates[USDT_FUTURES][1 if taker else 0]
            fee = qty * price * rate
            account.futures_wallet -= fee
            order.fee_coin = "USDT"
            if order.frozen:
                released = order.frozen * qty / (order.size - order.filled)
                order.frozen -= released
            self._apply_position(account, order, qty if order.side == "buy" else -qty, price)
        order.filled += qty
        order.quote_filled += qty * price
        order.fee += fee
        order.u_time = now_ms()
        full = order.filled >= order.size or order.order_type == "market"
        order.status = "filled" if full else "partially_filled"
        self.ws.order_changed(account, order, (qty, price, fee))

    def _apply_position(self, account: FakeAccount, order: FakeOrder, delta: Decimal, price: Decimal) -> None:
        pos = position_of(account, order)
        if pos.qty == 0 or (pos.qty > 0) == (delta > 0):
            total = pos.qty + delta
            pos.entry = (abs(pos.qty) * pos.entry + abs(delta) * price) / abs(total)
            pos.qty = total
            return
        closed = min(abs(delta), abs(pos.qty))
        direction = Decimal(1) if pos.qty > 0 else Decimal(-1)
        realized = (price - pos.entry) * closed * direction
        account.futures_wallet += realized
        order.realized += realized
        pos.qty += delta
        if pos.qty != 0 and (pos.qty > 0) != (direction > 0):  # flipped through zero
            pos.entry = price
        elif pos.qty == 0:
            pos.entry = ZERO

    def _cancel(self, account: FakeAccount, order: FakeOrder) -> None:
        if order.product == "SPOT" and order.frozen:
            rules = _spot_rules(order.symbol)
            coin = rules["quoteCoin"] if order.side == "buy" else rules["baseCoin"]
            account.spot[coin][1] -= order.frozen
            account.spot[coin][0] += order.frozen
        order.frozen = ZERO
        order.status = "cancelled"
        order.u_time = now_ms()
        self.ws.order_changed(account, order, None)

    def _batch_place(self, account: FakeAccount, product: str, body: Any) -> Any:
        entries = body.get("orderList") or []
        if len(entries) > MAX_BATCH:
            raise BitgetError("40017", f"Parameter verification failed: at most {MAX_BATCH} orders per batch")
        success, failure = [], []
        for entry in entries:
            request = {"symbol": body.get("symbol"), **entry}
            oid = str(request.get("clientOid") or "")
            if oid in self._dropped:
                continue  # refused and left out of the answer
            try:
                order = self._place(account, product, request)
            except BitgetError as exc:
                failure.append({"orderId": "", "clientOid": oid, "errorMsg": exc.msg, "errorCode": exc.code})
                continue
            success.append({"orderId": order.order_id, "clientOid": order.client_oid})
        return {"successList": success, "failureList": failure}

    def _batch_cancel(self, account: FakeAccount, product: str, body: Any, ids: list[dict[str, str]]) -> Any:
        if len(ids) > MAX_BATCH:
            raise BitgetError("40017", f"Parameter verification failed: at most {MAX_BATCH} orders per batch")
        success, failure = [], []
        for ref in ids:
            order = self._find(account, product, {"symbol": body.get("symbol"), **ref})
            if order is None or not order.live:
                failure.append(
                    {
                        "orderId": ref.get("orderId", ""),
                        "clientOid": ref.get("clientOid", ""),
                        "errorMsg": "The order does not exist",
                        "errorCode": "43001",
                    }
                )
                continue
            self._cancel(account, order)
            success.append({"orderId": order.order_id, "clientOid": order.client_oid})
        return {"successList": success, "failureList": failure}

    def _find(self, account: FakeAccount, product: str, ref: dict[str, Any]) -> FakeOrder | None:
        order_id, client_oid = ref.get("orderId"), ref.get("clientOid")
        if not order_id and not client_oid:
            raise BitgetError("40017", "Parameter verification failed")
        for order in account.orders.values():
            if order.product != product:
                continue
            if (order_id and order.order_id == str(order_id)) or (
                client_oid and order.client_oid == client_oid
            ):
                return order
        return None

    def _used_margin(self, account: FakeAccount) -> Decimal:
        held = sum((o.frozen for o in account.orders.values() if o.product != "SPOT" and o.live), ZERO)
        for symbol, pos in all_positions(account):
            held += abs(pos.qty) * pos.entry / account.leverage.get(symbol, DEFAULT_LEVERAGE)
        return held

    def _upnl(self, symbol: str, pos: FakePosition) -> Decimal:
        mark = self.mark_prices.get(symbol, pos.entry)
        return (mark - pos.entry) * pos.qty

    # --- payload views --------------------------------------------------------------------------

    def _spot_view(self, order: FakeOrder, *, detail: bool) -> dict[str, Any]:
        rules = _spot_rules(order.symbol)
        view: dict[str, Any] = {
            "userId": "7264631750",
            "symbol": order.symbol,
            "orderId": order.order_id,
            "clientOid": order.client_oid,
            "size": fmt(order.size),
            "orderType": order.order_type,
            "side": order.side,
            "status": order.status,
            "baseVolume": fmt(order.filled),
            "quoteVolume": fmt(order.quote_filled),
            "enterPointSource": "API",
            "orderSource": "market" if order.order_type == "market" else "normal",
            "cTime": str(order.c_time),
            "uTime": str(order.u_time),
        }
        limit_price = fmt(order.price) if order.price is not None else "0"
        if detail:
            view.update(
                {
                    "price": limit_price,
                    "priceAvg": fmt(order.avg_price),
                    "feeDetail": _fee_detail(order) if order.fee else "",
                    "tpslType": "normal",
                    "triggerPrice": None,
                    "quoteCoin": rules["quoteCoin"],
                    "baseCoin": rules["baseCoin"],
                    "cancelReason": "",
                }
            )
        else:  # unfilled-orders: priceAvg is the limit price, basePrice the average fill
            view.update({"priceAvg": limit_price, "basePrice": fmt(order.avg_price)})
        return view

    def _mix_view(self, order: FakeOrder, *, state_key: str) -> dict[str, Any]:
        return {
            "symbol": order.symbol,
            "size": fmt(order.size),
            "orderId": order.order_id,
            "clientOid": order.client_oid,
            "baseVolume": fmt(order.filled),
            "fee": fmt(-order.fee),
            "price": fmt(order.price) if order.price is not None else "",
            "priceAvg": fmt(order.avg_price) if order.filled else "",
            state_key: order.status,
            **position_fields(order.side, order.reduce_only, order.pos_side),
            "force": order.force,
            "totalProfits": fmt(order.realized),
            "marginCoin": "USDT",
            "presetStopSurplusPrice": "",
            "presetStopLossPrice": "",
            "quoteVolume": fmt(order.quote_filled),
            "orderType": order.order_type,
            "leverage": str(order.leverage),
            "marginMode": "crossed",
            "enterPointSource": "API",
            "orderSource": "market" if order.order_type == "market" else "normal",
            "cTime": str(order.c_time),
            "uTime": str(order.u_time),
        }


DEFAULT_LEVERAGE = 20

FAULTS: dict[str, tuple[str, str, int]] = {
    "rate_limit": ("429", "Too Many Requests", 429),
    "request_too_many": ("30006", "request too many", 429),  # the websocket's code (ccxt #24458)
    "maintenance": ("40200", "Server upgrade, please try again later", 400),
    "insufficient": ("43012", "Insufficient balance", 400),
    "invalid_param": ("40017", "Parameter verification failed", 400),
    "not_found": ("43001", "The order does not exist", 400),
    "server_error": ("", "", 503),
}

PUBLIC_PREFIXES = (
    "/api/v2/public/",
    "/api/v2/spot/public/",
    "/api/v2/spot/market/",
    "/api/v2/mix/market/",
    "/api/v2/margin/currencies",
    "/api/v3/market/",
)


def _is_public(path: str) -> bool:
    return path.startswith(PUBLIC_PREFIXES)


def _error(exc: BitgetError) -> web.Response:
    return web.json_response(
        {"code": exc.code, "msg": exc.msg, "requestTime": now_ms(), "data": None}, status=exc.http_status
    )


def _decimal(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(-exponent, 0) if isinstance(exponent, int) else 0


def _product(params: dict[str, Any]) -> None:
    if str(params.get("productType", "")).upper() != USDT_FUTURES:
        raise BitgetError("40017", "Parameter verification failed")


def _spot_rules(symbol: Any) -> dict[str, str]:
    for rules in SPOT_SYMBOLS:
        if rules["symbol"] == symbol:
            return rules
    raise BitgetError("40034", f"Parameter {symbol} does not exist")


def _contract_of(symbol: Any) -> dict[str, Any]:
    for rules in CONTRACTS:
        if rules["symbol"] == symbol:
            return rules
    raise BitgetError("40034", f"Parameter {symbol} does not exist")


def _fee_detail(order: FakeOrder) -> str:
    # Bitget's spot feeDetail: a JSON document inside a string, fees negative, as in the recording.
    fee = fmt(-order.fee)
    return (
        '{"newFees":{"c":0,"d":0,"deduction":false,"r":' + fee + ',"t":' + fee + ',"totalDeductionFee":0},'
        f'"{order.fee_coin}":{{"deduction":false,"feeCoinCode":"{order.fee_coin}","totalDeductionFee":0,'
        f'"totalFee":{fee}}}}}'
    )


ROUTES = {
    ("GET", "/api/v2/public/time"): FakeBitget.h_time,
    ("GET", "/api/v2/spot/public/coins"): FakeBitget.h_coins,
    ("GET", "/api/v2/spot/public/symbols"): FakeBitget.h_spot_symbols,
    ("GET", "/api/v2/margin/currencies"): FakeBitget.h_margin_currencies,
    ("GET", "/api/v2/mix/market/contracts"): FakeBitget.h_contracts,
    ("GET", "/api/v2/spot/market/tickers"): FakeBitget.h_spot_tickers,
    ("GET", "/api/v2/mix/market/ticker"): FakeBitget.h_mix_ticker,
    ("GET", "/api/v2/spot/market/candles"): FakeBitget.h_spot_candles,
    ("GET", "/api/v2/spot/market/history-candles"): FakeBitget.h_spot_history_candles,
    ("GET", "/api/v2/mix/market/candles"): FakeBitget.h_mix_candles,
    ("GET", "/api/v2/mix/market/history-candles"): FakeBitget.h_mix_history_candles,
    ("POST", "/api/v2/spot/trade/place-order"): FakeBitget.h_spot_place,
    ("POST", "/api/v2/spot/trade/batch-orders"): FakeBitget.h_spot_batch,
    ("POST", "/api/v2/spot/trade/cancel-order"): FakeBitget.h_spot_cancel,
    ("POST", "/api/v2/spot/trade/batch-cancel-order"): FakeBitget.h_spot_batch_cancel,
    ("GET", "/api/v2/spot/trade/orderInfo"): FakeBitget.h_spot_order_info,
    ("GET", "/api/v2/spot/trade/unfilled-orders"): FakeBitget.h_spot_unfilled,
    ("GET", "/api/v2/spot/account/assets"): FakeBitget.h_spot_assets,
    ("GET", "/api/v2/spot/account/info"): FakeBitget.h_spot_account_info,
    ("POST", "/api/v2/mix/order/place-order"): FakeBitget.h_mix_place,
    ("POST", "/api/v2/mix/order/batch-place-order"): FakeBitget.h_mix_batch,
    ("POST", "/api/v2/mix/order/cancel-order"): FakeBitget.h_mix_cancel,
    ("POST", "/api/v2/mix/order/batch-cancel-orders"): FakeBitget.h_mix_batch_cancel,
    ("GET", "/api/v2/mix/order/detail"): FakeBitget.h_mix_detail,
    ("GET", "/api/v2/mix/order/orders-pending"): FakeBitget.h_mix_pending,
    ("POST", "/api/v2/mix/order/place-plan-order"): FakeBitget.h_mix_place_plan,
    ("GET", "/api/v2/mix/order/orders-plan-pending"): FakeBitget.h_mix_plan_pending,
    ("GET", "/api/v2/mix/order/orders-plan-history"): FakeBitget.h_mix_plan_history,
    ("POST", "/api/v2/mix/order/cancel-plan-order"): FakeBitget.h_mix_cancel_plan,
    ("GET", "/api/v2/mix/account/accounts"): FakeBitget.h_mix_accounts,
    ("GET", "/api/v2/mix/position/all-position"): FakeBitget.h_mix_positions,
    ("POST", "/api/v2/mix/account/set-leverage"): FakeBitget.h_mix_set_leverage,
}

# the unified (v3) endpoints: tests/fake_bitget_v3.py (imported last: it builds on the names above)
from tests.fake_bitget_v3 import V3_ROUTES  # noqa: E402
from tests.fake_bitget_ws import FakeBitgetWs  # noqa: E402

ROUTES.update(V3_ROUTES)

# margin mode, position mode, fee rates and liquidation (both kinds): tests/fake_bitget_futures.py
from tests.fake_bitget_futures import (  # noqa: E402
    FUTURES_ROUTES,
    all_positions,
    hedge_side,
    liquidation_price,
    position_fields,
    position_of,
)

ROUTES.update(FUTURES_ROUTES)
