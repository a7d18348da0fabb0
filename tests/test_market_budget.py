"""Shared market data and the request budget (issue 15, section 5): trend bots page back the history
their model needs once per exchange, symbol and timeframe for the whole process, then fetch only the
candles closed since; public requests share one limiter per process; a grid starts in few order requests.
Real ccxt over HTTP to the local fake Bitget (tests/fake_bitget.py, its candle endpoints with Bitget's
limits in tests/fake_bitget_candles.py), on both kinds of account."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from decimal import Decimal as D

import numpy as np
import pytest
from aiolimiter import AsyncLimiter

from engine.exchange import Candle
from engine.market_data.candle_store import CandleStore
from engine.market_data.candles import Candles, load_candles
from engine.market_data.feeds import DATA_DIR
from engine.market_data.public import PublicMarketData
from engine.public_limits import public_limiter
from engine.trend.candles import FEATURE_WARMUP, CandleSource, ModelStore, history_rows
from engine.trend.model import train_model
from engine.trend.strategies import get_strategy, model_params
from engine.venues.live.adapter import CcxtExchange
from engine.venues.live.credentials import Credentials
from engine.venues.live.errors import RetryPolicy
from engine.venues.live.registry import CcxtExchangeRegistry
from tests.fake_bitget import FakeBitget

KINDS = pytest.mark.parametrize("kind", ["classic", "uta"])
HOUR = 3_600_000
SPOT = "BTC/USDT"
HISTORY_PAGE = {"classic": 200, "uta": 100}  # Bitget's history-candles rows per request (v2, v3)
CANDLE_PATHS = {
    "classic": ("/api/v2/spot/market/candles", "/api/v2/spot/market/history-candles"),
    "uta": ("/api/v3/market/candles", "/api/v3/market/history-candles"),
}
FORMING = 6_000  # the file's row that is forming at the start: 6,000 closed hours before it


@pytest.fixture(scope="module")
def hours() -> Candles:
    return load_candles(DATA_DIR / "btcusdt_1h_2y.csv.gz")  # real BTCUSDT hours, 2024-02-19 .. 2026-02-18


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
        public_limiter=public_limiter(10_000),  # the budget has its own test below
    )
    yield reg
    await reg.close()


async def account(registry: CcxtExchangeRegistry, fake: FakeBitget, kind: str, n: int = 1) -> CcxtExchange:
    key = Credentials(f"bg_budget_key_{n:04d}", f"budget-secret-{n}", "budget-pass")
    fake.add_account(key.api_key, key.secret, key.passphrase or "", spot={"USDT": "10000"},
                     futures_usdt="10000", kind=kind)  # fmt: skip
    return await registry.connect("bitget", n, key, kind=kind)  # type: ignore[arg-type]


def candle_requests(fake: FakeBitget) -> list:  # type: ignore[type-arg]
    return [r for r in fake.requests if "candles" in r.path]


# ---- how many rows the model needs


def test_the_ai_models_history_is_min_train_plus_its_horizon_plus_the_features_warm_up(
    hours: Candles,
) -> None:
    """history_rows is exactly what the model needs: one row fewer and it cannot train (real hours)."""
    strategy = get_strategy("ai_model")
    params = model_params(strategy)
    rows = history_rows(strategy)
    assert rows == params.min_train + params.horizon + FEATURE_WARMUP == 4000 + 4 + 204
    assert train_model(hours.slice(0, rows), params).trained_rows == params.min_train
    with pytest.raises(ValueError, match="not enough history"):
        train_model(hours.slice(0, rows - 1), params)
    assert history_rows(get_strategy("ema_adx_baseline")) == 1000  # no model: its indicators' warm-up


# ---- a live trend bot's history, paged back


@KINDS
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_live_ai_bot_pages_back_the_rows_its_model_needs_and_trains(
    registry: CcxtExchangeRegistry, fake: FakeBitget, hours: Candles, kind: str, database
) -> None:
    """Before, a live trend bot fetched 1,000 candles: its model (4,000 rows) never trained, so it never
    traded. Now the history is paged back through Bitget's candles and history-candles endpoints."""
    exchange = await account(registry, fake, kind)
    now = fake.candles.serve("BTCUSDT", "1h", hours, forming=FORMING)
    strategy = get_strategy("ai_model")
    rows = history_rows(strategy)
    history = await CandleSource().closed(exchange, SPOT, "1h", now, venue="live", rows=rows)

    assert history is not None and len(history.candles) >= rows
    candles = history.candles
    forming_open = now - HOUR // 2
    assert history.last_ts == forming_open - HOUR  # the forming candle is never taken for closed
    # the exchange's rows, unchanged and in order: the file's closes before the forming row
    n = len(candles)
    assert [candles.price("close", i) for i in range(n)] == [
        hours.price("close", i) for i in range(FORMING - n, FORMING)
    ]
    assert list(np.diff(candles.ts_a)) == [HOUR] * (n - 1)

    recent, history_path = CANDLE_PATHS[kind]
    sent = candle_requests(fake)
    assert sent[0].path == recent and int(sent[0].query["limit"]) == 1000  # the newest 1,000 first
    assert {r.path for r in sent[1:]} == {history_path}  # then back in history-candles' pages
    assert all(int(r.query["limit"]) <= HISTORY_PAGE[kind] for r in sent[1:])
    assert len(sent) == 1 + math.ceil((rows - 999) / HISTORY_PAGE[kind])  # no page asked twice

    model = await ModelStore(database).model_for(None, strategy, SPOT, history)
    assert model is not None and model.trained_rows >= model_params(strategy).min_train


