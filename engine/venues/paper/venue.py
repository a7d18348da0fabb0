"""The paper exchange: a matching engine with its state in the database.

`PaperVenue` is the market (one per process): it holds every paper account's open orders in an
in-memory book per symbol for matching (engine.venues.paper.book), and writes every change (orders,
balances, positions) to the database before the book changes, so a restart rebuilds the book from
the database (`load`). Its markets and default fees are engine.venues.paper.markets'.
`PaperExchange` is one account's view of it and implements `engine.exchange.Exchange`.

Fill rules:
* a resting limit buy fills when a price point is at or below its price, a sell at or above it, at
  the order's own price, with the maker fee; within one point buys fill highest first and sells
  lowest first (the order a falling/rising walk reaches them). A limit placed beyond the current
  price fills at the next price point, at its own price.
* a market order fills at once at the last price x (1 +/- slippage) with the taker fee.
* a stop-market order (`trigger_price`; reduce-only, USDT-M perpetuals only) rests until a price point
  reaches its trigger (a sell stop: price <= trigger, a buy stop: price >= trigger), then fills with
  the taker fee AT THE TRIGGER when the price walked through it from the previous point of the same
  candle (same ts), or at the point's own price when that point opened past it (a gap: the first
  point of a new ts, e.g. a candle's open, or a stop placed beyond the price). Stops rest in the same
  heaps as the limits (a sell stop beside the buys, a buy stop beside the sells), so one point fills
  everything it crosses in walk order (falling: highest first; rising: lowest first).
* fees are quote currency: price x qty x rate, 8 decimals.
* spot: a buy locks price x qty + maker fee of quote, a sell locks its base quantity.
* USDT-M perpetuals (symbols "BASE/USDT:USDT"): one-way positions; an order locks its margin
  (notional / leverage + fee); a reduce-only order only shrinks the position (never flips it).

Price points come from a feed (engine.market_data.feeds) through `on_price` (optionally committing the feed's
position in the same transaction, so a replay resumes exactly where its effects stopped).
Idempotency: an order whose client order id the account already used returns the existing order.
One venue per database: two processes sharing one database would each match the same orders.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from decimal import Decimal

from sqlalchemy import Connection, func, select

from db.bulk import in_chunks
from db.models import PaperBalance, PaperOrder, PaperPosition, ReplayCursor, User
from db.session import Database
from engine.exchange import (
    AssetBalance,
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
    Position,
    PositionMode,
    PositionSide,
    RejectedOrder,
    TemporaryExchangeError,
    Ticker,
    round_price,
    round_qty_down,
)
from engine.money import q8
from engine.venues.paper.book import RestingOrders
from engine.venues.paper.markets import DEFAULT_MAKER_FEE, DEFAULT_TAKER_FEE, paper_markets
from engine.venues.paper.state import (
    DuplicateOrders,
    OrderRow,
    PaperState,
    PaperTxn,
    client_ids_in,
    order_row_of,
)

ZERO = Decimal(0)
_VENUE_SERIALS = itertools.count(1)
log = logging.getLogger(__name__)


class _MatchAgain(Exception):
    """An order of the point could not fill: match the point again without it."""


class PaperVenue:
    """The paper market shared by every paper account of the process.

    Fee rates are fractions (0.0002 = 0.02 %), `slippage` a fraction of the price that market orders
    pay (buys above, sells below). An account starts with its user's `paper_balance` of USDT, written
    with the first change that uses it. The state lives in memory
    (engine.venues.paper.state, and the open orders' index `book`, engine.venues.paper.book) and in the
    database, written before memory changes; `load` reads it."""

    def __init__(
        self,
        db: Database,
        *,
        markets: Mapping[str, Market] | None = None,
        maker_fee: Decimal = DEFAULT_MAKER_FEE,
        taker_fee: Decimal = DEFAULT_TAKER_FEE,
        slippage: Decimal = ZERO,
    ) -> None:
        self.db = db
        self.maker_fee = maker_fee
        self.taker_fee = taker_fee
        self.slippage = slippage
        self.markets = dict(markets) if markets is not None else paper_markets(maker_fee, taker_fee)
        self.state = PaperState()
        self.book = RestingOrders()  # the open orders, for matching and the owners' look-ups
        self._loaded = False
        self._last: dict[str, tuple[Decimal, int]] = {}
        self._lock = asyncio.Lock()  # every state change of the venue is one transaction at a time
        self._accounts: dict[int, PaperExchange] = {}
        self._start_balances: dict[int, Decimal] = {}  # paper_balance of accounts not funded yet
        self.serial = next(_VENUE_SERIALS)  # tells this venue's orders_version() from another's
        self._queue: list[tuple[int, list[OrderRequest], asyncio.Future[BatchResult]]] = []
        self._flusher: asyncio.Task[None] | None = None

    # ---- set-up

    async def load(self) -> int:
        """Rebuild the state and the book from the database; returns how many orders are open."""
        async with self._lock:
            await self._load()
            return len(self.book.orders)

    async def _load(self) -> None:
        self.book.clear()
        async with self.db.read() as session:
            orders = (await session.execute(select(PaperOrder).where(PaperOrder.status == "open"))).scalars()
            balances = (await session.execute(select(PaperBalance))).scalars()
            positions = (await session.execute(select(PaperPosition))).scalars()
            max_id = (await session.execute(select(func.max(PaperOrder.id)))).scalar_one()
            self.state.load(orders.all(), balances.all(), positions.all(), max_id or 0)
        for row in self.state.orders.values():
            self.book.rest(row.user_id, row.order())
        self._loaded = True

    async def _ready(self) -> None:
        """Load once before the first change (a venue used without `load`)."""
        if not self._loaded:
            await self._load()

    async def recall(self, wanted: Iterable[tuple[int, str]]) -> int:
        """Read the finished orders among these (account, client order id)s into the look-up that the
        owners' reconciles ask first (a restart: the orders filled or cancelled while the process was
        down, one query per chunk instead of one per order). Returns how many were found."""
        pairs = sorted(set(wanted))
        found = 0
        async with self.db.read() as session:
            for chunk in in_chunks(pairs):
                query = select(PaperOrder).where(client_ids_in(chunk), PaperOrder.status != "open")
                for row in (await session.execute(query)).scalars():
                    self.book.finish(row.user_id, order_row_of(row).order())
                    found += 1
        return found

    def account(self, user_id: int) -> PaperExchange:
        """The `Exchange` of one paper account (cached)."""
        exchange = self._accounts.get(user_id)
        if exchange is None:
            exchange = self._accounts[user_id] = PaperExchange(self, user_id)
        return exchange

    def market(self, symbol: str) -> Market:
        market = self.markets.get(symbol)
        if market is None:
            raise InvalidOrder(f"unknown symbol {symbol!r}")
        return market

    def mark_price(self, symbol: str, price: Decimal, ts: int) -> None:
        """Set the last price without matching (a resumed feed's last committed point)."""
        self._last[symbol] = (price, ts)

    def last_price(self, symbol: str) -> Decimal | None:
        last = self._last.get(symbol)
        return last[0] if last else None

    def open_orders(self, user_id: int, symbol: str) -> list[Order]:
        return self.book.open_orders(user_id, symbol)

    def open_client_order_ids(self, user_id: int, symbol: str) -> Collection[str]:
        """The client order ids of the account's open orders on `symbol` (a live view)."""
        return self.book.open_client_order_ids(user_id, symbol)

    def orders_version(self, user_id: int, symbol: str, prefix: str | None = None) -> int:
        """Changes whenever an open order of the account on `symbol` (with `prefix`: one whose client
        order id starts with it) is added, filled or cancelled (see `RestingOrders.orders_version`)."""
        return self.book.orders_version(user_id, symbol, prefix)

    # ---- transactions

    async def _commit(
        self, txn: PaperTxn, journal: Callable[[Connection], None] | None = None
    ) -> dict[int, Order]:
        """Write `txn` in one transaction (with the caller's `journal` first, when given), then
        install it and update the book. Returns the orders it changed, by paper id (built once:
        the book, the look-up and the callers share them)."""
        if journal is None:
            await self.db.run_write(txn.write)
        else:

            def write(connection: Connection) -> None:
                journal(connection)
                txn.write(connection)

            await self.db.run_write(write)
        opened, closed, changed = txn.install()
        orders: dict[int, Order] = {}
        book = self.book
        for row in closed:
            order = orders[row.id] = row.order()
            book.finish(row.user_id, order)
            book.unrest(row.id)
        for row in opened:
            order = orders[row.id] = row.order()
            book.rest(row.user_id, order)
        for row in changed:
            order = orders[row.id] = row.order()
            book.update(row.user_id, order)
        return orders

    def _txn(self) -> PaperTxn:
        return PaperTxn(self.state, self._start_balances)

    # ---- price points

    async def on_price(
        self, symbol: str, price: Decimal, ts: int, *, cursor: tuple[str, int] | None = None
    ) -> list[Order]:
        """Match `symbol`'s resting orders against one price point (quote currency, ts in ms).

        Returns the orders filled, in fill order. With `cursor` = (feed name, position) the feed's
        position is committed in the same transaction as the fills. An order its account cannot pay for
        (a margin call) is cancelled and the point matched again without it: one account's failure
        never holds back the others' fills (nor the feed)."""
        async with self._lock:
            await self._ready()
            previous = self._last.get(symbol)
            self._last[symbol] = (price, ts)
            crossing = self.book.crossing(symbol, float(price))
            if not crossing and cursor is None:
                return []
            refused: dict[int, str] = {}
            try:
                while True:
                    txn = self._txn()
                    rows = []
                    try:
                        for order_id in crossing:
                            row = txn.order(order_id)
                            assert row is not None
                            if order_id in refused:
                                self._release(txn, row)
                                row.status = "canceled"
                                continue
                            try:
                                self._fill_resting(txn, row, ts, price, previous)
                            except (InsufficientFunds, InvalidOrder) as exc:
                                refused[order_id] = f"{type(exc).__name__}: {exc}"
                                raise _MatchAgain from exc
                            rows.append(row)
                    except _MatchAgain:
                        continue
                    txn.cursor = cursor
                    changed = await self._commit(txn)
                    break
            except BaseException:
                self.book.rest_again(crossing)  # nothing was committed: the orders rest again
                raise
            for order_id, why in refused.items():
                log.warning("paper venue: order %d cancelled at %s %s: %s", order_id, symbol, price, why)
            return [changed.get(row.id) or row.order() for row in rows]

    async def walk_candle(
        self, symbol: str, open_: Decimal, high: Decimal, low: Decimal, close: Decimal, ts: int
    ) -> list[Order]:
        """One candle's walk (open -> low -> high -> close when close >= open, else open -> high ->
        low -> close); every order the walk touches fills in the order the walk reaches it."""
        from engine.market_data.candles import walk_points

        filled: list[Order] = []
        for point in walk_points(open_, high, low, close):
            filled += await self.on_price(symbol, point, ts)
        return filled

    # ---- orders (called by PaperExchange)

    async def create_orders(self, user_id: int, reqs: Sequence[OrderRequest]) -> BatchResult:
        """Place a batch of one account's orders. Batches that arrive together (many bots ticking at
        once) are committed in one transaction (group commit); each caller gets its own result once
        that transaction is committed, and an unexpected failure is retried one batch at a time so it
        lands on the batch that caused it."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[BatchResult] = loop.create_future()
        self._queue.append((user_id, list(reqs), future))
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush_creates(), name="paper venue orders")
        return await future

    async def drain(self) -> None:
        """Until the batches of orders already asked for are committed or have failed (a shutdown's
        last writes, before the database is closed)."""
        while self._flusher is not None and not self._flusher.done():
            await asyncio.wait([self._flusher])

    async def _flush_creates(self) -> None:
        while self._queue:
            await asyncio.sleep(0)  # let the ticks of this loop pass add theirs
            batch = [item for item in self._queue if not item[2].done()]  # a cancelled caller: not placed
            self._queue = []
            if not batch:
                continue
            async with self._lock:
                try:
                    results = await self._create_batches([(uid, reqs) for uid, reqs, _ in batch])
                except Exception:
                    if len(batch) == 1:
                        _settle(batch[0][2], exc=_current_exception())
                        continue
                    for item in batch:
                        try:
                            [result] = await self._create_batches([(item[0], item[1])])
                        except Exception as exc:
                            _settle(item[2], exc=exc)
                        else:
                            _settle(item[2], result)
                    continue
                for item, result in zip(batch, results, strict=True):
                    _settle(item[2], result)

    async def create_orders_with(
        self, batch: Sequence[tuple[int, Sequence[OrderRequest]]], journal: Callable[[Connection], None]
    ) -> list[BatchResult]:
        """Place these (account, orders) batches in the same transaction as `journal(connection)`, the
        caller's own writes (the grid store's group commit of the fills that these orders answer):
        both are committed, or neither. One result per batch, as `create_orders` gives it."""
        async with self._lock:
            return await self._create_batches(batch, journal)

    async def _create_batches(
        self,
        batch: Sequence[tuple[int, Sequence[OrderRequest]]],
        journal: Callable[[Connection], None] | None = None,
    ) -> list[BatchResult]:
        await self._ready()
        await self._fund({uid for uid, _ in batch})
        known: dict[tuple[int, str], OrderRow] = {}
        while True:
            txn = self._txn()
            txn.known = known
            staged: list[tuple[list[OrderRow], list[RejectedOrder]]] = []
            for user_id, reqs in batch:
                txn.fund(user_id)
                accepted: list[OrderRow] = []
                rejected: list[RejectedOrder] = []
                for req in reqs:
                    try:
                        accepted.append(self._create(txn, user_id, req))
                    except (InvalidOrder, InsufficientFunds) as exc:
                        rejected.append(RejectedOrder(req.client_order_id, f"{type(exc).__name__}: {exc}"))
                staged.append((accepted, rejected))
            try:
                changed = await self._commit(txn, journal)
            except DuplicateOrders as dup:  # sent again: answered with the orders it already has
                known = {**known, **dup.existing}
                continue
            return [
                BatchResult(
                    accepted=tuple(changed.get(row.id) or row.order() for row in accepted),
                    rejected=tuple(rejected),
                )
                for accepted, rejected in staged
            ]

    async def create_order(self, user_id: int, req: OrderRequest) -> Order:
        async with self._lock:
            await self._ready()
            await self._fund({user_id})
            known: dict[tuple[int, str], OrderRow] = {}
            while True:
                txn = self._txn()
                txn.known = known
                txn.fund(user_id)
                row = self._create(txn, user_id, req)
                try:
                    changed = await self._commit(txn)
                except DuplicateOrders as dup:
                    known = {**known, **dup.existing}
                    continue
                return changed.get(row.id) or row.order()

    async def cancel_orders(self, user_id: int, order_ids: Sequence[str], symbol: str) -> list[str]:
        async with self._lock:
            await self._ready()
            txn = self._txn()
            done: list[int] = []
            for order_id in order_ids:
                row = txn.order(int(order_id)) if order_id.isdigit() else None
                if row is None or row.user_id != user_id or row.symbol != symbol or row.status != "open":
                    continue
                self._release(txn, row)
                row.status = "canceled"
                done.append(row.id)
            if done:
                await self._commit(txn)
            return [str(i) for i in done]

    async def fill_partially(self, user_id: int, order_id: str, qty: Decimal) -> Order:
        """Fill `qty` of a resting limit order of the account at its own price (maker fee), as a venue
        with thin liquidity does; the order rests on with the rest. For tests and simulations of
        partial fills (the price feeds fill whole orders)."""
        async with self._lock:
            await self._ready()
            txn = self._txn()
            row = txn.order(int(order_id)) if order_id.isdigit() else None
            if row is None or row.user_id != user_id or row.type != "limit" or row.trigger_price is not None:
                raise OrderNotFound(f"order {order_id} is not a resting limit order of the account")
            if not 0 < qty < row.qty - row.filled_qty:
                raise InvalidOrder(f"{qty} is not a part of the {row.qty - row.filled_qty} left to fill")
            assert row.price is not None
            last = self._last.get(row.symbol)
            self._execute(
                txn, row, self.market(row.symbol), row.price, last[1] if last else 0, self.maker_fee, qty
            )
            changed = await self._commit(txn)
            return changed.get(row.id) or row.order()

    async def fetch_order(self, user_id: int, order_id: str, symbol: str) -> Order:
        book = self.book
        cached = book.orders.get(int(order_id)) if order_id.isdigit() else None
        if (
            cached is not None
            and book.owners.get(cached_id := int(order_id)) == user_id
            and cached.symbol == symbol
        ):
            return book.orders[cached_id]
        row = None
        if order_id.isdigit():
            async with self.db.read() as session:
                row = await session.get(PaperOrder, int(order_id))
        if row is None or row.user_id != user_id or row.symbol != symbol:
            raise OrderNotFound(f"order {order_id} not found")
        return order_row_of(row).order()

    async def fetch_order_by_client_id(self, user_id: int, client_order_id: str, symbol: str) -> Order | None:
        book = self.book
        open_order = book.open_cids.get((user_id, symbol), {}).get(client_order_id)
        if open_order is not None:  # every order the venue holds is as stored (installed after commit)
            return open_order
        finished = book.finished.pop((user_id, client_order_id), None)  # asked once; then the database
        if finished is not None:
            return finished if finished.symbol == symbol else None
        async with self.db.read() as session:
            row = (
                await session.execute(
                    select(PaperOrder).where(
                        PaperOrder.user_id == user_id, PaperOrder.client_order_id == client_order_id
                    )
                )
            ).scalar_one_or_none()
            return order_row_of(row).order() if row is not None and row.symbol == symbol else None

    async def fetch_balance(self, user_id: int, market_type: MarketType | None) -> Balance:
        # from memory, committed state only: the fleet asks for it inside its own write transaction,
        # so an account not funded yet shows the user's paper_balance without writing it
        await self._ready()
        assets = {a: [row.free, row.locked] for a, row in self.state.account(user_id).balances.items()}
        if not assets:
            start = await self._start_balance(user_id)
            if start is not None:
                assets["USDT"] = [start, ZERO]
        margin = sum((p.margin for p in self.state.account(user_id).positions.values()), ZERO)
        if margin and "USDT" in assets:
            assets["USDT"][1] += margin
        return Balance({a: AssetBalance(f, u, f + u) for a, (f, u) in assets.items()})

    async def fetch_positions(self, user_id: int, symbols: Sequence[str] | None) -> list[Position]:
        await self._ready()
        out = []
        for symbol, row in sorted(self.state.account(user_id).positions.items()):
            if row.qty == 0 or (symbols is not None and symbol not in symbols):
                continue
            last = self.last_price(symbol) or row.entry_price
            side: PositionSide = "long" if row.qty > 0 else "short"
            out.append(
                Position(
                    symbol,
                    side,
                    abs(row.qty),
                    row.entry_price,
                    Decimal(row.leverage),
                    q8((last - row.entry_price) * row.qty),
                    liquidation_price=isolated_liquidation(
                        self.market(symbol), side, row.entry_price, row.leverage
                    ),
                    margin_mode="isolated",
                )
            )
        return out

    async def set_leverage(self, user_id: int, symbol: str, leverage: int, max_leverage: int | None) -> None:
        market = self.market(symbol)
        if market.type != "swap":
            raise InvalidOrder(f"{symbol} is not a futures market")
        cap = min(x for x in (max_leverage, market.max_leverage, 10**6) if x is not None)
        if not 1 <= leverage <= cap:
            raise InvalidOrder(f"leverage {leverage} is outside 1..{cap}")
        async with self._lock:
            await self._ready()
            txn = self._txn()
            position = txn.position(user_id, symbol)
            if position.qty != 0 and position.leverage != leverage:
                raise InvalidOrder("close the position before changing its leverage")
            position.leverage = leverage
            await self._commit(txn)

    # ---- internals: accounts and balances

    async def _start_balance(self, user_id: int) -> Decimal | None:
        """The user's paper_balance (None: no such user)."""
        cached = self._start_balances.get(user_id)
        if cached is None:
            async with self.db.read() as session:
                cached = (
                    await session.execute(select(User.paper_balance).where(User.id == user_id))
                ).scalar_one_or_none()
            if cached is not None:
                self._start_balances[user_id] = cached
        return cached

    async def _fund(self, user_ids: set[int]) -> None:
        """Accounts used for the first time start with the user's paper_balance of USDT (written
        with the change that first uses them)."""
        for user_id in sorted(u for u in user_ids if not self.state.funded(u)):
            if await self._start_balance(user_id) is None:
                raise InvalidOrder(f"no paper account for user {user_id}")

    def _create(self, txn: PaperTxn, user_id: int, req: OrderRequest) -> OrderRow:
        """Stage one order in `txn`; an order with a client order id the account already used is
        that order (open ones from memory, others from `txn.known`, filled by DuplicateOrders)."""
        key = (user_id, req.client_order_id)
        existing = txn.open_by_client_id(user_id, req.client_order_id) or txn.known.get(key)
        if existing is not None:
            return existing
        market = self.market(req.symbol)
        qty = round_qty_down(market, req.qty)
        last = self._last.get(req.symbol)
        ts = last[1] if last else 0
        if req.trigger_price is not None:
            if market.type != "swap" or not req.reduce_only or req.type != "market":
                raise InvalidOrder("stop orders are reduce-only market orders on perpetuals")
            price = round_price(market, req.trigger_price)
        elif req.type == "limit":
            assert req.price is not None
            price = round_price(market, req.price)
        else:
            if last is None:
                raise TemporaryExchangeError(f"no price for {req.symbol} yet")
            factor = 1 + self.slippage if req.side == "buy" else 1 - self.slippage
            price = round_price(market, last[0] * factor)
        if qty <= 0 or qty < market.min_qty:
            raise InvalidOrder(f"quantity {req.qty} is under the minimum {market.min_qty}")
        if qty * price < market.min_notional and not req.reduce_only:
            raise InvalidOrder(f"order value {q8(qty * price)} is under the minimum {market.min_notional}")
        row = OrderRow(
            id=0,
            user_id=user_id,
            symbol=req.symbol,
            side=req.side,
            type=req.type,
            price=price if req.type == "limit" else None,
            qty=qty,
            filled_qty=ZERO,
            avg_price=None,
            fee=ZERO,
            reserved=ZERO,
            status="open",
            client_order_id=req.client_order_id,
            reduce_only=req.reduce_only,
            trigger_price=price if req.trigger_price is not None else None,
            created_ts=ts,
        )
        rate = self.maker_fee if req.type == "limit" else self.taker_fee
        if req.trigger_price is not None:  # rests, reserving nothing (it only closes)
            self._check_reduce(txn, user_id, req)
        elif req.type == "market":  # fills below, paid from free funds
            if market.type == "swap" and req.reduce_only:
                self._check_reduce(txn, user_id, req)
        elif market.type == "spot":
            if req.side == "buy":
                row.reserved = _buy_reserve(market, price, qty, rate)
                _lock_funds(txn, user_id, market.quote, row.reserved)
            else:
                row.reserved = qty
                _lock_funds(txn, user_id, market.base, qty)
        else:
            position = txn.position(user_id, req.symbol)
            if req.reduce_only:
                self._check_reduce(txn, user_id, req)
            else:
                row.reserved = q8(price * qty / position.leverage) + q8(price * qty * rate)
                _lock_funds(txn, user_id, market.quote, row.reserved)
        if req.type == "market" and req.trigger_price is None:
            self._execute(txn, row, market, price, ts, rate)
        return txn.add_order(row)

    @staticmethod
    def _check_reduce(txn: PaperTxn, user_id: int, req: OrderRequest) -> None:
        position = txn.position(user_id, req.symbol)
        if position.qty == 0 or (position.qty > 0) == (req.side == "buy"):
            raise InvalidOrder("reduce-only order would not reduce the position")

    def _fill_resting(
        self,
        txn: PaperTxn,
        row: OrderRow,
        ts: int,
        point: Decimal,
        previous: tuple[Decimal, int] | None,
    ) -> None:
        assert row.status == "open"
        if row.trigger_price is None:
            assert row.price is not None
            self._execute(txn, row, self.market(row.symbol), row.price, ts, self.maker_fee)
            return
        trigger = row.trigger_price
        walked = previous is not None and previous[1] == ts
        if walked and (previous[0] > trigger if row.side == "sell" else previous[0] < trigger):  # type: ignore[index]
            price = trigger  # the walk from the previous point passed through it
        else:
            price = point  # the point opened past it
        self._execute(txn, row, self.market(row.symbol), price, ts, self.taker_fee)

    def _execute(
        self,
        txn: PaperTxn,
        row: OrderRow,
        market: Market,
        price: Decimal,
        ts: int,
        rate: Decimal,
        qty: Decimal | None = None,
    ) -> None:
        """Fill `qty` of what `row` has left to fill (all of it when None) at `price` (fee `rate`), moving
        its reserved funds. A resting order filled in part rests on; a market order is done at once, and
        so is a reduce-only one that can fill no more (the position is closed): an order done with
        nothing filled is cancelled."""
        remaining = row.qty - row.filled_qty
        fill = remaining if qty is None else min(qty, remaining)
        capped = False
        if market.type == "swap" and row.reduce_only:  # only what closes the position fills
            position = abs(txn.position(row.user_id, row.symbol).qty)
            capped = fill > position
            fill = min(fill, position)
        done = fill == remaining or row.type == "market" or capped
        cost = q8(price * fill)
        fee_base = ZERO
        if market.type == "spot":
            quote = txn.balance(row.user_id, market.quote)
            base = txn.balance(row.user_id, market.base)
            if row.side == "buy":
                fee_base = q8(fill * rate) if market.buy_fee_in_base else ZERO
                fee = ZERO if market.buy_fee_in_base else q8(cost * rate)
                if row.type == "market":  # nothing was locked: pay from free funds
                    if quote.free < cost + fee:
                        raise InsufficientFunds(f"need {cost + fee} {market.quote}, have {quote.free}")
                    quote.free -= cost + fee
                else:
                    assert row.price is not None
                    part = row.reserved if done else _buy_reserve(market, row.price, fill, rate)
                    quote.locked -= part
                    row.reserved -= part
                    quote.free += part - cost - fee
                base.free += fill - fee_base
                fee_value = q8(fee_base * price) if fee_base else fee
            else:
                fee = fee_value = q8(cost * rate)
                if row.type == "market":
                    if base.free < fill:
                        raise InsufficientFunds(f"need {fill} {market.base}, have {base.free}")
                    base.free -= fill
                else:
                    part = row.reserved if done else fill
                    base.locked -= part
                    row.reserved -= part
                    base.free += part - fill
                quote.free += cost - fee
        else:
            fee_value = q8(cost * rate)
            self._fill_swap(txn, row, market, price, fill, fee_value, done)
        if fill:
            filled = row.filled_qty + fill
            before = row.avg_price * row.filled_qty if row.avg_price is not None else ZERO
            row.avg_price = (before + price * fill) / filled
            row.filled_qty = filled
            row.fee += fee_value
            row.fee_base += fee_base
            row.filled_ts = ts
        if done:
            row.reserved = ZERO
            row.status = "closed" if row.filled_qty else "canceled"

    @staticmethod
    def _fill_swap(
        txn: PaperTxn,
        row: OrderRow,
        market: Market,
        price: Decimal,
        qty: Decimal,
        fee: Decimal,
        done: bool,
    ) -> None:
        quote = txn.balance(row.user_id, market.quote)
        position = txn.position(row.user_id, row.symbol)
        delta = qty if row.side == "buy" else -qty
        if row.type == "market" and not row.reduce_only:
            # the margin of a market order is taken at its fill price
            need = q8(price * qty / position.leverage) + fee
            if quote.free < need:
                raise InsufficientFunds(f"need {need} {market.quote} of margin, have {quote.free}")
            quote.free -= need
            quote.locked += need
            row.reserved = need
        remaining = row.qty - row.filled_qty
        part = row.reserved if done or not remaining else q8(row.reserved * qty / remaining)
        quote.locked -= part
        quote.free += part
        row.reserved -= part
        closing = ZERO
        if position.qty != 0 and (position.qty > 0) != (delta > 0):
            closing = min(abs(delta), abs(position.qty))
        if row.reduce_only:
            delta = closing if delta > 0 else -closing
        if closing:
            sign = 1 if position.qty > 0 else -1
            pnl = q8(closing * (price - position.entry_price) * sign)
            released = q8(position.margin * closing / abs(position.qty))
            position.margin -= released
            position.realized_pnl += pnl
            quote.free += released + pnl
            position.qty += closing * -sign
            if position.qty == 0:
                position.entry_price = ZERO
                position.margin = ZERO
        opening = abs(delta) - closing
        if opening:
            margin = q8(price * opening / position.leverage)
            signed = opening if delta > 0 else -opening
            total = abs(position.qty) + opening
            position.entry_price = q8((position.entry_price * abs(position.qty) + price * opening) / total)
            position.qty += signed
            position.margin += margin
            quote.free -= margin
        quote.free -= fee
        if quote.free < 0:
            raise InsufficientFunds(f"margin call: {market.quote} balance would be {quote.free}")

    def _release(self, txn: PaperTxn, row: OrderRow) -> None:
        market = self.market(row.symbol)
        asset = market.base if market.type == "spot" and row.side == "sell" else market.quote
        if row.reserved:
            balance = txn.balance(row.user_id, asset)
            balance.locked -= row.reserved
            balance.free += row.reserved
            row.reserved = ZERO


