"""The paper matching engine: fills at the limit price when the price trades through, fees, locked
funds, idempotent client order ids, futures positions, and state that survives a restart.

Hand calculations: BTC/USDT spot, tick 0.01, step 0.000001, maker 0.0002, taker 0.0006, and the
account starts with the user's paper balance of 10000 USDT. Most of them take the fee in quote (a market
setting, `QUOTE_FEES`); the default, Bitget's, takes a spot buy's fee from the coin bought and has tests
of its own.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from db.session import Database
from engine.exchange import InsufficientFunds, InvalidOrder, OrderNotFound, OrderRequest
from engine.venues.paper.markets import paper_markets
from engine.venues.paper.venue import PaperVenue, load_cursor

BTC = "BTC/USDT"
PERP = "BTC/USDT:USDT"
QUOTE_FEES = paper_markets(spot_buy_fee_in_base=False)


def limit(side: str, qty: str, price: str, cid: str, symbol: str = BTC, **kw) -> OrderRequest:
    return OrderRequest(symbol, side, "limit", D(qty), D(price), cid, **kw)  # type: ignore[arg-type]


def market(side: str, qty: str, cid: str, symbol: str = BTC, **kw) -> OrderRequest:
    return OrderRequest(symbol, side, "market", D(qty), None, cid, **kw)  # type: ignore[arg-type]


@pytest.fixture
async def venue(database: Database) -> PaperVenue:
    v = PaperVenue(database, markets=QUOTE_FEES)
    await v.load()
    return v


async def test_limit_buy_fills_at_its_price_when_the_price_trades_at_or_below_it(venue, alice) -> None:
    ex = venue.account(alice.id)
    await venue.on_price(BTC, D("100000"), 1)
    order = await ex.create_order(limit("buy", "0.01", "99000", "b1"))
    assert order.status == "open"
    # locked: 99000 x 0.01 = 990 plus the maker fee 990 x 0.0002 = 0.198
    bal = await ex.fetch_balance()
    assert bal.assets["USDT"].used == D("990.198")
    assert bal.free("USDT") == D("10000") - D("990.198")
    assert await venue.on_price(BTC, D("99000.01"), 2) == []  # above: nothing
    filled = await venue.on_price(BTC, D("98500"), 3)  # traded through: fills at 99000, not 98500
    assert [o.client_order_id for o in filled] == ["b1"]
    done = await ex.fetch_order_by_client_id("b1", BTC)
    assert done is not None and done.status == "closed"
    assert done.avg_fill_price == D("99000") and done.fee == D("0.198") and done.ts == 3
    bal = await ex.fetch_balance()
    assert bal.total("USDT") == D("10000") - D("990") - D("0.198")
    assert bal.total("BTC") == D("0.01")
    assert await ex.fetch_open_orders(BTC) == []


async def test_sell_fills_at_or_above_and_a_walk_fills_in_the_order_it_reaches_them(venue, alice) -> None:
    ex = venue.account(alice.id)
    await venue.on_price(BTC, D("100"), 0)  # a cheap coin keeps the numbers small
    for i, price in enumerate(["99", "98", "97"]):
        await ex.create_order(limit("buy", "1", price, f"b{i}"))
    # a falling candle: open 100 -> high 101 -> low 97.5 -> close 98; buys at 99 and 98 fill, 99 first
    filled = await venue.walk_candle(BTC, D("100"), D("101"), D("97.5"), D("98"), 60_000)
    assert [o.client_order_id for o in filled] == ["b0", "b1"]
    await ex.create_order(limit("sell", "1", "99.5", "s0"))
    await ex.create_order(limit("sell", "1", "99", "s1"))
    filled = await venue.on_price(BTC, D("99.5"), 120_000)
    assert [o.client_order_id for o in filled] == ["s1", "s0"]  # lowest sell first
    # proceeds 99 + 99.5 less maker fees 0.0198 + 0.0199
    bal = await ex.fetch_balance()
    assert bal.total("BTC") == 0
    spent = D("99") + D("98") + D("0.0198") + D("0.0196") + D("97") + D("0.0194")
    assert bal.total("USDT") == D("10000") - spent + D("97") + D("0.0194") + D("198.5") - D("0.0397")


async def test_same_client_order_id_returns_the_existing_order(venue, alice) -> None:
    ex = venue.account(alice.id)
    await venue.on_price(BTC, D("100000"), 1)
    first = await ex.create_order(limit("buy", "0.01", "90000", "dup"))
    again = await ex.create_order(limit("buy", "0.02", "80000", "dup"))
    batch = await ex.create_orders([limit("buy", "0.01", "90000", "dup")])
    assert again.id == first.id and again.price == D("90000")
    assert [o.id for o in batch.accepted] == [first.id]
    assert len(await ex.fetch_open_orders(BTC)) == 1
    assert (await ex.fetch_balance()).assets["USDT"].used == D("900.18")


async def test_market_order_pays_slippage_and_the_taker_fee(database, alice) -> None:
    venue = PaperVenue(database, markets=QUOTE_FEES, slippage=D("0.001"))
    ex = venue.account(alice.id)
    await venue.on_price(BTC, D("100000"), 5)
    order = await ex.create_order(market("buy", "0.01", "m1"))
    # 100000 x 1.001 = 100100; fee 100100 x 0.01 x 0.0006 = 0.6006
    assert order.status == "closed" and order.avg_fill_price == D("100100") and order.fee == D("0.6006")
    bal = await ex.fetch_balance()
    assert bal.total("USDT") == D("10000") - D("1001") - D("0.6006")
    sold = await ex.create_order(market("sell", "0.01", "m2"))
    assert sold.avg_fill_price == D("99900")


async def test_funds_and_rules_are_checked(venue, alice) -> None:
    ex = venue.account(alice.id)
    await venue.on_price(BTC, D("100000"), 1)
    with pytest.raises(InsufficientFunds):
        await ex.create_order(limit("buy", "1", "99000", "big"))
    with pytest.raises(InsufficientFunds):
        await ex.create_order(limit("sell", "0.01", "101000", "nobase"))
    with pytest.raises(InvalidOrder):
        await ex.create_order(limit("buy", "0.000001", "99000", "tiny"))  # 0.099 USDT < 1 USDT minimum
    result = await ex.create_orders([limit("buy", "0.01", "99000", "ok"), limit("buy", "1", "99000", "no")])
    assert [o.client_order_id for o in result.accepted] == ["ok"]
    assert [r.client_order_id for r in result.rejected] == ["no"]


async def test_cancel_releases_the_locked_funds(venue, alice) -> None:
    ex = venue.account(alice.id)
    await venue.on_price(BTC, D("100000"), 1)
    order = await ex.create_order(limit("buy", "0.01", "99000", "c1"))
    assert await ex.cancel_orders([order.id], BTC) == [order.id]
    assert (await ex.fetch_balance()).free("USDT") == D("10000")
    assert await venue.on_price(BTC, D("90000"), 2) == []
    assert (await ex.fetch_order(order.id, BTC)).status == "canceled"


async def test_state_survives_a_restart(database, alice) -> None:
    first = PaperVenue(database, markets=QUOTE_FEES)
    await first.load()
    await first.on_price(BTC, D("100000"), 1)
    await first.account(alice.id).create_order(limit("buy", "0.01", "99000", "r1"))
    await first.on_price(BTC, D("99500"), 2, cursor=("replay:test", 7))
    second = PaperVenue(database, markets=QUOTE_FEES)  # a new process
    assert await second.load() == 1
    assert await load_cursor(database, "replay:test") == 7
    filled = await second.on_price(BTC, D("99000"), 3)
    assert [o.client_order_id for o in filled] == ["r1"]
    assert (await second.account(alice.id).fetch_balance()).total("BTC") == D("0.01")


async def test_perpetual_position_with_leverage_and_margin(venue, alice) -> None:
    ex = venue.account(alice.id)
    await ex.set_leverage(PERP, 10, max_leverage=20)
    with pytest.raises(InvalidOrder):
        await ex.set_leverage(PERP, 30, max_leverage=20)
    await venue.on_price(PERP, D("100000"), 1)
    await ex.create_order(market("buy", "0.1", "p1", PERP))
    # notional 10000, margin 1000, taker fee 6
    [pos] = await ex.fetch_positions()
    assert (pos.side, pos.qty, pos.entry_price, pos.leverage) == ("long", D("0.1"), D("100000"), D(10))
    # the paper venue's own isolated liquidation price: entry x (1 - 1/leverage) = 100,000 x 0.9
    assert (pos.liquidation_price, pos.margin_mode) == (D("90000.00"), "isolated")
    bal = await ex.fetch_balance()
    assert bal.free("USDT") == D("10000") - D("1000") - D("6")
    with pytest.raises(InvalidOrder):
        await ex.create_order(market("buy", "0.1", "p2", PERP, reduce_only=True))
    await venue.on_price(PERP, D("101000"), 2)
    await ex.create_order(limit("sell", "0.2", "102000", "p3", PERP, reduce_only=True))
    await venue.on_price(PERP, D("102000"), 3)
    assert await ex.fetch_positions() == []  # reduce-only closed 0.1, never flipped short
    # pnl 0.1 x 2000 = 200; maker fee on the 0.1 that filled: 102000 x 0.1 x 0.0002 = 2.04
    bal = await ex.fetch_balance()
    assert bal.total("USDT") == D("10000") - D("6") + D("200") - D("2.04")


async def test_concurrent_batches_commit_together_each_with_its_own_result(database, alice, bob) -> None:
    import asyncio

    venue = PaperVenue(database, markets=QUOTE_FEES)
    await venue.load()
    await venue.on_price(BTC, D("100000"), 1)
    a, b = venue.account(alice.id), venue.account(bob.id)
    ra, rb = await asyncio.gather(
        a.create_orders([limit("buy", "0.01", "99000", "a1"), limit("buy", "1", "99000", "a2")]),
        b.create_orders([limit("buy", "0.01", "98000", "b1")]),
    )
    assert [o.client_order_id for o in ra.accepted] == ["a1"] and [
        r.client_order_id for r in ra.rejected
    ] == ["a2"]
    assert [o.client_order_id for o in rb.accepted] == ["b1"] and not rb.rejected
    assert ra.accepted[0].id != rb.accepted[0].id
    again = await a.create_orders([limit("buy", "0.01", "99000", "a1")])  # idempotent across batches
    assert [o.id for o in again.accepted] == [ra.accepted[0].id]
    fresh = PaperVenue(database, markets=QUOTE_FEES)  # what was committed
    assert await fresh.load() == 2


async def test_fetch_balance_never_writes(database, alice) -> None:
    """The fleet asks for the balance inside its own write transaction: with SQLite's one writer a
    write here would wait for that transaction (a deadlock until the busy timeout)."""
    import asyncio

    venue = PaperVenue(database, markets=QUOTE_FEES)
    async with database.write():
        balance = await asyncio.wait_for(venue.account(alice.id).fetch_balance(), 5)
    assert balance.total("USDT") == D("10000")


async def test_finished_orders_answer_from_memory_as_the_database_does(venue, alice) -> None:
    ex = venue.account(alice.id)
    await venue.on_price(BTC, D("100000"), 1)
    await ex.create_order(limit("buy", "0.01", "99000", "f1"))
    version = ex.orders_version(BTC)
    await venue.on_price(BTC, D("98000"), 2)
    assert ex.orders_version(BTC) != version  # the fill changed the account's open orders
    remembered = await ex.fetch_order_by_client_id("f1", BTC)
    stored = await ex.fetch_order_by_client_id("f1", BTC)  # asked again: from the database
    assert repr(remembered) == repr(stored) and stored is not None and stored.status == "closed"
    assert stored.avg_fill_price == D("99000") and stored.ts == 2


def stop(side: str, qty: str, trigger: str, cid: str, symbol: str = PERP) -> OrderRequest:
    return OrderRequest(
        symbol,
        side,
        "market",
        D(qty),
        None,
        cid,
        reduce_only=True,
        trigger_price=D(trigger),  # type: ignore[arg-type]
    )


async def test_stop_market_orders_fill_at_the_trigger_or_at_a_gapping_open(database, venue, alice) -> None:
    ex = venue.account(alice.id)
    await ex.set_leverage(PERP, 10)
    await venue.on_price(PERP, D("100000"), 1)
    with pytest.raises(InvalidOrder):  # nothing to protect yet
        await ex.create_order(stop("sell", "0.1", "99000", "s0"))
    with pytest.raises(ValueError):  # a stop is a reduce-only market order
        OrderRequest(PERP, "sell", "limit", D("0.1"), D("99000"), "x", reduce_only=True, trigger_price=D("1"))
    await ex.create_order(market("buy", "0.2", "p1", PERP))  # long 0.2 at 100000, fee 12
    sl = await ex.create_order(stop("sell", "0.1", "99000", "s1"))
    assert (sl.status, sl.type, sl.price, sl.trigger_price, sl.reduce_only) == (
        "open", "market", None, D("99000"), True,
    )  # fmt: skip
    assert (await ex.create_order(stop("sell", "0.1", "99000", "s1"))).id == sl.id  # idempotent by client id
    gap = await ex.create_order(stop("sell", "0.1", "98500", "s2"))
    assert {o.client_order_id for o in await ex.fetch_open_orders(PERP)} == {"s1", "s2"}
    assert await venue.on_price(PERP, D("99000.1"), 1) == []  # above both triggers
    # the same candle walks down through 99000: s1 fills at its trigger, not at 98800, taker fee
    [filled] = await venue.on_price(PERP, D("98800"), 1)
    assert (filled.client_order_id, filled.avg_fill_price, filled.filled_qty, filled.status) == (
        "s1", D("99000"), D("0.1"), "closed",
    )  # fmt: skip
    assert filled.fee == D("99000") * D("0.1") * D("0.0006")
    # a restart keeps the resting stop; the next candle opens at 98000, past 98500: fills at the open
    again = PaperVenue(database, markets=QUOTE_FEES)
    assert await again.load() == 1
    again.mark_price(PERP, D("98800"), 1)
    [gapped] = await again.on_price(PERP, D("98000"), 2)
    assert (gapped.id, gapped.avg_fill_price, gapped.fee) == (
        gap.id,
        D("98000"),
        D("98000") * D("0.1") * D("0.0006"),
    )
    assert await again.account(alice.id).fetch_positions() == []
    balance = await again.account(alice.id).fetch_balance()
    # pnl -100 and -200; fees 12 + 5.94 + 5.88
    assert balance.total("USDT") == D("10000") - D("100") - D("200") - D("12") - D("5.94") - D("5.88")


async def test_a_stop_is_cancelable_and_a_buy_stop_triggers_going_up(venue, alice) -> None:
    ex = venue.account(alice.id)
    await venue.on_price(PERP, D("100000"), 1)
    await ex.set_leverage(PERP, 10)
    await ex.create_order(market("sell", "0.1", "short", PERP))
    up = await ex.create_order(stop("buy", "0.1", "101000", "up"))
    other = await ex.create_order(stop("buy", "0.1", "102000", "other"))
    version = ex.orders_version(PERP)
    await ex.cancel_order(other.id, PERP)
    assert ex.orders_version(PERP) != version
    assert (await ex.fetch_order_by_client_id("other", PERP)).status == "canceled"  # type: ignore[union-attr]
    assert await venue.on_price(PERP, D("100999.9"), 1) == []
    [filled] = await venue.on_price(PERP, D("103000"), 1)  # through 101000 (and 102000, cancelled)
    assert (filled.id, filled.avg_fill_price) == (up.id, D("101000"))
    assert await ex.fetch_open_orders(PERP) == [] and await ex.fetch_positions() == []


async def test_a_client_order_id_used_before_a_restart_answers_with_that_order(database, alice) -> None:
    """Only open orders are in memory; the database remembers the rest (and a batch mixing an old id
    with a new one places only the new one)."""
    first = PaperVenue(database, markets=QUOTE_FEES)
    await first.on_price(BTC, D("100000"), 1)
    filled = await first.account(alice.id).create_order(limit("buy", "0.01", "99000", "old"))
    await first.on_price(BTC, D("98000"), 2)
    second = PaperVenue(database, markets=QUOTE_FEES)  # a new process
    await second.load()
    await second.on_price(BTC, D("98500"), 3)
    ex = second.account(alice.id)
    before = await ex.fetch_balance()
    batch = await ex.create_orders(
        [limit("buy", "0.01", "99000", "old"), limit("buy", "0.01", "97000", "new")]
    )
    old, new = batch.accepted
    assert old.id == filled.id and old.status == "closed" and old.avg_fill_price == D("99000")
    assert new.status == "open" and int(new.id) > int(old.id)
    assert [o.client_order_id for o in await ex.fetch_open_orders(BTC)] == ["new"]
    after = await ex.fetch_balance()
    assert after.assets["USDT"].used - before.assets["USDT"].used == D("970.194")  # only "new" locked
    assert after.total("BTC") == before.total("BTC") == D("0.01")


async def test_a_failed_write_leaves_the_venue_as_it_was(database, alice, monkeypatch) -> None:
    venue = PaperVenue(database, markets=QUOTE_FEES)
    await venue.load()
    ex = venue.account(alice.id)
    await venue.on_price(BTC, D("100000"), 1)
    await ex.create_order(limit("buy", "0.01", "99000", "a"))
    balance = await ex.fetch_balance()
    real = database.run_write

    async def failing(fn):
        raise OSError("disk full")

    monkeypatch.setattr(database, "run_write", failing)
    with pytest.raises(OSError):
        await venue.on_price(BTC, D("98000"), 2)  # would fill "a"
    with pytest.raises(OSError):
        await ex.create_orders([limit("buy", "0.01", "95000", "b")])
    assert [o.client_order_id for o in await ex.fetch_open_orders(BTC)] == ["a"]
    assert await ex.fetch_balance() == balance
    monkeypatch.setattr(database, "run_write", real)
    filled = await venue.on_price(BTC, D("98000"), 3)  # it rests again and fills now
    assert [o.client_order_id for o in filled] == ["a"]
    assert (await ex.fetch_balance()).total("BTC") == D("0.01")


async def test_memory_and_database_agree_after_a_random_session(database, alice, bob) -> None:
    """Spot and perpetual orders, fills, cancels and a stop over random prices: the state the venue
    holds in memory equals the state a new process loads from the database."""
    import random

    rng = random.Random(7)
    venue = PaperVenue(database, markets=QUOTE_FEES)
    await venue.load()
    await venue.on_price(BTC, D("100000"), 1)
    await venue.on_price(PERP, D("100000"), 1)
    accounts = [venue.account(alice.id), venue.account(bob.id)]
    await accounts[1].set_leverage(PERP, 5)
    price, n = D("100000"), 0
    for step in range(2, 160):
        price += D(rng.randint(-400, 400))
        ex = rng.choice(accounts)
        n += 1
        action = rng.random()
        try:
            if action < 0.4:
                side = rng.choice(["buy", "sell"])
                offset = D(rng.randint(50, 600)) * (-1 if side == "buy" else 1)
                symbol = rng.choice([BTC, PERP])
                await ex.create_orders([limit(side, "0.003", str(price + offset), f"o{n}", symbol=symbol)])
            elif action < 0.5:
                await ex.create_order(market(rng.choice(["buy", "sell"]), "0.002", f"m{n}", symbol=PERP))
            elif action < 0.6:
                open_ = await ex.fetch_open_orders(rng.choice([BTC, PERP]))
                if open_:
                    await ex.cancel_orders([open_[0].id], open_[0].symbol)
            elif action < 0.65:
                positions = await ex.fetch_positions([PERP])
                if positions:
                    side = "sell" if positions[0].side == "long" else "buy"
                    await ex.create_order(
                        stop(side, "0.001", str(price + (-300 if side == "sell" else 300)), f"s{n}")
                    )
        except (InsufficientFunds, InvalidOrder):
            pass
        await venue.on_price(BTC, price, step)
        await venue.on_price(PERP, price, step)
    fresh = PaperVenue(database, markets=QUOTE_FEES)
    await fresh.load()
    assert fresh.state.orders == venue.state.orders and len(venue.state.orders) > 3
    assert fresh.state.accounts == venue.state.accounts  # every balance and position
    assert fresh.state.next_id == venue.state.next_id
    for ex in accounts:
        for symbol in (BTC, PERP):
            assert fresh.open_orders(ex.user_id, symbol) == venue.open_orders(ex.user_id, symbol)
            ids = {o.client_order_id for o in await ex.fetch_open_orders(symbol)}
            assert set(ex.open_client_order_ids(symbol)) == ids


async def test_orders_version_of_a_client_id_prefix_changes_only_with_those_orders(venue, alice) -> None:
    ex = venue.account(alice.id)
    await venue.on_price(BTC, D("100000"), 1)
    await ex.create_orders(
        [limit("buy", "0.01", "99000", "mb1i0c0b"), limit("buy", "0.01", "98000", "mb12i0c0b")]
    )
    one, twelve, account = (
        ex.orders_version(BTC, "mb1i"),
        ex.orders_version(BTC, "mb12i"),
        ex.orders_version(BTC),
    )
    both, longer = ex.orders_version(BTC, "mb1"), ex.orders_version(BTC, "mb1i0c0b-and-more")
    await venue.on_price(BTC, D("98500"), 2)  # fills bot 1's order only
    assert ex.orders_version(BTC, "mb1i") != one
    assert ex.orders_version(BTC, "mb12i") == twelve
    assert ex.orders_version(BTC) != account
    assert ex.orders_version(BTC, "mb1")[1] == both[1] + 1  # a prefix of both ids: every change counts
    assert ex.orders_version(BTC, "mb1i0c0b-and-more") == longer  # longer than the id: not its prefix
    await ex.cancel_orders([o.id for o in await ex.fetch_open_orders(BTC)], BTC)
    assert ex.orders_version(BTC, "mb12i") != twelve
    assert ex.orders_version(BTC, "mb1")[1] == both[1] + 2


async def test_recall_reads_the_finished_orders_asked_for_and_the_look_up_answers_from_them(
    database, alice, bob, monkeypatch
) -> None:
    """A restart: the orders filled or cancelled while the process was down are read in one go, and
    each owner's look-up by client order id then answers as the database would, without reading it."""
    first = PaperVenue(database, markets=QUOTE_FEES)
    await first.on_price(BTC, D("100000"), 1)
    a, b = first.account(alice.id), first.account(bob.id)
    await a.create_orders([limit("buy", "0.01", "99000", "filled"), limit("buy", "0.01", "90000", "open")])
    cancelled = await a.create_order(limit("buy", "0.01", "95000", "cancelled"))
    await a.cancel_order(cancelled.id, BTC)
    await b.create_order(limit("buy", "0.01", "99000", "filled"))  # same client id, another account
    await first.on_price(BTC, D("98000"), 2)
    truth = {cid: await a.fetch_order_by_client_id(cid, BTC) for cid in ("filled", "cancelled")}
    truth = {cid: await a.fetch_order_by_client_id(cid, BTC) for cid in truth}  # the database's answer

    second = PaperVenue(database, markets=QUOTE_FEES)  # a new process
    await second.load()
    asked = [(alice.id, "filled"), (alice.id, "cancelled"), (alice.id, "open"), (alice.id, "never sent")]
    assert await second.recall(asked) == 2  # the open order is in the book already; one never existed

    def no_reads():  # type: ignore[no-untyped-def]
        raise AssertionError("the look-up read the database")

    monkeypatch.setattr(database, "read", no_reads)
    ex = second.account(alice.id)
    for cid, order in truth.items():
        assert repr(await ex.fetch_order_by_client_id(cid, BTC)) == repr(order)
    assert (await ex.fetch_order_by_client_id("open", BTC)).status == "open"  # type: ignore[union-attr]
    assert truth["filled"].status == "closed" and truth["cancelled"].status == "canceled"  # type: ignore[union-attr]


