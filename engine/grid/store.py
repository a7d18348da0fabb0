"""The grid runtime's state: a running grid bot's book and the repository that loads and saves it.

`GridBook` is a running grid bot as engine.grid.runtime holds it between ticks; `GridStore` reads books
from the database (one bot, or all of a restart's at once) and writes a tick's changes (`_Changes`) by
group commit, in one `Database.run_write` per batch. A save may carry the orders that answer its fills
when they go to a `JointVenue` (the paper venue on the same database): they are placed in the save's own
transaction, so a fill costs one commit, and the journal and its orders are committed together.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import Connection, select

from db import queries as q
from db.base import from_ms
from db.bulk import in_chunks
from db.models import BotInstance, GridBotConfig, GridOrder, User
from db.session import Database
from engine.exchange import BatchResult, Market, OrderRequest
from engine.grid.intervals import IntervalState, IntervalStatus, client_order_prefix, is_market_client_id
from engine.markets import unified_symbol
from engine.money import ZERO

_BUY_PLACED, _SELL_PLACED = IntervalStatus.BUY_PLACED, IntervalStatus.SELL_PLACED
_HOLDING = (IntervalStatus.BUY_FILLED, IntervalStatus.SELL_PLACED)


@dataclass(slots=True)
class GridBook:
    """A running grid bot as the runtime holds it between ticks (money in quote currency)."""

    bot_id: int
    user_id: int
    chat_id: int
    name: str
    symbol: str  # unified, e.g. "BTC/USDT"
    config_id: int
    row_ids: list[int]  # grid_orders.id of each interval
    lines: list[Decimal]
    intervals: list[IntervalState]
    buy_cids: list[str | None]
    sell_cids: list[str | None]
    trigger: Decimal | None
    stop_upper: Decimal | None
    stop_lower: Decimal | None
    close_on_stop: bool
    total_investment: Decimal
    allocation_percent: Decimal
    first_price: Decimal | None
    filled_buys: int
    filled_sells: int
    realized: Decimal
    total_trades: int
    winning_trades: int
    total_pnl: Decimal
    namespace: str  # the installation's (engine.client_ids)
    venue: str  # what the bot was started on: paper, live or demo
    venue_account: str | None
    dust_qty: Decimal = ZERO  # coin held outside the intervals (below the lot step), base
    dust_cost: Decimal = ZERO  # what it cost, quote
    market: Market | None = None
    price: Decimal | None = None
    sell_fills: dict[int, tuple[Decimal, Decimal, int]] = field(default_factory=dict)
    # the exchange's orders_version() when a tick last found every order of the book in place
    settled: object = None
    legacy_ids: bool = False  # some order out has an id from before the namespace (not on `prefix`)

    @property
    def prefix(self) -> str:
        """What the client order ids of the bot's intervals start with."""
        return client_order_prefix(self.namespace, self.bot_id)

    @property
    def held_qty(self) -> Decimal:
        """Coin the bot holds: its holding intervals' and its dust (base)."""
        held = sum((s.held or ZERO for s in self.intervals if s.status in _HOLDING), ZERO)
        return held + self.dust_qty

    @property
    def started(self) -> bool:
        """Orders were ever journaled (a stopped grid restarts from its intervals, not afresh)."""
        return self.filled_buys > 0 or any(
            s.status != IntervalStatus.PENDING or s.cycle > 0 or self.buy_cids[s.index]
            for s in self.intervals
        )

    def expected(self) -> dict[str, list[int]]:
        """Client order ids the bot has out (or is about to send), with their intervals."""
        out: dict[str, list[int]] = {}
        buy_cids, sell_cids = self.buy_cids, self.sell_cids  # (every tick that reconciles runs this)
        for s in self.intervals:
            status = s.status
            if status == _BUY_PLACED:
                cid = buy_cids[s.index]
            elif status == _SELL_PLACED:
                cid = sell_cids[s.index]
            else:
                continue
            if cid:
                ids = out.get(cid)
                if ids is None:
                    out[cid] = [s.index]
                else:
                    ids.append(s.index)
        return out

    def order_requests(self, cids: Sequence[str]) -> list[OrderRequest]:
        """The orders named by `cids` (market buys first), rebuilt from the intervals."""
        if not cids:
            return []
        expected = self.expected()
        out: list[OrderRequest] = []
        for cid in cids:
            ids = expected.get(cid)
            if not ids:
                continue
            s = self.intervals[ids[0]]
            if s.status == IntervalStatus.SELL_PLACED:
                assert s.held is not None
                out.append(OrderRequest(self.symbol, "sell", "limit", s.held, s.sell_price, cid))
            elif is_market_client_id(cid):
                qty = sum((self.intervals[i].qty for i in ids), ZERO)
                out.append(OrderRequest(self.symbol, "buy", "market", qty, self.price, cid))
            else:
                out.append(OrderRequest(self.symbol, "buy", "limit", s.qty, s.buy_price, cid))
        out.sort(key=lambda r: r.type != "market")
        return out

    def fill_alert(self, i: int, side: str, price: Decimal, qty: Decimal, fee: Decimal) -> dict[str, Any]:
        """The payload of a grid_fill alert (interval -1: the closing sale of everything held)."""
        line = None if i < 0 else i + 1 if side == "buy" else i + 2  # the line it filled on, from 1 (lowest)
        return {
            "bot_id": self.bot_id,
            "name": self.name,
            "symbol": self.symbol,
            "interval": i,
            "side": side,
            "price": str(price),
            "qty": str(qty),
            "fee": str(fee),
            "line": line,
            "lines": len(self.intervals) + 1,
            # the bot after this fill: its grid profit so far and the coin it holds
            "realized_profit": str(self.realized),
            "held": str(self.held_qty),
            "asset": self.symbol.split("/")[0],
        }

    def committed_capital(self) -> Decimal:
        """Quote the grid holds: open buys at their line plus bought base at its entry price (and the
        dust at its cost)."""
        total = self.dust_cost
        for s in self.intervals:
            if s.status == IntervalStatus.BUY_PLACED:
                total += s.qty * s.buy_price
            elif s.status in _HOLDING and s.entry_price:
                total += (s.held or s.qty) * s.entry_price
        return total