class PaperExchange:
    """One paper account (`engine.exchange.Exchange`)."""

    def __init__(self, venue: PaperVenue, user_id: int) -> None:
        self.venue = venue
        self.user_id = user_id

    async def load_markets(self) -> Mapping[str, Market]:
        return self.venue.markets

    def market(self, symbol: str) -> Market:
        return self.venue.market(symbol)

    async def fetch_ticker(self, symbol: str) -> Ticker:
        self.venue.market(symbol)
        last = self.venue._last.get(symbol)
        if last is None:
            raise TemporaryExchangeError(f"no price for {symbol} yet")
        return Ticker(symbol, last[0], last[0], last[0], last[1])

    async def fetch_candles(
        self, symbol: str, timeframe: str, since: int | None = None, limit: int | None = None
    ) -> list[Candle]:
        raise ExchangeNotSupported("the paper exchange has no candle history; read the replay feed's file")

    async def fetch_balance(self, market_type: MarketType | None = None) -> Balance:
        return await self.venue.fetch_balance(self.user_id, market_type)

    async def fetch_positions(self, symbols: Sequence[str] | None = None) -> list[Position]:
        return await self.venue.fetch_positions(self.user_id, symbols)

    async def create_order(self, req: OrderRequest) -> Order:
        return await self.venue.create_order(self.user_id, req)

    async def create_orders(self, reqs: Sequence[OrderRequest]) -> BatchResult:
        return await self.venue.create_orders(self.user_id, reqs)

    async def cancel_order(self, order_id: str, symbol: str) -> None:
        if not await self.venue.cancel_orders(self.user_id, [order_id], symbol):
            raise OrderNotFound(f"order {order_id} is not open")

    async def cancel_orders(self, order_ids: Sequence[str], symbol: str) -> list[str]:
        return await self.venue.cancel_orders(self.user_id, order_ids, symbol)

    async def fetch_order(self, order_id: str, symbol: str) -> Order:
        return await self.venue.fetch_order(self.user_id, order_id, symbol)

    async def fetch_order_by_client_id(self, client_order_id: str, symbol: str) -> Order | None:
        return await self.venue.fetch_order_by_client_id(self.user_id, client_order_id, symbol)

    async def fetch_open_orders(self, symbol: str) -> list[Order]:
        return self.venue.book.open_orders(self.user_id, symbol)

    def open_client_order_ids(self, symbol: str) -> Collection[str]:
        """The client order ids of `fetch_open_orders(symbol)` without building the orders (an
        optional extra of the paper exchange, as `orders_version`; a live view: use it at once)."""
        return self.venue.book.open_client_order_ids(self.user_id, symbol)

    def orders_version(self, symbol: str, prefix: str | None = None) -> tuple[int, int]:
        """Changes whenever this account's open orders on `symbol` (with `prefix`: those whose client
        order ids start with it) change. An optional extra of the paper exchange: the grid runtime
        skips reconciling a bot while its own orders' version stays the same."""
        return self.venue.serial, self.venue.book.orders_version(self.user_id, symbol, prefix)

    async def set_leverage(
        self,
        symbol: str,
        leverage: int,
        max_leverage: int | None = None,
        *,
        side: PositionSide | None = None,
    ) -> None:
        await self.venue.set_leverage(self.user_id, symbol, leverage, max_leverage)

    async def set_isolated_margin(self, symbol: str) -> None:
        """Every paper position is isolated (it can lose its margin, no more): nothing to set."""
        if self.venue.market(symbol).type != "swap":
            raise InvalidOrder(f"{symbol} is not a futures market")

    async def position_mode(self) -> PositionMode:
        return "one_way"

    async def fee_rates(self, symbol: str) -> FeeRates:
        market = self.venue.market(symbol)
        return FeeRates(market.maker_fee, market.taker_fee, "market")

    @property
    def one_wallet(self) -> bool:
        return True  # one paper balance for spot and futures

    async def close(self) -> None:
        return None