# ---- Bitget's fee model (a spot buy's fee in the coin bought), partial fills, failures per account


async def test_a_spot_buy_pays_its_fee_in_the_coin_bought_as_on_bitget(database, alice) -> None:
    venue = PaperVenue(database)  # the default markets: Bitget's fee model
    assert venue.market(BTC).buy_fee_in_base and not venue.market(PERP).buy_fee_in_base
    ex = venue.account(alice.id)
    await venue.on_price(BTC, D("100000"), 1)
    await ex.create_order(limit("buy", "0.01", "99000", "b1"))
    # a buy whose fee is paid in the coin locks only its cost: 99000 x 0.01 = 990
    assert (await ex.fetch_balance()).assets["USDT"].used == D("990")
    await venue.on_price(BTC, D("98500"), 2)
    done = await ex.fetch_order_by_client_id("b1", BTC)
    assert done is not None and done.status == "closed" and done.filled_qty == D("0.01")
    # fee 0.01 x 0.0002 = 0.000002 BTC, worth 0.000002 x 99000 = 0.198 USDT; 0.009998 BTC arrive
    assert (done.fee_base, done.fee, done.received_qty) == (D("0.000002"), D("0.198"), D("0.009998"))
    bal = await ex.fetch_balance()
    assert (bal.total("USDT"), bal.total("BTC")) == (D("9010"), D("0.009998"))
    # a market buy takes the taker fee in the coin too: 0.001 x 0.0006 = 0.0000006 -> 0.00000060 BTC
    bought = await ex.create_order(market("buy", "0.001", "m1"))
    assert (bought.fee_base, bought.received_qty) == (D("0.0000006"), D("0.0009994"))
    # a sell pays in quote: 0.009 x 98500 = 886.5, fee 886.5 x 0.0006 = 0.5319
    sold = await ex.create_order(market("sell", "0.009", "m2"))
    assert (sold.fee_base, sold.fee) == (0, D("0.5319"))
    bal = await ex.fetch_balance()
    assert bal.total("BTC") == D("0.009998") + D("0.0009994") - D("0.009")
    assert bal.total("USDT") == D("9010") - D("98.5") + D("886.5") - D("0.5319")
    again = PaperVenue(database)  # a restart reads the same fees back
    await again.load()
    assert (await again.account(alice.id).fetch_order_by_client_id("b1", BTC)) == done


