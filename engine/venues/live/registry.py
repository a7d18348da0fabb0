"""The ccxt clients behind `CcxtExchange`: one per user account (shared by that user's bots, so
ccxt's rate limiter sees all their requests), set up with the account's keys, demo trading and our
fixes to ccxt; markets loaded once per exchange and shared between clients. Every client's public
requests (markets, tickers, candles) also pass one limiter for the whole process, the budget of its
address (engine.public_limits), which the public market data shares (`public_limiter`)."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import ccxt
import ccxt.async_support as ccxt_async
import ccxt.pro as ccxt_pro
from aiolimiter import AsyncLimiter

from engine.endpoints import point_at
from engine.exchange import ExchangeNotSupported, Market, MarketType
from engine.public_limits import public_limiter as new_public_limiter
from engine.public_limits import share_public_limit
from engine.venues.live.account_kind import AccountKind, KeyInfo, key_info, probe_kind
from engine.venues.live.adapter import AccountKey, CcxtExchange
from engine.venues.live.credentials import Credentials
from engine.venues.live.errors import RetryPolicy, Sleep, call_with_retry
from engine.venues.live.markets import markets_from_ccxt
from engine.venues.live.streams import OrderStream, Pacer, StreamSettings, TickerStream

log = logging.getLogger(__name__)

KindListener = Callable[[AccountKey, AccountKind], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class KeyCheck:
    """What a key opens, read before the key is trusted (see `CcxtExchangeRegistry.check_key`): its
    permissions and account id, and the account's USDT in the spot wallet and the futures account (a
    unified account has one wallet for both)."""

    info: KeyInfo
    spot_usdt: Decimal
    futures_usdt: Decimal


@dataclass(slots=True)
class _Connection:
    client: Any
    adapter: CcxtExchange
    users: int
    orders: OrderStream | None = None  # the account's orders over its websocket (`streams` set)


class CcxtExchangeRegistry:
    """Owns the ccxt clients: one per (exchange id, account, demo flag), handed out as a shared
    `CcxtExchange`, and one market table per (exchange id, demo flag).

    `api_base_url` points every REST endpoint elsewhere (tests, a proxy); `ccxt_options` is
    merged into each client's ccxt config. `streams` (None: REST only) follows each account's orders
    and the process's tickers over the exchange's websocket (engine.venues.live.streams): one order
    stream per connection, closed with it, and one ticker stream per (exchange, demo, account kind).
    `public_limiter` is the process's limit on public requests (engine.public_limits; one of 10
    requests a second by default).
    """

    def __init__(
        self,
        *,
        retry: RetryPolicy | None = None,
        timeout_ms: int = 10_000,
        api_base_url: str | None = None,
        ccxt_options: Mapping[str, Any] | None = None,
        sleep: Sleep = asyncio.sleep,
        streams: StreamSettings | None = None,
        public_limiter: AsyncLimiter | None = None,
    ) -> None:
        self.streams = streams
        self._tickers: dict[tuple[str, bool, bool], TickerStream] = {}
        self._dials = Pacer(streams.dial_pace) if streams is not None else None
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self.public_limiter = public_limiter or new_public_limiter()
        self._timeout_ms = timeout_ms
        self._api_base_url = api_base_url
        self._ccxt_options = dict(ccxt_options or {})
        self._connections: dict[AccountKey, _Connection] = {}
        self._loaders: dict[tuple[str, bool], Any] = {}  # public clients that loaded the markets
        self._markets: dict[tuple[str, bool], dict[str, Market]] = {}
        self._locks: defaultdict[object, asyncio.Lock] = defaultdict(asyncio.Lock)
        # told when an account's kind is found (keys without one) or found changed (an upgrade)
        self.kind_listeners: list[KindListener] = []

    async def connect(
        self,
        exchange_id: str,
        account_id: str | int,
        credentials: Credentials,
        *,
        demo: bool = False,
        default_type: MarketType = "spot",
        kind: AccountKind | None = None,
    ) -> CcxtExchange:
        """The account's shared exchange handle; every `connect` needs a matching `close()`. `kind`:
        the Bitget account's kind stored with the keys (classic: API v2, uta: v3). Keys stored before
        kinds were (None) start as classic: a unified account's first call is refused (40085), the
        kind is detected then, the listeners told, and the call retried (see `redetect`)."""
        key = AccountKey(exchange_id, str(account_id), demo)
        async with self._locks[key]:
            connection = self._connections.get(key)
            if connection is not None:
                _apply_credentials(connection.client, credentials)  # the user may have new keys
            else:
                market_source, markets = await self._shared_markets(exchange_id, demo)
                client = self._new_client(exchange_id, credentials, demo)
                client.set_markets_from_exchange(market_source)
                adapter = CcxtExchange(self, key, client, markets, default_type)
                connection = self._connections[key] = _Connection(client, adapter, 0)
                self._attach_streams(connection, exchange_id, credentials, demo, market_source, markets)
            if exchange_id == "bitget" and kind is not None:
                connection.client.options["uta"] = kind == "uta"
            if connection.orders is not None and _keys_changed(connection.orders.ws, credentials, connection):
                await connection.orders.restart()
            connection.users += 1
            return connection.adapter

    def _attach_streams(
        self,
        connection: _Connection,
        exchange_id: str,
        credentials: Credentials,
        demo: bool,
        market_source: Any,
        markets: dict[str, Market],
    ) -> None:
        """The account's order stream and the shared tickers, when streams are on and ccxt.pro has
        them for the exchange."""
        if self.streams is None or not _streams_orders(exchange_id):
            return
        ws = self._new_client(exchange_id, credentials, demo, module=ccxt_pro)
        ws.set_markets_from_exchange(market_source)
        adapter = connection.adapter
        key = adapter.key
        connection.orders = OrderStream(
            ws,
            connection.client,
            markets,
            self.streams,
            adapter._order_from_ccxt,
            redetect=lambda: self.redetect(key),
            dials=self._dials,
        )
        adapter.attach_streams(
            connection.orders, lambda uta: self._ticker_stream(exchange_id, demo, uta, market_source)
        )
        connection.orders.start()

    def _ticker_stream(
        self, exchange_id: str, demo: bool, uta: bool, market_source: Any
    ) -> TickerStream | None:
        if self.streams is None:
            return None
        key = (exchange_id, demo, uta)
        stream = self._tickers.get(key)
        if stream is None:
            ws = self._new_client(exchange_id, None, demo, module=ccxt_pro)
            ws.set_markets_from_exchange(market_source)
            if exchange_id == "bitget":
                ws.options["uta"] = uta
            stream = self._tickers[key] = TickerStream(ws, self.streams)
        return stream

    async def redetect(self, key: AccountKey) -> bool:
        """Bitget refused a call of the account for its kind: detect the kind again; True (and the
        listeners told) when it changed, so the call can be retried on the other API."""
        connection = self._connections.get(key)
        if connection is None or key.exchange_id != "bitget":
            return False
        client = connection.client
        before: AccountKind = "uta" if client.options.get("uta") else "classic"
        kind, _ = await probe_kind(client)
        if kind == before:
            return False
        log.warning("account %s is now a %s account (was %s)", key.account_id, kind, before)
        client.options["uta"] = kind == "uta"
        if connection.orders is not None:  # subscribe on the other API's websocket
            await connection.orders.restart()
        await self._tell_kind(key, kind)
        return True

    async def _tell_kind(self, key: AccountKey, kind: AccountKind) -> None:
        for listener in self.kind_listeners:
            try:
                await listener(key, kind)
            except Exception:  # a listener's failure never fails the trading call
                log.exception("account kind listener failed for account %s", key.account_id)

    async def check_key(self, exchange_id: str, credentials: Credentials, *, demo: bool = False) -> KeyCheck:
        """Authenticate a key before it is stored: its kind, account id and permissions, and the
        account's USDT in each wallet. Nothing is kept: the client is closed afterwards."""
        market_source, markets = await self._shared_markets(exchange_id, demo)
        client = self._new_client(exchange_id, credentials, demo)
        client.set_markets_from_exchange(market_source)
        try:
            info = await key_info(client)
            probe = CcxtExchange(self, AccountKey(exchange_id, "key-check", demo), client, markets, "spot")
            spot = (await probe.fetch_balance("spot")).total("USDT")
            futures = (await probe.fetch_balance("swap")).total("USDT")
            return KeyCheck(info, spot, futures)
        finally:
            await client.close()

    async def release(self, key: AccountKey) -> None:
        """One user of the account is done; the last one closes the ccxt client."""
        async with self._locks[key]:
            connection = self._connections.get(key)
            if connection is None:
                return
            connection.users -= 1
            if connection.users <= 0:
                del self._connections[key]
                if connection.orders is not None:
                    await connection.orders.close()
                await connection.client.close()
                if not self._connections:  # no account left to read tickers for
                    tickers, self._tickers = list(self._tickers.values()), {}
                    await asyncio.gather(*(t.close() for t in tickers), return_exceptions=True)

    async def close(self) -> None:
        """Close every client (application shutdown)."""
        connections, self._connections = list(self._connections.values()), {}
        loaders, self._loaders = list(self._loaders.values()), {}
        self._markets.clear()
        streams = [c.orders for c in connections if c.orders is not None] + list(self._tickers.values())
        self._tickers = {}
        await asyncio.gather(*(stream.close() for stream in streams), return_exceptions=True)
        clients = [c.client for c in connections] + loaders
        # each close lingers (ccxt's timeout_on_exit) to let sockets shut cleanly: do them together
        await asyncio.gather(*(client.close() for client in clients), return_exceptions=True)

    async def _shared_markets(self, exchange_id: str, demo: bool) -> tuple[Any, dict[str, Market]]:
        key = (exchange_id, demo)
        async with self._locks[key]:
            if key not in self._markets:
                loader = self._new_client(exchange_id, None, demo)
                try:
                    await call_with_retry(self.retry, self.sleep, loader.load_markets, name="load_markets")
                except BaseException:
                    await loader.close()
                    raise
                self._loaders[key] = loader
                self._markets[key] = markets_from_ccxt(loader.markets, loader.precisionMode)
            return self._loaders[key], self._markets[key]

    def _new_client(
        self, exchange_id: str, credentials: Credentials | None, demo: bool, *, module: Any = ccxt_async
    ) -> Any:
        exchange_class = getattr(module, exchange_id, None)
        if exchange_class is None:
            raise ExchangeNotSupported(f"ccxt has no exchange {exchange_id!r}")
        config: dict[str, Any] = {"enableRateLimit": True, "timeout": self._timeout_ms}
        options: dict[str, Any] = {}
        if exchange_id == "bitget":
            # Set per account from its kind (`connect`); without it ccxt would probe
            # /api/v3/account/settings on its first call and swallow the probe's errors.
            options["uta"] = False
        config.update(self._ccxt_options)
        config["options"] = {**options, **self._ccxt_options.get("options", {})}
        client = exchange_class(config)
        if credentials is not None:
            _apply_credentials(client, credentials)
        _keep_rejected_batch_entries(client)
        if demo:
            _enable_demo(client, exchange_id)
        return share_public_limit(point_at(client, self._api_base_url), self.public_limiter)


