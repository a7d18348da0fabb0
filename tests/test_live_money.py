"""A live grid bot's money on a Bitget account (real ccxt to the local fake Bitget, tests/fake_bitget.py),
through the engine service as the app runs it. Bitget takes a spot buy's fee from the coin bought: every
sell is for what the account received; an order cancelled after a partial fill is booked for what
filled; a fill is booked at the trade's time; a triggered stop's fee is its executed order's; a stop
whose cancels fail stays stopping and is carried out later. The ledger audit of invariant 7
(tests/ledger.py) holds after every step, read through the same adapter.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal as D

import pytest
from sqlalchemy import select

from db.models import GridOrder, Trade
from db.session import Database
from engine.exchange import OrderRequest
from engine.money import floor_to_step, q8
from engine.venues.live.credentials import Credentials
from engine.venues.live.errors import RetryPolicy
from engine.venues.live.registry import CcxtExchangeRegistry
from tests.fake_bitget import FakeBitget
from tests.live_harness import Live

KEY, SECRET, PASSPHRASE = "bg_money_key_0001", "money-secret-0001", "money-pass"
SPOT = "BTC/USDT"
BATCH_CANCEL = {"classic": "/api/v2/spot/trade/batch-cancel-order", "uta": "/api/v3/trade/cancel-batch"}
SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture(params=["classic", "uta"])
def kind(request: pytest.FixtureRequest) -> str:
    """Both kinds of Bitget account: classic (API v2) and unified (UTA, API v3). The user's keys are
    stored without a kind, as before kinds were: a unified account's first call is refused (40085)
    and its kind detected then."""
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
    harness = Live(database, fleet, accounts, cipher, fake.url)
    yield harness
    await harness.close()


async def rows(db: Database) -> list[GridOrder]:
    async with db.read() as session:
        return list((await session.execute(select(GridOrder).order_by(GridOrder.grid_index))).scalars())


@SQLITE
async def test_a_filled_buy_is_sold_for_what_bitget_left_after_its_fee(live: Live, fake: FakeBitget) -> None:
    """Before, the sell was for the gross quantity: Bitget refused it ("Insufficient balance") and the bot
    stopped, or it quietly sold other coin of the account."""
    user_id = await live.user(KEY, SECRET, PASSPHRASE)
    bot_id = await live.grid(user_id)
    assert await live.audit(user_id) == []
    account = fake.accounts[KEY]
    # the highest resting buy (73,000): its sell at 74,000 rests above the price (a lower one would fill
    # at once against the book)
    buy = max(
        (o for o in account.orders.values() if o.side == "buy" and o.order_type == "limit" and o.live),
        key=lambda o: o.price,
    )
    fake.fill(KEY, buy.order_id)
    await live.engine.run_tick(bot_id)
    bot = await live.fleet.get_bot(user_id, bot_id)
    assert bot.is_running and bot.last_error is None
    interval = next(r for r in await rows(live.db) if r.buy_order_id == buy.client_oid)
    # 0.1 % of the coin went to the fee: the interval holds (and sells) the rest, on the lot step
    # (0.001369 - 0.000001369 = 0.001367631 -> 0.001367); below the step is the bot's dust
    assert buy.fee == buy.size * D("0.001") and interval.held_qty == floor_to_step(
        buy.size - buy.fee, D("0.000001")
    )
    sell = next(o for o in account.orders.values() if o.client_oid == interval.sell_order_id)
    assert sell.live and sell.size == interval.held_qty
    async with live.db.read() as session:
        bought = (
            await session.execute(select(Trade).where(Trade.client_order_id == buy.client_oid))
        ).scalar_one()
    # the books keep 8 decimals: 0.000001369 BTC -> 0.00000137, worth 0.000001369 x 73,000 = 0.099937 USDT
    assert (bought.fee_base, bought.fee_currency, bought.fee) == (q8(buy.fee), "BTC", q8(buy.fee * buy.price))
    assert await live.audit(user_id) == []
    fake.fill(KEY, sell.order_id)
    await live.engine.run_tick(bot_id)
    async with live.db.read() as session:
        sold = (
            await session.execute(select(Trade).where(Trade.client_order_id == sell.client_oid))
        ).scalar_one()
    # profit = sold x (sell - buy) - the buy's fee valued in USDT - the sell's fee
    assert sold.realized_pnl == (
        sell.size * (sell.price - buy.price) - buy.fee * buy.price - sell.fee
    ).quantize(D("1e-8"))
    assert await live.audit(user_id) == []


@SQLITE
async def test_a_partial_fill_is_booked_when_the_stop_cancels_the_rest(live: Live, fake: FakeBitget) -> None:
    """Before, 0.000833 BTC bought by an order cancelled afterwards never reached the ledger."""
    user_id = await live.user(KEY, SECRET, PASSPHRASE)
    bot_id = await live.grid(user_id)
    account = fake.accounts[KEY]
    buy = next(o for o in account.orders.values() if o.side == "buy" and o.order_type == "limit" and o.live)
    fake.fill(KEY, buy.order_id, D("0.000833"))
    stopped = await live.fleet.stop(user_id, bot_id, holdings="keep")
    assert not stopped.stopping and not any(o.live for o in account.orders.values())
    async with live.db.read() as session:
        partial = (
            await session.execute(select(Trade).where(Trade.client_order_id == buy.client_oid))
        ).scalar_one()
    # the fee in the coin, to the 8 decimals of the books: 0.000833 x 0.1 % = 0.000000833 -> 0.00000083
    assert (partial.qty, partial.fee_base) == (D("0.000833"), D("0.00000083"))
    assert await live.audit(user_id) == []


@SQLITE
async def test_a_stop_whose_cancels_fail_stays_stopping_until_bitget_confirms(
    live: Live, fake: FakeBitget, kind: str
) -> None:
    user_id = await live.user(KEY, SECRET, PASSPHRASE)
    bot_id = await live.grid(user_id)
    fake.inject(BATCH_CANCEL[kind], "server_error", times=4)  # every try of this stop's cancel fails
    stopping = await live.fleet.stop(user_id, bot_id)
    assert stopping.stopping and stopping.stop_note
    assert sum(o.live for o in fake.accounts[KEY].orders.values()) == 10
    for _ in range(100):  # the engine tries again with backoff until Bitget cancels them
        await asyncio.sleep(0.02)
        if not (await live.fleet.get_bot(user_id, bot_id)).stopping:
            break
    assert not (await live.fleet.get_bot(user_id, bot_id)).stopping
    assert not any(o.live for o in fake.accounts[KEY].orders.values())
    assert await live.audit(user_id) == []


async def test_a_fill_is_booked_at_the_trades_time_and_a_stops_fee_is_its_executed_orders(
    fake: FakeBitget, kind: str
) -> None:
    """Before, a buy placed Monday and filled Friday was booked on Monday (ccxt's `timestamp` is the
    order's creation), and a stop-loss exit was booked with fee 0."""
    registry = CcxtExchangeRegistry(
        retry=RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.05, jitter=0),
        api_base_url=fake.url,
        ccxt_options={"rateLimit": 1, "timeout_on_exit": 0},
    )
    fake.accounts[KEY].futures_wallet = D("10000")
    try:
        exchange = await registry.connect("bitget", 1, Credentials(KEY, SECRET, PASSPHRASE), kind=kind)  # type: ignore[arg-type]
        placed = await exchange.create_order(OrderRequest(SPOT, "buy", "limit", D("0.001"), D("70000"), "t1"))
        await asyncio.sleep(0.05)
        fake.fill(KEY, placed.id)
        order = fake.accounts[KEY].orders[placed.id]
        filled = await exchange.fetch_order_by_client_id("t1", SPOT)
        assert filled is not None and filled.ts == order.u_time > order.c_time
        swap = "BTC/USDT:USDT"
        await exchange.create_order(OrderRequest(swap, "buy", "market", D("0.002"), None, "t2"))
        stop = OrderRequest(
            swap, "sell", "market", D("0.002"), None, "t3", reduce_only=True, trigger_price=D("90000")
        )
        await exchange.create_order(stop)
        [plan] = fake.trigger_plans(KEY, "BTCUSDT", D("89000"))
        booked = await exchange.fetch_order_by_client_id("t3", swap)
        assert booked is not None and booked.status == "closed" and booked.client_order_id == "t3"
        assert plan.executed is not None and booked.fee == plan.executed.fee > 0
        assert booked.filled_qty == D("0.002") and booked.ts == plan.executed.u_time
    finally:
        await registry.close()