async def test_a_partial_fill_rests_on_and_a_cancel_after_it_keeps_what_filled(database, alice) -> None:
    venue = PaperVenue(database)
    await venue.load()
    ex = venue.account(alice.id)
    await venue.on_price(BTC, D("100000"), 1)
    order = await ex.create_order(limit("buy", "0.01", "99000", "pb"))
    part = await venue.fill_partially(alice.id, order.id, D("0.004"))
    # 0.004 filled at 99000 (fee 0.0000008 BTC): 396 of the 990 locked is spent, 594 stays locked
    assert (part.status, part.filled_qty, part.fee_base, part.remaining_qty) == (
        "open",
        D("0.004"),
        D("0.0000008"),
        D("0.006"),
    )
    bal = await ex.fetch_balance()
    assert (bal.assets["USDT"].used, bal.total("USDT"), bal.total("BTC")) == (
        D("594"),
        D("9604"),
        D("0.0039992"),
    )
    assert [o.filled_qty for o in await ex.fetch_open_orders(BTC)] == [D("0.004")]
    assert await ex.cancel_orders([order.id], BTC) == [order.id]
    gone = await ex.fetch_order_by_client_id("pb", BTC)
    assert gone is not None and (gone.status, gone.filled_qty) == ("canceled", D("0.004"))
    bal = await ex.fetch_balance()
    assert (bal.assets["USDT"].used, bal.total("USDT"), bal.total("BTC")) == (0, D("9604"), D("0.0039992"))
    fresh = PaperVenue(database)  # what a restart reads
    await fresh.load()
    assert await fresh.account(alice.id).fetch_balance() == bal
    with pytest.raises(OrderNotFound):  # a cancelled order has nothing left to fill
        await venue.fill_partially(alice.id, order.id, D("0.001"))


