"""The fake Bitget's websocket endpoints, beside its REST ones (tests/fake_bitget.py): Bitget's protocol
for classic accounts (v2: /v2/ws/public, /v2/ws/private) and unified ones (v3: /v3/ws/public,
/v3/ws/private), served on the same aiohttp app, so real ccxt.pro talks to it as to Bitget.

What it speaks (Bitget's websocket docs, and ccxt/pro/bitget.py that reads them):
- the text "ping" answers the text "pong";
- `{"op": "login", "args": [{apiKey, passphrase, timestamp, sign}]}` with sign = base64(HMAC-SHA256(secret,
  timestamp + "GET" + "/user/verify")), timestamp in seconds within 30 s: `{"event": "login", "code": "0"}`,
  else `{"event": "error", "code": 30005/30011/30012/30014/30015, ...}`; a classic account's keys on
  the v3 private endpoint, and a unified account's on v2, are refused as REST refuses them (40084 / 40085);
- `{"op": "subscribe" | "unsubscribe", "args": [...]}`: v2 args are {instType, channel, instId}, v3 args
  {instType, topic, symbol}; each is acked `{"event": "subscribe", "arg": ...}`; a private channel before
  login is 30004; more than `max_ops_per_second` ops on one connection earn 30006 "request too many"
  (an unpaced resubscription of many channels, ccxt #24458);
- pushes `{"action": "snapshot", "arg": ..., "data": [...], "ts": ...}`: a ticker at once on subscribe and
  whenever `move_price` moves it; an order of the account whenever the fake places, fills or cancels it
  (FakeBitget calls `order_changed`), shaped like Bitget's Order Channel (v2 spot: accBaseVolume,
  priceAvg, newSize, feeDetail with the fee paid negative, fillPrice / baseVolume / fillFee of the last
  fill; v2 futures: size, posSide, tradeSide; v3: the UTA order topic, category lower case, feeDetail
  with the fee paid positive).

Test controls: `disconnect()` closes every connection (Bitget recycles its connections), `refuse` makes
new connections fail while set, `lose_order_pushes` drops the order pushes, `sent` / `received` count
messages, `errors` (and `errors_on`, by path) list the error codes sent.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    from tests.fake_bitget import FakeAccount, FakeBitget, FakeOrder

PATHS = ("/v2/ws/public", "/v2/ws/private", "/v3/ws/public", "/v3/ws/private")
LOGIN_WINDOW_S = 30


@dataclass
class Session:
    path: str
    ws: web.WebSocketResponse
    account: FakeAccount | None = None
    args: list[dict[str, Any]] = field(default_factory=list)  # subscribed channels
    ops: deque[float] = field(default_factory=deque)  # times of the last ops (rate limit)
    outbox: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)

    @property
    def v3(self) -> bool:
        return self.path.startswith("/v3/")

    @property
    def private(self) -> bool:
        return self.path.endswith("/private")


class FakeBitgetWs:
    def __init__(self, fake: FakeBitget) -> None:
        self.fake = fake
        self.sessions: list[Session] = []
        self.max_ops_per_second = 10  # Bitget: 10 messages a second per connection
        self.refuse = False
        self.lose_order_pushes = False  # order changes are not pushed (a push Bitget never sends)
        self.sent: Counter[str] = Counter()  # pushes and answers by kind (ticker, orders, ack, pong, ...)
        self.received: Counter[str] = Counter()  # by op (login, subscribe, ping, ...)
        self.errors: list[str] = []
        self.errors_on: Counter[tuple[str, str]] = Counter()  # (path, code) -> errors sent
        self.connections = 0
        self.logins: list[float] = []  # when each login was accepted (time.monotonic())
        spot = fake._recorded[("fetchTicker", "public spot ticker")]["data"][0]
        swap = fake._recorded[("fetchTicker", "uta swap ticker")]["data"][0]
        # (SPOT or USDT-FUTURES, symbol) -> last, bid, ask: the recorded tickers the REST fake answers
        self.prices: dict[tuple[str, str], tuple[Decimal, Decimal, Decimal]] = {
            ("SPOT", spot["symbol"]): (
                Decimal(spot["lastPr"]),
                Decimal(spot["bidPr"]),
                Decimal(spot["askPr"]),
            ),
            ("USDT-FUTURES", swap["symbol"]): (
                Decimal(swap["lastPrice"]),
                Decimal(swap["bid1Price"]),
                Decimal(swap["ask1Price"]),
            ),
        }

    def mount(self, app: web.Application) -> None:
        for path in PATHS:
            app.router.add_get(path, self._serve)

    # --- test controls --------------------------------------------------------------------------

    async def disconnect(self) -> None:
        """Close every connection from the server's side."""
        for session in list(self.sessions):
            await session.ws.close(code=1000, message=b"connection recycled")

    def subscriptions(self, channel: str) -> list[dict[str, Any]]:
        """Every live subscription to `channel` (v2 channel or v3 topic) over all connections."""
        return [a for s in self.sessions for a in s.args if (a.get("channel") or a.get("topic")) == channel]

    def move_price(
        self, symbol: str, last: Decimal, bid: Decimal | None = None, ask: Decimal | None = None
    ) -> None:
        """The spot price of `symbol` moves: every ticker subscription of it gets a push."""
        self.prices[("SPOT", symbol)] = (last, bid or last, ask or last)
        for session in self.sessions:
            for arg in session.args:
                if (arg.get("channel") or arg.get("topic")) == "ticker" and _market(arg) == ("SPOT", symbol):
                    self._push(session, arg, [self._ticker(session, arg)], "ticker")

    # --- what the REST fake tells --------------------------------------------------------------

    def order_changed(
        self, account: FakeAccount, order: FakeOrder, fill: tuple[Decimal, Decimal, Decimal] | None
    ) -> None:
        """An order of `account` was placed, filled (`fill`: qty, price, fee of this fill) or cancelled."""
        if self.lose_order_pushes:
            return
        for session in self.sessions:
            if session.account is not account:
                continue
            for arg in session.args:
                if self._covers(session, arg, order):
                    data = _v3_order(order, account) if session.v3 else _v2_order(order, fill)
                    self._push(session, arg, [data], "orders")

    @staticmethod
    def _covers(session: Session, arg: dict[str, Any], order: FakeOrder) -> bool:
        if session.v3:
            return arg.get("topic") == "order"
        if arg.get("channel") != "orders" or str(arg.get("instType")) != order.product:
            return False
        return arg.get("instId") in ("default", order.symbol)

    # --- the protocol ---------------------------------------------------------------------------

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        if self.refuse:
            return web.Response(status=503, text="Service Temporarily Unavailable")
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        session = Session(request.path, ws)
        self.sessions.append(session)
        self.connections += 1
        writer = asyncio.create_task(self._write(session))
        try:
            async for message in ws:
                if message.type != WSMsgType.TEXT:
                    continue
                if message.data == "ping":
                    self.received["ping"] += 1
                    self._send(session, "pong", "pong")
                    continue
                try:
                    payload = json.loads(message.data)
                except ValueError:
                    self._error(session, "30016", "Param error")
                    continue
                self._handle(session, payload)
        finally:
            self.sessions.remove(session)
            session.outbox.put_nowait(None)
            await writer
        return ws

    async def _write(self, session: Session) -> None:
        while (text := await session.outbox.get()) is not None:
            if session.ws.closed:
                continue
            try:
                await session.ws.send_str(text)
            except ConnectionError:
                return

    def _handle(self, session: Session, payload: dict[str, Any]) -> None:
        op = payload.get("op")
        self.received[str(op)] += 1
        now = time.monotonic()
        while session.ops and now - session.ops[0] > 1.0:
            session.ops.popleft()
        session.ops.append(now)
        if len(session.ops) > self.max_ops_per_second:
            for arg in payload.get("args") or [None]:
                self._error(session, "30006", "request too many", arg)
            return
        if op == "login":
            self._login(session, (payload.get("args") or [{}])[0])
        elif op in ("subscribe", "unsubscribe"):
            for arg in payload.get("args") or []:
                self._subscribe(session, op, arg)
        else:
            self._error(session, "30003", "Illegal request")

    def _login(self, session: Session, arg: dict[str, Any]) -> None:
        if not session.private:
            self._error(session, "30002", "illegal request")
            return
        account = self.fake.accounts.get(str(arg.get("apiKey")))
        if account is None:
            self._error(session, "30011", "Invalid ACCESS_KEY")
            return
        if arg.get("passphrase") != account.passphrase:
            self._error(session, "30012", "Invalid ACCESS_PASSPHRASE")
            return
        timestamp = str(arg.get("timestamp") or "")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > LOGIN_WINDOW_S:
            self._error(session, "30014", "Request timestamp expired")
            return
        expected = base64.b64encode(
            hmac.new(
                account.secret.encode(), (timestamp + "GET/user/verify").encode(), hashlib.sha256
            ).digest()
        ).decode()
        if not hmac.compare_digest(expected, str(arg.get("sign") or "")):
            self._error(session, "30015", "Invalid sign")
            return
        if session.v3 and account.kind == "classic":
            self._error(
                session,
                "40084",
                "You are in Classic Account mode, and the Unified Account API is not supported",
            )
            return
        if not session.v3 and account.kind == "uta":
            self._error(
                session,
                "40085",
                "You are in Unified Account mode, and the Classic Account API is not supported at this time",
            )
            return
        session.account = account
        self.logins.append(time.monotonic())
        self._send(session, {"event": "login", "code": "0", "msg": ""}, "login")

    def _subscribe(self, session: Session, op: str, arg: dict[str, Any]) -> None:
        channel = arg.get("topic") if session.v3 else arg.get("channel")
        public = channel == "ticker"
        if public == session.private or channel not in ("ticker", "orders", "order"):
            self._error(session, "30001", f"channel {channel} doesn't exist", arg)
            return
        if not public and session.account is None:
            self._error(session, "30004", "User not logged in", arg)
            return
        if public and _market(arg) not in self.prices:
            self._error(session, "30001", f"instId {_market(arg)[1]} doesn't exist", arg)
            return
        if op == "unsubscribe":
            if arg in session.args:
                session.args.remove(arg)
            self._send(session, {"event": "unsubscribe", "arg": arg}, "ack")
            return
        if arg not in session.args:
            session.args.append(arg)
        self._send(session, {"event": "subscribe", "arg": arg}, "ack")
        if public:  # Bitget pushes the ticker at once
            self._push(session, arg, [self._ticker(session, arg)], "ticker")

    def _ticker(self, session: Session, arg: dict[str, Any]) -> dict[str, Any]:
        symbol = _market(arg)[1]
        last, bid, ask = self.prices[_market(arg)]
        recorded = self.fake._recorded[("fetchTicker", "public spot ticker")]["data"][0]
        ts = str(int(time.time() * 1000))
        if session.v3:
            return {
                "highPrice24h": recorded["high24h"], "lowPrice24h": recorded["low24h"],
                "openPrice24h": recorded["open"], "lastPrice": str(last), "turnover24h": recorded["quoteVolume"],
                "volume24h": recorded["baseVolume"], "bid1Price": str(bid), "ask1Price": str(ask),
                "bid1Size": recorded["bidSz"], "ask1Size": recorded["askSz"], "price24hPcnt": recorded["change24h"],
            }  # fmt: skip
        return {
            "instId": symbol, "lastPr": str(last), "open24h": recorded["open"], "high24h": recorded["high24h"],
            "low24h": recorded["low24h"], "change24h": recorded["change24h"], "bidPr": str(bid),
            "askPr": str(ask), "bidSz": recorded["bidSz"], "askSz": recorded["askSz"],
            "baseVolume": recorded["baseVolume"], "quoteVolume": recorded["quoteVolume"],
            "openUtc": recorded["openUtc"], "changeUtc24h": recorded["changeUtc24h"], "ts": ts,
        }  # fmt: skip

    def _push(self, session: Session, arg: dict[str, Any], data: list[dict[str, Any]], kind: str) -> None:
        self._send(
            session, {"action": "snapshot", "arg": arg, "data": data, "ts": int(time.time() * 1000)}, kind
        )

    def _error(self, session: Session, code: str, msg: str, arg: dict[str, Any] | None = None) -> None:
        self.errors.append(code)
        self.errors_on[(session.path, code)] += 1
        message: dict[str, Any] = {"event": "error", "code": int(code), "msg": msg}
        if arg is not None:
            message["arg"] = arg
        self._send(session, message, "error")

    def _send(self, session: Session, message: Any, kind: str) -> None:
        self.sent[kind] += 1
        session.outbox.put_nowait(message if isinstance(message, str) else json.dumps(message))


