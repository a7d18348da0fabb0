"""Money safety around the engine (issue 13's items that are not one runtime's): replayed prices never
reach a live bot, two installations on one exchange account never take each other's orders, one
engine per database, the key that encrypts stored API keys is never silently replaced, no exchange call
inside a database write, the operator's exchange endpoint, the settings that now do what they say,
feeds that survive errors. Each test says what happened before.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from decimal import Decimal as D
from pathlib import Path

import pytest

from bot.app import build_services, checked_cipher
from bot.config import SettingsError, load_settings
from bot.instance_lock import EngineAlreadyRunning, EngineLock
from db.migrate import upgrade_head
from db.models import User
from db.session import Database
from engine.exchange import Candle
from engine.market_data.feeds import LivePriceFeed, ReplayFeed
from engine.trend.candles import CandleSource
from tests.conftest import TEST_FERNET_KEY
from tests.fake_bitget import FakeBitget
from tests.live_harness import Live

ROOT = Path(__file__).resolve().parent.parent
KEY, SECRET, PASSPHRASE = "bg_safe_key_0001", "safe-secret-0001", "safe-pass"
SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture
async def fake() -> AsyncIterator[FakeBitget]:
    server = FakeBitget(timeout_delay=0.3)
    await server.start()
    server.add_account(KEY, SECRET, PASSPHRASE, spot={"USDT": "10000"}, futures_usdt="10000")
    yield server
    await server.close()


# ---- replayed prices and candles reach paper accounts only


class _Exchange:
    """An exchange account's candles (what a live bot must read)."""

    def __init__(self) -> None:
        self.asked = 0

    async def fetch_candles(self, symbol: str, timeframe: str, since=None, limit=None):  # type: ignore[no-untyped-def]
        self.asked += 1
        return [Candle(ts, D("67000"), D("67100"), D("66900"), D("67050"), D("3")) for ts in (0, 3_600_000)]


async def test_a_live_bot_reads_its_exchanges_candles_never_the_replay() -> None:
    """Before, a live trend bot traded real perpetuals on replayed candles (it opened a short at the
    exchange's 67,377 on a replayed candle closing at 106,527)."""
    source = CandleSource()
    source.add_feed(ReplayFeed.from_file("BTC/USDT", "btcusdt_1h_2y.csv.gz"))
    exchange = _Exchange()
    now = 3 * 3_600_000
    live = await source.closed(exchange, "BTC/USDT", "1h", now, venue="live")  # type: ignore[arg-type]
    assert live is not None and exchange.asked == 1
    assert live.candles.price("close", len(live.candles) - 1) == D("67050")
    paper = await source.closed(exchange, "BTC/USDT", "1h", 10**13, venue="paper")  # type: ignore[arg-type]
    assert paper is not None and exchange.asked == 1  # the paper bot reads the replay


async def test_a_paper_bot_on_live_prices_reads_the_public_candles_shared_per_symbol() -> None:
    """Before, paper trend bots on PRICE_FEED=live died: "the paper exchange has no candle history"."""
    public = _Exchange()
    source = CandleSource(public=public)  # type: ignore[arg-type]
    paper_account = object()
    for now in (7_300_000, 7_400_000):  # two bots' ticks within one candle: one fetch
        found = await source.closed(paper_account, "BTC/USDT", "1h", now, venue="paper")  # type: ignore[arg-type]
        assert found is not None and len(found.candles) == 2
    assert public.asked == 1
    await source.closed(paper_account, "BTC/USDT", "1h", 10 * 3_600_000, venue="paper")  # type: ignore[arg-type]
    assert public.asked == 2  # a new candle closed since: fetched again