async def test_a_margin_call_of_one_account_never_holds_back_the_others(database, alice, bob) -> None:
    """Before, the margin call rolled the whole price point back and the feed retried it for ever."""
    from sqlalchemy import update

    from db.models import User

    async with database.write() as session:  # alice has only the margin of her position
        await session.execute(update(User).where(User.id == alice.id).values(paper_balance=D("11")))
    venue = PaperVenue(database)
    await venue.load()
    a, b = venue.account(alice.id), venue.account(bob.id)
    await a.set_leverage(PERP, 10)
    await venue.on_price(PERP, D("1000"), 1)
    await a.create_order(market("buy", "0.1", "long", PERP))  # 100 notional, margin 10, fee 0.06
    stop = OrderRequest(
        PERP, "sell", "market", D("0.1"), D("500"), "stop", reduce_only=True, trigger_price=D("500")
    )
    await a.create_order(stop)
    await b.create_order(limit("buy", "0.1", "600", "bid", PERP))
    # the price gaps to 450: alice's stop fills at 450, a loss of 55 on 0.94 free USDT: a margin call
    filled = await venue.on_price(PERP, D("450"), 2, cursor=("replay:test", 9))
    assert [o.client_order_id for o in filled] == ["bid"]
    assert (await b.fetch_order_by_client_id("bid", PERP)).status == "closed"  # type: ignore[union-attr]
    assert (await a.fetch_order_by_client_id("stop", PERP)).status == "canceled"  # type: ignore[union-attr]
    assert await load_cursor(database, "replay:test") == 9  # the feed moves on
    assert await venue.on_price(PERP, D("440"), 3) == []  # and is not stuck on the failed order
