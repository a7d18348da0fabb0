"""The ccxt adapter on both kinds of Bitget account, real ccxt over HTTP to the fake Bitget: a classic
account (API v2, tests/fake_bitget.py) and a unified trading account (UTA, API v3,
tests/fake_bitget_v3.py). Every call the engines make, on spot and USDT-M perpetuals, gives the same
`Order`s, balances and positions on either kind; each kind refuses the other's API with Bitget's codes
(40085 for a unified account's key on v2, 40084 for a classic account's key on v3), and an account whose
kind changed (the user upgraded) is detected again on the refusal, its listeners told, the call retried.

Prices are the recorded ones (spot BTCUSDT bid 73369.13 / ask 73369.14, USDT-M bid 104676.4 / ask
104676.5); fees are the fake's market rules (spot 0.1 %, futures maker 0.02 % / taker 0.06 %).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal as D

import pytest

from engine.exchange import AuthenticationFailed, InvalidOrder, OrderNotFound, OrderRequest
from engine.venues.live.adapter import AccountKey, CcxtExchange
from engine.venues.live.credentials import Credentials
from engine.venues.live.errors import RetryPolicy
from engine.venues.live.registry import CcxtExchangeRegistry
from tests.fake_bitget import FakeBitget

KEY = Credentials("bg_kind_key_0001", "kind-secret", "kind-pass")
SPOT, SWAP = "BTC/USDT", "BTC/USDT:USDT"
KINDS = pytest.mark.parametrize("kind", ["classic", "uta"])
PREFIX = {"classic": "/api/v2/", "uta": "/api/v3/"}


@pytest.fixture
async def fake() -> AsyncIterator[FakeBitget]:
    server = FakeBitget(timeout_delay=0.3)
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def registry(fake: FakeBitget) -> AsyncIterator[CcxtExchangeRegistry]:
    reg = CcxtExchangeRegistry(
        retry=RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.05, jitter=0),
        timeout_ms=2000,
        api_base_url=fake.url,
        ccxt_options={"rateLimit": 1, "timeout_on_exit": 0},
    )
    yield reg
    await reg.close()


async def connect(registry: CcxtExchangeRegistry, fake: FakeBitget, kind: str) -> CcxtExchange:
    fake.add_account(KEY.api_key, KEY.secret, KEY.passphrase or "", spot={"USDT": "10000"},
                     futures_usdt="10000", kind=kind)  # fmt: skip
    return await registry.connect("bitget", 1, KEY, kind=kind)  # type: ignore[arg-type]


def private_paths(fake: FakeBitget) -> set[str]:
    return {r.path for r in fake.requests if "ACCESS-KEY" in r.headers}


@KINDS
async def test_spot_orders_fills_and_fees_are_the_same_on_both_kinds(
    registry: CcxtExchangeRegistry, fake: FakeBitget, kind: str
) -> None:
    exchange = await connect(registry, fake, kind)
    assert exchange.uta is (kind == "uta")
    ticker = await exchange.fetch_ticker(SPOT)
    assert (ticker.last, ticker.bid, ticker.ask) == (D("73369.13"), D("73369.13"), D("73369.14"))
    [candle] = await exchange.fetch_candles(SPOT, "1m", limit=1)
    assert candle.close == D("43044")  # the recorded spot candle, whichever API served it

    placed = await exchange.create_order(OrderRequest(SPOT, "buy", "limit", D("0.001"), D("73000"), "kndb1"))
    assert (placed.status, placed.qty, placed.price) == ("open", D("0.001"), D("73000"))
    fake.fill(KEY.api_key, placed.id)
    filled = await exchange.fetch_order_by_client_id("kndb1", SPOT)
    # maker 0.1 % of 0.001 BTC taken from the coin: 0.000001 BTC, worth 0.073 USDT at 73,000
    assert filled is not None and (filled.status, filled.filled_qty, filled.avg_fill_price) == (
        "closed", D("0.001"), D("73000"),
    )  # fmt: skip
    assert (filled.fee_base, filled.fee) == (D("0.000001"), D("0.073"))
    assert filled.ts == fake.accounts[KEY.api_key].orders[placed.id].u_time

    batch = await exchange.create_orders(
        [
            OrderRequest(SPOT, "sell", "limit", D("0.0003"), D(str(75000 + 1000 * i)), f"knds{i}")
            for i in range(3)
        ]
        + [OrderRequest(SPOT, "buy", "limit", D("0.0001"), D("10000"), "kndtiny")]  # 1 USDT: under 5
    )
    assert [o.client_order_id for o in batch.accepted] == ["knds0", "knds1", "knds2"]
    assert batch.rejected_ids == {"kndtiny"}
    fake.reject_client_oids(["kndrefused"])
    refused = await exchange.create_orders(
        [OrderRequest(SPOT, "sell", "limit", D("0.0001"), D("80000"), "kndrefused")]
    )
    assert (
        refused.rejected_ids == {"kndrefused"} and "45110" in refused.rejected[0].reason
    )  # the exchange's own word
    assert {o.client_order_id for o in await exchange.fetch_open_orders(SPOT)} == {"knds0", "knds1", "knds2"}
    first = batch.accepted[0]
    await exchange.cancel_order(first.id, SPOT)
    with pytest.raises(OrderNotFound):
        await exchange.cancel_order(first.id, SPOT)
    cancelled = await exchange.cancel_orders([o.id for o in batch.accepted], SPOT)
    assert sorted(cancelled) == sorted(o.id for o in batch.accepted[1:])  # the first one was gone already
    assert await exchange.fetch_open_orders(SPOT) == []
    assert (await exchange.fetch_order(first.id, SPOT)).status == "canceled"
    assert await exchange.fetch_order_by_client_id("never-sent", SPOT) is None

    bought = await exchange.create_order(OrderRequest(SPOT, "buy", "market", D("0.001"), None, "kndm1"))
    assert (
        bought.status == "closed"
        and bought.filled_qty > 0
        and bought.fee_base == bought.filled_qty * D("0.001")
    )
    balance = await exchange.fetch_balance("spot")
    assert balance.total("BTC") == D("0.001") - D("0.000001") + bought.received_qty
    assert all(p.startswith(PREFIX[kind]) for p in private_paths(fake))  # each kind speaks its own API


@KINDS
async def test_futures_leverage_positions_and_a_stop_loss_on_both_kinds(
    registry: CcxtExchangeRegistry, fake: FakeBitget, kind: str
) -> None:
    exchange = await connect(registry, fake, kind)
    await exchange.set_leverage(SWAP, 5)
    assert fake.accounts[KEY.api_key].leverage["BTCUSDT"] == 5
    entry = await exchange.create_order(OrderRequest(SWAP, "buy", "market", D("0.002"), None, "kndabopen"))
    # filled at the ask 104676.5: taker 0.06 % of 209.353 = 0.1256118 USDT
    assert (entry.status, entry.filled_qty, entry.avg_fill_price, entry.fee) == (
        "closed", D("0.002"), D("104676.5"), D("0.1256118"),
    )  # fmt: skip
    [position] = await exchange.fetch_positions([SWAP])
    assert (position.side, position.qty, position.entry_price, position.leverage) == (
        "long", D("0.002"), D("104676.5"), D(5),
    )  # fmt: skip

    stop = OrderRequest(
        SWAP, "sell", "market", D("0.001"), None, "kndabsl1", reduce_only=True, trigger_price=D("90000")
    )
    placed = await exchange.create_order(stop)
    assert (placed.status, placed.trigger_price, placed.reduce_only) == ("open", D("90000"), True)
    again = await exchange.create_order(stop)  # idempotent by client id
    assert again.id == placed.id
    other = await exchange.create_order(
        OrderRequest(
            SWAP, "sell", "market", D("0.001"), None, "kndabsl2", reduce_only=True, trigger_price=D("85000")
        )
    )
    assert {o.client_order_id for o in await exchange.fetch_open_orders(SWAP)} == {"kndabsl1", "kndabsl2"}
    assert await exchange.cancel_orders([other.id], SWAP) == [other.id]
    gone = await exchange.fetch_order_by_client_id("kndabsl2", SWAP)
    assert gone is not None and gone.status == "canceled" and gone.filled_qty == 0

    # our own reduce-only exit of the same size after the cancel is never taken for the stop's execution
    # (v3 names no executed order: every id we send starts with the installation's namespace, "kndab" here)
    exit_order = await exchange.create_order(
        OrderRequest(SWAP, "sell", "market", D("0.001"), None, "kndabexit", reduce_only=True)
    )
    assert exit_order.reduce_only and exit_order.status == "closed"
    gone = await exchange.fetch_order_by_client_id("kndabsl2", SWAP)
    assert gone is not None and gone.status == "canceled"

    fake.accounts[KEY.api_key].positions["BTCUSDT"].qty = D("0.002")  # as if the exit had not happened
    [executed] = fake.trigger_plans(KEY.api_key, "BTCUSDT", D("89000"))
    booked = await exchange.fetch_order_by_client_id("kndabsl1", SWAP)
    assert executed.executed is not None and booked is not None
    assert (booked.status, booked.filled_qty, booked.client_order_id) == ("closed", D("0.001"), "kndabsl1")
    assert booked.avg_fill_price == executed.executed.avg_price and booked.fee == executed.executed.fee > 0
    assert booked.ts == executed.executed.u_time
    with pytest.raises(OrderNotFound):
        await exchange.cancel_order(placed.id, SWAP)
    assert await exchange.fetch_open_orders(SWAP) == []
    futures = await exchange.fetch_balance("swap")
    assert futures.total("USDT") > 0
    with pytest.raises(InvalidOrder):
        await exchange.set_leverage(SWAP, 500)


@pytest.mark.parametrize(
    ("stored", "actual", "code"), [("classic", "uta", "40085"), ("uta", "classic", "40084")]
)
async def test_each_kind_refuses_the_others_api_and_a_changed_kind_is_detected_again(
    registry: CcxtExchangeRegistry, fake: FakeBitget, stored: str, actual: str, code: str
) -> None:
    """The user upgraded their account (or the stored kind is wrong): Bitget refuses the call for the
    kind, the adapter detects the kind again, tells the listeners and retries; nothing is placed twice."""
    told: list[tuple[AccountKey, str]] = []

    async def listener(key: AccountKey, kind: str) -> None:
        told.append((key, kind))

    registry.kind_listeners.append(listener)
    fake.add_account(KEY.api_key, KEY.secret, KEY.passphrase or "", spot={"USDT": "10000"}, kind=actual)
    exchange = await registry.connect("bitget", 7, KEY, kind=stored)  # type: ignore[arg-type]
    order = await exchange.create_order(OrderRequest(SPOT, "buy", "limit", D("0.001"), D("70000"), "kndup1"))
    refused = [
        r.path
        for r in fake.requests
        if r.path.startswith(PREFIX[stored])
        and "ACCESS-KEY" in r.headers
        and r.path != "/api/v3/account/info"
    ]
    assert refused == [
        PREFIX[stored] + ("spot/trade/place-order" if stored == "classic" else "trade/place-order")
    ]
    assert exchange.uta is (actual == "uta")
    assert told == [(exchange.key, actual)]
    assert [o.client_oid for o in fake.accounts[KEY.api_key].orders.values()] == ["kndup1"]
    assert (await exchange.fetch_order(order.id, SPOT)).client_order_id == "kndup1"


async def test_the_fake_answers_each_kinds_refusal_with_bitgets_code(
    registry: CcxtExchangeRegistry, fake: FakeBitget
) -> None:
    fake.add_account("uta-key", "s", "p", kind="uta")
    fake.add_account("classic-key", "s", "p", kind="classic")
    uta_on_v2 = await registry.connect("bitget", 1, Credentials("uta-key", "s", "p"), kind="classic")
    classic_on_v3 = await registry.connect("bitget", 2, Credentials("classic-key", "s", "p"), kind="uta")
    registry.redetect = _never  # type: ignore[method-assign]  # as if the kind could not be found again
    with pytest.raises(AuthenticationFailed, match="40085"):
        await uta_on_v2.fetch_balance("spot")
    with pytest.raises(AuthenticationFailed, match="40084"):
        await classic_on_v3.fetch_balance("spot")


async def _never(_key: AccountKey) -> bool:
    return False


@KINDS
async def test_a_key_is_checked_before_it_is_trusted(
    registry: CcxtExchangeRegistry, fake: FakeBitget, kind: str
) -> None:
    fake.add_account(
        "good", "s", "p", spot={"USDT": "1234.5"}, futures_usdt="500", kind=kind, uid="5550001234"
    )
    fake.add_account("reader", "s", "p", kind=kind, can_trade=False)
    fake.add_account("withdrawer", "s", "p", kind=kind, can_withdraw=True)
    good = await registry.check_key("bitget", Credentials("good", "s", "p"))
    assert (good.info.kind, good.info.account_id, good.info.can_trade, good.info.can_withdraw) == (
        kind, "5550001234", True, False,
    )  # fmt: skip
    # a unified account has one wallet: its USDT shows for spot and futures alike
    expected = (D("1234.5"), D("500")) if kind == "classic" else (D("1734.5"), D("1734.5"))
    assert (good.spot_usdt, good.futures_usdt) == expected
    assert not (await registry.check_key("bitget", Credentials("reader", "s", "p"))).info.can_trade
    assert (await registry.check_key("bitget", Credentials("withdrawer", "s", "p"))).info.can_withdraw
    with pytest.raises(AuthenticationFailed, match="40009"):
        await registry.check_key("bitget", Credentials("good", "wrong", "p"))
    with pytest.raises(AuthenticationFailed, match="40006"):
        await registry.check_key("bitget", Credentials("nobody", "s", "p"))
