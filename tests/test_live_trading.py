"""A user in live mode trades on their own exchange account: a grid bot's tick goes through real ccxt,
signed with the user's decrypted keys, to a local fake Bitget server (tests/fake_bitget.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from bot.engine_service import EngineService
from bot.services.accounts import Accounts
from bot.services.errors import BotsOnVenue
from bot.services.fleet import Fleet
from db.models import BotInstance, User
from db.session import Database
from engine.venues.live.accounts import LiveAccounts
from engine.venues.live.credentials import CredentialCipher
from engine.venues.live.errors import RetryPolicy
from engine.venues.live.registry import CcxtExchangeRegistry
from engine.venues.paper.venue import PaperVenue
from tests.fake_bitget import FakeBitget

KEY, SECRET, PASSPHRASE = "bg_live_key_0001", "live-secret-0001", "live-pass"


@pytest.fixture(params=["classic", "uta"])
def kind(request: pytest.FixtureRequest) -> str:
    """Both kinds of Bitget account: classic (API v2) and unified (UTA, API v3)."""
    return request.param


@pytest.fixture
async def fake(kind: str) -> AsyncIterator[FakeBitget]:
    server = FakeBitget(timeout_delay=0.6)
    await server.start()
    server.add_account(KEY, SECRET, PASSPHRASE, spot={"USDT": "10000"}, futures_usdt="10000", kind=kind)
    yield server
    await server.close()


@pytest.fixture
async def live(fake: FakeBitget, cipher: CredentialCipher) -> AsyncIterator[LiveAccounts]:
    registry = CcxtExchangeRegistry(
        retry=RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.1, jitter=0),
        timeout_ms=2000,
        api_base_url=fake.url,
        ccxt_options={"rateLimit": 1, "timeout_on_exit": 0},
    )
    accounts = LiveAccounts(registry, cipher)
    yield accounts
    await accounts.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_live_grid_bot_places_its_orders_on_the_users_exchange(
    database: Database, fleet: Fleet, accounts: Accounts, live: LiveAccounts, fake: FakeBitget, kind: str
) -> None:
    engine = EngineService(database, fleet, venue=PaperVenue(database), live_exchange_for=live.exchange_for)
    fleet.equity = engine.equity
    user = await accounts.register(telegram_id=77, chat_id=77)
    await accounts.set_api_keys(user.id, api_key=KEY, secret=SECRET, passphrase=PASSPHRASE)
    await accounts.set_trading_mode(user.id, "live")
    bot = (
        await fleet.create_grid_bot(
            user.id,
            name="live grid",
            symbol="BTCUSDT",
            allocation_percent="20",
            lower_price="70000",
            upper_price="80000",
            grid_count=10,
            total_investment="1000",
        )
    ).bot
    # equity comes from the exchange (DESIGN.md: spot USDT + coins + futures equity): 10,000 USDT on spot
    # and 10,000 on futures (a unified account's one wallet holds both, counted once), 20 % of it >= 1,000
    assert await fleet.account_equity(user.id) == Decimal("20000")
    await fleet.start(user.id, bot.id)

    await engine.run_tick(bot.id)
    assert (await fleet.get_bot(user.id, bot.id)).last_error is None

    trade = "/api/v2/spot/trade/" if kind == "classic" else "/api/v3/trade/"
    sent = [r for r in fake.requests if r.path.startswith(trade)]
    assert sent, "no order reached the exchange"
    assert all(r.headers["ACCESS-KEY"] == KEY for r in sent)  # signed with the user's own key
    orders = list(fake.accounts[KEY].orders.values())
    buys = [o for o in orders if o.side == "buy" and o.order_type == "limit"]
    sells = [o for o in orders if o.side == "sell"]
    markets = [o for o in orders if o.order_type == "market"]
    # the recorded BTCUSDT spot price is 73,369.13: intervals 0..3 rest as buys at 70,000..73,000;
    # intervals 4..9 (buy lines at or above the price) are bought in ONE market order and sell at
    # 75,000..80,000
    assert sorted(o.price for o in buys) == [Decimal(p) for p in range(70_000, 74_000, 1000)]
    assert len(markets) == 1 and markets[0].status == "filled"
    assert sorted(o.price for o in sells) == [Decimal(p) for p in range(75_000, 81_000, 1000)]
    assert all(o.status == "live" for o in buys + sells)
    assert len({o.client_oid for o in orders}) == len(orders)

    await engine.run_tick(bot.id)  # a second tick reconciles and places nothing twice
    assert len(fake.accounts[KEY].orders) == len(orders)
    await engine.shutdown()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_switch_of_mode_never_moves_a_bot_and_is_refused_while_bots_run_on_the_old_venue(
    database: Database, fleet: Fleet, accounts: Accounts, live: LiveAccounts, fake: FakeBitget
) -> None:
    """Before, a switch from paper to live moved running bots to the user's real account on their next
    tick (their whole grid placed again with real money, the paper orders orphaned). A bot now trades
    on the venue it was started on; the chat's own prices and trades follow the user's mode."""
    venue = PaperVenue(database)
    engine = EngineService(database, fleet, venue=venue, live_exchange_for=live.exchange_for, mode_ttl=3600)
    accounts.watchers.append(engine.user_seen)  # as bot/app.py wires it
    user = await accounts.register(telegram_id=78, chat_id=78)
    assert await engine.user_exchange(user.id) is venue.account(user.id)
    await accounts.set_api_keys(user.id, api_key=KEY, secret=SECRET, passphrase=PASSPHRASE)
    paper_bot = (
        await fleet.create_grid_bot(
            user.id, name="paper grid", symbol="BTCUSDT", allocation_percent="20", lower_price="70000",
            upper_price="80000", grid_count=10, total_investment="1000",
        )
    ).bot  # fmt: skip
    await fleet.start(user.id, paper_bot.id)
    assert (await fleet.get_bot(user.id, paper_bot.id)).venue == "paper"
    with pytest.raises(BotsOnVenue) as refused:
        await accounts.set_trading_mode(user.id, "live")
    assert refused.value.names == ["paper grid"]
    await fleet.stop(user.id, paper_bot.id)  # the engine carries the stop out on paper at once
    await accounts.set_trading_mode(user.id, "live")
    assert await engine.user_exchange(user.id) is not venue.account(user.id)
    assert await engine.exchange_for(user.id, "paper") is venue.account(user.id)  # a binding is kept
    assert [r.path for r in fake.requests if "place" in r.path] == []  # nothing reached the real account
    with pytest.raises(BotsOnVenue):  # keys are not replaced under a live bot either
        live_bot = (
            await fleet.create_trend_bot(user.id, name="live trend", symbol="ETHUSDT", allocation_percent="5")
        ).bot
        async with database.write() as session:  # as if started on the live account
            bot_row = await session.get(BotInstance, live_bot.id)
            assert bot_row is not None
            bot_row.is_running, bot_row.venue = True, "live"
        await accounts.set_api_keys(user.id, api_key="other", secret="x", passphrase="y")
    await engine.shutdown()


@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
async def test_trading_modes_asked_at_once_are_read_together_and_again_after_their_ttl(
    database: Database, fleet: Fleet, accounts: Accounts, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Thousands of bots resuming at once ask for their owners' modes together: one read, not one per
    tick. A change made elsewhere (another process: the accounts service here does not tell the engine)
    applies once the mode's time to live has passed."""
    live_exchange = object()

    async def user_exchange(user: User, demo: bool):  # type: ignore[no-untyped-def]
        return live_exchange

    venue = PaperVenue(database)
    engine = EngineService(database, fleet, venue=venue, live_exchange_for=user_exchange, mode_ttl=0.3)
    users = [await accounts.register(telegram_id=900 + k, chat_id=900 + k) for k in range(30)]
    await accounts.set_api_keys(users[0].id, api_key=KEY, secret=SECRET, passphrase=PASSPHRASE)
    await accounts.set_trading_mode(users[0].id, "live")
    reads = 0
    real_read = database.read

    def counting_read():  # type: ignore[no-untyped-def]
        nonlocal reads
        reads += 1
        return real_read()

    monkeypatch.setattr(database, "read", counting_read)
    exchanges = await asyncio.gather(*(engine.user_exchange(u.id) for u in users for _ in range(3)))
    assert exchanges[:3] == [live_exchange] * 3
    assert exchanges[3:] == [venue.account(u.id) for u in users[1:] for _ in range(3)]
    assert reads == 1 + 3  # the modes in one query; then the live user's row for each of its exchanges
    await accounts.set_trading_mode(users[0].id, "paper")  # not told: as if by another process
    assert await engine.user_exchange(users[0].id) is live_exchange  # within the time to live
    await asyncio.sleep(0.35)
    assert await engine.user_exchange(users[0].id) is venue.account(users[0].id)
    await engine.shutdown()
