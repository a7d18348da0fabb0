"""A live venue for tests: the engine service with real ccxt to a local fake Bitget (tests/fake_bitget.py),
a user whose keys open one of its accounts, and the ledger audit read through the same adapter."""

from __future__ import annotations

from decimal import Decimal as D

from bot.engine_service import EngineService
from bot.services.accounts import Accounts
from bot.services.fleet import Fleet
from db.models import User
from db.session import Database
from engine.venues.live.accounts import LiveAccounts
from engine.venues.live.credentials import CredentialCipher
from engine.venues.live.errors import RetryPolicy
from engine.venues.live.registry import CcxtExchangeRegistry
from engine.venues.live.streams import StreamSettings
from engine.venues.paper.venue import PaperVenue
from tests.ledger import audit


class Live:
    def __init__(
        self,
        database: Database,
        fleet: Fleet,
        accounts: Accounts,
        cipher: CredentialCipher,
        url: str,
        streams: StreamSettings | None = None,  # websocket streams (None: REST only)
    ):
        self.registry = CcxtExchangeRegistry(
            streams=streams,
            retry=RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.05, jitter=0),
            timeout_ms=2000,
            api_base_url=url,
            ccxt_options={"rateLimit": 1, "timeout_on_exit": 0},
        )
        self.live = LiveAccounts(self.registry, cipher)
        accounts.key_checker = self.registry.check_key
        self.registry.kind_listeners.append(accounts.account_kind_found)
        self.db, self.fleet, self.accounts = database, fleet, accounts
        self.engine = EngineService(
            database,
            fleet,
            venue=PaperVenue(database),
            live_exchange_for=self.live.exchange_for,
            stop_retry=(0.01, 0.05),
        )
        fleet.equity = self.engine.equity
        fleet.wallets = self.engine.wallets
        fleet.positions_for = self.engine.positions_for
        fleet.fee_rates_for = self.engine.fee_rates_for_user
        accounts.watchers.append(self.engine.user_seen)

    async def user(self, key: str, secret: str, passphrase: str, telegram_id: int = 4242) -> int:
        user = await self.accounts.register(telegram_id=telegram_id, chat_id=telegram_id)
        await self.accounts.set_api_keys(user.id, api_key=key, secret=secret, passphrase=passphrase)
        await self.accounts.set_trading_mode(user.id, "live")
        return user.id

    async def grid(self, user_id: int) -> int:
        # the recorded BTCUSDT price is 73,369.13: lines 70,000 .. 80,000; 4 buys rest, 6 bought at market
        created = await self.fleet.create_grid_bot(
            user_id, name="live grid", symbol="BTCUSDT", allocation_percent="20", lower_price="70000",
            upper_price="80000", grid_count=10, total_investment="1000",
        )  # fmt: skip
        await self.fleet.start(user_id, created.bot.id)
        await self.engine.run_tick(created.bot.id)
        return created.bot.id

    async def audit(self, user_id: int) -> list[str]:
        async with self.db.read() as session:
            user = await session.get(User, user_id)
        exchange = await self.live.exchange_for(user)  # type: ignore[arg-type]
        return await audit(self.db, exchange, user_id, start={"USDT": D("10000")})

    async def close(self) -> None:
        await self.engine.shutdown()
        await self.live.close()