async def test_the_wizard_shows_a_live_user_the_exchanges_price_through_exchange_api_url(
    tmp_path: Path, fake: FakeBitget
) -> None:
    """EXCHANGE_API_URL points every live endpoint of `multibot run` elsewhere (here the local fake);
    a live user's price is the exchange's (the recorded 73,369.13), never the replay's (~105,000)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    await upgrade_head(url)
    settings = load_settings(
        database_url=url, exchange_api_url=fake.url, encryption_key=TEST_FERNET_KEY.decode()
    )
    services = build_services(settings)
    try:
        services.engine.venue.mark_price("BTC/USDT", D("105000"), 1)
        user = await services.accounts.register(telegram_id=5, chat_id=5)
        assert await services.fleet.last_price(user.id, "BTCUSDT") == D("105000")  # paper: the replay's
        await services.accounts.set_api_keys(user.id, api_key=KEY, secret=SECRET, passphrase=PASSPHRASE)
        await services.accounts.set_trading_mode(user.id, "live")
        assert await services.fleet.last_price(user.id, "BTCUSDT") == D("73369.13")
        assert fake.requests_to("/api/v2/spot/market/tickers")
    finally:
        await services.close()


# ---- two installations on one exchange account


@SQLITE
async def test_a_second_installation_on_the_same_account_never_takes_the_firsts_orders(
    database: Database, fleet, accounts, cipher, fake: FakeBitget, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """Before, a staging copy on the same Bitget account made the same client ids for its bot 1, took
    the first installation's orders for its own (phantom fills) and cancelled them when it stopped."""
    from bot.services.accounts import Accounts
    from bot.services.fleet import Fleet

    first = Live(database, fleet, accounts, cipher, fake.url)
    other_url = f"sqlite+aiosqlite:///{tmp_path / 'staging.db'}"
    await upgrade_head(other_url)  # a migration of its own: another installation id
    other_db = Database(other_url)
    second = Live(other_db, Fleet(other_db), Accounts(other_db, cipher), cipher, fake.url)
    try:
        a_user = await first.user(KEY, SECRET, PASSPHRASE)
        b_user = await second.user(KEY, SECRET, PASSPHRASE)
        a_bot, b_bot = await first.grid(a_user), await second.grid(b_user)
        assert a_bot == b_bot == 1  # the same bot id in both databases
        account = fake.accounts[KEY]
        mine = {o.client_oid for o in account.orders.values() if o.live}
        assert len(mine) == 20  # ten of each: no id of one is an id of the other
        await second.fleet.stop(b_user, b_bot)
        left = {o.client_oid for o in account.orders.values() if o.live}
        assert len(left) == 10 and not (await first.fleet.get_bot(a_user, a_bot)).last_error
        await first.engine.run_tick(a_bot)  # the first installation's bot is undisturbed
        assert {o.client_oid for o in account.orders.values() if o.live} == left
    finally:
        await second.close()
        await other_db.dispose()
        await first.close()


# ---- one engine per database