class JointVenue(Protocol):
    """A venue that places orders in the transaction of the caller's own writes (the paper venue's)."""

    db: Database

    async def create_orders_with(
        self, batch: Sequence[tuple[int, Sequence[OrderRequest]]], journal: Callable[[Connection], None]
    ) -> list[BatchResult]: ...


@dataclass
class _Changes:
    touched: set[int] = field(default_factory=set)
    trades: list[dict[str, Any]] = field(default_factory=list)  # trades rows (column values)
    alerts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    requests: list[OrderRequest] = field(default_factory=list)
    fills: int = 0
    last_fill_ts: int | None = None

    def __bool__(self) -> bool:
        return bool(self.touched or self.trades or self.alerts)


class GridStore:
    """The grid runtime's repository: reads a bot's grid, writes one tick's changes in one transaction.

    Group commit: the saves of bots ticking at the same moment (a slot of the scheduler, a price
    point that filled many bots) are written in one transaction; each caller returns only once the
    transaction holding its changes is committed, so "journaled before sent" holds per bot. Each
    bot's changes are whole inside that transaction, with the paper orders its save carries (the
    saves that carry orders for one joint venue share its transaction). If a batch fails, its saves
    are retried one per transaction, so the error reaches only the bot that caused it.

    A transaction is one `Database.run_write`: a multi-row UPDATE by id per table (the book knows its
    rows' ids; db.bulk), one INSERT of the trades and one of the alerts; the only read is the bots'
    telegram_notify, in the same transaction (see db.queries.write_bots_activity)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.namespace: str | None = None  # the installation's, read once
        self._pending: list[_Save] = []
        self._flusher: asyncio.Task[None] | None = None
        self.commits = 0  # transactions written (group commits), for the benchmark
        self.saves = 0  # saves they held
        self.commit_seconds = 0.0

    async def _namespace(self, session: Any) -> str:
        if self.namespace is None:
            self.namespace = await q.installation_id(session)
        return self.namespace

    async def load(self, bot_id: int, *, require_running: bool = True) -> GridBook | None:
        """The grid of a (running) grid bot, or None (not found, not a grid, not running)."""
        async with self.db.read() as session:
            bot = await session.get(BotInstance, bot_id)
            if bot is None or bot.bot_type != "grid":
                return None
            if require_running and not (bot.is_running and bot.is_active):
                return None
            user = await session.get(User, bot.user_id)
            found = await q.grid_of(session, bot_id)
            if found is None or user is None:
                return None
            return _book_of(bot, user, *found, await self._namespace(session))

    async def load_many(self, bot_ids: Sequence[int]) -> dict[int, GridBook]:
        """The grids of many running grid bots in a few queries (a restart resumes them all)."""
        books: dict[int, GridBook] = {}
        async with self.db.read() as session:
            namespace = await self._namespace(session)
            for chunk in in_chunks(bot_ids):
                bots = (await session.execute(select(BotInstance).where(BotInstance.id.in_(chunk)))).scalars()
                bots = [b for b in bots if b.bot_type == "grid" and b.is_running and b.is_active]
                users = {
                    u.id: u
                    for u in (
                        await session.execute(select(User).where(User.id.in_({b.user_id for b in bots})))
                    ).scalars()
                }
                configs = {
                    c.bot_instance_id: c
                    for c in (
                        await session.execute(
                            select(GridBotConfig).where(
                                GridBotConfig.bot_instance_id.in_([b.id for b in bots])
                            )
                        )
                    ).scalars()
                }
                rows: dict[int, list[GridOrder]] = {}
                query = (
                    select(GridOrder)
                    .where(GridOrder.grid_config_id.in_([c.id for c in configs.values()]))
                    .order_by(GridOrder.grid_config_id, GridOrder.grid_index)
                )
                for row in (await session.execute(query)).scalars():
                    rows.setdefault(row.grid_config_id, []).append(row)
                for bot in bots:
                    config, user = configs.get(bot.id), users.get(bot.user_id)
                    if config is not None and user is not None:
                        books[bot.id] = _book_of(bot, user, config, rows.get(config.id, []), namespace)
        return books

    async def save(
        self,
        book: GridBook,
        changes: _Changes,
        *,
        price: Decimal | None = None,
        orders: Sequence[OrderRequest] = (),
        venue: JointVenue | None = None,
    ) -> BatchResult | None:
        """Write the changes (group commit; returns once they are committed). With `orders` and a
        `venue` on this store's database, the orders are placed in the same transaction and their
        result is returned; otherwise None (the caller sends its orders itself, after this)."""
        if venue is not None and venue.db is not self.db:
            raise ValueError("a joint venue writes to the store's own database")
        loop = asyncio.get_running_loop()
        done: asyncio.Future[BatchResult | None] = loop.create_future()
        # the rows are taken now, while the tick holds its bot and the writer may be busy with the
        # previous batch; the flush only gathers them (the writer thread only executes statements)
        self._pending.append(
            _Save(
                book,
                [_interval_row(book, i) for i in changes.touched],
                _config_row(book, price),
                _activity(book, changes),
                done,
                tuple(orders),
                venue if orders else None,
            )
        )
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush(), name="grid store")
        return await done

    async def drain(self) -> None:
        """Until the saves already asked for are written or have failed (a shutdown's last writes,
        before the database is closed)."""
        while self._flusher is not None and not self._flusher.done():
            await asyncio.wait([self._flusher])

    async def _flush(self) -> None:
        while self._pending:
            await asyncio.sleep(0)  # the other ticks of this loop pass join the batch
            pending = [item for item in self._pending if not item.done.done()]  # cancelled: not written
            self._pending = []
            for batch in _by_venue(pending):
                await self._write_or_split(batch)

    async def _write_or_split(self, batch: list[_Save]) -> None:
        try:
            results = await self._write_batch(batch)
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0].done, exc=exc)
                return
            for item in batch:  # one per transaction: the failure lands on its own bot
                try:
                    [result] = await self._write_batch([item])
                except Exception as one:
                    _settle(item.done, exc=one)
                else:
                    _settle(item.done, result)
            return
        for item, result in zip(batch, results, strict=True):
            _settle(item.done, result)

    async def _write_batch(self, batch: Sequence[_Save]) -> list[BatchResult | None]:
        """Write the batch in one transaction (with the orders of its saves that carry any); returns
        each save's order result."""
        started = time.perf_counter()
        self.commits += 1
        self.saves += len(batch)
        intervals = [row for item in batch for row in item.intervals]
        configs = [item.config for item in batch]
        activities = [item.activity for item in batch]

        def write(connection: Connection) -> None:
            q.write_bots_activity(connection, activities)  # bots first: the order of the ORM's flush
            q.update_rows(connection, GridBotConfig.__table__, configs)
            q.update_rows(connection, GridOrder.__table__, intervals)

        joint = [item for item in batch if item.venue is not None]
        results: list[BatchResult | None] = [None] * len(batch)
        if not joint:
            await self.db.run_write(write)
        else:
            venue = joint[0].venue
            assert venue is not None
            placed = iter(
                await venue.create_orders_with([(item.book.user_id, item.orders) for item in joint], write)
            )
            results = [next(placed) if item.venue is not None else None for item in batch]
        self.commit_seconds += time.perf_counter() - started
        return results


