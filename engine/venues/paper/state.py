"""The paper venue's state: its database rows held in memory, and the transaction that changes them.

The venue (engine.venues.paper.venue) is the only writer of paper_orders, paper_balances and paper_positions,
so it keeps the open orders and every account's balances and positions in memory and never reads
them back. A `PaperTxn` is one change of that state: the matching logic works on copies of the rows
it touches (`order`, `balance`, `position`); `write(connection)` stores exactly those rows (db.bulk's
multi-row statements) in one transaction (`Database.run_write`: one hop to SQLite's writer thread);
only once that is committed does `install` put the copies (money quantized to 8 decimals, as reading
them back would give) in place of the originals. A failed write leaves memory untouched.

Idempotency: a new order whose (account, client order id) the database already holds makes `write`
raise `DuplicateOrders` with those orders, and the transaction is rolled back (on SQLite the unique
index tells it: INSERT OR IGNORE inserts fewer rows); the venue answers them with the existing orders
and runs the batch again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Connection, insert, select, tuple_, update

from db.bulk import in_chunks, insert_rows, update_rows_where
from db.models import PaperBalance, PaperOrder, PaperPosition, ReplayCursor
from engine.exchange import Order
from engine.money import q8

ZERO = Decimal(0)

_ORDERS = PaperOrder.__table__
_BALANCES = PaperBalance.__table__
_POSITIONS = PaperPosition.__table__
_CURSORS = ReplayCursor.__table__


def money(value: Decimal | None) -> Decimal | None:
    """A money value as the database stores it (8 decimals)."""
    return None if value is None else q8(value)


@dataclass(slots=True)
class OrderRow:
    """A paper_orders row (same column names); `id` is assigned by the venue."""

    id: int
    user_id: int
    symbol: str
    side: str
    type: str
    price: Decimal | None
    qty: Decimal
    filled_qty: Decimal
    avg_price: Decimal | None
    fee: Decimal
    reserved: Decimal
    status: str
    client_order_id: str
    reduce_only: bool
    trigger_price: Decimal | None
    created_ts: int
    filled_ts: int | None = None
    fee_base: Decimal = ZERO  # the fee taken from the coin bought (a spot buy's, where the market says so)

    def order(self) -> Order:
        return Order(
            id=str(self.id),
            client_order_id=self.client_order_id,
            symbol=self.symbol,
            side=self.side,  # type: ignore[arg-type]
            type=self.type,  # type: ignore[arg-type]
            price=self.price,
            qty=self.qty,
            filled_qty=self.filled_qty,
            avg_fill_price=self.avg_price,
            fee=self.fee,
            status=self.status,  # type: ignore[arg-type]
            ts=self.filled_ts if self.filled_ts is not None else self.created_ts,
            reduce_only=self.reduce_only,
            trigger_price=self.trigger_price,
            fee_base=self.fee_base,
        )

    def copy(self) -> OrderRow:
        return OrderRow(
            self.id, self.user_id, self.symbol, self.side, self.type, self.price, self.qty,
            self.filled_qty, self.avg_price, self.fee, self.reserved, self.status,
            self.client_order_id, self.reduce_only, self.trigger_price, self.created_ts, self.filled_ts,
            self.fee_base,
        )  # fmt: skip

    def quantize(self) -> None:
        """Money as the database stores it (in place: only a transaction's own copies are quantized)."""
        self.price = money(self.price)
        self.qty = q8(self.qty)
        self.filled_qty = q8(self.filled_qty)
        self.avg_price = money(self.avg_price)
        self.fee = q8(self.fee)
        self.fee_base = q8(self.fee_base)
        self.reserved = q8(self.reserved)
        self.trigger_price = money(self.trigger_price)


@dataclass(slots=True)
class BalanceRow:
    user_id: int
    asset: str
    free: Decimal
    locked: Decimal
    stored: bool = True  # the row exists in the database

    def copy(self) -> BalanceRow:
        return BalanceRow(self.user_id, self.asset, self.free, self.locked, self.stored)

    def quantize(self) -> None:
        self.free, self.locked, self.stored = q8(self.free), q8(self.locked), True


@dataclass(slots=True)
class PositionRow:
    user_id: int
    symbol: str
    qty: Decimal
    entry_price: Decimal
    leverage: int
    margin: Decimal
    realized_pnl: Decimal
    stored: bool = True

    def copy(self) -> PositionRow:
        return PositionRow(
            self.user_id, self.symbol, self.qty, self.entry_price, self.leverage, self.margin,
            self.realized_pnl, self.stored,
        )  # fmt: skip

    def quantize(self) -> None:
        self.qty, self.entry_price = q8(self.qty), q8(self.entry_price)
        self.margin, self.realized_pnl, self.stored = q8(self.margin), q8(self.realized_pnl), True


_ORDER_FIELDS = [f.name for f in fields(OrderRow)]
_ORDER_CHANGES = ("status", "filled_qty", "avg_price", "fee", "fee_base", "reserved", "filled_ts")


def client_ids_in(pairs: Sequence[tuple[int, str]]) -> ColumnElement[bool]:
    """paper_orders rows of these (account, client order id)s (the unique index answers it)."""
    return tuple_(_ORDERS.c.user_id, _ORDERS.c.client_order_id).in_(pairs)


def order_row_of(row: Any) -> OrderRow:
    """An OrderRow from a paper_orders result row (Core or ORM)."""
    return OrderRow(**{name: getattr(row, name) for name in _ORDER_FIELDS})


class DuplicateOrders(Exception):
    """New orders whose client order ids the account already used: {(user, client id): existing}."""

    def __init__(self, existing: dict[tuple[int, str], OrderRow]) -> None:
        super().__init__(f"{len(existing)} client order ids already used")
        self.existing = existing


class PaperState:
    """The rows in memory (see the module docstring); `next_id` is the next paper order id."""

    def __init__(self) -> None:
        self.orders: dict[int, OrderRow] = {}  # open orders by id
        self.by_client_id: dict[tuple[int, str], int] = {}  # open orders: (user, client id) -> id
        self.accounts: dict[int, Account] = {}  # balances and positions by account (user id)
        self.next_id = 1

    def load(
        self, orders: Iterable[Any], balances: Iterable[Any], positions: Iterable[Any], max_id: int
    ) -> None:
        self.orders.clear()
        self.by_client_id.clear()
        self.accounts.clear()
        for r in orders:
            row = order_row_of(r)
            self.orders[row.id] = row
            self.by_client_id[(row.user_id, row.client_order_id)] = row.id
        for r in balances:
            self.put_balance(BalanceRow(r.user_id, r.asset, r.free, r.locked))
        for r in positions:
            self.put_position(
                PositionRow(r.user_id, r.symbol, r.qty, r.entry_price, r.leverage, r.margin, r.realized_pnl)
            )
        self.next_id = max_id + 1

    def put_balance(self, row: BalanceRow) -> None:
        self.accounts.setdefault(row.user_id, Account()).balances[row.asset] = row

    def put_position(self, row: PositionRow) -> None:
        self.accounts.setdefault(row.user_id, Account()).positions[row.symbol] = row

    def account(self, user_id: int) -> Account:
        """The account's rows (an empty one, not stored, for an account never used)."""
        return self.accounts.get(user_id) or Account()

    def funded(self, user_id: int) -> bool:
        """The account has balance rows (its first use wrote them)."""
        account = self.accounts.get(user_id)
        return account is not None and bool(account.balances)


@dataclass(slots=True)
class Account:
    balances: dict[str, BalanceRow] = field(default_factory=dict)  # by asset
    positions: dict[str, PositionRow] = field(default_factory=dict)  # by symbol


class PaperTxn:
    """One change of the venue's state (see the module docstring)."""

    def __init__(self, state: PaperState, start_balances: dict[int, Decimal]) -> None:
        self.state = state
        self.start_balances = start_balances  # USDT of accounts funded by this change
        self.new_orders: dict[int, OrderRow] = {}
        self._new_by_client_id: dict[tuple[int, str], OrderRow] = {}
        self.orders: dict[int, OrderRow] = {}  # working copies of existing open orders
        self.balances: dict[tuple[int, str], BalanceRow] = {}
        self.positions: dict[tuple[int, str], PositionRow] = {}
        self.cursor: tuple[str, int] | None = None
        self.known: dict[tuple[int, str], OrderRow] = {}  # existing orders of client ids sent again
        self._next_id = state.next_id

    # ---- rows to change

    def add_order(self, row: OrderRow) -> OrderRow:
        row.id = self._next_id
        self._next_id += 1
        self.new_orders[row.id] = row
        self._new_by_client_id[(row.user_id, row.client_order_id)] = row
        return row

    def order(self, order_id: int) -> OrderRow | None:
        """The working copy of an open order (None: not open)."""
        row = self.orders.get(order_id) or self.new_orders.get(order_id)
        if row is None:
            original = self.state.orders.get(order_id)
            if original is None:
                return None
            row = self.orders[order_id] = original.copy()
        return row

    def open_by_client_id(self, user_id: int, client_order_id: str) -> OrderRow | None:
        order_id = self.state.by_client_id.get((user_id, client_order_id))
        if order_id is not None:
            return self.order(order_id)
        return self._new_by_client_id.get((user_id, client_order_id))

    def balance(self, user_id: int, asset: str) -> BalanceRow:
        key = (user_id, asset)
        row = self.balances.get(key)
        if row is not None:
            return row
        original = self.state.account(user_id).balances.get(asset)
        if original is not None:
            row = original.copy()
        else:
            start = ZERO
            if asset == "USDT" and not self.state.funded(user_id):
                start = self.start_balances.get(user_id, ZERO)
            row = BalanceRow(user_id, asset, start, ZERO, stored=False)
        self.balances[key] = row
        return row

    def position(self, user_id: int, symbol: str) -> PositionRow:
        key = (user_id, symbol)
        row = self.positions.get(key)
        if row is None:
            original = self.state.account(user_id).positions.get(symbol)
            row = (
                original.copy()
                if original is not None
                else PositionRow(user_id, symbol, ZERO, ZERO, 1, ZERO, ZERO, stored=False)
            )
            self.positions[key] = row
        return row

    def fund(self, user_id: int) -> None:
        """An account's first use: its USDT balance row is written with this change."""
        if not self.state.funded(user_id):
            self.balance(user_id, "USDT")

    # ---- the write (in the writer thread) and its installation (in the event loop)

    def write(self, connection: Connection) -> None:
        if self.new_orders:
            rows = [{n: getattr(r, n) for n in _ORDER_FIELDS} for r in self.new_orders.values()]
            if connection.dialect.name == "sqlite":  # the unique (user, client id) says it in one go
                if insert_rows(connection, _ORDERS, rows, or_ignore=True) != len(rows):
                    self._check_duplicates(connection)
                    raise RuntimeError("paper orders were not inserted")  # not a duplicate: a bug
            else:
                self._check_duplicates(connection)
                insert_rows(connection, _ORDERS, rows)
        if self.orders:
            update_rows_where(
                connection,
                _ORDERS,
                {"_id": "id"},
                [{"_id": r.id, **{n: getattr(r, n) for n in _ORDER_CHANGES}} for r in self.orders.values()],
            )
        new = [r for r in self.balances.values() if not r.stored]
        old = [r for r in self.balances.values() if r.stored]
        insert_rows(
            connection,
            _BALANCES,
            [{"user_id": r.user_id, "asset": r.asset, "free": r.free, "locked": r.locked} for r in new],
        )
        update_rows_where(
            connection,
            _BALANCES,
            {"_user": "user_id", "_asset": "asset"},
            [{"_user": r.user_id, "_asset": r.asset, "free": r.free, "locked": r.locked} for r in old],
        )
        if self.positions:
            self._write_positions(connection)
        if self.cursor is not None:
            name, position = self.cursor
            done = connection.execute(
                update(_CURSORS).where(_CURSORS.c.name == name).values(position=position)
            )
            if not done.rowcount:
                connection.execute(insert(_CURSORS).values(name=name, position=position))

    def _write_positions(self, connection: Connection) -> None:
        columns = ("qty", "entry_price", "leverage", "margin", "realized_pnl")
        new = [r for r in self.positions.values() if not r.stored]
        old = [r for r in self.positions.values() if r.stored]
        insert_rows(
            connection,
            _POSITIONS,
            [{"user_id": r.user_id, "symbol": r.symbol, **{c: getattr(r, c) for c in columns}} for r in new],
        )
        update_rows_where(
            connection,
            _POSITIONS,
            {"_user": "user_id", "_symbol": "symbol"},
            [{"_user": r.user_id, "_symbol": r.symbol, **{c: getattr(r, c) for c in columns}} for r in old],
        )

    def _check_duplicates(self, connection: Connection) -> None:
        """Raise DuplicateOrders with the stored orders of the new orders' (account, client id)s."""
        wanted = sorted({(r.user_id, r.client_order_id) for r in self.new_orders.values()})
        existing: dict[tuple[int, str], OrderRow] = {}
        for chunk in in_chunks(wanted):
            for r in connection.execute(select(_ORDERS).where(client_ids_in(chunk))):
                if r.id not in self.new_orders:  # not one this transaction just inserted
                    existing[(r.user_id, r.client_order_id)] = order_row_of(r)
        if existing:
            raise DuplicateOrders(existing)

    def install(self) -> tuple[list[OrderRow], list[OrderRow], list[OrderRow]]:
        """After the commit: the copies replace the originals. Returns (orders now open that were
        not, orders no longer open, open orders that changed: a partial fill), quantized as stored (in
        place: the copies are this change's own)."""
        state = self.state
        state.next_id = max(state.next_id, self._next_id)
        opened: list[OrderRow] = []
        closed: list[OrderRow] = []
        changed: list[OrderRow] = []
        for row in self.new_orders.values():
            row.quantize()
            if row.status == "open":
                state.orders[row.id] = row
                state.by_client_id[(row.user_id, row.client_order_id)] = row.id
                opened.append(row)
            else:
                closed.append(row)
        for row in self.orders.values():
            row.quantize()
            if row.status == "open":
                state.orders[row.id] = row
                changed.append(row)
            else:
                state.orders.pop(row.id, None)
                state.by_client_id.pop((row.user_id, row.client_order_id), None)
                closed.append(row)
        for balance in self.balances.values():
            balance.quantize()
            state.put_balance(balance)
        for position in self.positions.values():
            position.quantize()
            state.put_position(position)
        return opened, closed, changed
