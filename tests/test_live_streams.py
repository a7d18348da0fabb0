"""Live grid bots follow their orders and the price over Bitget's websocket: real ccxt.pro (and real ccxt
REST) to the local fake Bitget (tests/fake_bitget.py, its websocket tests/fake_bitget_ws.py), through the
engine service as the app runs it, on both kinds of account (classic: /v2/ws/..., unified: /v3/ws/...).

A fill pushed over the websocket is booked without a REST look-up of any order; a disconnect during which
a fill happens is caught up by the REST snapshot after the reconnect, the fill booked once; one ticker
subscription serves every bot of a symbol; resubscriptions after a disconnect are paced (no 30006); with
the websocket down the bots trade on REST.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal as D

import pytest
from sqlalchemy import select

from db.models import Trade
from db.session import Database
from engine.money import q8
from engine.venues.live.adapter import CcxtExchange
from engine.venues.live.streams import StreamSettings
from tests.fake_bitget import FakeBitget, FakeOrder
from tests.live_harness import Live

KEY, SECRET, PASSPHRASE = "bg_ws_key_0001", "ws-secret-0001", "ws-pass"
SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
FAST = StreamSettings(ticker_max_age=30, resync_every=300, backoff_base=0.05, backoff_max=0.2, pace=0.05)
# REST paths that read orders or prices (what the streams replace); placing orders stays REST
LOOK_UPS = ("orderInfo", "unfilled-orders", "order-info", "history-orders", "market/tickers")


@pytest.fixture(params=["classic", "uta"])
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
async def fake(kind: str) -> AsyncIterator[FakeBitget]:
    server = FakeBitget(timeout_delay=0.3)
    await server.start()
    server.add_account(KEY, SECRET, PASSPHRASE, spot={"USDT": "10000"}, futures_usdt="0", kind=kind)
    yield server
    await server.close()


@pytest.fixture
async def live(database, fleet, accounts, cipher, fake) -> AsyncIterator[Live]:  # type: ignore[no-untyped-def]
    harness = Live(database, fleet, accounts, cipher, fake.url, streams=FAST)
    yield harness
    await harness.close()


async def until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.01)


async def exchange_of(live: Live, user_id: int) -> CcxtExchange:
    from db.models import User

    async with live.db.read() as session:
        user = await session.get(User, user_id)
    return await live.live.exchange_for(user)  # type: ignore[arg-type]


def look_ups(fake: FakeBitget, since: int) -> list[str]:
    return [r.path for r in fake.requests[since:] if any(part in r.path for part in LOOK_UPS)]


def highest_buy(fake: FakeBitget) -> FakeOrder:
    return max(
        (
            o
            for o in fake.accounts[KEY].orders.values()
            if o.side == "buy" and o.order_type == "limit" and o.live
        ),
        key=lambda o: o.price or D(0),
    )


async def trade_of(db: Database, client_oid: str) -> Trade | None:
    async with db.read() as session:
        return (
            await session.execute(select(Trade).where(Trade.client_order_id == client_oid))
        ).scalar_one_or_none()


async def streamed_grid(live: Live) -> tuple[int, int, CcxtExchange]:
    """A user, their running grid bot, and their exchange once its order stream is synced (the ticks
    on REST until then sync it)."""
    user_id = await live.user(KEY, SECRET, PASSPHRASE)
    bot_id = await live.grid(user_id)
    exchange = await exchange_of(live, user_id)
    market = exchange.market("BTC/USDT")
    for _ in range(500):
        await live.engine.run_tick(bot_id)
        if exchange.orders_version(market.symbol) is not None:
            break
        await asyncio.sleep(0.01)
    await live.engine.run_tick(bot_id)  # settles on the stream's version
    return user_id, bot_id, exchange


@SQLITE
async def test_a_fill_pushed_over_the_websocket_is_booked_without_a_rest_look_up(
    live: Live, fake: FakeBitget, kind: str
) -> None:
    user_id, bot_id, exchange = await streamed_grid(live)
    stream = exchange._orders_stream
    assert stream is not None and stream.healthy
    channel = "order" if kind == "uta" else "orders"
    assert len(fake.ws.subscriptions(channel)) == 1
    await live.engine.run_tick(bot_id)
    since = len(fake.requests)
    await live.engine.run_tick(bot_id)  # quiet: nothing changed, nothing asked
    assert fake.requests[since:] == []

    buy = highest_buy(fake)
    fake.fill(KEY, buy.order_id)
    await until(lambda: stream.closed_order(buy.client_oid) is not None)
    await live.engine.run_tick(bot_id)

    assert look_ups(fake, since) == []  # no order, no open orders, no ticker read by REST
    bought = await trade_of(live.db, buy.client_oid)
    assert bought is not None
    # Bitget took the buy's fee from the coin bought: 0.1 % of it, booked from the push alone
    assert buy.fee == buy.size * D("0.001") and buy.fee_coin == "BTC"
    assert (bought.qty, bought.fee_base, bought.fee_currency) == (buy.size, q8(buy.fee), "BTC")
    assert bought.fee == q8(buy.fee * buy.price)
    sells = [o for o in fake.accounts[KEY].orders.values() if o.side == "sell" and o.live]
    assert len(sells) == 7  # the counter sell went out (by REST, as every order does)
    assert await live.audit(user_id) == []
