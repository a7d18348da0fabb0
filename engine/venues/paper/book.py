"""The paper venue's resting orders: the in-memory index that matching and the owners' look-ups read.

The venue (engine.venues.paper.venue) rests an order here once the transaction that opened it is committed and
takes it out once the one that filled or cancelled it is, so the index shows what the database
holds (the venue's `load` rebuilds it from there). Per symbol, two heaps hand a price point the
orders it crosses in the order a walk reaches them: buys (and sell stops, which cross as buys do)
highest first, sells (and buy stops) lowest first; an order taken out leaves its heap entry behind,
skipped when a point pops it. Per account and symbol it keeps the open orders by paper id and by
client order id, and a version that changes with them (the grid runtime skips a bot whose orders did
not change). Orders filled or cancelled are kept a while for their owner's one look-up by client
order id.
"""

from __future__ import annotations

import heapq
import itertools
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass

from engine.exchange import Order

# Orders this process filled or cancelled, kept (at most this many) for the owner's one look-up by
# client order id after the fact (the grid runtime's reconcile): the database is read only on a miss.
FINISHED_KEPT = 200_000


@dataclass(slots=True)
class _Book:
    """Resting orders of one symbol: heaps of (-price, seq, id) for buys and (price, seq, id) for sells."""

    buys: list[tuple[float, int, int]]
    sells: list[tuple[float, int, int]]


class RestingOrders:
    """Every paper account's open orders (see the module docstring); paper ids are ints here."""

    def __init__(self) -> None:
        self.orders: dict[int, Order] = {}  # open orders by paper id
        self.owners: dict[int, int] = {}  # paper id -> user id
        self.open_cids: dict[tuple[int, str], dict[str, Order]] = {}  # by (account, symbol), client order id
        self.finished: OrderedDict[tuple[int, str], Order] = OrderedDict()  # see FINISHED_KEPT
        self._books: dict[str, _Book] = {}
        self._by_account: dict[tuple[int, str], dict[int, Order]] = {}  # the same by paper id
        self._versions: dict[tuple[int, str], int] = {}  # (account, symbol) -> changes of its open orders
        self._groups: dict[tuple[int, str], dict[str, int]] = {}  # the same per client order id prefix
        self._prefix_lengths: dict[tuple[int, str], list[int]] = {}  # the lengths of those prefixes
        self._seq = itertools.count()

    def clear(self) -> None:
        """Forget the open orders (a reload); the versions and the finished orders stay."""
        self._books.clear()
        self.orders.clear()
        self.owners.clear()
        self._by_account.clear()
        self.open_cids.clear()

    # ---- what the owners read

    def open_orders(self, user_id: int, symbol: str) -> list[Order]:
        return list(self._by_account.get((user_id, symbol), {}).values())

    def open_client_order_ids(self, user_id: int, symbol: str) -> Collection[str]:
        """The client order ids of the account's open orders on `symbol` (a live view)."""
        return self.open_cids.setdefault((user_id, symbol), {}).keys()

    def orders_version(self, user_id: int, symbol: str, prefix: str | None = None) -> int:
        """A number that changes whenever an open order of the account on `symbol` (with `prefix`:
        one whose client order id starts with it) is added, filled or cancelled (in this process;
        a new venue starts again from 0, and so must its readers). A prefix counts the changes
        from its first use on."""
        if prefix is None:
            return self._versions.get((user_id, symbol), 0)
        groups = self._groups.setdefault((user_id, symbol), {})
        if prefix not in groups:
            groups[prefix] = 0
            lengths = self._prefix_lengths.setdefault((user_id, symbol), [])
            if len(prefix) not in lengths:
                lengths.append(len(prefix))
        return groups[prefix]

    # ---- matching

    def crossing(self, symbol: str, price: float) -> list[int]:
        """Pop the paper ids of the open orders that a point at `price` crosses, in the order they fill
        (buys and sell stops highest first, then sells and buy stops lowest first)."""
        book = self._books.get(symbol)
        if book is None:
            return []
        out: list[int] = []
        buys, sells = book.buys, book.sells
        while buys and -buys[0][0] >= price:
            order_id = heapq.heappop(buys)[2]
            if order_id in self.orders:
                out.append(order_id)
        while sells and sells[0][0] <= price:
            order_id = heapq.heappop(sells)[2]
            if order_id in self.orders:
                out.append(order_id)
        return out

    def rest_again(self, order_ids: list[int]) -> None:
        """Put back the heap entries `crossing` popped of these orders, those still open (nothing
        was committed)."""
        for order_id in order_ids:
            if order_id in self.orders:
                self._push(self.orders[order_id])

    # ---- changes (after their commit)

    def rest(self, user_id: int, order: Order) -> None:
        paper_id = int(order.id)
        self.orders[paper_id] = order
        self.owners[paper_id] = user_id
        self._by_account.setdefault((user_id, order.symbol), {})[paper_id] = order
        if order.client_order_id is not None:
            self.open_cids.setdefault((user_id, order.symbol), {})[order.client_order_id] = order
        self._bump(user_id, order)
        self._push(order)

    def update(self, user_id: int, order: Order) -> None:
        """An open order changed but rests on (a partial fill): the same heap entry, the new values."""
        paper_id = int(order.id)
        if paper_id not in self.orders:
            self.rest(user_id, order)
            return
        self.orders[paper_id] = order
        self._by_account.setdefault((user_id, order.symbol), {})[paper_id] = order
        if order.client_order_id is not None:
            self.open_cids.setdefault((user_id, order.symbol), {})[order.client_order_id] = order
        self._bump(user_id, order)

    def unrest(self, paper_id: int | str) -> None:
        paper_id = int(paper_id)
        order = self.orders.pop(paper_id, None)  # the heap entry is skipped lazily
        user_id = self.owners.pop(paper_id, None)
        if order is not None and user_id is not None:
            self._by_account.get((user_id, order.symbol), {}).pop(paper_id, None)
            self.open_cids.get((user_id, order.symbol), {}).pop(order.client_order_id or "", None)
            self._bump(user_id, order)

    def finish(self, user_id: int | None, order: Order) -> None:
        """Remember a filled or cancelled order for its owner's look-up by client order id."""
        if user_id is None:
            return
        self.finished[(user_id, order.client_order_id)] = order
        while len(self.finished) > FINISHED_KEPT:
            self.finished.popitem(last=False)

    def _bump(self, user_id: int, order: Order) -> None:
        key = (user_id, order.symbol)
        self._versions[key] = self._versions.get(key, 0) + 1
        groups = self._groups.get(key)
        if groups:  # every prefix the cid starts with: one look-up per prefix length, not per prefix
            cid = order.client_order_id or ""
            for length in self._prefix_lengths[key]:
                prefix = cid[:length]  # (shorter than `length` for a shorter cid: then no prefix's)
                if prefix in groups:
                    groups[prefix] += 1

    def _push(self, order: Order) -> None:
        book = self._books.get(order.symbol)
        if book is None:
            book = self._books[order.symbol] = _Book([], [])
        if order.trigger_price is not None:  # a sell stop crosses as a buy limit does, and vice versa
            trigger = float(order.trigger_price)
            if order.side == "sell":
                heapq.heappush(book.buys, (-trigger, next(self._seq), int(order.id)))
            else:
                heapq.heappush(book.sells, (trigger, next(self._seq), int(order.id)))
            return
        assert order.price is not None
        price = float(order.price)
        if order.side == "buy":
            heapq.heappush(book.buys, (-price, next(self._seq), int(order.id)))
        else:
            heapq.heappush(book.sells, (price, next(self._seq), int(order.id)))