def _market(arg: dict[str, Any]) -> tuple[str, str]:
    """(SPOT or USDT-FUTURES, symbol) of a ticker subscription (v2: instId, v3: symbol, lower case type)."""
    inst_type = str(arg.get("instType") or "").upper()
    return inst_type, str(arg.get("instId") or arg.get("symbol") or "")


def _text(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


def _v2_order(order: FakeOrder, fill: tuple[Decimal, Decimal, Decimal] | None) -> dict[str, Any]:
    """Bitget's v2 Order Channel entry (spot or USDT-M futures): cumulative fills in accBaseVolume /
    priceAvg / feeDetail (fees paid negative), the last fill's in fillPrice / baseVolume / fillFee."""
    spot = order.product == "SPOT"
    fee_detail = [{"feeCoin": order.fee_coin, "fee": _text(-order.fee)}] if order.fee else []
    view: dict[str, Any] = {
        "instId": order.symbol,
        "orderId": order.order_id,
        "clientOid": order.client_oid,
        "orderType": order.order_type,
        "force": order.force,
        "side": order.side,
        "accBaseVolume": _text(order.filled),
        "priceAvg": _text(order.avg_price),
        "status": order.status,
        "cTime": str(order.c_time),
        "uTime": str(order.u_time),
        "feeDetail": fee_detail,
        "enterPointSource": "API",
        "stpMode": "none",
    }
    if order.price is not None:
        view["price"] = _text(order.price)
    if spot:
        # newSize: the quantity (a market buy's: the quote amount it spends)
        view.update(newSize=_text(order.size), notional=_text(order.size * (order.price or Decimal(1))))
    else:
        view.update(
            size=_text(order.size), posSide="net", posMode="one_way_mode", marginMode="crossed",
            marginCoin="USDT", leverage=str(order.leverage), tradeSide=f"{order.side}_single",
            reduceOnly="yes" if order.reduce_only else "no", notionalUsd=_text(order.size * (order.price or Decimal(0))),
            pnl=_text(order.realized),
        )  # fmt: skip
    if fill is not None:
        qty, price, fee = fill
        view.update(
            fillPrice=_text(price), baseVolume=_text(qty), fillFee=_text(-fee), fillFeeCoin=order.fee_coin,
            fillTime=str(order.u_time), tradeId=str(order.u_time), tradeScope="M",
        )  # fmt: skip
        if not spot:
            view["fillNotionalUsd"] = _text(qty * price)
    return view


def _v3_order(order: FakeOrder, account: FakeAccount) -> dict[str, Any]:
    """The UTA order topic's entry: the v3 order (as its REST order-info gives it), category lower case."""
    from tests.fake_bitget_v3 import order_view

    view = order_view(order, account)
    view["category"] = view["category"].lower()
    view["reduceOnly"] = view["reduceOnly"].lower()
    return view
