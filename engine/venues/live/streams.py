"""What the live venue follows over the exchange's websocket (ccxt.pro, shipped in the ccxt package)
instead of asking REST every tick: one account's orders (`OrderStream`) and the process's tickers
(`TickerStream`, one subscription per symbol however many bots watch it).

An account's order stream is trusted only while it is *healthy*: its subscription acked on the current
connection, and, per symbol, a REST snapshot of the open orders taken after that ack (so nothing that
happened while it was disconnected is missed). The snapshot is the live adapter's own REST
`fetch_open_orders`: a runtime that finds the stream not healthy falls back to REST, and that REST call
syncs the stream for the symbol. Every `resync_every` seconds the symbols fall out of sync again: one
REST reconcile per account and symbol, the safety net behind pushes that never came.

Reconnects back off exponentially with jitter, and (re)subscriptions are paced: Bitget answers 30006
"request too many" to more than 10 messages a second on one connection, which an unpaced resubscription
of many channels earns after every disconnect (ccxt #24458; Bitget recycles connections every 24 h).

Spot orders only (what grid bots trade): a perpetual's stops are plan orders on another channel, so
`orders_version` and `open_client_order_ids` answer None for swap markets and the runtime stays on REST.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from engine.exchange import Market, Order, Ticker
from engine.venues.live.markets import dec

log = logging.getLogger(__name__)

OrderFromCcxt = Callable[[dict[str, Any], Market], Order]
KIND_REFUSALS = ("40084", "40085")  # Bitget: classic keys on v3, unified ones on v2 (REST and websocket)


@dataclass(frozen=True, slots=True)
class StreamSettings:
    """How the live venue uses websockets (the registry's `streams`; None there: REST only)."""

    # s: an older ticker is not served: REST answers (and, while the subscription is up but the price
    # quiet, that answer is served for as long again: one REST ticker per symbol and period at most)
    ticker_max_age: float = 30.0
    resync_every: float = 300.0  # s: the periodic REST reconcile of each account's symbols
    backoff_base: float = 0.5  # s: the first reconnect's delay, doubling up to backoff_max
    backoff_max: float = 30.0
    pace: float = 0.2  # s between two subscriptions sent on one stream (Bitget: 10 messages/s)
    dial_pace: float = 0.05  # s between two accounts' (re)connections: a mass reconnect is spread out
    closed_kept: int = 20_000  # finished orders remembered per account for look-ups by client id


class Backoff:
    """Exponential backoff with jitter: attempt n waits between half and all of base x 2^n (capped)."""

    def __init__(self, base: float, cap: float, rng: Callable[[], float] = random.random) -> None:
        self.base, self.cap, self._rng, self.attempts = base, cap, rng, 0

    def next(self) -> float:
        delay = min(self.cap, self.base * 2**self.attempts)
        self.attempts += 1
        return delay / 2 + self._rng() * delay / 2

    def reset(self) -> None:
        self.attempts = 0


class Pacer:
    """At most one subscription every `interval` seconds, whoever asks."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def turn(self) -> None:
        async with self._lock:
            wait = self._next - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._next = time.monotonic() + self.interval


def _on_acks(ws: Any, listener: Callable[[Any, Mapping[str, Any]], None]) -> None:
    """Tell `listener(ws_client_connection, arg)` of every subscription the exchange acks: ccxt.pro's
    bitget reads the ack ({"event": "subscribe", "arg": ...}) and drops it, and its watch_* calls
    return only on the first push, which an order channel may not send for hours."""
    handle = ws.handle_subscription_status

    def acked(client: Any, message: Any) -> Any:
        if isinstance(message, Mapping):
            listener(client, message.get("arg") or {})
        return handle(client, message)

    ws.handle_subscription_status = acked


async def _drop_connections(ws: Any) -> None:
    """Close every websocket of the ccxt.pro client: the next watch dials anew and sends every
    subscription again (ccxt keeps a failed subscription as sent, ccxt #19041)."""
    clients = list((ws.clients or {}).values())
    ws.clients = {}
    for client in clients:
        try:
            await client.close()
        except Exception:  # already closed or half open: nothing to save
            log.debug("closing a websocket failed", exc_info=True)


def order_from_push(raw: dict[str, Any], market: Market, convert: OrderFromCcxt) -> Order | None:
    """The `Order` the REST path builds (`convert`: CcxtExchange._order_from_ccxt) from a pushed one as
    ccxt.pro parsed it, or None when the push does not tell all of it (a fill without its fee). ccxt
    reads a v2 push's fill as the last trade's size (baseVolume) and only its first fee entry: the
    order's own totals are accBaseVolume and every feeDetail entry (the fee paid negative)."""
    info = raw.get("info") or {}
    fixed = dict(raw)
    if "category" in info:  # v3 (unified account): read from its own fields by the REST conversion
        filled = dec(info.get("cumExecQty")) or 0
        known = any(dec(item.get("fee")) for item in info.get("feeDetail") or [])
        fixed["lastUpdateTimestamp"] = raw.get("lastUpdateTimestamp") or raw.get("lastTradeTimestamp")
    else:
        filled = dec(info.get("accBaseVolume")) or 0
        fees = [
            {"cost": abs(cost), "currency": item.get("feeCoin")}
            for item in info.get("feeDetail") or []
            if (cost := dec(item.get("fee") if "fee" in item else item.get("totalFee")))
        ]
        known = bool(fees)
        fixed.update(filled=str(filled), fees=fees, fee=None)
        if info.get("orderType") == "market" and info.get("side") == "buy":
            fixed["amount"] = str(filled)  # a market buy's newSize is the quote it spends
    if filled and not known:
        return None
    return convert(fixed, market)


class OrderStream:
    """One account's orders over its private websocket (see the module docstring). `ws`: a ccxt.pro
    client with the account's keys, `rest`: the account's REST client (its `uta` option says which
    API the account speaks), `convert`: the adapter's ccxt -> `Order` conversion, `redetect`: asked
    when Bitget refuses the login for the account's kind (the registry detects it again), `dials`:
    the pacer every account's (re)connection waits for (after a disconnect of all of them, they log in
    one by one)."""

    _serials = iter(range(1, 1 << 62))

    def __init__(
        self,
        ws: Any,
        rest: Any,
        markets: Mapping[str, Market],
        settings: StreamSettings,
        convert: OrderFromCcxt,
        redetect: Callable[[], Awaitable[bool]] | None = None,
        dials: Pacer | None = None,
    ) -> None:
        self.ws = ws
        self.settings = settings
        self._rest = rest
        self._markets = markets
        self._convert = convert
        self._redetect = redetect
        self._serial = next(self._serials)
        self._open: dict[str, dict[str, int]] = {}  # symbol -> open client id -> seq of its last event
        self._final: OrderedDict[str, Order | None] = OrderedDict()  # done orders (None: not told whole)
        self._groups: dict[str, dict[str, int]] = {}  # symbol -> client id prefix -> changes
        self._lengths: dict[str, set[int]] = {}
        self._seq = 0
        self._epoch = 0  # one per acked subscription
        self._acked: Any = None  # the ws connection the current subscription was acked on
        self._synced: dict[str, int] = {}  # symbol -> epoch of its last REST snapshot
        self._resync_at = time.monotonic() + settings.resync_every
        self._backoff = Backoff(settings.backoff_base, settings.backoff_max)
        self._pacer = dials or Pacer(settings.dial_pace)  # shared by the registry's accounts
        self._task: asyncio.Task[None] | None = None
        self.pushes = 0  # order updates received
        # told (symbol, client order id) of every pushed change, at once: a runtime can tick the bot
        # now instead of at its next interval (fill -> booked latency)
        self.listeners: list[Callable[[str, str], None]] = []
        self.reconnects = 0
        _on_acks(ws, self._ack)

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="order-stream")

    async def restart(self) -> None:
        """Subscribe again from scratch (new keys, another account kind)."""
        if asyncio.current_task() is self._task:  # the stream's own redetect: its loop subscribes again
            return
        await self._stop()
        self.start()

    async def close(self) -> None:
        await self._stop()
        await self.ws.close()

    async def _stop(self) -> None:
        task, self._task = self._task, None
        self._acked = None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await _drop_connections(self.ws)

    @property
    def healthy(self) -> bool:
        """Subscribed, on a connection that is still up."""
        acked = self._acked
        return acked is not None and not acked.closed() and (self.ws.clients or {}).get(acked.url) is acked

    async def _run(self) -> None:
        while True:
            uta = bool(self._rest.options.get("uta"))
            self.ws.options["uta"] = uta
            params: dict[str, Any] = {"uta": True} if uta else {"type": "spot"}
            await self._pacer.turn()
            try:
                while True:
                    self._apply(await self.ws.watch_orders(None, None, None, dict(params)))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._acked = None
                self.reconnects += 1
                delay = self._backoff.next()
                log.warning("order stream down (%s: %s), again in %.1f s", type(exc).__name__, exc, delay)
                await _drop_connections(self.ws)
                if self._redetect is not None and any(code in str(exc) for code in KIND_REFUSALS):
                    try:
                        await self._redetect()
                    except Exception as error:  # REST down too: the next round tries again
                        log.warning("account kind not detected again (%s)", type(error).__name__)
                await asyncio.sleep(delay)

    def _ack(self, client: Any, arg: Mapping[str, Any]) -> None:
        if (arg.get("channel") or arg.get("topic")) in ("orders", "order"):
            self._acked = client
            self._epoch += 1
            self._backoff.reset()

    # --- pushes ---------------------------------------------------------------------------------

    def _apply(self, raws: Iterable[dict[str, Any]]) -> None:
        for raw in raws:
            self.pushes += 1
            market = self._markets.get(str(raw.get("symbol")))
            cid = raw.get("clientOrderId")
            if market is None or market.type != "spot" or not cid:
                continue
            self._seq += 1
            opened = self._open.setdefault(market.symbol, {})
            if raw.get("status") == "open":
                if cid not in self._final:
                    opened[cid] = self._seq
            else:
                opened.pop(cid, None)
                self._finish(cid, order_from_push(raw, market, self._convert))
            self._bump(market.symbol, cid)
            for listener in self.listeners:
                try:
                    listener(market.symbol, cid)
                except Exception:  # a listener's failure never stops the stream
                    log.exception("order stream listener failed")

    def _finish(self, cid: str, order: Order | None) -> None:
        self._final[cid] = order
        self._final.move_to_end(cid)
        while len(self._final) > self.settings.closed_kept:
            self._final.popitem(last=False)

    def _bump(self, symbol: str, cid: str | None) -> None:
        groups = self._groups.get(symbol)
        if not groups:
            return
        if cid is None:  # everything of the symbol changed (a snapshot)
            for prefix in groups:
                groups[prefix] += 1
            return
        for length in self._lengths[symbol]:
            prefix = cid[:length]
            if prefix in groups:
                groups[prefix] += 1

    # --- what the adapter asks ------------------------------------------------------------------

    def _in_sync(self, symbol: str) -> bool:
        now = time.monotonic()
        if now >= self._resync_at:  # the periodic REST reconcile: every symbol syncs again
            self._resync_at = now + self.settings.resync_every
            self._synced.clear()
        return self.healthy and self._synced.get(symbol) == self._epoch

    def orders_version(self, symbol: str, prefix: str | None = None) -> object:
        """Changes whenever an order of `symbol` (with `prefix`: whose client id starts with it) changes;
        None while the stream cannot be trusted for the symbol."""
        if not self._in_sync(symbol):
            return None
        groups = self._groups.setdefault(symbol, {})
        key = prefix or ""
        if key not in groups:
            groups[key] = 0
            self._lengths.setdefault(symbol, set()).add(len(key))
        return (self._serial, self._epoch, groups[key])

    def open_client_order_ids(self, symbol: str) -> Collection[str] | None:
        """The client ids open on `symbol` (a live view); None while the stream cannot be trusted."""
        if not self._in_sync(symbol):
            return None
        return self._open.setdefault(symbol, {}).keys()

    def closed_order(self, client_order_id: str) -> Order | None:
        """The order under this id once it is done, as its last push told it whole (else None)."""
        return self._final.get(client_order_id)

    def snapshot_token(self) -> tuple[int, int] | None:
        """Taken before a REST list of open orders is asked: the list syncs the stream only when the
        subscription was up before it was asked and still is when it comes (`take_snapshot`)."""
        return (self._epoch, self._seq) if self.healthy else None

    def take_snapshot(self, symbol: str, orders: Iterable[Order], token: tuple[int, int] | None) -> None:
        if token is None or not self.healthy or token[0] != self._epoch:
            return
        listed = {o.client_order_id for o in orders if o.client_order_id}
        opened = self._open.setdefault(symbol, {})
        for cid, seq in list(opened.items()):
            if cid not in listed and seq <= token[1]:
                del opened[cid]  # gone while we were not told: its look-up by REST says how
        for cid in listed:
            if cid not in self._final and cid not in opened:
                self._seq += 1
                opened[cid] = self._seq
        self._synced[symbol] = self._epoch
        self._bump(symbol, None)

    def note(self, orders: Iterable[Order]) -> None:
        """Orders the REST path placed or read: open ones are open unless a push already told they
        are done; done ones, told whole by REST, are remembered."""
        for order in orders:
            cid = order.client_order_id
            market = self._markets.get(order.symbol)
            if not cid or market is None or market.type != "spot" or cid in self._final:
                continue
            self._seq += 1
            if order.status == "open":
                self._open.setdefault(order.symbol, {})[cid] = self._seq
            else:
                self._open.setdefault(order.symbol, {}).pop(cid, None)
                self._finish(cid, order)
            self._bump(order.symbol, cid)


class TickerStream:
    """The process's tickers over one public websocket: a symbol is subscribed the first time a bot
    asks for it, once, whatever the number of bots; `ticker` serves its last push while it is fresh.
    A quiet symbol (Bitget pushes a ticker when it changes) goes stale: then one REST read (`refresh`)
    answers every caller of that moment, and is served as the latest while the subscription is up."""

    def __init__(self, ws: Any, settings: StreamSettings) -> None:
        self.ws, self.settings = ws, settings
        self._latest: dict[str, tuple[Ticker, float]] = {}
        self._live: set[str] = set()  # subscribed symbols with a push since their last error
        self._refreshing: dict[str, asyncio.Future[Ticker]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._pacer = Pacer(settings.pace)
        self.pushes = 0

    def ticker(self, symbol: str) -> Ticker | None:
        if symbol not in self._tasks:
            self._tasks[symbol] = asyncio.get_running_loop().create_task(
                self._watch(symbol), name=f"ticker-stream {symbol}"
            )
        latest = self._latest.get(symbol)
        if latest is None or time.monotonic() - latest[1] > self.settings.ticker_max_age:
            return None
        return latest[0]

    async def refresh(self, symbol: str, fetch: Callable[[], Awaitable[Ticker]]) -> Ticker:
        """`fetch()` (a REST read) once for everyone asking at the same time; its answer is the latest
        while the symbol's subscription is up."""
        pending = self._refreshing.get(symbol)
        if pending is None:
            pending = self._refreshing[symbol] = asyncio.ensure_future(fetch())

            def done(future: asyncio.Future[Ticker]) -> None:
                self._refreshing.pop(symbol, None)
                if not future.cancelled() and future.exception() is None and symbol in self._live:
                    self._latest[symbol] = (future.result(), time.monotonic())

            pending.add_done_callback(done)
        return await asyncio.shield(pending)

    async def close(self) -> None:
        tasks, self._tasks = list(self._tasks.values()), {}
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.ws.close()

    async def _watch(self, symbol: str) -> None:
        backoff = Backoff(self.settings.backoff_base, self.settings.backoff_max)
        while True:
            await self._pacer.turn()
            try:
                while True:
                    raw = await self.ws.watch_ticker(symbol)
                    last = dec(raw.get("last")) or dec(raw.get("close"))
                    if last is None:
                        continue
                    self.pushes += 1
                    backoff.reset()
                    ticker = Ticker(
                        symbol, last, dec(raw.get("bid")), dec(raw.get("ask")), raw.get("timestamp")
                    )
                    self._latest[symbol] = (ticker, time.monotonic())
                    self._live.add(symbol)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._live.discard(symbol)
                self._latest.pop(symbol, None)
                for client in list((self.ws.clients or {}).values()):
                    # sent again on the next watch (a refused one stays marked as sent in ccxt)
                    client.subscriptions.pop("ticker:" + symbol, None)
                delay = backoff.next()
                log.warning(
                    "ticker stream of %s down (%s), again in %.1f s", symbol, type(exc).__name__, delay
                )
                await asyncio.sleep(delay)