@dataclass(slots=True)
class _Save:
    """One save's rows, taken when it was asked for (the book does not change until it is written)."""

    book: GridBook
    intervals: list[dict[str, Any]]
    config: dict[str, Any]
    activity: q.BotActivity
    done: asyncio.Future[BatchResult | None]
    orders: tuple[OrderRequest, ...] = ()
    venue: JointVenue | None = None


def _by_venue(saves: list[_Save]) -> list[list[_Save]]:
    """The saves split into one transaction per joint venue (the saves without orders go with the
    first); in practice a process has one venue, so one transaction."""
    groups: dict[int, list[_Save]] = {}
    for item in saves:
        groups.setdefault(id(item.venue) if item.venue is not None else 0, []).append(item)
    plain = groups.pop(0, [])
    out = list(groups.values()) or ([plain] if plain else [])
    if groups and plain:
        out[0] = plain + out[0]
    return out


def _settle(
    future: asyncio.Future[BatchResult | None],
    result: BatchResult | None = None,
    *,
    exc: BaseException | None = None,
) -> None:
    if future.done():  # the tick waiting for it was cancelled
        return
    if exc is None:
        future.set_result(result)
    else:
        future.set_exception(exc)


def trade_row(
    book: GridBook,
    *,
    side: str,
    order_type: str,
    qty: Decimal,
    price: Decimal,
    fee: Decimal,
    realized_pnl: Decimal | None,
    exchange_order_id: str,
    client_order_id: str | None,
    ts: int | None,
    fee_base: Decimal = ZERO,
) -> dict[str, Any]:
    """A trades row of a grid fill (created_at: the column's default): `fee` valued in quote, `fee_base`
    the part the venue took from the coin bought."""
    assert book.market is not None
    return {
        "user_id": book.user_id,
        "bot_instance_id": book.bot_id,
        "trade_source": "grid_bot",
        "symbol": book.symbol.replace("/", ""),
        "side": side,
        "order_type": order_type,
        "qty": qty,
        "price": price,
        "fee": fee,
        "fee_currency": book.market.base if fee_base else book.market.quote,
        "fee_base": fee_base if fee_base else None,
        "realized_pnl": realized_pnl,
        "exchange_order_id": exchange_order_id,
        "client_order_id": client_order_id,
        "executed_at": from_ms(ts),
    }


