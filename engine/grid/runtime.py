"""One tick of one grid bot against an exchange, with its state in the database (engine.grid.store).

The tick is one idempotent iteration (it may be re-run after a crash at any point):

1. reconcile: every interval that has an order out names it by its client order id (stored in
   grid_orders.buy_order_id / sell_order_id *before* the order is sent, deterministic from
   engine.grid.intervals.client_order_id). Ids missing from the exchange's open orders are fetched: an
   order that is done goes through engine.grid.intervals' state machine exactly once with what really
   filled, as the venue reports it (the new state, the trades row, the counters, the stats and the
   alerts are one transaction, and the next state names a new id); an id the exchange never got is
   sent again (same id: the exchange refuses a duplicate). The orders that answer the fills go out once
   that transaction is committed; on the paper venue of the same database they are placed inside it
   (one commit per fill, and never a journal without its orders).
2. start: once the trigger price is crossed (or at once without one), buy limits on every line
   below the price, the intervals at or above it bought at market in one order, their sells placed.
3. stops: at stop_upper / stop_lower the owner is alerted and the bot is stopped through the fleet,
   whose stop (`halt`) cancels everything, books what raced the cancel and keeps or sells the coin.

What a fill leaves (DESIGN.md, "A bot's life with real money"): a buy of q whose fee the venue took in
the coin leaves q - fee; the interval holds that on the lot step and sells exactly that; what is left
below the lot step is the bot's dust, at its buy price. An order cancelled after a partial fill is
booked for what filled: a buy's interval holds it (and sells it), a sell's interval keeps the rest.

The bot's state is cached in memory between ticks (a tick that changes nothing does no I/O but
the ticker and the open orders); any failure drops the cache, so the next tick reloads the truth
from the database.

Locks: a bot's tick and its halt never overlap (one asyncio.Lock per bot), and once a halt has begun
no tick of the bot runs until it is started again (`resume`). Placement that commits capital (the
initial grid, a grid placed again after a restart: the capital check, the journal and the orders) and
the stops (cancel, sell) are serialised per (user, symbol), so two bots of one account ordering at
once cannot overdraw. The counter-order of a fill is not: it re-uses capital the grid already holds
(the bought coin, the quote the sell freed) and grids trade spot, where bots share no position;
taking the account's lock for it would queue every bot of an account behind each other's writes.
Alert kinds written here: grid_fill, grid_cycle, grid_stop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Sequence
from dataclasses import replace
from decimal import Decimal

from engine.client_ids import belongs_to, checked, next_client_id
from engine.exchange import (
    BatchResult,
    Exchange,
    InsufficientFunds,
    InvalidOrder,
    Market,
    Order,
    OrderRequest,
)
from engine.grid.intervals import (
    CycleResult,
    IntervalState,
    IntervalStatus,
    OrderIntent,
    Side,
    client_order_id,
    close_order_id,
    on_buy_filled,
    on_order_placed,
    on_sell_filled,
    on_sell_partly_filled,
)
from engine.grid.store import GridBook, GridStore, JointVenue, _Changes, trade_row
from engine.money import ZERO, floor_to_step, q8
from engine.ports import CapitalFor, ExchangeFor, HaltReport, StopIncomplete, Stopper

log = logging.getLogger(__name__)

HOLDING = (IntervalStatus.BUY_FILLED,)
NEEDS_BUY = (IntervalStatus.PENDING, IntervalStatus.SELL_FILLED)


class GridRuntime:
    """Ticks grid bots. `exchange_for(user_id, venue)` gives the user's account on the bot's venue,
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
        self._halted: set[int] = set()  # bots whose stop has begun: no tick until `resume`

    def forget(self, bot_id: int) -> None:
        self._books.pop(bot_id, None)

    def resume(self, bot_id: int) -> None:
        """The bot was started (again): its ticks run."""
        self._halted.discard(bot_id)
        self.forget(bot_id)

    def lock_for(self, user_id: int, symbol: str) -> asyncio.Lock:
        """The account's placement lock on `symbol` (see the module docstring)."""
        key = (user_id, symbol)
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    def bot_lock(self, bot_id: int) -> asyncio.Lock:
        """The lock a bot's tick holds: a user's action on the bot (stop, edit) takes it too."""
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
        if bot_id in self._halted:
            return
        try:
            async with self.bot_lock(bot_id):
                if bot_id in self._halted:  # a stop began while this tick waited for the lock
                    return
                book = await self.book(bot_id)  # under the lock: the book the last tick left
                if book is None:
                    return
                stop_reason = await self._tick(book)
        except BaseException:
            self.forget(bot_id)  # the database holds the truth; reload it next time
            raise
        if stop_reason is not None:  # outside the lock: stopping calls back into halt()
            await self.stopper(book.user_id, book.bot_id, stop_reason)

    async def halt(self, bot_id: int, *, sell: bool | None = None) -> HaltReport:
        """The bot is stopping: cancel every order of it on the venue, book what filled before the
        cancel took (partial fills included), check that nothing of it is left open, then sell the coin
        it holds at market when asked (None = the bot's own setting). Raises StopIncomplete while orders
        stay open (the caller tries again later). Safe to call again; no tick runs from now on."""
        self._halted.add(bot_id)
        async with self.bot_lock(bot_id):
            self.forget(bot_id)
            book = await self.store.load(bot_id, require_running=False)  # a fresh book
            if book is None:
                return HaltReport()
            exchange = await self._exchange(book)
            async with self.lock_for(book.user_id, book.symbol):
                return await self._halt(book, exchange, sell)

    # ---- the tick

    async def _exchange(self, book: GridBook) -> Exchange:
        exchange = await self.exchange_for(book.user_id, book.venue)
        if book.market is None:
            await exchange.load_markets()
            book.market = exchange.market(book.symbol)
        return exchange

    async def _tick(self, book: GridBook) -> str | None:
        exchange = await self._exchange(book)
        price = (await exchange.fetch_ticker(book.symbol)).last
        book.price = price
        version_of = getattr(exchange, "orders_version", None)  # paper; live: None while not streamed
        version = (
            version_of(book.symbol, book.prefix) if version_of is not None and not book.legacy_ids else None
        )
        if version is not None and version == book.settled and self._stop_reason(book, price) is None:
            return None  # quiet: none of the bot's orders changed since everything was in place
        book.settled = None
        deferred: list[OrderRequest] = []  # limits that go out with the market buy's sells
        if not book.started:
            if not await self._triggered(book, price):
                return None
            async with self.lock_for(book.user_id, book.symbol):
                deferred = await self._place_missing(book, exchange, price, fresh=True)
        elif any(s.status in NEEDS_BUY or s.status in HOLDING for s in book.intervals):
            async with self.lock_for(book.user_id, book.symbol):  # after a stop, a restart, a partial fill
                deferred = await self._place_missing(book, exchange, price, fresh=False)
        await self._reconcile(book, exchange, deferred=deferred)
        reason = self._stop_reason(book, price)
        if reason is not None:
            await self._alert_stop(book, reason, price)
            self._halted.add(book.bot_id)  # the stop through the fleet cancels everything
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

    async def _fresh_id(self, exchange: Exchange, book: GridBook, base: str) -> str:
        """`base`, or its next resend when an order the exchange cancelled already used it (a used id
        cannot be sent again); an id whose order is open or done is the same order."""
        return (await self._id_and_order(exchange, book, base))[0]

    async def _id_and_order(self, exchange: Exchange, book: GridBook, base: str) -> tuple[str, Order | None]:
        """`_fresh_id` and the order already under it (open or filled), if any."""
        cid = checked(base)
        while True:
            found = await exchange.fetch_order_by_client_id(cid, book.symbol)
            if found is None or found.status == "open" or (found.status == "closed" and found.filled_qty):
                return cid, found
            cid = next_client_id(cid)

    async def _place_missing(
        self, book: GridBook, exchange: Exchange, price: Decimal, *, fresh: bool
    ) -> list[OrderRequest]:
        """Give every interval without an order its order: a buy limit below the price, a market buy
        (one order for all) at or above it, a sell for the held ones. Journaled before sending. On an
        exchange that batches (live), the limits of a placement with a market buy are returned unsent:
        the reconcile that books the buy sends them with its sells, in one create_orders (a 100-line
        grid starts in 1 + 2 order requests on a classic Bitget account)."""
        if self._stop_reason(book, price) is not None:
            return []
        market_ids = [s.index for s in book.intervals if s.status in NEEDS_BUY and s.buy_price >= price]
        limit_ids = [s.index for s in book.intervals if s.status in NEEDS_BUY and s.buy_price < price]
        sell_ids = [s.index for s in book.intervals if s.status in HOLDING]
        if not (market_ids or limit_ids or sell_ids):
            return []
        extra = sum((book.intervals[i].qty * book.intervals[i].buy_price for i in limit_ids), ZERO)
        extra += sum((book.intervals[i].qty * price for i in market_ids), ZERO)
        await self._check_capital(book, extra)
        changes = _Changes()
        ns, bot = book.namespace, book.bot_id

        async def cid_for(base: str) -> str:
            return checked(base) if fresh else await self._fresh_id(exchange, book, base)

        if market_ids:
            first = book.intervals[market_ids[0]]
            cid = await cid_for(client_order_id(ns, bot, first.index, first.cycle, Side.BUY) + "m")
            for i in market_ids:
                book.intervals[i] = replace(book.intervals[i], status=IntervalStatus.BUY_PLACED)
                book.buy_cids[i] = cid
                changes.touched.add(i)
        for i in limit_ids:
            s = book.intervals[i]
            book.intervals[i] = replace(s, status=IntervalStatus.BUY_PLACED)
            book.buy_cids[i] = await cid_for(client_order_id(ns, bot, i, s.cycle, Side.BUY))
            changes.touched.add(i)
        for i in sell_ids:
            s = book.intervals[i]
            book.intervals[i] = replace(s, status=IntervalStatus.SELL_PLACED)
            book.sell_cids[i] = await cid_for(client_order_id(ns, bot, i, s.cycle, Side.SELL))
            changes.touched.add(i)
        await self.store.save(book, changes, price=price)
        batches = getattr(exchange, "batch_limit", None) is not None  # the live adapter has it
        return await self._send(book, exchange, book.order_requests(list(book.expected())), defer=batches)

    async def _check_capital(self, book: GridBook, extra: Decimal) -> None:
        if self.capital is None:
            return
        allocated = await self.capital(book.user_id, book.venue, book.allocation_percent)
        needed = book.committed_capital() + extra
        if needed > allocated:
            raise InsufficientFunds(
                f"the grid would commit {q8(needed)} but the bot's allocated capital is {q8(allocated)}"
            )

    async def _send(
        self, book: GridBook, exchange: Exchange, reqs: list[OrderRequest], *, defer: bool = False
    ) -> list[OrderRequest]:
        """Market orders first, then the limits in one create_orders; with `defer`, limits behind a
        market order are returned unsent instead (see `_place_missing`)."""
        if not reqs:
            return []
        market = [r for r in reqs if r.type == "market"]
        limits = [r for r in reqs if r.type == "limit"]
        for req in market:  # a market buy pays for the sells placed after it
            await exchange.create_order(req)
        if limits and market and defer:
            return limits
        if limits:
            _raise_rejected(await exchange.create_orders(limits))
            # ids in result.unknown are looked up (and sent again if missing) by the next reconcile
        return []

    def _joint_venue(self, exchange: Exchange) -> JointVenue | None:
        """The paper venue behind `exchange` when it writes to the store's database: the orders that
        answer a tick's fills then go out in the journal's own transaction (one commit per fill)."""
        venue = getattr(exchange, "venue", None)  # the paper exchange has it
        if venue is None or getattr(venue, "db", None) is not self.store.db:
            return None
        return venue  # type: ignore[no-any-return]

    async def _reconcile(
        self,
        book: GridBook,
        exchange: Exchange,
        *,
        stopping: bool = False,
        deferred: Sequence[OrderRequest] = (),
    ) -> None:
        """Apply what happened on the exchange to the intervals (see the module docstring). `deferred`:
        journaled limits not sent yet, which go out with the first orders the fills answer (or alone)."""
        pending = await self._reconcile_rounds(book, exchange, stopping, list(deferred))
        if pending:
            await self._send(book, exchange, pending)

    async def _reconcile_rounds(
        self, book: GridBook, exchange: Exchange, stopping: bool, pending: list[OrderRequest]
    ) -> list[OrderRequest]:
        unsent = {r.client_order_id for r in pending}
        for _ in range(4):  # a market fill places sells, which the same tick reconciles once more
            expected = book.expected()
            if not expected:
                return pending
            # the paper exchange has it, and the live one while its order stream is trusted (else None)
            ids_of = getattr(exchange, "open_client_order_ids", None)
            open_ids: Collection[str | None] | None = ids_of(book.symbol) if ids_of is not None else None
            if open_ids is None:
                open_ids = {o.client_order_id for o in await exchange.fetch_open_orders(book.symbol)}
            missing = [cid for cid in expected if cid not in open_ids and cid not in unsent]
            if not missing:
                return pending
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
                elif order.status == "open":
                    continue  # it shows up as open now: the next look sees it in the open orders
                elif order.filled_qty > 0:
                    # done: filled, or cancelled / expired after a partial fill (booked all the same)
                    self._apply_fill(book, order, expected[cid], changes, stopping=stopping)
                elif order.status == "rejected" and not stopping:
                    raise InvalidOrder(f"order {cid} was rejected by the exchange")
                else:
                    self._withdraw(book, expected[cid], changes)
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
                return pending
            requests, pending, unsent = pending + requests, [], set()
            await self._send(book, exchange, requests)
            if not changes.fills:
                return pending
        return pending

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
        self, book: GridBook, order: Order, ids: list[int], changes: _Changes, *, stopping: bool
    ) -> None:
        """Book what `order` filled (it is done: filled, or gone after a partial fill). A complete fill's
        counter-order is journaled to go out after the commit; an interval left holding or empty by a
        partial one gets its order from the next tick's placement (under a fresh id)."""
        assert book.market is not None
        price = order.avg_fill_price or order.price
        assert price is not None
        ts = order.ts or 0
        changes.fills += 1
        changes.last_fill_ts = ts
        answer = order.status == "closed" and not stopping
        if book.intervals[ids[0]].status == IntervalStatus.BUY_PLACED:
            self._apply_buy(book, order, price, ts, sorted(ids), changes, answer)
            realized = None
        else:
            realized = self._apply_sell(book, order, price, ts, ids[0], changes, answer)
        changes.trades.append(
            trade_row(
                book,
                side=order.side,
                order_type=order.type,
                qty=order.filled_qty,
                price=price,
                fee=order.fee,
                fee_base=order.fee_base,
                realized_pnl=realized,
                exchange_order_id=order.id,
                client_order_id=order.client_order_id,
                ts=ts,
            )
        )

    def _apply_buy(
        self,
        book: GridBook,
        order: Order,
        price: Decimal,
        ts: int,
        ids: list[int],
        changes: _Changes,
        answer: bool,
    ) -> None:
        market = book.market
        assert market is not None
        shares, dust = _buy_shares(book, order, ids, market)
        book.dust_qty += dust  # below the lot step: the bot's dust, at its buy price
        book.dust_cost += q8(dust * price)
        for i, held, fee in shares:
            s = book.intervals[i]
            changes.touched.add(i)
            if not _sellable(market, held, s.sell_price):
                # too little to sell on its own: it joins the dust at its cost, and the interval buys again
                book.dust_qty += held
                book.dust_cost += q8(held * price) + fee
                book.intervals[i] = replace(s, status=IntervalStatus.PENDING)
                continue
            new, intent = on_buy_filled(s, price, held, fee, ts)
            book.filled_buys += 1
            if answer:
                new = self._placed(book, new, intent, changes)
            book.intervals[i] = new
            changes.alerts.append(("grid_fill", book.fill_alert(i, "buy", price, held, fee)))

    def _apply_sell(
        self,
        book: GridBook,
        order: Order,
        price: Decimal,
        ts: int,
        i: int,
        changes: _Changes,
        answer: bool,
    ) -> Decimal:
        market = book.market
        assert market is not None
        s = book.intervals[i]
        assert s.held is not None
        changes.touched.add(i)
        sold = order.filled_qty
        if sold >= s.held:
            new, result, intent = on_sell_filled(s, price, s.held, order.fee, ts)
            book.filled_sells += 1
            if answer:
                new = self._placed(book, new, intent, changes)
        else:
            new, result = on_sell_partly_filled(s, price, sold, order.fee, ts)
            assert new.held is not None and new.entry_price is not None and new.entry_fee is not None
            if not _sellable(market, new.held, s.sell_price):  # the rest joins the dust; the cycle is over
                book.dust_qty += new.held
                book.dust_cost += q8(new.held * new.entry_price) + new.entry_fee
                new = replace(
                    new,
                    status=IntervalStatus.SELL_FILLED,
                    cycle=new.cycle + 1,
                    held=None,
                    entry_price=None,
                    entry_fee=None,
                )
                book.filled_sells += 1
        book.intervals[i] = new
        self._book_sale(book, result)
        book.sell_fills[i] = (price, sold, ts)
        alert = book.fill_alert(i, "sell", price, sold, order.fee)
        changes.alerts.append(("grid_fill", alert))
        if result.complete:
            changes.alerts.append(
                (
                    "grid_cycle",
                    {
                        **alert,
                        "cycle": result.cycle + 1,
                        "profit": str(result.profit),
                        "realized_profit": str(book.realized),
                    },
                )
            )
        return result.profit

    @staticmethod
    def _book_sale(book: GridBook, result: CycleResult) -> None:
        book.realized += result.profit
        book.total_pnl += result.profit
        book.total_trades += 1
        book.winning_trades += result.profit > 0

    def _placed(
        self, book: GridBook, state: IntervalState, intent: OrderIntent, changes: _Changes
    ) -> IntervalState:
        """Journal the counter-order of a fill (it goes out after the transaction commits)."""
        cid = intent.client_order_id(book.namespace, book.bot_id)
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

    async def _alert_stop(self, book: GridBook, reason: str, price: Decimal) -> None:
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

    async def _mine_open(self, book: GridBook, exchange: Exchange) -> list[Order]:
        """The bot's orders open on the venue: those its intervals name and any other with its prefix."""
        expected = book.expected()
        return [
            o
            for o in await exchange.fetch_open_orders(book.symbol)
            if o.client_order_id in expected or belongs_to(o.client_order_id, book.namespace, book.bot_id)
        ]

    async def _halt(self, book: GridBook, exchange: Exchange, sell: bool | None) -> HaltReport:
        assert book.market is not None
        mine = await self._mine_open(book, exchange)
        cancelled: list[str] = []
        if mine:
            cancelled = await exchange.cancel_orders([o.id for o in mine], book.symbol)
            strays = [o.client_order_id for o in mine if o.client_order_id not in book.expected()]
            if strays:
                log.warning(
                    "bot %d: cancelled %d orders no interval named: %s", book.bot_id, len(strays), strays
                )
        await self._reconcile(book, exchange, stopping=True)
        left = await self._mine_open(book, exchange)
        if left:
            raise StopIncomplete(
                [o.client_order_id or o.id for o in left], "the exchange has not cancelled them (yet)"
            )
        # a closing sale an earlier try sent (its answer lost) is booked whatever is asked now
        sold = await self._close_position(
            book, exchange, send=sell if sell is not None else book.close_on_stop
        )
        return HaltReport(cancelled=len(cancelled), held=book.held_qty, sold=sold, asset=book.market.base)

    async def _close_position(self, book: GridBook, exchange: Exchange, *, send: bool = True) -> Decimal:
        """Sell what the grid holds at market (one order: its intervals' coin and its dust on the lot
        step) and book what really sold: each interval's sale, then the dust's. Returns the qty sold.
        The sale's id is deterministic (the journal of a sale is its id): a sale already on the venue
        under it is booked, never sent again; `send` False books only such a one."""
        market = book.market
        assert market is not None
        held = [s for s in book.intervals if s.status in HOLDING and s.held]
        dust = floor_to_step(book.dust_qty, market.amount_step)
        qty = sum((s.held or ZERO for s in held), ZERO) + dust
        if not qty:  # nothing held: no sale to make, nor one sent before and not booked yet
            return ZERO
        base = close_order_id(book.namespace, book.bot_id, book.total_trades)  # a booked sale moves it on
        cid, earlier = await self._id_and_order(exchange, book, base)
        if earlier is not None:
            order = earlier
            price = order.avg_fill_price or order.price or ZERO
        else:
            if not send:
                return ZERO
            price = book.price or (await exchange.fetch_ticker(book.symbol)).last
            if not _sellable(market, qty, price):
                return ZERO
            order = await exchange.create_order(OrderRequest(book.symbol, "sell", "market", qty, price, cid))
        if order.status == "open":
            raise StopIncomplete([cid], "the closing sale has not filled yet")
        sold = order.filled_qty
        if not sold:
            return ZERO
        price = order.avg_fill_price or order.price or price
        ts = order.ts or 0
        changes = _Changes(last_fill_ts=ts, fills=1)
        left, fee_left, pnl = sold, order.fee, ZERO
        for s in held:
            take = min(s.held or ZERO, left)
            if not take:
                break
            fee = q8(order.fee * take / sold)
            fee_left -= fee
            if take == s.held:
                new, result, _ = on_sell_filled(s, price, take, fee, ts)
                new = replace(new, status=IntervalStatus.PENDING)
                book.filled_sells += 1
            else:
                new, result = on_sell_partly_filled(s, price, take, fee, ts)
            book.intervals[s.index] = new
            book.sell_fills[s.index] = (price, take, ts)
            self._book_sale(book, result)
            pnl += result.profit
            left -= take
            changes.touched.add(s.index)
        if left and book.dust_qty:  # the dust's share of the sale, at the dust's cost
            take = min(left, book.dust_qty)
            cost = q8(book.dust_cost * take / book.dust_qty)
            profit = q8(take * price - fee_left - cost)
            book.dust_qty -= take
            book.dust_cost -= cost
            book.realized += profit
            book.total_pnl += profit
            book.total_trades += 1
            book.winning_trades += profit > 0
            pnl += profit
        changes.trades.append(
            trade_row(
                book,
                side="sell",
                order_type="market",
                qty=sold,
                price=price,
                fee=order.fee,
                realized_pnl=pnl,
                exchange_order_id=order.id,
                client_order_id=cid,
                ts=ts,
            )
        )
        changes.alerts.append(("grid_fill", book.fill_alert(-1, "sell", price, sold, order.fee)))
        await self.store.save(book, changes, price=book.price)
        return sold


