"""One tick of one AI trend bot against an exchange, with its ledger in the database.

The tick is one idempotent iteration (engine.grid.runtime's pattern), under a per (user, symbol) lock:

1. reconcile: every position row names its orders by deterministic client order id, journaled
   *before* the order is sent (engine.trend.positions.client_order_id / protective_order_ids). An entry
   or exit the exchange is done with goes through engine.trend.positions' rules exactly once, for the
   quantity that really filled (an order gone after a partial fill included): the row, the trades
   row, the bot's stats and the alert are one transaction. An id the exchange never got is sent
   again (same id: the exchange refuses duplicates).
2. exits: on each entry fill both protective orders go out under deterministic client ids
   (engine.trend.positions.protective_order_ids): the take profit as a reduce-only limit at the TP price
   (the paper venue fills it at its own price, maker fee) and, on perpetuals, the stop loss as a
   reduce-only stop-market order triggered at the SL price (the paper venue fills it at the trigger,
   or at the open that gapped past it, taker fee; live: a Bitget plan order). Those are the backtest's
   rules (engine.trend.backtest), and the stop holds while this process is down. When one of them
   fills, the other is cancelled. The runtime itself only watches liquidation (when it comes before
   the stop loss), a spot stop loss (no exchange-side stops there) and a protective order that is
   missing: a price at or through it sends a reduce-only market close (filled at that point), under
   an id of its own (engine.trend.positions.exit_order_id), never the stop loss's.
3. on each newly closed candle of the bot's timeframe (engine.trend.candles, from the bot's own venue):
   the strategy's signal through engine.trend.positions.decide; closes (reduce-only) before opens,
   sized from the bot's allocated capital at the candle's close. The first tick only notes the newest
   closed candle: a signal that fired before the bot started is not traded.

A user's action on the bot (stop, close, an edit of its stop loss or take profit) takes the same lock
as the tick and works on a book read fresh from the database, so it never races a tick. A stop keeps
the positions with their protective orders resting (and `watch` keeps booking them) or closes them
at market, as the user chose; an automatic stop always keeps them protected.

Positions are USDT-M perpetuals ("BTC/USDT:USDT"); a strategy with params["market_type"] == "spot"
trades spot, long only. Alert kinds: trend_entry, trend_exit. Trades: 'ai_bot', or 'manual' for
the chat's "close".
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

from engine.client_ids import belongs_to, next_client_id
from engine.exchange import Exchange, InvalidOrder, Order, OrderRequest, PositionSide
from engine.money import ZERO
from engine.ports import CapitalFor, ExchangeFor, HaltReport, StopIncomplete, Stopper
from engine.trend.candles import CandleSource, ModelStore, history_rows
from engine.trend.positions import ClosedTrade, decide, exit_hit, exit_levels, exit_order_id
from engine.trend.store import Slot, TrendBook, TrendChanges, TrendStore
from engine.trend.strategies import gate_threshold, signals

log = logging.getLogger(__name__)


class TrendRuntime:
    """Ticks AI trend bots; the same callables as engine.grid.runtime.GridRuntime."""

    def __init__(
        self,
        store: TrendStore,
        exchange_for: ExchangeFor,
        stopper: Stopper,
        capital: CapitalFor | None = None,
        *,
        candles: CandleSource | None = None,
        models: ModelStore | None = None,
    ) -> None:
        self.store = store
        self.exchange_for = exchange_for
        self.stopper = stopper
        self.capital = capital
        self.candles = candles or CandleSource()
        self.models = models or ModelStore(store.db)
        self._books: dict[int, TrendBook] = {}
        self._locks: dict[tuple[int, str], asyncio.Lock] = {}
        self._keys: dict[int, tuple[int, str]] = {}  # bot id -> its lock's (user, symbol)
        self._halted: set[int] = set()  # bots whose stop has begun: no tick until `resume`

    def forget(self, bot_id: int) -> None:
        self._books.pop(bot_id, None)

    def resume(self, bot_id: int) -> None:
        self._halted.discard(bot_id)
        self.forget(bot_id)

    def lock_for(self, user_id: int, symbol: str) -> asyncio.Lock:
        return self._locks.setdefault((user_id, symbol), asyncio.Lock())

    async def _lock(self, bot_id: int) -> asyncio.Lock:
        """The lock of the bot's (user, symbol), which its tick and every action on it hold; its key
        comes from the bot's row, which nothing the bot does changes."""
        key = self._keys.get(bot_id)
        if key is None:
            book = await self.store.load(bot_id, require_running=False)
            if book is None:
                return asyncio.Lock()  # no such bot: nothing to serialise
            key = self._keys[bot_id] = (book.user_id, book.symbol)
        return self.lock_for(*key)

    async def tick(self, bot_id: int) -> None:
        """One iteration of the bot (see the module docstring); raises what the exchange raised."""
        if bot_id in self._halted:
            return
        lock = await self._lock(bot_id)
        try:
            async with lock:
                if bot_id in self._halted:
                    return
                book = self._books.get(bot_id) or await self.store.load(bot_id)
                if book is None:
                    return
                self._books[bot_id] = book
                await self._tick(book)
        except BaseException:
            self.forget(bot_id)  # the database holds the truth; reload it next time
            raise

    async def halt(self, bot_id: int, *, close: bool | None = None) -> HaltReport:
        """The bot is stopping: cancel its entries, book what raced the cancel and, as asked (None = the
        bot's own close_on_stop), close its positions at market or keep them with their stop loss and
        take profit resting on the exchange (placed now where one is missing). Raises StopIncomplete
        while an order of the bot that should be gone stays open. Safe to call again."""
        self._halted.add(bot_id)
        lock = await self._lock(bot_id)
        async with lock:
            self.forget(bot_id)
            book = await self.store.load(bot_id, require_running=False)
            if book is None:
                return HaltReport()
            exchange = await self._exchange(book)
            close = book.close_on_stop if close is None else close
            await self._reconcile(book, exchange, entries=False, protect=not close)
            closed: list[ClosedTrade] = []
            if close:
                closed = await self._close_all(book, exchange, "manual")
            keep = (
                {cid for s in book.active() for cid in (s.tp_order_id, s.sl_order_id) if cid}
                if not close
                else set()
            )
            stray = [o for o in await self._mine_open(book, exchange) if o.client_order_id not in keep]
            cancelled = 0
            if stray:
                cancelled = len(await exchange.cancel_orders([o.id for o in stray], book.symbol))
                await self._reconcile(book, exchange, entries=False, protect=not close)
                left = [o for o in await self._mine_open(book, exchange) if o.client_order_id not in keep]
                if left:
                    raise StopIncomplete(
                        [o.client_order_id or o.id for o in left], "the exchange has not cancelled them (yet)"
                    )
            kept = [s for s in book.active() if s.status in ("open", "closing")]
            if close and kept:
                raise StopIncomplete(
                    [s.exit_order_id or str(s.seq) for s in kept], "positions are not closed yet"
                )
            return HaltReport(
                cancelled=cancelled, positions_kept=len(kept), positions_closed=len({t.seq for t in closed})
            )

    async def watch(self, bot_id: int) -> bool:
        """A stopped bot that kept its positions: book what their protective orders did (and close a
        position whose stop the runtime watches). Returns whether it still holds a position."""
        lock = await self._lock(bot_id)
        async with lock:
            book = await self.store.load(bot_id, require_running=False)
            if book is None or book.running:
                return False
            exchange = await self._exchange(book)
            await self._reconcile(book, exchange, entries=False, protect=True)
            price = (await exchange.fetch_ticker(book.symbol)).last
            await self._stops(book, exchange, price)
            return book.holding()

    async def refresh(self, bot_id: int) -> None:
        """The bot's settings changed (stop loss, take profit): each open position gets its new levels,
        and its resting protective orders are replaced (new client ids) at once."""
        lock = await self._lock(bot_id)
        async with lock:
            self.forget(bot_id)
            book = await self.store.load(bot_id, require_running=False)
            if book is None or not book.active():
                return
            exchange = await self._exchange(book)
            assert book.market is not None
            changes = TrendChanges()
            replaced: list[str] = []
            for slot in book.active():
                if slot.status != "open" or slot.entry_price is None:
                    continue
                sl, tp, liq = exit_levels(slot.side, slot.entry_price, book.settings, book.market.price_tick)  # type: ignore[arg-type]
                if (sl, tp) == (slot.stop_loss, slot.take_profit):
                    continue
                slot.stop_loss, slot.take_profit, slot.liquidation = sl, tp, liq
                replaced += [cid for cid in (slot.tp_order_id, slot.sl_order_id) if cid]
                slot.tp_order_id = slot.sl_order_id = None  # new ones go out below, under fresh ids
                changes.touched.add(slot.seq)
            if not changes:
                return
            await self._cancel_ids(book, exchange, set(replaced))
            await self.store.save(book, changes)
            await self._reconcile(book, exchange, entries=False, protect=True)

    async def close_positions(self, bot_id: int) -> list[ClosedTrade]:
        """The chat's "close": every open position of the bot at market (reduce-only, its own quantity),
        reason manual. Works whether the bot runs or not; returns the round trips closed."""
        lock = await self._lock(bot_id)
        async with lock:
            self.forget(bot_id)
            book = await self.store.load(bot_id, require_running=False)
            if book is None:
                return []
            exchange = await self._exchange(book)
            await self._reconcile(book, exchange, entries=book.running, protect=False)
            closed = await self._close_all(book, exchange, "manual")
        self.forget(bot_id)
        return closed

    # ---- the tick

    async def _exchange(self, book: TrendBook) -> Exchange:
        exchange = await self.exchange_for(book.user_id, book.venue)
        if book.market is None:
            await exchange.load_markets()
            book.market = exchange.market(book.symbol)
        return exchange

    async def _tick(self, book: TrendBook) -> None:
        exchange = await self._exchange(book)
        ticker = await exchange.fetch_ticker(book.symbol)
        price, now = ticker.last, ticker.ts or 0
        await self._reconcile(book, exchange)
        await self._stops(book, exchange, price)
        history = await self.candles.closed(
            exchange, book.candle_symbol, book.strategy.timeframe, now, venue=book.venue,
            rows=history_rows(book.strategy),
        )  # fmt: skip
        if book.last_candle_ts is None:  # first tick: remember where we start, trade what comes next
            book.last_candle_ts = history.last_ts if history else -1
            await self.store.save(book, TrendChanges(state=True))
            return
        if history is None or history.last_ts <= book.last_candle_ts:
            return
        signal = await self._signal(book, history)
        close = history.candles.price("close", len(history.candles) - 1)
        allocated = ZERO
        if signal and self.capital is not None:
            allocated = await self.capital(book.user_id, book.venue, book.allocation_percent)
        assert book.market is not None
        intents = decide(
            book.bot_id, history.last_ts, signal, close, book.state(), allocated, book.settings, book.market,
            namespace=book.namespace,
        )  # fmt: skip
        book.last_candle_ts = history.last_ts
        changes = TrendChanges(state=True)
        for intent in intents:
            if intent.action == "close":
                slot = book.slots[intent.seq]
                slot.status, slot.exit_order_id, slot.exit_reason = (
                    "closing",
                    intent.client_order_id,
                    "signal",
                )
            else:
                book.slots[intent.seq] = Slot.opening(book, intent, history.last_ts)
            changes.touched.add(intent.seq)
        await self.store.save(book, changes)
        if intents:
            opening = next((i for i in intents if i.action == "open"), None)
            if opening is not None and not any(
                s.side == opening.position_side and s.status in ("open", "closing") for s in book.active()
            ):  # the side's first position (in hedge mode each side has its own leverage)
                await self._set_leverage(book, exchange, opening.position_side)
            await self._send_closes(
                book, exchange, [book.slots[i.seq] for i in intents if i.action == "close"]
            )
            for intent in intents:
                if intent.action == "open":
                    await exchange.create_order(book.slots[intent.seq].entry_request(book))
            await self._reconcile(book, exchange)

    async def _signal(self, book: TrendBook, history) -> int:  # type: ignore[no-untyped-def]
        model = None
        if gate_threshold(book.strategy) is not None:
            model = await self.models.model_for(book.strategy_id, book.strategy, book.candle_symbol, history)
            if model is None:
                return 0
        return int(signals(book.strategy, history.candles, model=model)[-1])

    async def _set_leverage(self, book: TrendBook, exchange: Exchange, side: PositionSide) -> None:
        """Before a futures bot's first entry: isolated margin on the symbol (the bot can lose its
        capital, no more; a refusal stops the bot before it orders), then its leverage for the side it
        opens (never above the bot's own)."""
        if book.settings.market_type != "swap":
            return
        await exchange.set_isolated_margin(book.symbol)
        try:
            await exchange.set_leverage(
                book.symbol, book.settings.leverage, book.settings.leverage, side=side
            )
        except InvalidOrder as exc:  # another bot of the user holds the shared position at its leverage
            log.warning("bot %d: leverage unchanged: %s", book.bot_id, exc)

    async def _stops(self, book: TrendBook, exchange: Exchange, price: Decimal) -> None:
        hit = []
        for slot in book.active():
            if slot.status != "open":
                continue
            reason = exit_hit(slot.position(), price)
            if (
                reason == "liquidation"
                or (reason == "sl" and slot.sl_order_id is None)
                or (reason == "tp" and slot.tp_order_id is None)
            ):
                base = exit_order_id(book.bot_id, slot.seq, namespace=book.namespace)
                slot.status, slot.exit_reason = "closing", reason
                slot.exit_order_id = await self._fresh_id(exchange, book, base)
                hit.append(slot)
        if hit:
            await self.store.save(book, TrendChanges(touched={s.seq for s in hit}))
            await self._send_closes(book, exchange, hit)
            await self._reconcile(book, exchange)

    async def _close_all(self, book: TrendBook, exchange: Exchange, reason: str) -> list[ClosedTrade]:
        slots = [s for s in book.active() if s.status in ("open", "closing")]
        for slot in slots:
            if slot.status == "open":
                slot.status, slot.exit_reason = "closing", reason
                base = exit_order_id(book.bot_id, slot.seq, namespace=book.namespace)
                slot.exit_order_id = await self._fresh_id(exchange, book, base)
        if not slots:
            return []
        await self.store.save(book, TrendChanges(touched={s.seq for s in slots}))
        await self._send_closes(book, exchange, slots)
        before = len(book.closed_trades)
        await self._reconcile(book, exchange, entries=False, protect=False)
        return book.closed_trades[before:]

    # ---- orders

    async def _mine_open(self, book: TrendBook, exchange: Exchange) -> list[Order]:
        return [
            o
            for o in await exchange.fetch_open_orders(book.symbol)
            if belongs_to(o.client_order_id, book.namespace, book.bot_id) or o.client_order_id in _named(book)
        ]

    async def _cancel_protective(self, book: TrendBook, exchange: Exchange, slots: list[Slot]) -> None:
        await self._cancel_ids(
            book, exchange, {cid for s in slots for cid in (s.tp_order_id, s.sl_order_id) if cid}
        )

    async def _cancel_ids(self, book: TrendBook, exchange: Exchange, mine: set[str]) -> None:
        if not mine:
            return
        ids = [o.id for o in await exchange.fetch_open_orders(book.symbol) if o.client_order_id in mine]
        if ids:
            await exchange.cancel_orders(ids, book.symbol)

    async def _send_closes(self, book: TrendBook, exchange: Exchange, slots: list[Slot]) -> None:
        """Cancel each position's resting take profit and stop loss, then close it at market unless
        one of them filled first (the next reconcile books that fill as the exit)."""
        if not slots:
            return
        await self._cancel_protective(book, exchange, slots)
        for slot in slots:
            if await self._protective_filled(book, exchange, slot):
                continue
            assert slot.exit_order_id is not None
            await exchange.create_order(slot.exit_request(book))

    async def _protective_filled(self, book: TrendBook, exchange: Exchange, slot: Slot) -> bool:
        for cid in (slot.tp_order_id, slot.sl_order_id):
            if cid:
                order = await exchange.fetch_order_by_client_id(cid, book.symbol)
                if order is not None and order.status != "open" and order.filled_qty > 0:
                    return True
        return False

    async def _fresh_id(self, exchange: Exchange, book: TrendBook, base: str) -> str:
        cid = base
        while True:  # an id another order of the bot used cannot be used again
            found = await exchange.fetch_order_by_client_id(cid, book.symbol)
            if found is None or found.status == "open" or (found.status == "closed" and found.filled_qty):
                return cid
            cid = next_client_id(cid)

    async def _reconcile(
        self, book: TrendBook, exchange: Exchange, *, entries: bool = True, protect: bool = True
    ) -> None:
        """Apply what happened on the exchange to the bot's positions (see the module docstring).
        `entries`: an entry the exchange never got is sent again (else it failed); `protect`: an open
        position's missing take profit and stop loss are placed (else left missing)."""
        for _ in range(4):  # an entry fill places its take profit, which is looked at once more
            open_ids = {o.client_order_id for o in await exchange.fetch_open_orders(book.symbol)}
            changes = TrendChanges()
            sends: list[OrderRequest] = []
            closes: list[Slot] = []
            fills: list[tuple[Order, Slot, str]] = []
            for slot in book.active():
                if slot.status == "opening":
                    order = await exchange.fetch_order_by_client_id(slot.entry_order_id, book.symbol)
                    if order is None and entries:
                        sends.append(slot.entry_request(book))
                    elif order is not None and order.status != "open" and order.filled_qty > 0:
                        fills.append((order, slot, "entry"))  # filled, or gone after a partial fill
                    elif order is None or order.status in ("canceled", "rejected", "closed"):
                        slot.status = "failed"
                        changes.touched.add(slot.seq)
                    continue
                protective_fill = None
                for kind in ("tp", "sl"):
                    cid = slot.tp_order_id if kind == "tp" else slot.sl_order_id
                    if not cid or cid in open_ids:
                        continue
                    order = await exchange.fetch_order_by_client_id(cid, book.symbol)
                    if order is not None and order.status != "open" and order.filled_qty > 0:
                        protective_fill = (order, slot, kind)
                        break
                    if order is None and slot.status == "open" and protect:
                        sends.append(slot.tp_request(book) if kind == "tp" else slot.sl_request(book))
                    elif order is None or order.status in ("canceled", "rejected", "closed"):
                        if kind == "tp":
                            slot.tp_order_id = None
                        else:
                            slot.sl_order_id = None
                        changes.touched.add(slot.seq)
                if protective_fill is not None:
                    fills.append(protective_fill)
                    continue
                tp_base, sl_base = book.protective_ids(slot.seq)
                if slot.status == "open" and slot.tp_order_id is None and slot.take_profit and protect:
                    slot.tp_order_id = await self._fresh_id(exchange, book, tp_base)
                    changes.touched.add(slot.seq)
                    sends.append(slot.tp_request(book))
                if (
                    slot.status == "open"
                    and slot.sl_order_id is None
                    and slot.wants_stop_order(book)
                    and protect
                ):
                    slot.sl_order_id = await self._fresh_id(exchange, book, sl_base)
                    changes.touched.add(slot.seq)
                    sends.append(slot.sl_request(book))
                if slot.status == "closing":
                    assert slot.exit_order_id is not None
                    order = await exchange.fetch_order_by_client_id(slot.exit_order_id, book.symbol)
                    if order is not None and order.status != "open" and order.filled_qty > 0:
                        fills.append((order, slot, slot.exit_reason or "signal"))
                    elif order is None:
                        closes.append(slot)
                    elif order.status in ("canceled", "rejected", "closed"):
                        slot.status, slot.exit_order_id, slot.exit_reason = "open", None, None
                        changes.touched.add(slot.seq)
                        changes.error = f"close order {order.client_order_id} was {order.status}"
            fills.sort(key=lambda f: (f[0].ts or 0, f[1].seq))
            orphans: set[str] = set()  # the other protective order of a position a TP or SL closed
            for order, slot, what in fills:
                if what == "entry":
                    book.apply_entry(slot, order, changes)
                    if slot.tp_order_id and protect:
                        sends.append(slot.tp_request(book))
                    if slot.sl_order_id and protect:
                        sends.append(slot.sl_request(book))
                    continue
                whole = book.apply_exit(slot, order, what, changes)
                if what in ("tp", "sl"):
                    if whole:
                        other = slot.sl_order_id if what == "tp" else slot.tp_order_id
                        if other and other != order.client_order_id:
                            orphans.add(other)
                    elif what == "tp":  # the rest keeps its stop; a new take profit for it goes out
                        slot.tp_order_id = None
                    else:
                        slot.sl_order_id = None
                elif not whole:  # a close that filled in part: the rest is closed under the next id
                    assert slot.exit_order_id is not None
                    slot.exit_order_id = next_client_id(slot.exit_order_id)
            # cancelled before the exit is saved: once the position is closed nothing looks at them again
            await self._cancel_ids(book, exchange, orphans)
            if changes:
                await self.store.save(book, changes)
            if changes.error:
                raise InvalidOrder(changes.error)
            await self._send_closes(book, exchange, closes)
            for req in sends:
                await exchange.create_order(req)
            if not (
                sends or closes or any(what != "entry" and s.status == "closing" for _, s, what in fills)
            ):
                return


def _named(book: TrendBook) -> set[str]:
    """Every client order id the bot's positions name (ids from before the namespace included)."""
    return {
        cid
        for s in book.active()
        for cid in (s.entry_order_id, s.tp_order_id, s.sl_order_id, s.exit_order_id)
        if cid
    }