def _interval_row(book: GridBook, i: int) -> dict[str, Any]:
    """The grid_orders columns interval `i` sets ("_id": its row): buy_filled_* only while it holds a
    buy, buy_filled_at only once bought, sell_filled_* only when this save filled its sell."""
    s = book.intervals[i]
    row: dict[str, Any] = {
        "_id": book.row_ids[i],
        "status": s.status.value,
        "cycle": s.cycle,
        "qty": s.qty,
        "buy_order_id": book.buy_cids[i],
        "sell_order_id": book.sell_cids[i],
        "profit": s.realized_profit,
        "held_qty": s.held if s.status in _HOLDING else None,
    }
    if s.entry_price is not None:
        row["buy_filled_price"] = s.entry_price
        row["buy_filled_qty"] = s.qty
        row["buy_fee"] = s.entry_fee
        if s.last_fill_ts is not None and s.status in (IntervalStatus.BUY_FILLED, IntervalStatus.SELL_PLACED):
            row["buy_filled_at"] = from_ms(s.last_fill_ts)
    sold = book.sell_fills.get(i)
    if sold is not None:
        row["sell_filled_price"], row["sell_filled_qty"] = sold[0], sold[1]
        row["sell_filled_at"] = from_ms(sold[2])
    return row


def _config_row(book: GridBook, price: Decimal | None) -> dict[str, Any]:
    """The grid_bot_configs columns a save sets (current_price only when given)."""
    row: dict[str, Any] = {
        "_id": book.config_id,
        "active_buy_orders": len(
            {book.buy_cids[s.index] for s in book.intervals if s.status == IntervalStatus.BUY_PLACED}
        ),
        "active_sell_orders": sum(1 for s in book.intervals if s.status == IntervalStatus.SELL_PLACED),
        "filled_buy_count": book.filled_buys,
        "filled_sell_count": book.filled_sells,
        "realized_profit": book.realized,
        "dust_qty": book.dust_qty,
        "dust_cost": book.dust_cost,
    }
    if price is not None:
        row["current_price"] = price
    return row


