"""The ccxt adapter, with real ccxt over HTTP against the fake Bitget (tests/fake_bitget.py).

Prices come from the recorded Bitget payloads: spot BTCUSDT bid 73369.13 / ask 73369.14,
USDT-M BTCUSDT bid 104676.4 / ask 104676.5 = mark; market rules in fixtures/bitget/SOURCES.md.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from engine.exchange import (
    AuthenticationFailed,
    Candle,
    ExchangeError,
    ExchangeNotSupported,
    InsufficientFunds,
    InvalidOrder,
    Market,
    OrderNotFound,
    OrderRequest,
    TemporaryExchangeError,
)
from engine.venues.live.adapter import CcxtExchange
from engine.venues.live.credentials import Credentials
from engine.venues.live.errors import RetryPolicy
from engine.venues.live.registry import CcxtExchangeRegistry
from tests.fake_bitget import FakeBitget

ALICE = Credentials("bg_alice_key_0001", "alice-secret", "alice-pass")
BOB = Credentials("bg_bob_key_0002", "bob-secret", "bob-pass")
SPOT = "BTC/USDT"
SWAP = "BTC/USDT:USDT"
ASSETS = "/api/v2/spot/account/assets"
SPOT_PLACE = "/api/v2/spot/trade/place-order"
SPOT_BATCH = "/api/v2/spot/trade/batch-orders"
SPOT_ORDER_INFO = "/api/v2/spot/trade/orderInfo"
MIX_PLACE = "/api/v2/mix/order/place-order"
ATTEMPTS = 3
D = Decimal


@pytest.fixture
async def fake() -> AsyncIterator[FakeBitget]:
    server = FakeBitget(timeout_delay=0.6)
    await server.start()
    for creds in (ALICE, BOB):
        server.add_account(
            creds.api_key, creds.secret, creds.passphrase or "", spot={"USDT": "10000"}, futures_usdt="10000"
        )
    yield server
    await server.close()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
async def registry(fake: FakeBitget, sleeps: list[float]) -> AsyncIterator[CcxtExchangeRegistry]:
    async def record_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    reg = CcxtExchangeRegistry(
        retry=RetryPolicy(attempts=ATTEMPTS, base_delay=0.01, max_delay=1.0, jitter=0),
        timeout_ms=300,
        api_base_url=fake.url,
        ccxt_options={"rateLimit": 1, "timeout_on_exit": 0},
        sleep=record_sleep,
    )
    yield reg
    await reg.close()


@pytest.fixture
async def alice(registry: CcxtExchangeRegistry) -> CcxtExchange:
    return await registry.connect("bitget", 1, ALICE)


def limit(symbol: str, side: str, qty: str, price: str, cid: str, **kw: bool) -> OrderRequest:
    return OrderRequest(symbol, side, "limit", D(qty), D(price), cid, **kw)  # type: ignore[arg-type]


def market_order(symbol: str, side: str, qty: str, cid: str, **kw: bool) -> OrderRequest:
    return OrderRequest(symbol, side, "market", D(qty), None, cid, **kw)  # type: ignore[arg-type]


# --- connection, markets, authentication ----------------------------------------------------------


async def test_markets_loaded_once_and_shared_by_two_accounts(
    registry: CcxtExchangeRegistry, fake: FakeBitget
) -> None:
    alice = await registry.connect("bitget", 1, ALICE)
    bob = await registry.connect("bitget", 2, BOB)
    alice_again = await registry.connect("bitget", 1, ALICE)  # a second bot of the same user

    assert len(fake.requests_to("/api/v2/spot/public/symbols")) == 1
    assert len(fake.requests_to("/api/v2/spot/public/coins")) == 1
    assert [r.query["productType"] for r in fake.requests_to("/api/v2/mix/market/contracts")].count(
        "USDT-FUTURES"
    ) == 1
    assert alice_again is alice  # one ccxt client (one rate limiter) per account
    assert alice.ccxt_client is not bob.ccxt_client
    assert alice.ccxt_client.markets is bob.ccxt_client.markets
    assert alice.ccxt_client.enableRateLimit

    assert alice.market(SWAP) == Market(
        symbol=SWAP, base="BTC", quote="USDT", type="swap", price_tick=D("0.1"), amount_step=D("0.0001"),
        min_qty=D("0.0001"), min_notional=D(5), contract_size=D(1), maker_fee=D("0.0002"),
        taker_fee=D("0.0006"), max_leverage=125,
    )  # fmt: skip
    spot = (await bob.load_markets())[SPOT]
    assert (spot.price_tick, spot.amount_step, spot.min_qty, spot.min_notional) == (
        D("0.01"), D("0.000001"), D("0.0001"), D(5),
    )  # fmt: skip
    assert set(await alice.load_markets()) == {SPOT, SWAP, "ETH/USDT", "ETH/USDT:USDT"}
    with pytest.raises(InvalidOrder):
        alice.market("DOGE/USDT")

    await alice.close()
    assert not alice.ccxt_client.closed_by_user  # the other bot of alice still uses it
    await alice_again.close()
    assert alice.ccxt_client.closed_by_user
    await bob.close()


async def test_uta_is_off_and_nothing_goes_to_v3(alice: CcxtExchange, fake: FakeBitget) -> None:
    assert alice.ccxt_client.options["uta"] is False
    await alice.fetch_balance("spot")
    await alice.fetch_balance("swap")
    await alice.fetch_positions()
    await alice.fetch_open_orders(SWAP)
    assert fake.requests, "the fake saw the traffic"
    assert [r.path for r in fake.requests if r.path.startswith("/api/v3")] == []


async def test_requests_are_signed_and_a_wrong_secret_is_fatal(
    registry: CcxtExchangeRegistry, fake: FakeBitget, alice: CcxtExchange
) -> None:
    await alice.fetch_balance("spot")
    signed = fake.requests_to(ASSETS)[-1]
    assert signed.headers["ACCESS-KEY"] == ALICE.api_key
    assert signed.headers["ACCESS-PASSPHRASE"] == ALICE.passphrase
    assert signed.headers["ACCESS-SIGN"] and signed.headers["ACCESS-TIMESTAMP"]

    mallory = await registry.connect(
        "bitget", 3, Credentials(ALICE.api_key, "wrong-secret", ALICE.passphrase)
    )
    before = len(fake.requests_to(ASSETS))
    with pytest.raises(AuthenticationFailed, match="40009"):
        await mallory.fetch_balance("spot")
    assert len(fake.requests_to(ASSETS)) == before + 1  # fatal: not retried
    wrong_pass = await registry.connect("bitget", 4, Credentials(ALICE.api_key, ALICE.secret, "nope"))
    with pytest.raises(AuthenticationFailed, match="40012"):
        await wrong_pass.fetch_positions()


async def test_demo_trading_sends_bitgets_paptrading_header(
    registry: CcxtExchangeRegistry, fake: FakeBitget, alice: CcxtExchange
) -> None:
    """Bitget's demo trading: the live hosts with PAPTRADING: 1, and demo keys (made in demo trading), which
    work only there; live keys are refused in demo and demo keys live (the fake checks both ways)."""
    demo_keys = Credentials("bg_demo_key_0001", "demo-secret", "demo-pass")
    fake.add_account(demo_keys.api_key, demo_keys.secret, "demo-pass", futures_usdt="50000", demo=True)
    demo = await registry.connect("bitget", 1, demo_keys, demo=True)
    assert demo is not alice
    assert (await demo.fetch_balance("swap")).total("USDT") == D(50000)
    assert fake.requests_to("/api/v2/mix/account/accounts")[-1].headers.get("PAPTRADING") == "1"
    await alice.fetch_balance("swap")
    assert "PAPTRADING" not in fake.requests_to("/api/v2/mix/account/accounts")[-1].headers
    live_keys_in_demo = await registry.connect("bitget", 2, ALICE, demo=True)
    with pytest.raises(ExchangeError, match="40099"):
        await live_keys_in_demo.fetch_balance("swap")
    demo_keys_live = await registry.connect("bitget", 3, demo_keys)
    with pytest.raises(ExchangeError, match="40099"):
        await demo_keys_live.fetch_balance("swap")


async def test_unknown_exchange_is_not_supported(registry: CcxtExchangeRegistry) -> None:
    with pytest.raises(ExchangeNotSupported):
        await registry.connect("no-such-exchange", 1, ALICE)


# --- market data and account ------------------------------------------------------------------------


async def test_ticker_and_candles_in_decimal(alice: CcxtExchange) -> None:
    spot = await alice.fetch_ticker(SPOT)
    assert (spot.last, spot.bid, spot.ask, spot.ts) == (
        D("73369.13"),
        D("73369.13"),
        D("73369.14"),
        1710328244283,
    )
    swap = await alice.fetch_ticker(SWAP)
    assert (swap.last, swap.bid, swap.ask) == (D("104676.5"), D("104676.4"), D("104676.5"))
    assert await alice.fetch_candles(SPOT, "1m", limit=1) == [
        Candle(1703762160000, D("43050.41"), D("43050.46"), D("43042.66"), D("43044"), D("0.6049"))
    ]
    assert await alice.fetch_candles(SWAP, "1m", limit=1) == [
        Candle(1703762100000, D("43094.7"), D("43095.8"), D("43080.4"), D("43084.2"), D("90.097"))
    ]


async def test_balance_and_positions_in_decimal(alice: CcxtExchange, fake: FakeBitget) -> None:
    spot = await alice.fetch_balance("spot")
    assert spot.free("USDT") == D(10000) and spot.total("USDT") == D(10000)

    order = await alice.create_order(market_order(SWAP, "buy", "0.001", "trend-1-open"))
    # Filled at the ask 104676.5: value 104.6765, taker fee 104.6765 x 0.0006 = 0.0628059.
    assert (order.status, order.filled_qty, order.avg_fill_price, order.fee) == (
        "closed", D("0.001"), D("104676.5"), D("0.0628059"),
    )  # fmt: skip
    positions = await alice.fetch_positions([SWAP])
    assert len(positions) == 1
    position = positions[0]
    assert (position.symbol, position.side, position.qty, position.entry_price) == (
        SWAP, "long", D("0.001"), D("104676.5"),
    )  # fmt: skip
    assert (position.leverage, position.unrealized_pnl) == (D(20), D(0))  # mark = entry
    futures = await alice.fetch_balance("swap")
    # equity 10000 - 0.0628059 = 9999.9371941; free = equity - margin 104.6765 / 20 = 9994.7033691
    assert futures.total("USDT") == D("9999.9371941")
    assert futures.free("USDT") == D("9994.7033691")
    assert futures.assets["USDT"].used == D("5.233825")

    closed = await alice.create_order(market_order(SWAP, "sell", "0.001", "trend-1-close", reduce_only=True))
    assert closed.reduce_only and closed.status == "closed"
    assert fake.requests_to(MIX_PLACE)[-1].body["reduceOnly"] == "YES"
    assert await alice.fetch_positions() == []


async def test_spot_market_buy_is_sized_from_the_ask_and_its_fee_is_taken_from_the_coin(
    alice: CcxtExchange, fake: FakeBitget
) -> None:
    order = await alice.create_order(market_order(SPOT, "buy", "0.001", "grid-7-start"))
    # Bitget sizes a spot market buy in USDT: 0.001 x the ask 73369.14 = 73.36914, which ccxt cuts to
    # the 0.01 precision: 73.36 USDT. That buys 73.36 / 73369.14 = 0.00099987.. -> 0.000999 BTC on the
    # lot step, and Bitget takes the 0.1 % fee from it: 0.000000999 BTC, worth 0.000000999 x 73369.14.
    assert fake.requests_to(SPOT_PLACE)[-1].body["size"] == "73.36"
    assert (order.status, order.filled_qty, order.avg_fill_price, order.fee_base, order.fee) == (
        "closed", D("0.000999"), D("73369.14"), D("0.000000999"), D("0.000000999") * D("73369.14"),
    )  # fmt: skip
    assert order.received_qty == D("0.000998001")  # what arrived: all a sell may sell
    balance = await alice.fetch_balance("spot")
    assert balance.free("BTC") == order.received_qty
    assert balance.free("USDT") == D(10000) - D("0.000999") * D("73369.14")


# --- placing orders ---------------------------------------------------------------------------------


async def test_price_and_amount_are_rounded_before_sending(alice: CcxtExchange, fake: FakeBitget) -> None:
    spot = await alice.create_order(limit(SPOT, "buy", "0.00123456789", "60000.126", "grid-1-b0"))
    sent = fake.requests_to(SPOT_PLACE)[-1].body
    assert (sent["size"], sent["price"], sent["clientOid"]) == ("0.001234", "60000.13", "grid-1-b0")
    assert (spot.qty, spot.price, spot.status, spot.client_order_id) == (
        D("0.001234"), D("60000.13"), "open", "grid-1-b0",
    )  # fmt: skip

    await alice.create_order(limit(SWAP, "sell", "0.01239", "104700.06", "grid-2-s0", post_only=True))
    sent = fake.requests_to(MIX_PLACE)[-1].body
    assert (sent["size"], sent["price"], sent["force"]) == ("0.0123", "104700.1", "post_only")


async def test_orders_under_the_market_minimums_never_leave(alice: CcxtExchange, fake: FakeBitget) -> None:
    with pytest.raises(InvalidOrder, match="minimum"):
        await alice.create_order(limit(SWAP, "buy", "0.00009", "100000", "tiny-qty"))
    with pytest.raises(InvalidOrder, match="minimum"):
        await alice.create_order(limit(SPOT, "buy", "0.0001", "40000", "tiny-value"))  # 4 USDT < 5
    with pytest.raises(InvalidOrder, match="client order id"):
        await alice.create_order(limit(SPOT, "buy", "0.001", "40000", "x" * 51))
    assert fake.requests_to(SPOT_PLACE) == [] and fake.requests_to(MIX_PLACE) == []


async def test_leverage_is_capped_by_the_bot_and_the_market(alice: CcxtExchange, fake: FakeBitget) -> None:
    with pytest.raises(InvalidOrder, match="cap of 20x"):
        await alice.set_leverage(SWAP, 25, max_leverage=20)
    with pytest.raises(InvalidOrder, match="maximum of 125x"):
        await alice.set_leverage(SWAP, 126)
    with pytest.raises(InvalidOrder, match="spot"):
        await alice.set_leverage(SPOT, 2)
    assert fake.requests_to("/api/v2/mix/account/set-leverage") == []

    await alice.set_leverage(SWAP, 10, max_leverage=20)
    sent = fake.requests_to("/api/v2/mix/account/set-leverage")[-1].body
    assert (sent["symbol"], sent["leverage"], sent["productType"]) == ("BTCUSDT", "10", "USDT-FUTURES")
    await alice.create_order(market_order(SWAP, "buy", "0.001", "lev-check"))
    assert (await alice.fetch_positions())[0].leverage == D(10)


async def test_a_batch_of_120_goes_out_as_50_50_20_and_reports_rejections(
    alice: CcxtExchange, fake: FakeBitget
) -> None:
    reqs = [limit(SPOT, "buy", "0.0001", str(60000 - i), f"grid-9-b{i}") for i in range(120)]
    fake.reject_client_oids(["grid-9-b7", "grid-9-b64"])  # Bitget: failureList, 45110
    fake.drop_client_oids(["grid-9-b110"])  # refused and missing from the answer

    result = await alice.create_orders(reqs)

    assert [len(r.body["orderList"]) for r in fake.requests_to(SPOT_BATCH)] == [50, 50, 20]
    assert len(result.accepted) == 117
    assert result.rejected_ids == {"grid-9-b7", "grid-9-b64", "grid-9-b110"}
    reasons = {r.client_order_id: r.reason for r in result.rejected}
    assert reasons["grid-9-b7"] == "45110 less than the minimum amount 5 USDT"
    assert reasons["grid-9-b110"] == "missing from the exchange's answer"
    assert result.unknown == ()
    assert all(o.id and o.status == "open" and o.qty == D("0.0001") for o in result.accepted)
    open_ids = {o.client_order_id for o in await alice.fetch_open_orders(SPOT)}
    assert open_ids == {o.client_order_id for o in result.accepted}


async def test_a_batch_keeps_going_past_orders_our_checks_refuse(
    alice: CcxtExchange, fake: FakeBitget
) -> None:
    reqs = [
        limit(SPOT, "buy", "0.0001", "60000", "ok-1"),
        limit(SPOT, "buy", "0.00001", "60000", "too-small"),
        limit(SPOT, "buy", "0.0001", "60000", "ok-1"),  # same client id twice
        limit(SWAP, "buy", "0.001", "90000", "ok-swap"),
    ]
    result = await alice.create_orders(reqs)
    assert sorted(o.client_order_id for o in result.accepted) == ["ok-1", "ok-swap"]
    assert result.rejected_ids == {"too-small", "ok-1"}
    # one order a market goes alone (a batch request weighs ten single ones on Bitget)
    assert (
        len(fake.requests_to(MIX_PLACE)) == 1
        and fake.requests_to("/api/v2/mix/order/batch-place-order") == []
    )


# --- errors and retries -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["rate_limit", "server_error", "maintenance", "timeout"])
async def test_temporary_errors_are_retried_with_backoff_then_raised(
    alice: CcxtExchange, fake: FakeBitget, sleeps: list[float], kind: str
) -> None:
    fake.inject(ASSETS, kind, times=ATTEMPTS)
    with pytest.raises(TemporaryExchangeError):
        await alice.fetch_balance("spot")
    assert len(fake.requests_to(ASSETS)) == ATTEMPTS
    assert sleeps == [0.01, 0.02]  # 0.01 x 2**n between the tries


async def test_a_temporary_error_then_success(
    alice: CcxtExchange, fake: FakeBitget, sleeps: list[float]
) -> None:
    fake.inject(ASSETS, "rate_limit", times=2)
    balance = await alice.fetch_balance("spot")
    assert balance.free("USDT") == D(10000)
    assert len(fake.requests_to(ASSETS)) == 3
    assert sleeps == [0.01, 0.02]


@pytest.mark.parametrize(
    ("kind", "error"),
    [("insufficient", InsufficientFunds), ("invalid_param", InvalidOrder)],
)
async def test_fatal_order_errors_are_mapped_and_not_retried(
    alice: CcxtExchange, fake: FakeBitget, sleeps: list[float], kind: str, error: type[Exception]
) -> None:
    fake.inject(SPOT_PLACE, kind)
    with pytest.raises(error):
        await alice.create_order(limit(SPOT, "buy", "0.001", "60000", f"fatal-{kind}"))
    assert len(fake.requests_to(SPOT_PLACE)) == 1
    assert sleeps == []


async def test_real_insufficient_balance_on_futures(alice: CcxtExchange) -> None:
    # margin at 20x: 1 BTC x 104676.5 / 20 = 5233.825 fits in 10000 USDT; 2 BTC does not
    with pytest.raises(InsufficientFunds, match="40762"):
        await alice.create_order(limit(SWAP, "buy", "2", "104676.5", "too-big"))


async def test_a_lost_answer_to_an_order_is_found_by_client_id_not_placed_twice(
    alice: CcxtExchange, fake: FakeBitget, sleeps: list[float]
) -> None:
    fake.inject(SPOT_PLACE, "server_error", when="after")  # placed, then the answer is lost
    order = await alice.create_order(limit(SPOT, "buy", "0.001", "60000", "grid-3-b1"))
    assert len(fake.requests_to(SPOT_PLACE)) == 1
    assert fake.requests_to(SPOT_ORDER_INFO)[-1].query == {"clientOid": "grid-3-b1"}
    placed = fake.orders_with_client_oid(ALICE.api_key, "grid-3-b1")
    assert len(placed) == 1 and order.id == placed[0].order_id
    assert (order.status, order.price, order.qty) == ("open", D("60000"), D("0.001"))
    assert sleeps == [0.01]


async def test_an_order_that_never_arrived_is_sent_again(alice: CcxtExchange, fake: FakeBitget) -> None:
    fake.inject(MIX_PLACE, "rate_limit")  # refused before anything happened
    order = await alice.create_order(limit(SWAP, "buy", "0.001", "90000", "grid-4-b1"))
    assert len(fake.requests_to(MIX_PLACE)) == 2
    assert len(fake.orders_with_client_oid(ALICE.api_key, "grid-4-b1")) == 1
    assert order.id == fake.orders_with_client_oid(ALICE.api_key, "grid-4-b1")[0].order_id


async def test_placing_the_same_client_id_again_returns_the_existing_order(
    alice: CcxtExchange, fake: FakeBitget
) -> None:
    first = await alice.create_order(limit(SWAP, "buy", "0.001", "90000", "grid-5-b1"))
    again = await alice.create_order(limit(SWAP, "buy", "0.001", "90000", "grid-5-b1"))  # after a restart
    assert again.id == first.id
    assert len(fake.orders_with_client_oid(ALICE.api_key, "grid-5-b1")) == 1


async def test_a_lost_batch_answer_is_reconciled_by_client_ids(alice: CcxtExchange, fake: FakeBitget) -> None:
    fake.inject(SPOT_BATCH, "server_error", when="after")
    reqs = [limit(SPOT, "buy", "0.0001", str(61000 + i), f"grid-6-b{i}") for i in range(12)]
    result = await alice.create_orders(reqs)
    assert len(fake.requests_to(SPOT_BATCH)) == 1  # found them all open: nothing sent twice
    assert sorted(o.client_order_id for o in result.accepted) == sorted(r.client_order_id for r in reqs)
    assert result.rejected == () and result.unknown == ()


async def test_a_batch_whose_fate_stays_unknown_is_reported_as_such(
    alice: CcxtExchange, fake: FakeBitget
) -> None:
    fake.inject(SPOT_BATCH, "rate_limit", times=ATTEMPTS)
    reqs = [limit(SPOT, "buy", "0.0001", str(61000 + i), f"grid-8-b{i}") for i in range(12)]
    result = await alice.create_orders(reqs)
    assert result.unknown == tuple(r.client_order_id for r in reqs)
    assert result.accepted == () and result.rejected == ()
    # so few orders that they go one by one: each one's fate unknown the same way
    fake.inject(SPOT_PLACE, "rate_limit", times=ATTEMPTS)
    result = await alice.create_orders([limit(SPOT, "buy", "0.0001", "61000", "grid-9-b0")])
    assert result.unknown == ("grid-9-b0",)
    assert result.accepted == () and result.rejected == ()


async def test_fewer_orders_than_a_batch_weighs_go_one_by_one(alice: CcxtExchange, fake: FakeBitget) -> None:
    """Bitget weighs a classic account's batch request as ten single ones (ccxt's costs 20 and 2): up to
    nine orders of a market go as single requests, ten and more in batches of up to 50."""
    few = [limit(SPOT, "buy", "0.0001", str(60000 + i), f"few-{i}") for i in range(9)]
    result = await alice.create_orders(few)
    assert len(result.accepted) == 9
    assert (len(fake.requests_to(SPOT_PLACE)), len(fake.requests_to(SPOT_BATCH))) == (9, 0)
    many = [limit(SPOT, "buy", "0.0001", str(61000 + i), f"many-{i}") for i in range(10)]
    result = await alice.create_orders(many)
    assert len(result.accepted) == 10
    assert (len(fake.requests_to(SPOT_PLACE)), len(fake.requests_to(SPOT_BATCH))) == (9, 1)


# --- looking orders up and cancelling them ----------------------------------------------------------


@pytest.mark.parametrize("symbol", [SPOT, SWAP])
async def test_fetch_by_client_id_open_orders_and_cancel(
    alice: CcxtExchange, fake: FakeBitget, symbol: str
) -> None:
    first = await alice.create_order(limit(symbol, "buy", "0.001", "60000", "bot-1-a"))
    second = await alice.create_order(limit(symbol, "buy", "0.001", "61000", "bot-1-b"))

    found = await alice.fetch_order_by_client_id("bot-1-a", symbol)
    assert found is not None and (found.id, found.price, found.qty, found.status) == (
        first.id, D("60000"), D("0.001"), "open",
    )  # fmt: skip
    assert await alice.fetch_order_by_client_id("never-sent", symbol) is None
    assert {o.id for o in await alice.fetch_open_orders(symbol)} == {first.id, second.id}

    await alice.cancel_order(first.id, symbol)
    assert (await alice.fetch_order(first.id, symbol)).status == "canceled"
    assert [o.id for o in await alice.fetch_open_orders(symbol)] == [second.id]
    with pytest.raises(OrderNotFound):
        await alice.cancel_order(first.id, symbol)
    with pytest.raises(OrderNotFound):
        await alice.fetch_order("999", symbol)

    assert await alice.cancel_orders([second.id, first.id], symbol) == [second.id]
    assert await alice.fetch_open_orders(symbol) == []


async def test_a_cancel_whose_answer_was_lost_still_counts(alice: CcxtExchange, fake: FakeBitget) -> None:
    order = await alice.create_order(limit(SPOT, "buy", "0.001", "60000", "bot-2-a"))
    fake.inject("/api/v2/spot/trade/cancel-order", "server_error", when="after")
    await alice.cancel_order(order.id, SPOT)  # the retry finds it cancelled already
    assert (await alice.fetch_order(order.id, SPOT)).status == "canceled"


async def test_a_filled_limit_order_reports_fills_and_fee(alice: CcxtExchange, fake: FakeBitget) -> None:
    buy = await alice.create_order(limit(SPOT, "buy", "0.001", "60000", "grid-10-b0"))
    fake.fill(ALICE.api_key, buy.id)
    filled = await alice.fetch_order(buy.id, SPOT)
    # maker fee 0.1 % of 0.001 BTC = 0.000001 BTC, worth 0.000001 x 60000 = 0.06 USDT
    assert (filled.status, filled.filled_qty, filled.avg_fill_price, filled.fee) == (
        "closed", D("0.001"), D("60000"), D("0.06"),
    )  # fmt: skip
    sell = await alice.create_order(limit(SPOT, "sell", "0.000999", "80000", "grid-10-s0"))  # above the ask
    fake.fill(ALICE.api_key, sell.id)
    sold = await alice.fetch_order(sell.id, SPOT)
    # 0.000999 x 80000 = 79.92 USDT, fee 0.1 % = 0.07992 USDT
    assert (sold.status, sold.fee) == ("closed", D("0.07992"))


async def test_a_batch_sent_again_after_a_restart_places_nothing_twice(
    alice: CcxtExchange, fake: FakeBitget
) -> None:
    reqs = [limit(SWAP, "buy", "0.001", str(90000 + i), f"grid-11-b{i}") for i in range(4)]
    first = await alice.create_orders(reqs[:2])
    again = await alice.create_orders(reqs)  # Bitget: 40786 Duplicate clientOid for the first two
    assert again.rejected == () and again.unknown == ()
    assert sorted(o.client_order_id for o in again.accepted) == [r.client_order_id for r in reqs]
    assert {o.id for o in first.accepted} <= {o.id for o in again.accepted}
    assert len(await alice.fetch_open_orders(SWAP)) == 4


async def test_market_loading_is_retried(registry: CcxtExchangeRegistry, fake: FakeBitget) -> None:
    fake.inject("/api/v2/spot/public/symbols", "rate_limit")
    exchange = await registry.connect("bitget", 1, ALICE)
    assert SPOT in await exchange.load_markets()
    assert len(fake.requests_to("/api/v2/spot/public/symbols")) == 2


async def test_new_keys_of_a_connected_account_take_effect(
    registry: CcxtExchangeRegistry, fake: FakeBitget
) -> None:
    stale = await registry.connect("bitget", 1, Credentials(ALICE.api_key, "old-secret", ALICE.passphrase))
    with pytest.raises(AuthenticationFailed):
        await stale.fetch_balance("spot")
    fresh = await registry.connect("bitget", 1, ALICE)
    assert fresh is stale
    assert (await fresh.fetch_balance("spot")).free("USDT") == D(10000)


# --- exchange-side stop loss (Bitget plan orders) ---------------------------------------------------

PLAN_PLACE = "/api/v2/mix/order/place-plan-order"


def stop_order(symbol: str, side: str, qty: str, trigger: str, cid: str) -> OrderRequest:
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


async def test_a_stop_loss_rests_on_bitget_as_a_plan_order_and_fills_when_triggered(
    alice: CcxtExchange, fake: FakeBitget
) -> None:
    await alice.create_order(market_order(SWAP, "buy", "0.002", "trend-9-open"))
    with pytest.raises(InvalidOrder, match="perpetuals"):
        await alice.create_order(
            OrderRequest(
                SPOT, "sell", "market", D("0.001"), None, "spot-sl", trigger_price=D("1"), reduce_only=True
            )
        )

    sl = await alice.create_order(stop_order(SWAP, "sell", "0.001", "90000.06", "mb9p1sl"))
    [sent] = fake.requests_to(PLAN_PLACE)  # signed like every private call (the fake checks it)
    body = sent.body
    assert (body["planType"], body["triggerPrice"], body["triggerType"], body["orderType"]) == (
        "normal_plan", "90000.1", "fill_price", "market",
    )  # fmt: skip
    assert (body["side"], body["size"], body["reduceOnly"], body["clientOid"]) == (
        "sell",
        "0.001",
        "YES",
        "mb9p1sl",
    )
    assert (sl.status, sl.trigger_price, sl.reduce_only, sl.client_order_id) == (
        "open",
        D("90000.1"),
        True,
        "mb9p1sl",
    )
    assert fake.requests_to(MIX_PLACE)[-1].body["clientOid"] == "trend-9-open"  # not a regular order

    # idempotent by client id, listed with the open orders, found by client id and by id
    again = await alice.create_order(stop_order(SWAP, "sell", "0.001", "90000.06", "mb9p1sl"))
    assert again.id == sl.id and len(fake.requests_to(PLAN_PLACE)) == 2
    assert [o.client_order_id for o in await alice.fetch_open_orders(SWAP)] == ["mb9p1sl"]
    found = await alice.fetch_order_by_client_id("mb9p1sl", SWAP)
    assert found is not None and (found.id, found.status, found.trigger_price) == (
        sl.id,
        "open",
        D("90000.1"),
    )
    assert (await alice.fetch_order(sl.id, SWAP)).client_order_id == "mb9p1sl"

    # a second stop is cancelled; the first one triggers and closes its part of the position at market
    other = await alice.create_order(stop_order(SWAP, "sell", "0.001", "85000", "mb9p2sl"))
    assert await alice.cancel_orders([other.id], SWAP) == [other.id]
    assert (await alice.fetch_order_by_client_id("mb9p2sl", SWAP)).status == "canceled"  # type: ignore[union-attr]
    [executed] = fake.trigger_plans(ALICE.api_key, "BTCUSDT", D("90000"))
    assert executed.client_oid == "mb9p1sl"
    filled = await alice.fetch_order_by_client_id("mb9p1sl", SWAP)
    assert filled is not None and (filled.status, filled.filled_qty) == ("closed", D("0.001"))
    assert filled.avg_fill_price == executed.executed.avg_price  # type: ignore[union-attr]
    assert filled.fee == executed.executed.fee > 0  # type: ignore[union-attr]
    assert await alice.fetch_open_orders(SWAP) == []
    [position] = await alice.fetch_positions([SWAP])
    assert (position.side, position.qty) == ("long", D("0.001"))
    with pytest.raises(OrderNotFound):
        await alice.cancel_order(sl.id, SWAP)