def _holder(url: str) -> subprocess.Popen[str]:
    code = (
        "import asyncio, sys, time\n"
        "from bot.instance_lock import EngineLock\n"
        "async def main():\n"
        f"    lock = EngineLock({url!r})\n"
        "    await lock.acquire()\n"
        "    print('HELD', flush=True)\n"
        "    await asyncio.sleep(60)\n"
        "asyncio.run(main())\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "HELD"
    return proc


def test_a_second_multibot_run_on_the_same_database_refuses_with_one_line(tmp_path: Path) -> None:
    """Before, two processes on one database both ran every bot (and two paper venues matched the same
    orders). The lock goes with its holder, even a killed one."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'one.db'}"
    holder = _holder(url)
    try:
        env = {**os.environ, "DATABASE_URL": url, "ENCRYPTION_KEY": TEST_FERNET_KEY.decode()}
        env.pop("TELEGRAM_BOT_TOKEN", None)
        second = subprocess.run(
            [sys.executable, "-m", "bot", "run"], cwd=tmp_path, env=env, capture_output=True, text=True,
            timeout=120, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert second.returncode == 2
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and "already runs the engine" in lines[0] and str(holder.pid) in lines[0]
    finally:
        holder.kill()
        holder.wait()
    lock = EngineLock(url)  # the killed holder's lock is gone

    async def take() -> None:
        await lock.acquire()
        await lock.release()

    asyncio.run(take())


async def test_the_engine_lock_on_postgresql_is_held_by_one_process() -> None:
    from tests.conftest import PG_URL, REQUIRE_PG

    if not PG_URL:
        if REQUIRE_PG:
            pytest.fail("MULTIBOT_REQUIRE_POSTGRES=1 but TEST_POSTGRES_URL is not set")
        pytest.skip("TEST_POSTGRES_URL is not set")
    holder = await asyncio.to_thread(_holder, PG_URL)
    try:
        with pytest.raises(EngineAlreadyRunning):
            await EngineLock(PG_URL).acquire()
    finally:
        holder.kill()
        holder.wait()
    for _ in range(50):  # the server ends the killed holder's session, and its lock with it
        lock = EngineLock(PG_URL)
        try:
            await lock.acquire()
        except EngineAlreadyRunning:
            await asyncio.sleep(0.1)
            continue
        await lock.release()
        return
    raise AssertionError("the lock of a killed process was never released")


# ---- the key that encrypts the stored API keys


async def test_a_lost_key_file_stops_start_up_instead_of_making_a_new_key(
    tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """Before, a missing key file was replaced by a new key: every stored API key failed and the live
    bots' orders were orphaned."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ENCRYPTION_KEY", raising=False)
    url = f"sqlite+aiosqlite:///{tmp_path / 'k.db'}"
    await upgrade_head(url)
    settings = load_settings(database_url=url)
    cipher = await checked_cipher(settings)  # no keys stored yet: the key file is made
    key_file = tmp_path / "multibot.key"
    assert key_file.exists()
    db = Database(url)
    async with db.write() as session:
        session.add(
            User(
                telegram_id=1, chat_id=1, api_key_enc=cipher.encrypt("k"), api_secret_enc=cipher.encrypt("s")
            )
        )
    await db.dispose()
    assert (await checked_cipher(settings)).decrypt(cipher.encrypt("x")) == "x"  # the same key: fine
    key_file.unlink()
    with pytest.raises(SettingsError) as lost:
        await checked_cipher(settings)
    assert "multibot.key" in str(lost.value) and "\n" not in str(lost.value)
    assert not key_file.exists()  # and no new key was made
    other = load_settings(database_url=url, encryption_key="3JH2nX0d6Hc1m5Qf0lqSOjFYz0yzS4xbD1iYSHkN1xk=")
    with pytest.raises(SettingsError, match="cannot decrypt"):
        await checked_cipher(other)


# ---- settings that do what they say


async def test_paper_start_balance_funds_a_new_users_paper_account(tmp_path: Path) -> None:
    """Before, PAPER_START_BALANCE was read by nothing: every paper account started with 10,000."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'p.db'}"
    await upgrade_head(url)
    settings = load_settings(
        database_url=url, paper_start_balance="2500", encryption_key=TEST_FERNET_KEY.decode()
    )
    services = build_services(settings)
    try:
        user = await services.accounts.register(telegram_id=9, chat_id=9)
        assert await services.fleet.account_equity(user.id) == D("2500")
        balance = await services.engine.venue.account(user.id).fetch_balance()
        assert balance.total("USDT") == D("2500")
    finally:
        await services.close()


# ---- no exchange call inside a database write


@SQLITE
async def test_a_slow_exchange_never_delays_another_accounts_writes(
    database: Database, fleet, accounts
) -> None:  # type: ignore[no-untyped-def]
    """Before, a live user's Start held SQLite's one write lock while the capital check fetched balances
    and tickers (another writer waited 1.47 s behind one Start, up to ~40 s with retries)."""
    from bot.engine_service import EngineService
    from engine.venues.paper.venue import PaperVenue

    slow_user = await accounts.register(telegram_id=31, chat_id=31)
    other = await accounts.register(telegram_id=32, chat_id=32)
    engine = EngineService(database, fleet, venue=PaperVenue(database))
    real_equity = engine.equity

    async def slow_equity(user_id: int, venue: str) -> D:
        if user_id == slow_user.id:
            await asyncio.sleep(1.0)  # an exchange that takes a second to answer
        return await real_equity(user_id, venue)

    fleet.equity = slow_equity
    created = await fleet.create_grid_bot(
        slow_user.id, name="slow", symbol="BTCUSDT", allocation_percent="20", lower_price="100000",
        upper_price="110000", grid_count=10, total_investment="1000",
    )  # fmt: skip
    starting = asyncio.create_task(fleet.start(slow_user.id, created.bot.id))
    await asyncio.sleep(0.2)  # the start is waiting for the exchange
    began = time.monotonic()
    await accounts.set_language(other.id, "ko")  # another account's write
    assert time.monotonic() - began < 0.5
    assert (await starting).is_running
    await engine.shutdown()


# ---- feeds that survive errors


async def test_the_live_price_feed_survives_a_failing_sink() -> None:
    """Before, the live feed died for good on the first sink error ("database is locked")."""

    class _Client:
        async def fetch_ticker(self, symbol: str):  # type: ignore[no-untyped-def]
            return {"last": 100.0, "timestamp": 1}

    calls: list[int] = []

    async def sink(symbol, price, ts, *, cursor=None):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) <= 2:
            raise RuntimeError("database is locked")

    feed = LivePriceFeed(_Client(), ["BTC/USDT"], interval=0.01, sink=sink)
    task = feed.start()
    for _ in range(300):
        await asyncio.sleep(0.01)
        if len(calls) >= 4:
            break
    assert len(calls) >= 4 and not task.done()
    await feed.stop()