def _activity(book: GridBook, changes: _Changes) -> q.BotActivity:
    return q.BotActivity(
        bot_id=book.bot_id,
        user_id=book.user_id,
        chat_id=book.chat_id,
        total_trades=book.total_trades,
        winning_trades=book.winning_trades,
        total_pnl=book.total_pnl,
        last_fill_ts=changes.last_fill_ts,
        trades=changes.trades,
        alerts=changes.alerts,
    )


def _held(row: GridOrder) -> Decimal:
    """What a holding interval holds (rows from before held_qty: what it bought)."""
    if row.held_qty is not None:
        return row.held_qty
    return row.buy_filled_qty or row.qty or ZERO


def _book_of(
    bot: BotInstance, user: User, config: GridBotConfig, rows: list[GridOrder], namespace: str
) -> GridBook:
    """A running grid bot's book from its rows."""
    lines = [r.grid_price for r in rows] + [config.upper_price]
    intervals = []
    for r in rows:
        status = IntervalStatus(r.status or "pending")
        holding = status in (IntervalStatus.BUY_FILLED, IntervalStatus.SELL_PLACED)
        intervals.append(
            IntervalState(
                index=r.grid_index,
                buy_price=lines[r.grid_index],
                sell_price=lines[r.grid_index + 1],
                qty=r.qty or ZERO,
                status=status,
                cycle=r.cycle,
                entry_price=r.buy_filled_price if holding else None,
                entry_fee=r.buy_fee if holding else None,
                realized_profit=r.profit or ZERO,
                held=_held(r) if holding else None,
            )
        )
    return GridBook(
        bot_id=bot.id,
        user_id=bot.user_id,
        chat_id=user.chat_id,
        name=bot.name.split("\x1f", 1)[0],
        symbol=unified_symbol(bot.symbol),
        config_id=config.id,
        row_ids=[r.id for r in rows],
        lines=lines,
        intervals=intervals,
        buy_cids=[r.buy_order_id for r in rows],
        sell_cids=[r.sell_order_id for r in rows],
        trigger=config.trigger_price,
        stop_upper=config.stop_upper,
        stop_lower=config.stop_lower,
        close_on_stop=config.close_position_on_stop,
        total_investment=config.total_investment,
        allocation_percent=bot.allocation_percent,
        first_price=config.current_price,
        filled_buys=config.filled_buy_count or 0,
        filled_sells=config.filled_sell_count or 0,
        realized=config.realized_profit or ZERO,
        total_trades=bot.total_trades or 0,
        winning_trades=bot.winning_trades or 0,
        total_pnl=bot.total_pnl or ZERO,
        namespace=namespace,
        venue=bot.venue or "paper",
        venue_account=bot.venue_account,
        dust_qty=config.dust_qty or ZERO,
        dust_cost=config.dust_cost or ZERO,
        legacy_ids=any(
            cid and not cid.startswith(client_order_prefix(namespace, bot.id))
            for r in rows
            for cid in (r.buy_order_id, r.sell_order_id)
        ),
    )