def _sellable(market: Market, qty: Decimal, price: Decimal) -> bool:
    """A sell of `qty` at `price` meets the market's minimums."""
    return qty > 0 and qty >= market.min_qty and qty * price >= market.min_notional


def _buy_shares(
    book: GridBook, order: Order, ids: list[int], market: Market
) -> tuple[list[tuple[int, Decimal, Decimal]], Decimal]:
    """What a buy's fill gives each of its intervals: (interval, coin held on the lot step, fee in quote),
    and the dust left below the lot step. The coin received (filled less a fee taken in it) and the fee
    are shared in proportion to the intervals' quantities (the start's market buy covers several)."""
    received = order.received_qty
    if len(ids) == 1:
        held = floor_to_step(received, market.amount_step)
        return [(ids[0], held, order.fee)], received - held
    weights = [book.intervals[i].qty for i in ids]
    total = sum(weights, ZERO)
    shares: list[tuple[int, Decimal, Decimal]] = []
    fee_left, held_sum = order.fee, ZERO
    for k, (i, weight) in enumerate(zip(ids, weights, strict=True)):
        held = floor_to_step(received * weight / total, market.amount_step)
        fee = fee_left if k == len(ids) - 1 else q8(order.fee * weight / total)
        fee_left -= fee
        held_sum += held
        shares.append((i, held, fee))
    return shares, received - held_sum


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