async def test_twenty_bots_share_one_history_fetch_then_one_request_per_new_candle(
    registry: CcxtExchangeRegistry, fake: FakeBitget, hours: Candles
) -> None:
    """20 trend bots of two accounts (one of each kind) on BTC/USDT 1h: one paged fetch for all of them,
    no request while no candle can have closed, then one request per closed candle."""
    accounts = [await account(registry, fake, kind, n) for n, kind in ((1, "classic"), (2, "uta"))]
    now = fake.candles.serve("BTCUSDT", "1h", hours, forming=FORMING)
    source = CandleSource()
    rows = history_rows(get_strategy("ai_model"))

    async def twenty_ticks(at: int) -> list:  # type: ignore[type-arg]
        return await asyncio.gather(
            *(source.closed(accounts[i % 2], SPOT, "1h", at, venue="live", rows=rows) for i in range(20))
        )

    first = await twenty_ticks(now)
    paged = len(candle_requests(fake))
    assert paged == 1 + math.ceil((rows - 999) / HISTORY_PAGE["classic"])  # one fetch, by one account
    assert all(h is first[0] for h in first), [(id(h), h and len(h.candles)) for h in first]
    last = first[0].last_ts
    for step in range(1, 4):
        for minutes in (10, 20):  # within the forming candle: nothing new can have closed
            await twenty_ticks(fake.candles.market_now + minutes * 60_000)
        assert len(candle_requests(fake)) == paged + step - 1
        fake.candles.market_now = now + step * HOUR  # the next candle closed
        found = await twenty_ticks(fake.candles.market_now)
        assert len(candle_requests(fake)) == paged + step  # one request for the twenty bots
        assert {h.last_ts for h in found} == {last + step * HOUR}
        newest = found[0].candles
        assert newest.price("close", len(newest) - 1) == hours.price("close", FORMING - 1 + step)
    assert all(int(r.query["limit"]) <= 3 for r in candle_requests(fake)[paged:])  # only the new ones


# ---- the store on its own: duplicates, gaps, a need that grows


class _Pages:
    """A paging source over real candles that answers overlapping pages (duplicates)."""

    candle_key = ("test", False)

    def __init__(self, candles: list[Candle], page: int) -> None:
        self.candles, self.page, self.asked = candles, page, 0

    async def fetch_candle_page(self, symbol: str, timeframe: str, *, until: int, limit: int) -> list[Candle]:
        self.asked += 1
        older = [c for c in self.candles if c.ts <= until + 3 * HOUR]  # three it was not asked for
        return older[-min(limit, self.page) - 3 :]


def _real(hours: Candles, start: int, stop: int) -> list[Candle]:
    volumes = hours.volume_text
    return [Candle(*hours.candle(i), D(volumes[i])) for i in range(start, stop)]


