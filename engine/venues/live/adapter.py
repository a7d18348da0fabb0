"""The live exchange adapter: `engine.exchange.Exchange` over ccxt's async client, one account's.

Bitget first; any ccxt exchange id otherwise, where it has the calls. Prices are rounded to the tick
and amounts down to the lot step before anything is sent; ccxt's errors come out as ours, and
temporary ones are retried with exponential backoff (order creation too: the client order id makes
it idempotent, and a retry first looks the order up by that id).

Beside it in engine.venues.live: `registry` (the ccxt clients, one per account, that hand out this
adapter; the adapter sees it only as a `ClientPool`), `errors` (ccxt's errors as ours, the retries) and
`markets` (ccxt's markets as our `Market`, its numbers as Decimal).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_CEILING, Decimal
from typing import Any, NamedTuple, Protocol, TypeVar

import ccxt

from engine.exchange import (
    AssetBalance,
    AuthenticationFailed,
    Balance,
    BatchResult,
    Candle,
    ExchangeError,
    ExchangeNotSupported,
    FeeRates,
    InsufficientFunds,
    InvalidOrder,
    Market,
    MarketType,
    Order,
    OrderNotFound,
    OrderRequest,
    OrderStatus,
    Position,
    PositionMode,
    PositionSide,
    RejectedOrder,
    TemporaryExchangeError,
    Ticker,
    round_price,
    round_qty_down,
)
from engine.venues.live.errors import (
    AccountKindMismatch,
    RetryPolicy,
    Sleep,
    call_with_retry,
    is_duplicate_client_id,
    map_ccxt_error,
)
from engine.venues.live.futures import POSITION_MODE_MISMATCH, FuturesSettings
from engine.venues.live.markets import dec, dec0
from engine.venues.live.streams import OrderStream, TickerStream

log = logging.getLogger(__name__)

T = TypeVar("T")
ZERO = Decimal(0)
BATCH_LIMIT = (
    50  # Bitget takes at most 50 orders per batch request (v2: spot batch-orders, mix batch-place-order)
)
UTA_BATCH_LIMIT = 20  # and 20 on a unified account (v3 place-batch and cancel-batch: "no more than 20")
BATCH_COST, UTA_BATCH_COST = 10, 2  # a batch request's weight in single order requests (ccxt)
CLIENT_ORDER_ID_MAX = 50  # Bitget rejects longer clientOid values


def _text(value: Decimal) -> str:
    return format(value, "f")


@dataclass(slots=True)
class _Prepared:
    """An order request after rounding: what goes to ccxt."""

    req: OrderRequest
    qty: Decimal
    price: Decimal | None
    params: dict[str, Any]


class AccountKey(NamedTuple):
    """One exchange account: the key of its ccxt client and of this adapter."""

    exchange_id: str
    account_id: str
    demo: bool


class ClientPool(Protocol):
    """What the adapter needs from the pool of ccxt clients that built it (the registry)."""

    retry: RetryPolicy
    sleep: Sleep

    async def release(self, key: AccountKey) -> None: ...

    async def redetect(self, key: AccountKey) -> bool:
        """Detect the account's kind again after Bitget refused a call for it (40084/40085); True
        when the kind changed (the client now speaks the other API), so the call is worth a retry."""
        ...


def _rereading_position_mode(method: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """An order Bitget refuses for the position mode (40774: the user switched one-way and hedge mode
    since it was read) runs once more after the mode is read again; the refusal happens before anything
    is placed, so the second run cannot double an order."""

    async def run(self: CcxtExchange, *args: Any, **kwargs: Any) -> T:
        try:
            return await method(self, *args, **kwargs)
        except InvalidOrder as exc:
            if POSITION_MODE_MISMATCH not in str(exc):
                raise
            self._futures.forget_mode()
            return await method(self, *args, **kwargs)

    run.__name__ = method.__name__
    run.__doc__ = method.__doc__
    return run


def _redetecting(method: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """A call Bitget refuses for the account's kind (the user upgraded to a unified account, or the
    stored kind is wrong) runs once more after the kind is detected again; the refusal happens before
    anything is placed, so the second run cannot double an order."""

    async def run(self: CcxtExchange, *args: Any, **kwargs: Any) -> T:
        try:
            return await method(self, *args, **kwargs)
        except AccountKindMismatch:
            if not await self._registry.redetect(self._key):
                raise
            self._futures.forget()  # another API: its settings are read again
            return await method(self, *args, **kwargs)

    run.__name__ = method.__name__
    run.__doc__ = method.__doc__
    return run


def _noted(method: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """What a REST call placed or read is told to the account's order stream (an order placed is open
    before its first push comes; one read done is remembered)."""

    async def run(self: CcxtExchange, *args: Any, **kwargs: Any) -> T:
        result = await method(self, *args, **kwargs)
        stream = self._orders_stream
        if stream is not None:
            if isinstance(result, Order):
                stream.note([result])
            elif isinstance(result, BatchResult):
                stream.note(result.accepted)
        return result

    run.__name__ = method.__name__
    run.__doc__ = method.__doc__
    return run


class CcxtExchange:
    """One account's `Exchange`, shared by that account's bots (get it from the registry)."""

    def __init__(
        self,
        registry: ClientPool,
        key: AccountKey,
        client: Any,
        markets: dict[str, Market],
        default_type: MarketType,
    ) -> None:
        self._registry = registry
        self._key = key
        self._client = client
        self._markets = markets
        self._default_type = default_type
        self._futures = FuturesSettings(client, self._call)
        self._orders_stream: OrderStream | None = None  # see attach_streams
        self._tickers: Callable[[bool], TickerStream | None] | None = None

    @property
    def ccxt_client(self) -> Any:
        return self._client

    @property
    def key(self) -> AccountKey:
        return self._key

    @property
    def uta(self) -> bool:
        """A unified trading account (Bitget API v3); else a classic one (v2)."""
        return bool(self._client.options.get("uta"))

    @property
    def one_wallet(self) -> bool:
        """A unified account trades spot and futures from one wallet; a classic one keeps them apart."""
        return self.uta

    def attach_streams(
        self, orders: OrderStream | None, tickers: Callable[[bool], TickerStream | None] | None
    ) -> None:
        """Follow the account's orders over `orders` and read tickers from `tickers(uta)` (the
        registry's websocket streams, engine.venues.live.streams); without them every answer is REST."""
        self._orders_stream = orders
        self._tickers = tickers

    def on_order_change(self, listener: Callable[[str, str], None]) -> bool:
        """Call `listener(symbol, client_order_id)` whenever the order stream is told an order of the
        account changed (a synchronous call from the stream: schedule work, do not await in it); False
        when the account has no order stream."""
        if self._orders_stream is None:
            return False
        self._orders_stream.listeners.append(listener)
        return True

    def orders_version(self, symbol: str, prefix: str | None = None) -> object:
        """A value that changes whenever an order of `symbol` (with `prefix`: whose client id starts
        with it) changes, as the order stream tells; None when the stream cannot be trusted (not
        subscribed, not synced by a REST snapshot since, a swap market): the caller asks REST."""
        stream = self._orders_stream
        if stream is None or self.market(symbol).type != "spot":
            return None
        return stream.orders_version(symbol, prefix)

    def open_client_order_ids(self, symbol: str) -> Collection[str] | None:
        """The client ids of the account's open orders on `symbol` as the order stream knows them
        (a live view: use it at once); None when the stream cannot be trusted (see orders_version)."""
        stream = self._orders_stream
        if stream is None or self.market(symbol).type != "spot":
            return None
        return stream.open_client_order_ids(symbol)

    @property
    def batch_cost(self) -> int:
        """What one batch request weighs in single order requests (ccxt's Bitget costs: 20 against 2 on
        a classic account's spot and futures batches, 4 against 2 on a unified one's)."""
        return UTA_BATCH_COST if self.uta else BATCH_COST

    @property
    def batch_limit(self) -> int:
        """Orders per batch request: Bitget's 50 on a classic account, 20 on a unified one."""
        return UTA_BATCH_LIMIT if self.uta else BATCH_LIMIT

    def __repr__(self) -> str:
        exchange_id, account_id, demo = self._key
        return f"CcxtExchange({exchange_id!r}, account={account_id!r}, demo={demo})"

    async def _call(self, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        return await call_with_retry(self._registry.retry, self._registry.sleep, fn, *args, **kwargs)

    # --- markets and market data ----------------------------------------------------------------

    async def load_markets(self) -> Mapping[str, Market]:
        return self._markets

    def market(self, symbol: str) -> Market:
        market = self._markets.get(symbol)
        if market is None:
            raise InvalidOrder(f"unknown market {symbol!r} on {self._key.exchange_id}")
        return market

    @_redetecting
    async def fetch_ticker(self, symbol: str) -> Ticker:
        self.market(symbol)
        streams = self._tickers(self.uta) if self._tickers is not None else None
        if streams is None:
            return await self._rest_ticker(symbol)
        streamed = streams.ticker(symbol)
        if streamed is not None:  # pushed a moment ago over the process's shared ticker stream
            return streamed
        # stale or not streamed: one REST read for every bot asking now (shared while quiet)
        return await streams.refresh(symbol, lambda: self._rest_ticker(symbol))

    async def _rest_ticker(self, symbol: str) -> Ticker:
        raw = await self._call(self._client.fetch_ticker, symbol)
        last = dec(raw.get("last")) or dec(raw.get("close"))
        if last is None:
            raise ExchangeError(f"{symbol} ticker has no last price")
        return Ticker(symbol, last, dec(raw.get("bid")), dec(raw.get("ask")), raw.get("timestamp"))

    @_redetecting
    async def fetch_candles(
        self, symbol: str, timeframe: str, since: int | None = None, limit: int | None = None
    ) -> list[Candle]:
        self.market(symbol)
        rows = await self._call(self._client.fetch_ohlcv, symbol, timeframe, since, limit)
        return _candles(rows)

    @property
    def candle_key(self) -> tuple[str, bool]:
        """Whose candles this account reads: its exchange's, live or demo (engine.market_data.candle_store
        keeps one series per key for every account and the public market data)."""
        return self._key.exchange_id, self._key.demo

    @_redetecting
    async def fetch_candle_page(self, symbol: str, timeframe: str, *, until: int, limit: int) -> list[Candle]:
        """Up to `limit` candles opening at or before `until` (ms), oldest first: ccxt's fetch_ohlcv with
        `until`, which asks Bitget's candles endpoint (1,000 rows at most) for recent ones and
        history-candles (200 rows, 100 on a unified account) for older ones."""
        self.market(symbol)
        rows = await self._call(self._client.fetch_ohlcv, symbol, timeframe, None, limit, {"until": until})
        return _candles(rows)

    # --- account --------------------------------------------------------------------------------

    @_redetecting
    async def fetch_balance(self, market_type: MarketType | None = None) -> Balance:
        raw = await self._call(self._client.fetch_balance, {"type": market_type or self._default_type})
        totals, frees, useds = raw.get("total") or {}, raw.get("free") or {}, raw.get("used") or {}
        assets = {}
        for currency in set(totals) | set(frees):
            free, used, total = (
                dec0(frees.get(currency)),
                dec0(useds.get(currency)),
                dec(totals.get(currency)),
            )
            assets[currency] = AssetBalance(free, used, free + used if total is None else total)
        return Balance(assets)

    @_redetecting
    async def fetch_positions(self, symbols: Sequence[str] | None = None) -> list[Position]:
        for symbol in symbols or ():
            self.market(symbol)
        raw = await self._call(self._client.fetch_positions, list(symbols) if symbols else None)
        positions = []
        for item in raw:
            qty = dec(item.get("contracts"))
            side = item.get("side")
            if not qty or side not in ("long", "short"):
                continue
            info = item.get("info") or {}
            # Bitget's own liquidation price (v2 all-position and v3 current-position say
            # liquidationPrice); "0" means none (a cross position with margin to spare)
            liquidation = dec(info.get("liquidationPrice") or info.get("liqPrice"))
            margin_mode = info.get("marginMode") or item.get("marginMode")
            positions.append(
                Position(
                    symbol=item["symbol"],
                    side=side,
                    qty=abs(qty),
                    entry_price=dec0(item.get("entryPrice")),
                    leverage=dec(item.get("leverage")) or Decimal(1),
                    unrealized_pnl=dec0(item.get("unrealizedPnl")),
                    liquidation_price=liquidation if liquidation else None,
                    margin_mode="crossed" if margin_mode in ("cross", "crossed") else margin_mode,
                )
            )
        return positions

    # --- futures settings and fees (engine.venues.live.futures) --------------------------------

    @_redetecting
    async def set_isolated_margin(self, symbol: str) -> None:
        market = self.market(symbol)
        if market.type != "swap":
            raise InvalidOrder(f"{symbol} is a spot market: no margin mode")
        await self._futures.isolate(market)

    @_redetecting
    async def position_mode(self) -> PositionMode:
        swap = next((m for m in self._markets.values() if m.type == "swap"), None)
        if swap is None:
            return "one_way"
        return await self._futures.position_mode(swap)

    @_redetecting
    async def fee_rates(self, symbol: str) -> FeeRates:
        return await self._futures.fee_rates(self.market(symbol))

    async def _hedged(self, market: Market) -> bool:
        return market.type == "swap" and await self._futures.position_mode(market) == "hedge"

    @_redetecting
    async def set_leverage(
        self,
        symbol: str,
        leverage: int,
        max_leverage: int | None = None,
        *,
        side: PositionSide | None = None,
    ) -> None:
        market = self.market(symbol)
        if market.type != "swap":
            raise InvalidOrder(f"{symbol} is a spot market: no leverage")
        if leverage < 1:
            raise InvalidOrder(f"leverage {leverage} below 1")
        if max_leverage is not None and leverage > max_leverage:
            raise InvalidOrder(f"leverage {leverage}x above the bot's cap of {max_leverage}x")
        if market.max_leverage is not None and leverage > market.max_leverage:
            raise InvalidOrder(f"leverage {leverage}x above {symbol}'s maximum of {market.max_leverage}x")
        await self._futures.leverage(market, leverage, side)

    # --- orders ---------------------------------------------------------------------------------

    @_noted
    @_redetecting
    @_rereading_position_mode
    async def create_order(self, req: OrderRequest) -> Order:
        market = self.market(req.symbol)
        prepared = self._prepare(
            req, market, await self._reference_price(req, market), hedged=await self._hedged(market)
        )
        policy = self._registry.retry
        for attempt in range(policy.attempts):
            try:
                if attempt:
                    # The last try may have reached the exchange before its answer got lost.
                    existing = await self._raw_order_by_client_id(req)
                    if existing is not None:
                        return self._order_from_ccxt(existing, market)
                raw = await self._client.create_order(*self._ccxt_args(prepared))
            except ccxt.BaseError as exc:
                if is_duplicate_client_id(exc):
                    existing = await self._call(self._raw_order_by_client_id, req)
                    if existing is not None:
                        return self._order_from_ccxt(existing, market)
                error = map_ccxt_error(exc)
                if not isinstance(error, TemporaryExchangeError) or attempt + 1 >= policy.attempts:
                    raise error from exc
                log.warning(
                    "create_order %s failed (%s), retry %d",
                    req.client_order_id,
                    type(exc).__name__,
                    attempt + 1,
                )
                await self._registry.sleep(policy.delay(attempt))
                continue
            return await self._order_after_create(raw, prepared, market)
        raise AssertionError("unreachable")  # pragma: no cover

    @_noted
    @_redetecting
    async def create_orders(self, reqs: Sequence[OrderRequest]) -> BatchResult:
        """Orders grouped by symbol and sent in batches of `batch_limit` (50, or 20 on a unified account:
        a 100-line grid's 99 limits are 2 requests, or 5). Orders our own checks
        refuse, and those the exchange refuses or leaves out of its answer, come back in
        `rejected` with the reason; the rest of the batch still goes out."""
        accepted: list[Order] = []
        rejected: list[RejectedOrder] = []
        unknown: list[str] = []
        by_symbol: dict[str, list[_Prepared]] = {}
        references: dict[str, Decimal | None] = {}
        client_ids: set[str] = set()
        for req in reqs:
            if req.client_order_id in client_ids:
                rejected.append(RejectedOrder(req.client_order_id, "duplicate client order id in the batch"))
                continue
            client_ids.add(req.client_order_id)
            if req.trigger_price is not None:  # plan orders have no batch endpoint
                try:
                    accepted.append(await self.create_order(req))
                except (InvalidOrder, InsufficientFunds) as exc:
                    rejected.append(RejectedOrder(req.client_order_id, str(exc)))
                except TemporaryExchangeError:
                    unknown.append(req.client_order_id)
                continue
            try:
                market = self.market(req.symbol)
                if req.symbol not in references and _needs_reference(req, market):
                    references[req.symbol] = await self._reference_price(req, market)
                hedged = await self._hedged(market)
                prepared = self._prepare(req, market, references.get(req.symbol), hedged=hedged)
            except InvalidOrder as exc:
                rejected.append(RejectedOrder(req.client_order_id, str(exc)))
                continue
            by_symbol.setdefault(req.symbol, []).append(prepared)
        size = self.batch_limit
        for symbol, prepared_orders in by_symbol.items():
            market = self.market(symbol)
            if len(prepared_orders) < self.batch_cost:
                # so few orders (a fill's counter order, the usual case) cost less alone: Bitget weighs a
                # batch request as `batch_cost` single ones (ccxt's costs), so a small batch would spend
                # the account's order budget of that many fills and hold every other order behind it
                for req, outcome in zip(
                    (p.req for p in prepared_orders),
                    await asyncio.gather(
                        *(self.create_order(p.req) for p in prepared_orders), return_exceptions=True
                    ),
                    strict=True,
                ):
                    if isinstance(outcome, Order):
                        accepted.append(outcome)
                    elif isinstance(outcome, InvalidOrder | InsufficientFunds):
                        rejected.append(RejectedOrder(req.client_order_id, str(outcome)))
                    elif isinstance(outcome, TemporaryExchangeError):
                        unknown.append(req.client_order_id)
                    else:
                        raise outcome
                continue
            for start in range(0, len(prepared_orders), size):
                chunk = prepared_orders[start : start + size]
                chunk_accepted, chunk_rejected, chunk_unknown = await self._create_chunk(chunk, market)
                accepted += chunk_accepted
                rejected += chunk_rejected
                unknown += chunk_unknown
        if any(POSITION_MODE_MISMATCH in r.reason for r in rejected):
            self._futures.forget_mode()  # the user switched the position mode: read it again next time
        return BatchResult(tuple(accepted), tuple(rejected), tuple(unknown))

    async def _create_chunk(
        self, chunk: list[_Prepared], market: Market
    ) -> tuple[list[Order], list[RejectedOrder], list[str]]:
        accepted: list[Order] = []
        pending = list(chunk)
        policy = self._registry.retry
        for attempt in range(policy.attempts):
            try:
                if attempt:
                    found = await self._find_by_client_ids(market, [p.req.client_order_id for p in pending])
                    accepted += [
                        found[p.req.client_order_id] for p in pending if p.req.client_order_id in found
                    ]
                    pending = [p for p in pending if p.req.client_order_id not in found]
                    if not pending:
                        return accepted, [], []
                raw_orders = await self._client.create_orders(
                    [
                        {
                            "symbol": symbol,
                            "type": kind,
                            "side": side,
                            "amount": amount,
                            "price": price,
                            "params": params,
                        }
                        for symbol, kind, side, amount, price, params in map(self._ccxt_args, pending)
                    ]
                )
            except ccxt.BaseError as exc:
                error = map_ccxt_error(exc)
                if isinstance(error, AuthenticationFailed | ExchangeNotSupported):
                    raise error from exc
                if not isinstance(error, TemporaryExchangeError):
                    return accepted, [RejectedOrder(p.req.client_order_id, str(error)) for p in pending], []
                if attempt + 1 >= policy.attempts:
                    return accepted, [], [p.req.client_order_id for p in pending]
                log.warning(
                    "create_orders on %s failed (%s), retry %d",
                    market.symbol,
                    type(exc).__name__,
                    attempt + 1,
                )
                await self._registry.sleep(policy.delay(attempt))
                continue
            chunk_accepted, rejected = self._batch_outcome(raw_orders, pending, market)
            duplicates = [r.client_order_id for r in rejected if is_duplicate_client_id(r.reason)]
            if not duplicates:
                return accepted + chunk_accepted, rejected, []
            # Sent before (a restart re-running its tick): those orders exist and are ours.
            try:
                found = await self._call(self._find_by_client_ids, market, duplicates)
            except TemporaryExchangeError:
                unsure = set(duplicates)
                return (
                    accepted + chunk_accepted,
                    [r for r in rejected if r.client_order_id not in unsure],
                    duplicates,
                )
            rejected = [r for r in rejected if r.client_order_id not in found]
            return accepted + chunk_accepted + list(found.values()), rejected, []
        raise AssertionError("unreachable")  # pragma: no cover

    def _batch_outcome(
        self, raw_orders: list[dict[str, Any]], sent: list[_Prepared], market: Market
    ) -> tuple[list[Order], list[RejectedOrder]]:
        """Match the answer to what was sent by client order id: ccxt lists refused orders with
        status 'rejected', and an order missing from the answer was not placed either."""
        by_client_id = {p.req.client_order_id: p for p in sent}
        accepted: list[Order] = []
        rejected: list[RejectedOrder] = []
        seen: set[str] = set()
        for raw in raw_orders:
            client_id = raw.get("clientOrderId")
            prepared = by_client_id.get(client_id) if client_id else None
            if prepared is None:
                log.warning("batch answer holds an order we did not send: %s", raw.get("id"))
                continue
            seen.add(client_id)
            info = raw.get("info") or {}
            if raw.get("status") == "rejected" or not raw.get("id") or _refused_entry(info):
                reason = (
                    " ".join(str(info[k]) for k in ("errorCode", "errorMsg", "code", "msg") if info.get(k))
                    or "rejected"
                )
                rejected.append(RejectedOrder(client_id, reason))
            else:
                accepted.append(self._order_from_request(raw, prepared))
        rejected += [
            RejectedOrder(p.req.client_order_id, "missing from the exchange's answer")
            for p in sent
            if p.req.client_order_id not in seen
        ]
        return accepted, rejected

    @_redetecting
    async def cancel_order(self, order_id: str, symbol: str) -> None:
        market = self.market(symbol)
        if market.type == "swap" and await self._cancel_plan(order_id, symbol):
            return
        attempts = 0

        async def cancel_once() -> Any:
            nonlocal attempts
            attempts += 1
            return await self._client.cancel_order(order_id, symbol)

        try:
            await self._call(cancel_once)
        except OrderNotFound:
            # After a lost answer the retry finds nothing to cancel: done if the first try did it.
            if attempts > 1 and (await self.fetch_order(order_id, symbol)).status == "canceled":
                return
            raise

    @_redetecting
    async def cancel_orders(self, order_ids: Sequence[str], symbol: str) -> list[str]:
        """Ids the exchange confirmed cancelled, in batches of `batch_limit`. An order cancelled by a try
        whose answer got lost is not in the list (it no longer shows in `fetch_open_orders`)."""
        market = self.market(symbol)
        cancelled: list[str] = []
        ids = list(order_ids)
        if market.type == "swap":  # stop orders (plan orders) are cancelled on their own endpoint
            plans = {o.id for o in await self._plan_orders(symbol, live=True)}
            for order_id in [i for i in ids if i in plans]:
                if await self._cancel_plan(order_id, symbol):
                    cancelled.append(order_id)
            ids = [i for i in ids if i not in plans]
        size = self.batch_limit
        for start in range(0, len(ids), size):
            raw = await self._call(self._client.cancel_orders, ids[start : start + size], symbol)
            cancelled += [
                o["id"]
                for o in raw
                if o.get("id") and o.get("status") != "rejected" and not _refused_entry(o.get("info") or {})
            ]
        return cancelled

    @_redetecting
    async def fetch_order(self, order_id: str, symbol: str) -> Order:
        market = self.market(symbol)
        try:
            raw = await self._call(self._client.fetch_order, order_id, symbol)
        except OrderNotFound:
            if market.type != "swap":
                raise
            raw = await self._call(self._raw_plan_order, symbol, order_id=order_id)
            if raw is None:
                raise
            order = self._order_from_ccxt(raw, market)
            return await self._executed_plan(raw, order, market) if order.status == "closed" else order
        return self._order_from_ccxt(raw, market)

    @_noted
    @_redetecting
    async def fetch_order_by_client_id(self, client_order_id: str, symbol: str) -> Order | None:
        market = self.market(symbol)
        if self._orders_stream is not None:
            done = self._orders_stream.closed_order(client_order_id)  # pushed, fills and fee whole
            if done is not None and done.symbol == symbol:
                return done
        raw = await self._call(self._raw_order_by_client_id_of, client_order_id, symbol)
        if raw is None:
            return None
        order = self._order_from_ccxt(raw, market)
        if _is_plan(raw) and order.status == "closed":
            return await self._executed_plan(raw, order, market)
        return order

    async def _executed_plan(self, raw: dict[str, Any], plan: Order, market: Market) -> Order:
        """A triggered stop (a Bitget plan order) as the market order it sent: its fills, fee and time
        are that order's (the plan's own answer carries no fee), its ids the plan's."""
        if self.uta:
            return await self._executed_strategy(raw, plan, market)
        executed_id = (raw.get("info") or {}).get("executeOrderId")
        if not executed_id:
            log.warning("plan order %s has no executed order id: its fee is not known", plan.client_order_id)
            return plan
        executed = self._order_from_ccxt(
            await self._call(self._client.fetch_order, str(executed_id), market.symbol), market
        )
        return replace(
            executed,
            id=plan.id,
            client_order_id=plan.client_order_id,
            type="market",
            reduce_only=plan.reduce_only,
            trigger_price=plan.trigger_price,
            status="closed" if executed.status != "open" else "open",
        )

    @_redetecting
    async def _executed_strategy(self, raw: dict[str, Any], plan: Order, market: Market) -> Order:
        """A unified account's stop (a strategy order) that left the live list: v3 names neither its
        status nor the order it sent. It executed when the order history holds a reduce-only market
        order of its side and size, created from the moment the stop was placed, whose client id is
        none of ours (Bitget names the orders it sends; every id we send starts with the stop's own
        namespace, so our own exit after a cancelled stop is never taken for it); else it was cancelled."""
        info = raw.get("info") or {}
        since = int(info.get("createdTime") or 0) or None
        namespace = (plan.client_order_id or "")[:5]
        history = await self._call(self._client.fetch_canceled_and_closed_orders, market.symbol, since)
        for candidate in history:
            cinfo = candidate.get("info") or {}
            if (
                cinfo.get("orderType") == "market"
                and str(cinfo.get("reduceOnly", "")).upper() == "YES"
                and cinfo.get("side") == plan.side
                and dec(cinfo.get("qty")) == plan.qty
                and not str(cinfo.get("clientOid") or "").startswith(namespace)
                and dec0(cinfo.get("cumExecQty")) > 0
            ):
                executed = self._order_from_ccxt(candidate, market)
                return replace(
                    executed,
                    id=plan.id,
                    client_order_id=plan.client_order_id,
                    type="market",
                    reduce_only=True,
                    trigger_price=plan.trigger_price,
                    status="closed",
                )
        return replace(plan, status="canceled")

    @_redetecting
    async def fetch_open_orders(self, symbol: str) -> list[Order]:
        market = self.market(symbol)
        stream = self._orders_stream
        token = stream.snapshot_token() if stream is not None else None
        raw = await self._call(self._client.fetch_open_orders, symbol)
        orders = [self._order_from_ccxt(o, market) for o in raw]
        if market.type == "swap":
            orders += await self._plan_orders(symbol, live=True)
        elif stream is not None:  # the REST snapshot that syncs the order stream for the symbol
            stream.take_snapshot(symbol, orders, token)
        return orders

    async def close(self) -> None:
        await self._registry.release(self._key)

    # --- order helpers --------------------------------------------------------------------------

    async def _raw_order_by_client_id(self, req: OrderRequest) -> dict[str, Any] | None:
        return await self._raw_order_by_client_id_of(req.client_order_id, req.symbol)

    async def _raw_order_by_client_id_of(self, client_order_id: str, symbol: str) -> dict[str, Any] | None:
        try:
            return await self._client.fetch_order("", symbol, {"clientOrderId": client_order_id})
        except ccxt.OrderNotFound:
            if self.market(symbol).type != "swap":
                return None
            return await self._raw_plan_order(symbol, client_order_id=client_order_id)

    # --- stop orders: Bitget's futures plan orders (place-plan-order, planType normal_plan) -------

    async def _raw_plan_order(
        self, symbol: str, *, client_order_id: str | None = None, order_id: str | None = None
    ) -> dict[str, Any] | None:
        """A plan order by client id or id, live ones first, then the history (executed, cancelled).
        Raw ccxt calls: the caller's retry loop handles errors."""
        params = self._plan_params()
        if not self.uta:  # v2 filters by id; v3's strategy lists have no such filter
            if client_order_id is not None:
                params["clientOid"] = client_order_id
            if order_id is not None:
                params["orderId"] = order_id
        for live, fetch in (
            (True, self._client.fetch_open_orders),
            (False, self._client.fetch_canceled_and_closed_orders),
        ):
            for raw in await fetch(symbol, None, None, dict(params)):
                if (client_order_id is not None and raw.get("clientOrderId") == client_order_id) or (
                    order_id is not None and str(raw.get("id")) == order_id
                ):
                    if self.uta and not live:
                        # v3's strategy history carries no status: executed or cancelled is told by
                        # the order it sent (see _executed_plan)
                        raw = {**raw, "status": "closed"}
                    return raw
        return None

    def _plan_params(self) -> dict[str, Any]:
        return {"trigger": True} if self.uta else {"trigger": True, "planType": "normal_plan"}

    async def _plan_orders(self, symbol: str, *, live: bool) -> list[Order]:
        market = self.market(symbol)
        fetch = self._client.fetch_open_orders if live else self._client.fetch_canceled_and_closed_orders
        raw = await self._call(fetch, symbol, None, None, self._plan_params())
        return [self._order_from_ccxt(o, market) for o in raw]

    async def _cancel_plan(self, order_id: str, symbol: str) -> bool:
        """Cancel a live plan order; False when `order_id` is not one (or no longer live)."""
        if not any(o.id == order_id for o in await self._plan_orders(symbol, live=True)):
            return False
        try:
            await self._call(self._client.cancel_order, order_id, symbol, {"trigger": True})
        except OrderNotFound:
            return False
        return True

    async def _find_by_client_ids(self, market: Market, client_ids: list[str]) -> dict[str, Order]:
        """Which of these orders reached the exchange: open orders first (one request), then one
        look-up per id not among them. Raw ccxt calls: the caller's retry loop handles errors."""
        wanted = set(client_ids)
        found: dict[str, Order] = {}
        for raw in await self._client.fetch_open_orders(market.symbol):
            if raw.get("clientOrderId") in wanted:
                found[raw["clientOrderId"]] = self._order_from_ccxt(raw, market)
        for client_id in client_ids:
            if client_id not in found:
                raw_order = await self._raw_order_by_client_id_of(client_id, market.symbol)
                if raw_order is not None:
                    found[client_id] = self._order_from_ccxt(raw_order, market)
        return found

    async def _reference_price(self, req: OrderRequest, market: Market) -> Decimal | None:
        if not _needs_reference(req, market):
            return req.price
        ticker = await self.fetch_ticker(req.symbol)
        return ticker.ask or ticker.last

    def _prepare(
        self, req: OrderRequest, market: Market, reference: Decimal | None, *, hedged: bool = False
    ) -> _Prepared:
        if len(req.client_order_id) > CLIENT_ORDER_ID_MAX:
            raise InvalidOrder(f"client order id longer than {CLIENT_ORDER_ID_MAX}: {req.client_order_id!r}")
        qty = round_qty_down(market, req.qty)
        if qty <= 0 or qty < market.min_qty:
            raise InvalidOrder(
                f"{req.symbol} qty {req.qty} is {qty} on the lot step, under the minimum {market.min_qty}"
            )
        price = round_price(market, req.price) if req.price is not None else None
        if req.type == "limit" and (price is None or price <= 0):
            raise InvalidOrder(f"{req.symbol} limit price {req.price} rounds to {price}")
        check_price = price if req.type == "limit" else (reference or price)
        if check_price is not None and qty * check_price * market.contract_size < market.min_notional:
            raise InvalidOrder(
                f"{req.symbol} order value {qty * check_price} {market.quote}"
                f" under the minimum {market.min_notional}"
            )
        if req.type == "market":
            # Only a spot market buy sends a price: Bitget sizes it in quote currency (qty x price).
            price = None
            if market.type == "spot" and req.side == "buy":
                if check_price is None:
                    raise InvalidOrder(f"{req.symbol} market buy needs a reference price")
                # it spends qty x the ask, rounded up to the tick; what it buys (and the fee Bitget takes
                # from the coin) is what the fill reports, and the caller books that, not what it asked
                ticks = (check_price / market.price_tick).to_integral_value(rounding=ROUND_CEILING)
                price = ticks * market.price_tick
        params: dict[str, Any] = {"clientOrderId": req.client_order_id}
        if req.reduce_only and market.type == "swap":
            params["reduceOnly"] = True
        if req.trigger_price is not None:
            # a stop-market order: Bitget's plan order (place-plan-order, normal_plan), triggered by the
            # last traded price, then a reduce-only market order
            if market.type != "swap" or not req.reduce_only:
                raise InvalidOrder(f"{req.symbol}: exchange-side stops are reduce-only, on perpetuals only")
            params["triggerPrice"] = _text(round_price(market, req.trigger_price))
            params["triggerType"] = "fill_price"
        if req.post_only and req.type == "limit":
            params["postOnly"] = True
        if market.type == "swap":
            if not self.uta:
                # v2 names the margin mode on every order (ccxt sends "crossed" unless told): isolated, as
                # the symbol is set (engine.venues.live.futures)
                params["marginMode"] = "isolated"
            if hedged:
                # hedge mode: the order names its position (ccxt: v2 tradeSide open/close with Bitget's
                # side of the position, v3 posSide); a buy opens a long, a reduce-only sell closes it
                params["hedged"] = True
        return _Prepared(req, qty, price, params)

    def _ccxt_args(self, prepared: _Prepared) -> tuple[str, str, str, str, str | None, dict[str, Any]]:
        req = prepared.req
        price = _text(prepared.price) if prepared.price is not None else None
        params = dict(prepared.params)
        if self.uta and "triggerPrice" in params:
            # a unified account's stop is a strategy order (place-strategy-order): a stop loss on the
            # position's side, triggered by the last price ("market"), sent as a market order
            params = {
                "clientOrderId": params["clientOrderId"],
                "stopLossPrice": params["triggerPrice"],
                "slTriggerBy": "market",
                "reduceOnly": True,
                **({"hedged": True} if params.get("hedged") else {}),
            }
        return req.symbol, req.type, req.side, _text(prepared.qty), price, params

    async def _order_after_create(self, raw: dict[str, Any], prepared: _Prepared, market: Market) -> Order:
        order = self._order_from_request(raw, prepared)
        if prepared.req.type == "market" and prepared.req.trigger_price is None and order.id:
            # A market order fills at once; its fills and fee are what the caller needs.
            try:
                return await self.fetch_order(order.id, order.symbol)
            except TemporaryExchangeError:
                log.warning("market order %s placed, details not fetched", order.id)
        return order

    def _order_from_request(self, raw: dict[str, Any], prepared: _Prepared) -> Order:
        req = prepared.req
        return Order(
            id=str(raw.get("id") or ""),
            client_order_id=raw.get("clientOrderId") or req.client_order_id,
            symbol=req.symbol,
            side=req.side,
            type=req.type,
            price=prepared.price if req.type == "limit" else None,
            qty=prepared.qty,
            filled_qty=ZERO,
            avg_fill_price=None,
            fee=ZERO,
            status="open",
            ts=raw.get("timestamp"),
            reduce_only=req.reduce_only,
            trigger_price=round_price(self.market(req.symbol), req.trigger_price)
            if req.trigger_price is not None
            else None,
        )

    def _order_from_ccxt(self, raw: dict[str, Any], market: Market) -> Order:
        info = raw.get("info") or {}
        if "category" in info:
            return self._order_from_v3(raw, info, market)
        price = dec(raw.get("price")) or None
        average = dec(raw.get("average")) or None
        fees = raw.get("fees") or ([raw["fee"]] if raw.get("fee") else [])
        fee = fee_base = ZERO
        for item in fees:
            cost, currency = dec(item.get("cost")), item.get("currency")
            if cost is None:
                continue
            if currency in (None, market.quote):
                fee += cost
            elif currency == market.base:  # Bitget takes a spot buy's fee from the coin bought
                fee_base += cost
                fee += cost * (average or price or ZERO)
            # fees paid in a third coin (Bitget's BGB deduction) have no quote price here
        filled = dec0(raw.get("filled"))
        # a fill's time is the trade's (the last one's), never the order's creation
        ts = (
            (raw.get("lastTradeTimestamp") or raw.get("lastUpdateTimestamp") or raw.get("timestamp"))
            if filled
            else raw.get("timestamp")
        )
        return Order(
            id=str(raw.get("id") or ""),
            client_order_id=raw.get("clientOrderId"),
            symbol=raw.get("symbol") or market.symbol,
            side=raw.get("side"),
            type=raw.get("type") if raw.get("type") in ("limit", "market") else "limit",
            price=price,
            qty=dec0(raw.get("amount")),
            filled_qty=filled,
            avg_fill_price=average,
            fee=fee,
            status=_status(raw.get("status")),
            ts=ts,
            reduce_only=bool(raw.get("reduceOnly")),
            trigger_price=dec(raw.get("triggerPrice")) or None,
            fee_base=fee_base,
        )

    def _order_from_v3(self, raw: dict[str, Any], info: dict[str, Any], market: Market) -> Order:
        """An order as Bitget's v3 (unified account) answers it, read from its own fields: ccxt 4.5
        reads no average price from them (v3 says avgPrice), no size of a spot market buy, and takes
        the fee's coin for the market's settle coin (none on spot, where a buy's fee is in the coin
        bought) with its sign flipped (v3 reports a fee paid as a positive number)."""
        strategy = _is_plan(raw)
        fee = fee_base = ZERO
        filled = dec0(info.get("cumExecQty"))
        average = dec(info.get("avgPrice")) or None
        for item in info.get("feeDetail") or []:
            cost, coin = dec(item.get("fee")), item.get("feeCoin")
            if not cost:
                continue
            if coin in (None, "", market.quote):
                fee += cost
            elif coin == market.base:
                fee_base += cost
                fee += cost * (average or dec(info.get("price")) or ZERO)
        ts = raw.get("timestamp")
        if filled:
            ts = raw.get("lastUpdateTimestamp") or ts
        order_type = info.get("orderType")
        trigger = dec(info.get("stopLoss")) if strategy else None
        return Order(
            id=str(raw.get("id") or ""),
            client_order_id=raw.get("clientOrderId"),
            symbol=raw.get("symbol") or market.symbol,
            side=info.get("side") or ("sell" if info.get("posSide") == "long" else "buy"),
            type="market" if strategy else (order_type if order_type in ("limit", "market") else "limit"),
            price=None if strategy else (dec(info.get("price")) or None),
            qty=dec0(info.get("qty")),
            filled_qty=filled,
            avg_fill_price=average,
            fee=fee,
            status=_status(raw.get("status")),
            ts=ts,
            reduce_only=strategy or str(info.get("reduceOnly", "")).upper() == "YES",
            trigger_price=trigger or None,
            fee_base=fee_base,
        )


def _candles(rows: list[list[Any]]) -> list[Candle]:
    return [
        Candle(int(ts), dec0(o), dec0(h), dec0(low), dec0(c), dec0(v))
        for ts, o, h, low, c, v in (row[:6] for row in rows)
    ]


def _is_plan(raw: dict[str, Any]) -> bool:
    """A Bitget plan order (a stop), as its own endpoints answer it: v2's plan orders name their
    planType; v3's strategy orders (a unified account's) are the ones without an orderType."""
    info = raw.get("info") or {}
    return "planType" in info or ("category" in info and "orderType" not in info)


def _refused_entry(info: Mapping[str, Any]) -> bool:
    """An entry of a v3 batch answer that Bitget refused: it carries its own error code and message
    (v2 lists refusals apart, in failureList)."""
    code = info.get("code")
    return code not in (None, "", "00000")


def _needs_reference(req: OrderRequest, market: Market) -> bool:
    return req.type == "market" and req.price is None and market.type == "spot" and req.side == "buy"


def _status(raw: str | None) -> OrderStatus:
    if raw in ("open", "closed", "canceled", "rejected"):
        return raw  # type: ignore[return-value]
    if raw == "expired":
        return "canceled"
    return "open"