@functools.cache
def _streams_orders(exchange_id: str) -> bool:
    """ccxt.pro follows the exchange's orders and tickers over its websocket."""
    exchange_class = getattr(ccxt_pro, exchange_id, None)
    if exchange_class is None:
        return False
    has = exchange_class().describe().get("has", {})
    return bool(has.get("watchOrders") and has.get("watchTicker"))


def _keys_changed(ws: Any, credentials: Credentials, connection: _Connection) -> bool:
    """The user entered new keys since the websocket logged in: it logs in again with them."""
    if (ws.apiKey, ws.secret, ws.password) == (
        credentials.api_key,
        credentials.secret,
        credentials.passphrase or "",
    ):
        return False
    _apply_credentials(ws, credentials)
    return True


def _apply_credentials(client: Any, credentials: Credentials) -> None:
    client.apiKey = credentials.api_key
    client.secret = credentials.secret
    client.password = credentials.passphrase or ""


def _keep_rejected_batch_entries(client: Any) -> None:
    """ccxt parses the refused entries of a batch (Bitget's failureList) without a symbol, so its
    parse_orders filters them out and their errorCode/errorMsg is lost. Give them the batch's
    symbol back; an entry that still goes missing is reported as rejected anyway."""
    parse_order = client.parse_order

    def parse_order_keeping_rejections(order: Any, market: Any = None) -> Any:
        parsed = parse_order(order, market)
        if parsed.get("status") == "rejected" and parsed.get("symbol") is None and market:
            parsed["symbol"] = market["symbol"]
        return parsed

    client.parse_order = parse_order_keeping_rejections


def _enable_demo(client: Any, exchange_id: str) -> None:
    # Bitget's demo trading is its live hosts plus a PAPTRADING: 1 header (ccxt's bitget override);
    # other exchanges have a 'demo' url set or only a sandbox ('test').
    try:
        if exchange_id == "bitget" or "demo" in client.urls:
            client.enable_demo_trading(True)
        else:
            client.set_sandbox_mode(True)
    except ccxt.NotSupported as exc:
        raise ExchangeNotSupported(f"{exchange_id} has no demo trading") from exc