# ---- helpers -------------------------------------------------------------------------------------------


def _settle(
    future: asyncio.Future[BatchResult],
    result: BatchResult | None = None,
    *,
    exc: BaseException | None = None,
) -> None:
    if future.done():  # the caller was cancelled
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        assert result is not None
        future.set_result(result)


def _current_exception() -> BaseException:
    import sys

    exc = sys.exc_info()[1]
    assert exc is not None
    return exc


def _buy_reserve(market: Market, price: Decimal, qty: Decimal, rate: Decimal) -> Decimal:
    """What a limit buy of `qty` at `price` locks (quote): its cost, and its fee where that is paid in
    quote."""
    cost = q8(price * qty)
    return cost if market.type == "spot" and market.buy_fee_in_base else cost + q8(price * qty * rate)


def _lock_funds(txn: PaperTxn, user_id: int, asset: str, amount: Decimal) -> None:
    balance = txn.balance(user_id, asset)
    if balance.free < amount:
        raise InsufficientFunds(f"need {amount} {asset}, have {balance.free}")
    balance.free -= amount
    balance.locked += amount


async def load_cursor(db: Database, name: str) -> int | None:
    """The committed position of replay feed `name`, or None before its first point."""
    async with db.read() as session:
        row = await session.get(ReplayCursor, name)
        return row.position if row is not None else None


__all__ = [
    "ExchangeError",
    "PaperExchange",
    "PaperVenue",
    "load_cursor",
]


def isolated_liquidation(market: Market, side: PositionSide, entry: Decimal, leverage: int) -> Decimal | None:
    """The paper venue's liquidation price of an isolated position: where its margin (entry x qty /
    leverage) is gone, entry x (1 - 1/leverage) for a long and entry x (1 + 1/leverage) for a short, on
    the price tick (maintenance margin and fees ignored, as the trend engine's own exits do,
    engine.trend.positions.exit_levels). A 1x long has none."""
    if side == "long" and leverage <= 1:
        return None
    sign = 1 if side == "long" else -1
    return round_price(market, entry * (1 - sign * Decimal(1) / Decimal(leverage)))
