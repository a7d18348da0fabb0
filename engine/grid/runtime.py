"""One tick of one grid bot against an exchange, with its state in the database (engine.grid.store).

The tick is one idempotent iteration (it may be re-run after a crash at any point):

1. reconcile: every interval that has an order out names it by its client order id (stored in
   grid_orders.buy_order_id / sell_order_id *before* the order is sent, deterministic from
   engine.grid.intervals.client_order_id). Ids missing from the exchange's open orders are fetched: a filled
   order goes through engine.grid.intervals' state machine exactly once (the new state, the trades row, the
   counters, the stats and the alerts are one transaction, and the next state names a new id); an
   id the exchange never got is sent again (same id: the exchange refuses a duplicate). The orders
   that answer the fills go out once that transaction is committed; on the paper venue of the same
   database they are placed inside it (one commit per fill, and never a journal without its orders).
2. start: once the trigger price is crossed (or at once without one), buy limits on every line
   below the price, the intervals at or above it bought at market in one order, their sells placed.
3. stops: at stop_upper / stop_lower everything is cancelled, the fills that raced the cancel are
   applied, the position is closed when the bot says so, the owner is alerted and the bot stopped.

The bot's state is cached in memory between ticks (a tick that changes nothing does no I/O but
the ticker and the open orders); any failure drops the cache, so the next tick reloads the truth
from the database.

Locks: a bot's tick and its halt never overlap (one asyncio.Lock per bot). Placement that commits
capital (the initial grid, a grid placed again after a restart: the capital check, the journal and
the orders) and the stops (cancel, close) are serialised per (user, symbol), so two bots of one
account ordering at once cannot overdraw. The counter-order of a fill is not: it re-uses capital
the grid already holds (the bought coin, the quote the sell freed) and grids trade spot, where bots
share no position; taking the account's lock for it would queue every bot of an account behind each
other's database writes.
Alert kinds written here: grid_fill, grid_cycle, grid_stop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from dataclasses import replace
from decimal import Decimal

from engine.client_ids import next_client_id
from engine.exchange import (
    BatchResult,
    Exchange,
    InsufficientFunds,
    InvalidOrder,
    Order,
    OrderRequest,
)
from engine.grid.intervals import (
    IntervalState,
    IntervalStatus,
    OrderIntent,
    Side,
    client_order_id,
    client_order_prefix,
    on_buy_filled,
    on_order_placed,
    on_sell_filled,
)
from engine.grid.store import GridBook, GridStore, JointVenue, _Changes, trade_row
from engine.money import ZERO, fee_for, q8
from engine.ports import CapitalFor, ExchangeFor, Stopper

HOLDING = (IntervalStatus.BUY_FILLED,)
NEEDS_BUY = (IntervalStatus.PENDING, IntervalStatus.SELL_FILLED)


class GridRuntime:
    """Ticks grid bots. `exchange_for(user_id)` gives the user's exchange account,
    `stopper(user_id, bot_id, reason)` stops a bot through the fleet, `capital(user_id, percent)`
    is the bot's allocated capital (quote currency)."""

    def __init__(
        self,
        store: GridStore,
        exchange_for: ExchangeFor,
        stopper: Stopper,
        capital: CapitalFor | None = None,
    ) -> None:
        self.store = store
        self.exchange_for = exchange_for
        self.stopper = stopper
        self.capital = capital
        self._books: dict[int, GridBook] = {}
        self._locks: dict[tuple[int, str], asyncio.Lock] = {}
        self._bot_locks: dict[int, asyncio.Lock] = {}

    def forget(self, bot_id: int) -> None:
        self._books.pop(bot_id, None)

    def lock_for(self, user_id: int, symbol: str) -> asyncio.Lock:
        """The account's placement lock on `symbol` (see the module docstring)."""
        key = (user_id, symbol)
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    def _bot_lock(self, bot_id: int) -> asyncio.Lock:
        lock = self._bot_locks.get(bot_id)
        if lock is None:
            lock = self._bot_locks[bot_id] = asyncio.Lock()
        return lock

    async def preload(self, bot_ids: Sequence[int]) -> None:
        """Load the books of these bots at once (a restart resumes them all; one by one, each first
        tick would read its own)."""
        todo = [b for b in bot_ids if b not in self._books]
        self._books.update(await self.store.load_many(todo))

    def orders_out(self) -> list[tuple[int, str]]:
        """(user id, client order id) of every order the loaded books have out."""
        return [(book.user_id, cid) for book in self._books.values() for cid in book.expected()]

    async def book(self, bot_id: int) -> GridBook | None:
        book = self._books.get(bot_id)
        if book is None:
            book = await self.store.load(bot_id)
            if book is not None:
                self._books[bot_id] = book
        return book

    async def tick(self, bot_id: int) -> None:
        """One iteration of the bot (see the module docstring); raises what the exchange raised."""
        book = await self.book(bot_id)
        if book is None:
            return
        try:
            async with self._bot_lock(bot_id):
                stop_reason = await self._tick(book)
        except BaseException:
            self.forget(bot_id)  # the database holds the truth; reload it next time
            raise
        if stop_reason is not None:  # outside the lock: stopping calls back into halt()
            await self.stopper(book.user_id, book.bot_id, stop_reason)

    async def halt(self, bot_id: int, *, close_position: bool | None = None) -> None:
        """The bot was stopped: cancel its orders, apply the fills that raced the cancel and close its
        position when asked (None = the bot's own setting). Safe to call again."""
        book = self._books.pop(bot_id, None) or await self.store.load(bot_id, require_running=False)
        if book is None:
            return
        async with self._bot_lock(bot_id), self.lock_for(book.user_id, book.symbol):
            await self._cancel_everything(book, close_position)

    # ---- the tick

    async def _tick(self, book: GridBook) -> str | None:
        exchange = await self.exchange_for(book.user_id)
        if book.market is None:
            await exchange.load_markets()
            book.market = exchange.market(book.symbol)
        price = (await exchange.fetch_ticker(book.symbol)).last
        book.price = price
        version_of = getattr(exchange, "orders_version", None)  # the paper exchange has it
        version = (
            version_of(book.symbol, client_order_prefix(book.bot_id)) if version_of is not None else None
        )
        if version is not None and version == book.settled and self._stop_reason(book, price) is None:
            return None  # quiet: none of the bot's orders changed since everything was in place
        book.settled = None
        if not book.started:
            if not await self._triggered(book, price):
                return None
            async with self.lock_for(book.user_id, book.symbol):
                await self._place_missing(book, exchange, price, fresh=True)
        elif any(s.status in NEEDS_BUY or s.status in HOLDING for s in book.intervals):
            async with self.lock_for(book.user_id, book.symbol):  # after a stop and a restart
                await self._place_missing(book, exchange, price, fresh=False)
        await self._reconcile(book, exchange)
        reason = self._stop_reason(book, price)
        if reason is not None:
            await self._stop_for_price(book, exchange, reason, price)
        elif version is not None and book.started and self._settled(book):
            # the version read before reconciling: any change since (a fill while this tick waited
            # for the database, the orders it just placed) makes the next tick reconcile again
            book.settled = version
        return reason

    @staticmethod
    def _settled(book: GridBook) -> bool:
        """Every interval has its order out (nothing to place, nothing pending)."""
        return not any(s.status in NEEDS_BUY or s.status in HOLDING for s in book.intervals)

    async def _triggered(self, book: GridBook, price: Decimal) -> bool:
        """Without a trigger at once; with one, when the price has crossed it since the first look."""
        if book.trigger is None:
            return True
        if book.first_price is None:
            book.first_price = price
            await self.store.save(book, _Changes(), price=price)
            return price == book.trigger
        first = book.first_price
        return price == book.trigger or (first < book.trigger) != (price < book.trigger)

    @staticmethod
    def _stop_reason(book: GridBook, price: Decimal) -> str | None:
        if book.stop_upper is not None and price >= book.stop_upper:
            return "stop_upper"
        if book.stop_lower is not None and price <= book.stop_lower:
            return "stop_lower"
        return None

    async def _place_missing(
        self, book: GridBook, exchange: Exchange, price: Decimal, *, fresh: bool
    ) -> None:
        """Give every interval without an order its order: a buy limit below the price, a market buy
        (one order for all) at or above it, a sell for the held ones. Journaled before sending."""
        if self._stop_reason(book, price) is not None:
            return
        market_ids = [s.index for s in book.intervals if s.status in NEEDS_BUY and s.buy_price >= price]
        limit_ids = [s.index for s in book.intervals if s.status in NEEDS_BUY and s.buy_price < price]
        sell_ids = [s.index for s in book.intervals if s.status in HOLDING]
        if not (market_ids or limit_ids or sell_ids):
            return
        extra = sum((book.intervals[i].qty * book.intervals[i].buy_price for i in limit_ids), ZERO)
        extra += sum((book.intervals[i].qty * price for i in market_ids), ZERO)
        await self._check_capital(book, extra)
        changes = _Changes()

        async def cid_for(base: str) -> str:
            if fresh:
                return base
            cid = base
            while True:  # an id a cancelled order used cannot be used again
                found = await exchange.fetch_order_by_client_id(cid, book.symbol)
                if found is None or found.status in ("open", "closed"):
                    return cid
                cid = next_client_id(cid)

        if market_ids:
            first = book.intervals[market_ids[0]]
            cid = await cid_for(client_order_id(book.bot_id, first.index, first.cycle, Side.BUY) + "m")
            for i in market_ids:
                book.intervals[i] = replace(book.intervals[i], status=IntervalStatus.BUY_PLACED)
                book.buy_cids[i] = cid
                changes.touched.add(i)
        for i in limit_ids:
            s = book.intervals[i]
            book.intervals[i] = replace(s, status=IntervalStatus.BUY_PLACED)
            book.buy_cids[i] = await cid_for(client_order_id(book.bot_id, i, s.cycle, Side.BUY))
            changes.touched.add(i)
        for i in sell_ids:
            s = book.intervals[i]
            book.intervals[i] = replace(s, status=IntervalStatus.SELL_PLACED)
            book.sell_cids[i] = await cid_for(client_order_id(book.bot_id, i, s.cycle, Side.SELL))
            changes.touched.add(i)
        await self.store.save(book, changes, price=price)
        await self._send(book, exchange, book.order_requests(list(book.expected())))

    async def _check_capital(self, book: GridBook, extra: Decimal) -> None:
        if self.capital is None:
            return
        allocated = await self.capital(book.user_id, book.allocation_percent)
        needed = book.committed_capital() + extra
        if needed > allocated:
            raise InsufficientFunds(
                f"the grid would commit {q8(needed)} but the bot's allocated capital is {q8(allocated)}"
            )

    async def _send(self, book: GridBook, exchange: Exchange, reqs: list[OrderRequest]) -> None:
        if not reqs:
            return
        market = [r for r in reqs if r.type == "market"]
        limits = [r for r in reqs if r.type == "limit"]
        for req in market:  # a market buy pays for the sells placed after it
            await exchange.create_order(req)
        if limits:
            _raise_rejected(await exchange.create_orders(limits))
            # ids in result.unknown are looked up (and sent again if missing) by the next reconcile

    def _joint_venue(self, exchange: Exchange) -> JointVenue | None:
        """The paper venue behind `exchange` when it writes to the store's database: the orders that
        answer a tick's fills then go out in the journal's own transaction (one commit per fill)."""
        venue = getattr(exchange, "venue", None)  # the paper exchange has it
        if venue is None or getattr(venue, "db", None) is not self.store.db:
            return None
        return venue  # type: ignore[no-any-return]

    async def _reconcile(self, book: GridBook, exchange: Exchange, *, stopping: bool = False) -> None:
        """Apply what happened on the exchange to the intervals (see the module docstring)."""
        for _ in range(4):  # a market fill places sells, which the same tick reconciles once more
            expected = book.expected()
            if not expected:
                return
            ids_of = getattr(exchange, "open_client_order_ids", None)  # the paper exchange has it
            if ids_of is not None:
                open_ids: Collection[str | None] = ids_of(book.symbol)
            else:
                open_ids = {o.client_order_id for o in await exchange.fetch_open_orders(book.symbol)}
            missing = [cid for cid in expected if cid not in open_ids]
            if not missing:
                return
            found: list[tuple[str, Order | None]] = [
                (cid, await exchange.fetch_order_by_client_id(cid, book.symbol)) for cid in missing
            ]
            found.sort(key=_fill_order)
            changes = _Changes()
            resend: list[str] = []
            for cid, order in found:
                if order is None:
                    if stopping:
                        self._withdraw(book, expected[cid], changes)
                    else:
                        resend.append(cid)
                elif order.status == "closed":
                    self._apply_fill(book, order, expected[cid], changes, stopping)
                elif order.status in ("canceled", "rejected"):
                    if stopping or order.status == "canceled":
                        self._withdraw(book, expected[cid], changes)
                    else:
                        raise InvalidOrder(f"order {cid} was rejected by the exchange")
            requests = [] if stopping else book.order_requests(resend) + changes.requests
            if changes:
                venue = self._joint_venue(exchange)
                placed = await self.store.save(
                    book, changes, price=book.price, orders=requests if venue else (), venue=venue
                )
                if placed is not None:  # the orders went out in the journal's own transaction
                    _raise_rejected(placed)
                    requests = []
            if stopping:
                return
            await self._send(book, exchange, requests)
            if not changes.fills:
                return

    def _withdraw(self, book: GridBook, ids: list[int], changes: _Changes) -> None:
        """The interval's order is gone without a fill: a buy leaves it empty, a sell leaves it holding."""
        for i in ids:
            s = book.intervals[i]
            status = (
                IntervalStatus.PENDING if s.status == IntervalStatus.BUY_PLACED else IntervalStatus.BUY_FILLED
            )
            book.intervals[i] = replace(s, status=status)
            changes.touched.add(i)

    def _apply_fill(
        self, book: GridBook, order: Order, ids: list[int], changes: _Changes, stopping: bool
    ) -> None:
        assert book.market is not None
        price = order.avg_fill_price or order.price
        assert price is not None
        ts = order.ts or 0
        changes.fills += 1
        changes.last_fill_ts = ts
        profit_total = ZERO
        for i in sorted(ids):
            s = book.intervals[i]
            changes.touched.add(i)
            if s.status == IntervalStatus.BUY_PLACED:
                if order.type == "market":
                    qty, fee = s.qty, fee_for(price, s.qty, book.market.taker_fee)
                else:
                    qty, fee = order.filled_qty, order.fee
                new, intent = on_buy_filled(s, price, qty, fee, ts)
                book.filled_buys += 1
                if not stopping:
                    new = self._placed(book, new, intent, changes)
                book.intervals[i] = new
                changes.alerts.append(("grid_fill", book.fill_alert(i, "buy", price, qty, fee)))
            else:
                new, result, intent = on_sell_filled(s, price, order.filled_qty, order.fee, ts)
                book.filled_sells += 1
                book.realized += result.profit
                book.total_pnl += result.profit
                book.total_trades += 1
                book.winning_trades += result.profit > 0
                book.sell_fills[i] = (price, order.filled_qty, ts)
                profit_total += result.profit
                if not stopping:
                    new = self._placed(book, new, intent, changes)
                book.intervals[i] = new
                changes.alerts.append(
                    ("grid_fill", book.fill_alert(i, "sell", price, order.filled_qty, order.fee))
                )
                changes.alerts.append(
                    (
                        "grid_cycle",
                        {
                            **book.fill_alert(i, "sell", price, order.filled_qty, order.fee),
                            "cycle": result.cycle + 1,
                            "profit": str(result.profit),
                            "realized_profit": str(book.realized),
                        },
                    )
                )
        changes.trades.append(
            trade_row(
                book,
                side=order.side,
                order_type=order.type,
                qty=order.filled_qty,
                price=price,
                fee=order.fee,
                realized_pnl=profit_total if order.side == "sell" else None,
                exchange_order_id=order.id,
                client_order_id=order.client_order_id,
                ts=ts,
            )
        )

    def _placed(
        self, book: GridBook, state: IntervalState, intent: OrderIntent, changes: _Changes
    ) -> IntervalState:
        """Journal the counter-order of a fill (it goes out after the transaction commits)."""
        cid = intent.client_order_id(book.bot_id)
        if intent.side is Side.SELL:
            book.sell_cids[state.index] = cid
        else:
            book.buy_cids[state.index] = cid
        assert intent.price is not None
        changes.requests.append(
            OrderRequest(book.symbol, intent.side.value, "limit", intent.qty, intent.price, cid)
        )
        return on_order_placed(state, intent)

    # ---- stops

    async def _stop_for_price(self, book: GridBook, exchange: Exchange, reason: str, price: Decimal) -> None:
        async with self.lock_for(book.user_id, book.symbol):
            await self._cancel_everything(book, None, exchange)
        changes = _Changes()
        changes.alerts.append(
            (
                "grid_stop",
                {
                    "bot_id": book.bot_id,
                    "name": book.name,
                    "symbol": book.symbol,
                    "reason": reason,
                    "price": str(price),
                    "realized_profit": str(book.realized),
                },
            )
        )
        await self.store.save(book, changes, price=price)
        self.forget(book.bot_id)

    async def _cancel_everything(
        self, book: GridBook, close_position: bool | None, exchange: Exchange | None = None
    ) -> None:
        exchange = exchange or await self.exchange_for(book.user_id)
        if book.market is None:
            await exchange.load_markets()
            book.market = exchange.market(book.symbol)
        mine = set(book.expected())
        open_ids = [o.id for o in await exchange.fetch_open_orders(book.symbol) if o.client_order_id in mine]
        if open_ids:
            await exchange.cancel_orders(open_ids, book.symbol)
        await self._reconcile(book, exchange, stopping=True)
        if close_position if close_position is not None else book.close_on_stop:
            await self._close_position(book, exchange)

    async def _close_position(self, book: GridBook, exchange: Exchange) -> None:
        """Sell what the grid holds at market (one order) and book each interval's result."""
        held = [s for s in book.intervals if s.status == IntervalStatus.BUY_FILLED]
        if not held:
            return
        qty = sum((s.qty for s in held), ZERO)
        cid = f"mb{book.bot_id}x{book.filled_sells}c{len(held)}"
        order = await exchange.create_order(OrderRequest(book.symbol, "sell", "market", qty, book.price, cid))
        if order.status != "closed" or book.market is None:
            raise InvalidOrder(f"closing order {cid} did not fill")
        price = order.avg_fill_price or order.price or ZERO
        changes = _Changes(last_fill_ts=order.ts)
        pnl = ZERO
        for s in held:
            fee = fee_for(price, s.qty, book.market.taker_fee)
            new, result, _ = on_sell_filled(s, price, s.qty, fee, order.ts or 0)
            book.intervals[s.index] = replace(new, status=IntervalStatus.PENDING)
            book.filled_sells += 1
            book.realized += result.profit
            book.total_pnl += result.profit
            book.total_trades += 1
            book.winning_trades += result.profit > 0
            pnl += result.profit
            changes.touched.add(s.index)
        changes.trades.append(
            trade_row(
                book,
                side="sell",
                order_type="market",
                qty=order.filled_qty,
                price=price,
                fee=order.fee,
                realized_pnl=pnl,
                exchange_order_id=order.id,
                client_order_id=cid,
                ts=order.ts,
            )
        )
        changes.alerts.append(("grid_fill", book.fill_alert(-1, "sell", price, qty, order.fee)))
        await self.store.save(book, changes, price=book.price)


def _raise_rejected(result: BatchResult) -> None:
    """The first order the exchange refused, as the error that stops the bot."""
    for rejected in result.rejected:
        if "insufficient" in rejected.reason.lower():
            raise InsufficientFunds(f"order {rejected.client_order_id}: {rejected.reason}")
        raise InvalidOrder(f"order {rejected.client_order_id}: {rejected.reason}")


def _fill_order(pair: tuple[str, Order | None]) -> tuple[int, int, str]:
    """Fills in the order the exchange made them: by time, then by order id, compared as a number
    when it is one ("99" before "100"; the paper venue's and Bitget's ids are decimal); not found first."""
    order = pair[1]
    if order is None:
        return (0, 0, "")
    return (order.ts or 0, len(order.id), order.id)
