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
import ipaddress
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import ccxt
import ccxt.pro as ccxt_pro
import pytest
from sqlalchemy import select

from bot.app import build_services
from bot.config import load_settings
from db.migrate import upgrade_head
from db.models import Trade, User
from db.session import Database
from engine.endpoints import point_at
from engine.money import q8
from engine.venues.live.adapter import CcxtExchange
from engine.venues.live.streams import StreamSettings
from tests.conftest import TEST_FERNET_KEY
from tests.fake_bitget import FakeBitget, FakeOrder
from tests.live_harness import Live

KEY, SECRET, PASSPHRASE = "bg_ws_key_0001", "ws-secret-0001", "ws-pass"
SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
FAST = StreamSettings(ticker_max_age=30, resync_every=300, backoff_base=0.05, backoff_max=0.2, pace=0.05)
# REST paths that read orders or prices (what the streams replace); placing orders stays REST
LOOK_UPS = ("orderInfo", "unfilled-orders", "order-info", "history-orders", "market/tickers")


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every connection of these tests stays on this machine: a websocket url left at Bitget's own host
    (wss://ws.bitget.com) fails the test instead of reaching the internet."""
    connect = socket.socket.connect

    def guarded(sock: socket.socket, address: Any) -> Any:
        if (
            sock.family in (socket.AF_INET, socket.AF_INET6)
            and not ipaddress.ip_address(address[0]).is_loopback
        ):
            raise AssertionError(f"a test connection left this machine: {address}")
        return connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


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


async def grid(live: Live, user_id: int, name: str) -> int:
    """The harness's grid (70,000 .. 80,000, 10 lines, 1,000 USDT) under another name."""
    created = await live.fleet.create_grid_bot(
        user_id, name=name, symbol="BTCUSDT", allocation_percent="20", lower_price="70000",
        upper_price="80000", grid_count=10, total_investment="1000",
    )  # fmt: skip
    await live.fleet.start(user_id, created.bot.id)
    await live.engine.run_tick(created.bot.id)
    return created.bot.id


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

    told: list[tuple[str, str]] = []
    assert exchange.on_order_change(lambda symbol, cid: told.append((symbol, cid)))
    buy = highest_buy(fake)
    fake.fill(KEY, buy.order_id)
    await until(lambda: stream.closed_order(buy.client_oid) is not None)
    assert told == [("BTC/USDT", buy.client_oid)]  # at once, for a runtime to tick the bot now
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
    # the pushed order is the Order the REST path builds for it, field by field
    assert stream.closed_order(buy.client_oid) == await exchange.fetch_order(buy.order_id, "BTC/USDT")
    if kind == "uta":
        # the keys were stored without a kind: the v2 private websocket refused them as REST does
        # (40085), and the stream subscribed on v3 once the kind was found
        assert "40085" in fake.ws.errors and fake.ws.subscriptions("orders") == []


@SQLITE
async def test_a_pushed_fill_ticks_its_bot_at_once_not_at_its_next_interval(
    live: Live, fake: FakeBitget, kind: str
) -> None:
    """The engine follows the account's pushes: a fill's push ticks the bot that owns the order through
    the scheduler (never beside a tick in progress), so it is booked well inside the bot's interval."""
    user_id, bot_id, _ = await streamed_grid(live)
    live.engine.scheduler.interval = 3600.0  # the next scheduled tick is an hour away
    live.engine.scheduler.schedule(bot_id)
    ticks: list[int] = []
    inner = live.engine.scheduler.tick

    async def counted(bot: int) -> None:
        ticks.append(bot)
        await inner(bot)

    live.engine.scheduler.tick = counted
    live.engine.scheduler.start()
    buy = highest_buy(fake)
    fake.fill(KEY, buy.order_id)
    filled_at = time.monotonic()
    await until(lambda: bool(ticks), timeout=3)
    while await trade_of(live.db, buy.client_oid) is None:
        assert time.monotonic() - filled_at < 3, "the push did not tick the bot"
        await asyncio.sleep(0.01)
    assert ticks[0] == bot_id
    assert await live.audit(user_id) == []


@SQLITE
async def test_a_fill_during_a_disconnect_is_booked_once_by_the_rest_snapshot_after_the_reconnect(
    live: Live, fake: FakeBitget
) -> None:
    user_id, bot_id, exchange = await streamed_grid(live)
    stream = exchange._orders_stream
    assert stream is not None
    connections = fake.ws.connections
    fake.ws.refuse = True  # Bitget recycles the connection, and the new one cannot be made for a while
    await fake.ws.disconnect()
    await until(lambda: not stream.healthy)
    buy = highest_buy(fake)
    fake.fill(KEY, buy.order_id)  # no connection: nobody is told
    assert stream.closed_order(buy.client_oid) is None
    fake.ws.refuse = False
    await until(lambda: stream.healthy)
    assert fake.ws.connections > connections and stream.reconnects >= 1
    # subscribed again, but not trusted before a REST snapshot was taken after that
    assert exchange.orders_version("BTC/USDT") is None
    since = len(fake.requests)
    for _ in range(3):
        await live.engine.run_tick(bot_id)
    assert any("unfilled-orders" in p for p in look_ups(fake, since))  # the REST reconcile
    async with live.db.read() as session:
        bought = list(
            (await session.execute(select(Trade).where(Trade.client_order_id == buy.client_oid))).scalars()
        )
    assert len(bought) == 1 and bought[0].qty == buy.size
    assert exchange.orders_version("BTC/USDT") is not None  # streamed again
    sells = [o for o in fake.accounts[KEY].orders.values() if o.side == "sell" and o.live]
    assert len(sells) == 7  # its counter sell, once
    assert await live.audit(user_id) == []


@SQLITE
async def test_every_bot_of_a_symbol_reads_one_ticker_subscription(
    live: Live, fake: FakeBitget, kind: str
) -> None:
    user_id = await live.user(KEY, SECRET, PASSPHRASE)
    other = "bg_ws_key_0002"
    fake.add_account(other, SECRET, PASSPHRASE, spot={"USDT": "10000"}, kind=kind)
    other_user = await live.user(other, SECRET, PASSPHRASE, telegram_id=4343)
    bots = [
        await grid(live, user_id, "one"),
        await grid(live, user_id, "two"),
        await grid(live, other_user, "three"),
    ]
    exchanges = [await exchange_of(live, user_id), await exchange_of(live, other_user)]
    tickers = exchanges[0]._tickers
    assert tickers is not None
    await until(lambda: tickers(exchanges[0].uta).ticker("BTC/USDT") is not None)  # type: ignore[union-attr]
    since = len(fake.requests)
    fake.ws.move_price("BTCUSDT", D("73500.01"), D("73500.01"), D("73500.02"))  # inside every grid
    await until(lambda: tickers(exchanges[0].uta).ticker("BTC/USDT").last == D("73500.01"))  # type: ignore[union-attr]
    for bot_id in bots:
        await live.engine.run_tick(bot_id)
        book = await live.engine.grid.book(bot_id)
        assert book is not None and book.price == D("73500.01")  # the pushed price, not REST's 73,369.13
    assert [p for p in look_ups(fake, since) if "ticker" in p] == []
    assert len(fake.ws.subscriptions("ticker")) == 1  # three bots, two accounts: one subscription
    assert fake.ws.sent["ticker"] == 2  # the snapshot on subscribe and the move


@SQLITE
async def test_with_the_websocket_down_the_bots_trade_on_rest(live: Live, fake: FakeBitget) -> None:
    fake.ws.refuse = True
    user_id = await live.user(KEY, SECRET, PASSPHRASE)
    bot_id = await live.grid(user_id)
    exchange = await exchange_of(live, user_id)
    await live.engine.run_tick(bot_id)
    assert exchange.orders_version("BTC/USDT") is None and exchange.open_client_order_ids("BTC/USDT") is None
    buy = highest_buy(fake)
    fake.fill(KEY, buy.order_id)
    await live.engine.run_tick(bot_id)
    bot = await live.fleet.get_bot(user_id, bot_id)
    assert bot.is_running and bot.last_error is None
    bought = await trade_of(live.db, buy.client_oid)
    assert bought is not None and bought.qty == buy.size
    assert fake.ws.connections == 0
    assert await live.audit(user_id) == []


@SQLITE
@pytest.mark.parametrize("pace", [1.5])
async def test_resubscriptions_after_a_disconnect_are_paced(
    database,
    fleet,
    accounts,
    cipher,
    fake: FakeBitget,
    pace: float,  # type: ignore[no-untyped-def]
) -> None:
    """Bitget answers 30006 to more than its limit of messages a second on one connection (ccxt #24458):
    the subscriptions sent again after a disconnect go out one by one (here the fake allows one a
    second; with `pace` 0 this test sees 30006)."""
    fake.ws.max_ops_per_second = 1
    live = Live(database, fleet, accounts, cipher, fake.url, streams=replace(FAST, pace=pace))
    try:
        user_id = await live.user(KEY, SECRET, PASSPHRASE)
        exchange = await exchange_of(live, user_id)
        symbols = ("BTC/USDT", "BTC/USDT:USDT")
        for symbol in symbols:
            await exchange.fetch_ticker(symbol)  # by REST, and the symbol's subscription starts
        assert exchange._tickers is not None
        stream = exchange._tickers(exchange.uta)
        assert stream is not None
        await until(lambda: all(stream.ticker(s) is not None for s in symbols), timeout=10)
        acks = fake.ws.sent["ack"]
        await fake.ws.disconnect()
        await until(lambda: all(stream.ticker(s) is None for s in symbols))
        await until(lambda: all(stream.ticker(s) is not None for s in symbols), timeout=10)
        assert fake.ws.sent["ack"] >= acks + 2
        public = "/v3/ws/public" if exchange.uta else "/v2/ws/public"
        assert fake.ws.errors_on[(public, "30006")] == 0
    finally:
        await live.close()


@SQLITE
async def test_a_fill_whose_push_never_came_is_booked_by_the_periodic_rest_reconcile(
    database,
    fleet,
    accounts,
    cipher,
    fake: FakeBitget,  # type: ignore[no-untyped-def]
) -> None:
    live = Live(database, fleet, accounts, cipher, fake.url, streams=replace(FAST, resync_every=1.0))
    try:
        user_id, bot_id, exchange = await streamed_grid(live)
        fake.ws.lose_order_pushes = True
        buy = highest_buy(fake)
        fake.fill(KEY, buy.order_id)
        await live.engine.run_tick(bot_id)
        assert await trade_of(live.db, buy.client_oid) is None  # the stream still has it open
        await asyncio.sleep(1.0)  # the safety net's period
        since = len(fake.requests)
        await live.engine.run_tick(bot_id)
        assert any("unfilled-orders" in p for p in look_ups(fake, since))
        bought = await trade_of(live.db, buy.client_oid)
        assert bought is not None and bought.qty == buy.size
        await live.engine.run_tick(bot_id)
        assert exchange.orders_version("BTC/USDT") is not None  # back on the stream
        assert await live.audit(user_id) == []
    finally:
        await live.close()


async def test_the_fake_speaks_bitgets_websocket_protocol_to_ccxt_pro(fake: FakeBitget, kind: str) -> None:
    """Real ccxt.pro to the fake: its text pings are answered (with none, ccxt drops the connection after
    two missed pongs), a wrong secret's login is refused (30015), the other kind's endpoint refuses the
    keys as REST does (40084 / 40085)."""

    def client(secret: str, uta: bool) -> ccxt_pro.bitget:
        ws = ccxt_pro.bitget(
            {
                "apiKey": KEY,
                "secret": secret,
                "password": PASSPHRASE,
                "options": {"uta": uta},
                "timeout_on_exit": 0,
            }
        )
        ws.streaming = {**ws.streaming, "keepAlive": 100}  # a ping every 0.1 s
        point_at(ws, fake.url)
        ws.set_markets_from_exchange(loader)
        return ws

    loader = point_at(ccxt_pro.bitget({"options": {"uta": False}, "timeout_on_exit": 0}), fake.url)
    try:
        await loader.load_markets()  # the v2 market lists, as the registry loads them
    finally:
        await loader.close()
    good = client(SECRET, kind == "uta")
    try:
        ticker = await good.watch_ticker("BTC/USDT")
        assert ticker["last"] == 73369.13  # the recorded spot ticker
        await asyncio.sleep(0.5)
        assert fake.ws.received["ping"] >= 3 and fake.ws.sent["pong"] >= 3
        assert len(fake.ws.sessions) == 1  # still up: every ping had its pong
    finally:
        await good.close()
    wrong = client("not-the-secret", kind == "uta")
    try:
        with pytest.raises(ccxt.AuthenticationError, match="30015"):
            await asyncio.wait_for(wrong.watch_orders(), 5)
    finally:
        await wrong.close()
    other_kind = client(SECRET, kind != "uta")
    try:
        with pytest.raises(ccxt.ExchangeError, match="40084" if kind == "classic" else "40085"):
            await asyncio.wait_for(other_kind.watch_orders(), 5)
    finally:
        await other_kind.close()


async def test_multibot_runs_live_bots_on_the_websocket_through_exchange_api_url(
    tmp_path: Path, fake: FakeBitget, kind: str
) -> None:
    """The services `multibot run` builds (EXCHANGE_STREAMS on by default, EXCHANGE_API_URL at the fake):
    a live grid's fill is pushed over the fake's websocket and booked without a REST look-up; shutting
    the services down closes every websocket."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    await upgrade_head(url)
    settings = load_settings(
        database_url=url, exchange_api_url=fake.url, encryption_key=TEST_FERNET_KEY.decode()
    )
    assert settings.exchange_streams
    services = build_services(settings)
    try:
        user = await services.accounts.register(telegram_id=5, chat_id=5)
        await services.accounts.set_api_keys(user.id, api_key=KEY, secret=SECRET, passphrase=PASSPHRASE)
        await services.accounts.set_trading_mode(user.id, "live")
        created = await services.fleet.create_grid_bot(
            user.id, name="app grid", symbol="BTCUSDT", allocation_percent="20", lower_price="70000",
            upper_price="80000", grid_count=10, total_investment="1000",
        )  # fmt: skip
        await services.fleet.start(user.id, created.bot.id)
        bot_id = created.bot.id
        exchange = await services.engine.exchange_for(user.id, "live")
        for _ in range(500):
            await services.engine.run_tick(bot_id)
            if exchange.orders_version("BTC/USDT") is not None:  # type: ignore[attr-defined]
                break
            await asyncio.sleep(0.02)
        await services.engine.run_tick(bot_id)
        since = len(fake.requests)
        buy = highest_buy(fake)
        fake.fill(KEY, buy.order_id)
        stream = exchange._orders_stream  # type: ignore[attr-defined]
        await until(lambda: stream.closed_order(buy.client_oid) is not None)
        await services.engine.run_tick(bot_id)
        assert look_ups(fake, since) == []
        assert await trade_of(services.db, buy.client_oid) is not None
        assert fake.ws.sessions  # the private (orders) and public (tickers) connections
    finally:
        await services.close()
    await until(lambda: not fake.ws.sessions)  # all closed at shutdown


@SQLITE
async def test_accounts_log_in_one_by_one_after_a_disconnect_of_all(
    database,
    fleet,
    accounts,
    cipher,
    fake: FakeBitget,  # type: ignore[no-untyped-def]
) -> None:
    """A disconnect of every connection (Bitget's maintenance, a network cut) is followed by every
    account's login: the registry spreads them `dial_pace` apart instead of all at once."""
    live = Live(database, fleet, accounts, cipher, fake.url, streams=replace(FAST, dial_pace=0.3))
    try:
        keys = [KEY, "bg_ws_key_0002", "bg_ws_key_0003"]
        for key in keys[1:]:
            fake.add_account(key, SECRET, PASSPHRASE, spot={"USDT": "10000"}, kind=fake.accounts[KEY].kind)
        streams = []
        for n, key in enumerate(keys):
            exchange = await exchange_of(live, await live.user(key, SECRET, PASSPHRASE, telegram_id=4242 + n))
            await exchange.fetch_balance()  # a unified account's kind is found by its first call
            streams.append(exchange._orders_stream)
        await until(lambda: all(s is not None and s.healthy for s in streams), timeout=10)
        fake.ws.logins.clear()
        await fake.ws.disconnect()
        await until(lambda: len(fake.ws.logins) >= 3, timeout=10)
        gaps = [b - a for a, b in zip(fake.ws.logins, fake.ws.logins[1:], strict=False)]
        assert min(gaps) >= 0.25, gaps
    finally:
        await live.close()


@SQLITE
async def test_a_quiet_tickers_price_is_read_by_rest_once_per_period_for_every_bot(
    database,
    fleet,
    accounts,
    cipher,
    fake: FakeBitget,  # type: ignore[no-untyped-def]
) -> None:
    """Bitget pushes a ticker when it changes: a quiet symbol's last push goes stale after
    ticker_max_age, and then one REST read serves every bot asking at that moment, and for another
    period (not one per bot and tick)."""
    live = Live(database, fleet, accounts, cipher, fake.url, streams=replace(FAST, ticker_max_age=0.5))
    try:
        user_id, bot_id, _ = await streamed_grid(live)
        other = await grid(live, user_id, "other")
        await asyncio.sleep(0.6)  # no push since the subscription's first: stale
        since = len(fake.requests)
        for _ in range(3):  # the two bots tick at the same moment: one REST read answers both
            await asyncio.gather(live.engine.run_tick(bot_id), live.engine.run_tick(other))
        tickers = [p for p in look_ups(fake, since) if "tickers" in p]
        assert len(tickers) == 1  # the first round's; the others read that answer
        await asyncio.sleep(0.6)
        await live.engine.run_tick(bot_id)
        assert len([p for p in look_ups(fake, since) if "tickers" in p]) == 2  # stale again
    finally:
        await live.close()


@SQLITE
async def test_a_demo_accounts_fill_is_pushed_over_the_demo_websocket(live: Live, fake: FakeBitget) -> None:
    """Bitget's demo trading has its own websocket host (wspap.bitget.com); with EXCHANGE_API_URL set it
    is the same local server as the REST, and a demo account's fill is pushed over it like a live one's."""
    demo_key = "bg_ws_demo_0001"
    fake.add_account(
        demo_key, SECRET, PASSPHRASE, spot={"USDT": "10000"}, kind=fake.accounts[KEY].kind, demo=True
    )
    user = await live.accounts.register(telegram_id=4545, chat_id=4545)
    await live.accounts.set_api_keys(user.id, api_key=demo_key, secret=SECRET, passphrase=PASSPHRASE)
    await live.accounts.set_trading_mode(user.id, "live", demo=True)
    bot_id = await grid(live, user.id, "demo grid")
    bot = await live.fleet.get_bot(user.id, bot_id)
    assert bot.venue == "demo" and bot.last_error is None
    exchange = await live.engine.exchange_for(user.id, "demo")
    assert isinstance(exchange, CcxtExchange) and exchange.key.demo
    stream = exchange._orders_stream
    assert stream is not None
    for _ in range(500):
        await live.engine.run_tick(bot_id)
        if exchange.orders_version("BTC/USDT") is not None:
            break
        await asyncio.sleep(0.01)
    assert stream.healthy
    buy = next(o for o in fake.accounts[demo_key].orders.values() if o.side == "buy" and o.live)
    fake.fill(demo_key, buy.order_id)
    await until(lambda: stream.closed_order(buy.client_oid) is not None)
    await live.engine.run_tick(bot_id)
    assert await trade_of(live.db, buy.client_oid) is not None