async def test_the_store_keeps_each_candle_once_keeps_the_exchanges_gaps_and_pages_further_for_a_bigger_need(
    hours: Candles,
) -> None:
    rows = _real(hours, 0, 700)
    gap = {ts.ts for ts in rows[300:305]}  # the exchange has no candles there
    source = _Pages([c for c in rows if c.ts not in gap], page=100)
    store = CandleStore()
    now = rows[-1].ts + HOUR // 2  # the last row is forming
    found = await store.closed(source, SPOT, "1h", HOUR, now, 200)
    assert found is not None and len(found.candles) >= 200
    ts = found.candles.ts_a.tolist()
    assert ts == sorted(set(ts)) and found.last_ts == rows[-2].ts
    bigger = await store.closed(source, SPOT, "1h", HOUR, now, 500)  # a bot that needs more
    assert bigger is not None
    ts = bigger.candles.ts_a.tolist()
    assert len(ts) >= 500 and ts == sorted(set(ts))
    assert ts == [c.ts for c in rows[:-1] if c.ts not in gap][-len(ts) :]  # every row once, the gap kept


async def test_a_series_asked_before_any_candle_closed_is_fetched_once_one_has(hours: Candles) -> None:
    """A tick whose ticker had no time (now 0) finds nothing closed; the next one gets the history."""
    rows = _real(hours, 0, 300)
    source = _Pages(rows, page=100)
    store = CandleStore()
    assert await store.closed(source, SPOT, "1h", HOUR, 0, 200) is None
    found = await store.closed(source, SPOT, "1h", HOUR, rows[-1].ts + HOUR // 2, 200)
    assert found is not None and len(found.candles) >= 200 and found.last_ts == rows[-2].ts


# ---- the public budget


class _Recording(AsyncLimiter):
    """The process's limiter, noting when each request passed it."""

    def __init__(self, max_rate: float, period: float) -> None:
        super().__init__(max_rate, period)
        self.passed: list[float] = []

    async def acquire(self, amount: float = 1) -> None:
        await super().acquire(amount)
        self.passed.append(asyncio.get_running_loop().time())


async def test_the_public_limiter_holds_a_burst_of_candle_requests_to_its_rate(
    fake: FakeBitget, hours: Candles
) -> None:
    """40 public requests at once from four accounts' clients and the public market data's (ccxt's own
    limiters let each client's through at once): the one limiter of the process lets the first 10 go,
    the rest at 20 a second."""
    limiter = _Recording(10, 0.5)
    registry = CcxtExchangeRegistry(
        api_base_url=fake.url, ccxt_options={"rateLimit": 1, "timeout_on_exit": 0}, public_limiter=limiter
    )
    public = PublicMarketData.for_exchange("bitget", api_url=fake.url, limiter=registry.public_limiter)
    public.client.options["timeout_on_exit"] = 0
    now = fake.candles.serve("BTCUSDT", "1h", hours, forming=FORMING)
    try:
        clients = [await account(registry, fake, kind, n) for n, kind in enumerate(["classic", "uta"] * 2)]
        await public.client.load_markets()
        await asyncio.sleep(0.6)  # the markets' requests have drained from the bucket
        fake.requests.clear()
        limiter.passed.clear()
        started = time.monotonic()
        sources = [*clients, public]
        await asyncio.gather(
            *(sources[i % 5].fetch_candle_page(SPOT, "1h", until=now, limit=5) for i in range(40))
        )
        elapsed = time.monotonic() - started
    finally:
        await public.close()
        await registry.close()
    assert len(candle_requests(fake)) == 40 and len(limiter.passed) == 40  # every one through the one limiter
    assert elapsed >= 1.4  # 30 past the burst at 20 a second: 1.5 s
    passed = limiter.passed
    for i in range(len(passed)):  # any stretch: the burst of 10, then one each 50 ms
        for j in range(i, len(passed)):
            assert j - i + 1 <= 11 + (passed[j] - passed[i]) / 0.05


# ---- a grid's start in few order requests

ORDER_PATHS = {  # the order-placing endpoints of each kind: one order, a batch
    "classic": ("/api/v2/spot/trade/place-order", "/api/v2/spot/trade/batch-orders"),
    "uta": ("/api/v3/trade/place-order", "/api/v3/trade/place-batch"),
}


@KINDS
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_100_line_grid_starts_in_a_few_order_requests(
    database, fleet, accounts, cipher, fake: FakeBitget, kind: str
) -> None:  # type: ignore[no-untyped-def]
    """100 intervals of 100 USDT from 70,000 to 80,000 at the recorded 73,369.13: 66 bought in one market
    order, then 34 resting buys and 66 sells in batches of Bitget's size for the kind."""
    from tests.live_harness import Live

    fake.add_account("bg_grid_key", "grid-secret", "grid-pass", spot={"USDT": "10000"}, futures_usdt="0",
                     kind=kind)  # fmt: skip
    harness = Live(database, fleet, accounts, cipher, fake.url)
    try:
        user = await harness.user("bg_grid_key", "grid-secret", "grid-pass")
        created = await fleet.create_grid_bot(
            user, name="wide grid", symbol="BTCUSDT", allocation_percent="30", lower_price="70000",
            upper_price="80000", grid_count=100, total_investment="2500",
        )  # fmt: skip
        await fleet.start(user, created.bot.id)
        fake.requests.clear()
        await harness.engine.run_tick(created.bot.id)
        assert (await fleet.get_bot(user, created.bot.id)).last_error is None
    finally:
        await harness.close()
    single, batch = ORDER_PATHS[kind]
    placing = [r for r in fake.requests if r.path in (single, batch)]
    orders = list(fake.accounts["bg_grid_key"].orders.values())
    limits = [o for o in orders if o.order_type == "limit"]
    assert len(limits) == 100 and len([o for o in orders if o.order_type == "market"]) == 1
    per_batch = 50 if kind == "classic" else 20  # Bitget: batch-orders 50, v3 place-batch 20
    assert all(len(r.body["orderList"] if kind == "classic" else r.body) <= per_batch for r in placing[1:])
    assert len(placing) == 1 + math.ceil(len(limits) / per_batch)  # classic 3; unified 6 (20 a batch)


# ---- too many requests


def test_too_many_requests_is_a_temporary_error_never_a_refused_key() -> None:
    """Before, Bitget's 30006 "request too many" came out of ccxt as an AuthenticationError (an old code
    of another API in ccxt's table) and would have stopped the account's bots as if the key were revoked."""
    import ccxt

    from engine.exchange import AuthenticationFailed
    from engine.venues.live.errors import RateLimited, map_ccxt_error

    assert isinstance(map_ccxt_error(ccxt.AuthenticationError('bitget {"code":30006,"msg":"request too many"}')),
                      RateLimited)  # fmt: skip
    assert isinstance(map_ccxt_error(ccxt.DDoSProtection('bitget {"code":"429","msg":"Too Many Requests"}')),
                      RateLimited)  # fmt: skip
    assert isinstance(map_ccxt_error(ccxt.RateLimitExceeded("bitget 429 Too Many Requests")), RateLimited)
    refused = map_ccxt_error(
        ccxt.AuthenticationError('bitget {"code":"40037","msg":"Apikey does not exist"}')
    )
    assert isinstance(refused, AuthenticationFailed) and not isinstance(refused, RateLimited)


@KINDS
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_grid_start_through_too_many_requests_loses_no_order_and_doubles_none(
    database, fleet, accounts, cipher, fake: FakeBitget, kind: str
) -> None:  # type: ignore[no-untyped-def]
    """The market buy is refused once with 429; a batch is placed but its answer is a 30006: the retries
    back off, find what was placed by client id, and every interval has its one order."""
    from tests.live_harness import Live

    single, batch = ORDER_PATHS[kind]
    fake.add_account("bg_grid_key", "grid-secret", "grid-pass", spot={"USDT": "10000"}, futures_usdt="0",
                     kind=kind)  # fmt: skip
    fake.inject(single, "rate_limit")
    fake.inject(batch, "request_too_many", when="after")
    harness = Live(database, fleet, accounts, cipher, fake.url)
    try:
        user = await harness.user("bg_grid_key", "grid-secret", "grid-pass")
        created = await fleet.create_grid_bot(
            user, name="wide grid", symbol="BTCUSDT", allocation_percent="30", lower_price="70000",
            upper_price="80000", grid_count=100, total_investment="2500",
        )  # fmt: skip
        await fleet.start(user, created.bot.id)
        await harness.engine.run_tick(created.bot.id)
        assert (await fleet.get_bot(user, created.bot.id)).last_error is None
        await harness.engine.run_tick(created.bot.id)  # a second tick places nothing twice
        assert await harness.audit(user) == []
    finally:
        await harness.close()
    orders = list(fake.accounts["bg_grid_key"].orders.values())
    assert len([o for o in orders if o.order_type == "limit"]) == 100
    assert len([o for o in orders if o.order_type == "market"]) == 1
    assert len({o.client_oid for o in orders}) == len(orders)
    assert len(fake.requests_to(single)) >= 2 and all(f.times == 0 for f in fake._faults)


@KINDS
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_live_ai_trend_bot_reaches_its_model_with_the_paged_history(
    database, fleet, accounts, cipher, fake: FakeBitget, hours: Candles, kind: str
) -> None:  # type: ignore[no-untyped-def]
    """Through the engine: a live ai_model bot's first tick pages back its 4,208 hours, the next closed
    candle has its signal decided by a model trained on them (stored). Before, 1,000 candles: no model."""
    from sqlalchemy import select

    from bot.services.strategies import Strategies
    from db.models import TrendModelRow
    from tests.live_harness import Live

    fake.add_account("bg_trend_key", "trend-secret", "trend-pass", spot={"USDT": "10000"},
                     futures_usdt="10000", kind=kind)  # fmt: skip
    ticker = fake._recorded[("fetchTicker", "uta swap ticker")]["data"][0]  # both kinds' perpetual ticker
    start = int(ticker["ts"])
    fake.candles.serve("BTCUSDT", "1h", hours, forming=FORMING, now=start)  # the market at the ticker's time
    harness = Live(database, fleet, accounts, cipher, fake.url)
    try:
        user = await harness.user("bg_trend_key", "trend-secret", "trend-pass")
        strategy = await Strategies(database).by_name(user, "ai_model")
        created = await fleet.create_trend_bot(
            user, name="ai", symbol="BTCUSDT", allocation_percent="10", strategy_id=strategy.id
        )
        await fleet.start(user, created.bot.id)
        await harness.engine.run_tick(created.bot.id)  # the history, paged back once
        assert (await fleet.get_bot(user, created.bot.id)).last_error is None
        paged = len(candle_requests(fake))
        # a market older than the candles endpoint's window: every page from history-candles
        assert paged == math.ceil((4208 + 1) / HISTORY_PAGE[kind])
        ticker["ts"] = str(start + HOUR)  # an hour later a candle has closed
        fake.candles.market_now = start + HOUR
        await harness.engine.run_tick(created.bot.id)
        assert (await fleet.get_bot(user, created.bot.id)).last_error is None
        assert len(candle_requests(fake)) == paged + 1  # only the new candle
        async with database.read() as session:
            models = (await session.execute(select(TrendModelRow))).scalars().all()
        assert [(m.strategy_id, m.symbol, m.timeframe) for m in models] == [(strategy.id, SPOT, "1h")]
        closed_open = start // HOUR * HOUR  # the candle that closed: the model saw everything before it
        assert models[0].trained_until == closed_open
    finally:
        ticker["ts"] = str(start)
        await harness.close()


@KINDS
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_limits_held_behind_the_market_buy_that_never_got_out_go_out_on_the_next_tick(
    database, fleet, accounts, cipher, fake: FakeBitget, kind: str
) -> None:  # type: ignore[no-untyped-def]
    """Every try of the start's batches fails (503): the grid's limits, journaled before, are looked up
    and sent by the next tick, once each."""
    from tests.live_harness import Live

    _single, batch = ORDER_PATHS[kind]
    fake.add_account("bg_grid_key", "grid-secret", "grid-pass", spot={"USDT": "10000"}, futures_usdt="0",
                     kind=kind)  # fmt: skip
    harness = Live(database, fleet, accounts, cipher, fake.url)
    try:
        user = await harness.user("bg_grid_key", "grid-secret", "grid-pass")
        created = await fleet.create_grid_bot(
            user, name="wide grid", symbol="BTCUSDT", allocation_percent="30", lower_price="70000",
            upper_price="80000", grid_count=100, total_investment="2500",
        )  # fmt: skip
        await fleet.start(user, created.bot.id)
        fake.inject(batch, "server_error", times=1000)  # every try, in every round of the tick
        await harness.engine.run_tick(created.bot.id)
        orders = list(fake.accounts["bg_grid_key"].orders.values())
        assert [o.order_type for o in orders] == ["market"]  # only the market buy got out
        fake._faults.clear()
        await harness.engine.run_tick(created.bot.id)
        await harness.engine.run_tick(created.bot.id)
        assert await harness.audit(user) == []
    finally:
        await harness.close()
    orders = list(fake.accounts["bg_grid_key"].orders.values())
    assert len([o for o in orders if o.order_type == "limit"]) == 100
    assert len({o.client_oid for o in orders}) == len(orders) == 101
