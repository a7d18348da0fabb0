"""Random sequences of what a trader and a market do to a user's bots, then the audit of invariant 7
(tests/ledger.py) after every step: used by tests/test_invariant_audit.py (a few hundred sequences in
the suite) and bench/invariant_soak.py (a longer soak).

A sequence creates, starts, stops (keeping or closing), stops all, deletes (keeping or selling) and
edits grid bots of one user, switches paper <-> live and clears and re-enters the keys (each refused
while bots are bound to the old venue or account: the audit checks a switch that went through left
nothing running there, and that no bot ever moves to another venue); the market moves (the paper venue walks real 1-minute candles; on the fake
Bitget resting orders fill at their price), orders fill in part, the user cancels an order on the
exchange, the process restarts, and the exchange fails: cancels that do not take, answers that are
lost after the order was placed, 5xx and 429 answers. Everything goes through the engine service and
the fleet as the app runs them.
"""

from __future__ import annotations

import asyncio
import random
import shutil
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal as D
from pathlib import Path
from typing import Any

from bot.engine_service import EngineService
from bot.services.accounts import Accounts
from bot.services.errors import DomainError
from bot.services.fleet import Fleet
from db.session import Database
from engine.exchange import ExchangeError, TemporaryExchangeError
from engine.market_data.candles import load_candles, walk_points
from engine.market_data.feeds import DATA_DIR
from engine.venues.live.accounts import LiveAccounts
from engine.venues.live.credentials import CredentialCipher
from engine.venues.live.errors import RetryPolicy
from engine.venues.live.registry import CcxtExchangeRegistry
from engine.venues.paper.venue import PaperVenue
from tests.ledger import audit

BTC = "BTC/USDT"
CANDLES = load_candles(DATA_DIR / "btcusdt_1m_sample.csv.gz")
START = {"USDT": D("10000")}
LOT = D("0.000001")  # BTC/USDT's lot step, on the paper venue and the fake Bitget
OPS = {  # what a step does, and how often
    "move": 8,
    "create": 2,
    "start": 3,
    "stop": 3,
    "stop_all": 1,
    "delete": 1,
    "edit": 1,
    "partial": 3,
    "external_cancel": 1,
    "fail_cancels": 1,
    "lose_answers": 1,
    "fail_requests": 1,
    "restart": 1,
    "retry_stops": 2,
    "switch_mode": 1,
    "change_keys": 1,
}


@dataclass
class Stats:
    sequences: int = 0
    steps: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    fills: int = 0
    partial_fills: int = 0
    failures_injected: int = 0
    violations: list[str] = field(default_factory=list)

    def add(self, other: Stats) -> None:
        self.sequences += other.sequences
        self.steps += other.steps
        self.actions.update(other.actions)
        self.fills += other.fills
        self.partial_fills += other.partial_fills
        self.failures_injected += other.failures_injected
        self.violations += other.violations


class Faults:
    """An exchange account whose calls fail as planned: cancels that do not take, answers lost after
    the exchange did the work, requests that fail before it."""

    def __init__(self) -> None:
        self.cancels_ignored = 0
        self.answers_lost = 0
        self.requests_failed = 0

    def wrap(self, inner: Any) -> Any:
        return _Faulty(inner, self)


class _Faulty:
    def __init__(self, inner: Any, faults: Faults) -> None:
        self._inner, self._faults = inner, faults

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if not asyncio.iscoroutinefunction(value):
            return value
        faults = self._faults

        async def call(*args: Any, **kwargs: Any) -> Any:
            if faults.requests_failed and name not in ("load_markets",):
                faults.requests_failed -= 1
                raise TemporaryExchangeError(f"{name}: 503 Service Unavailable")
            if name == "cancel_orders" and faults.cancels_ignored:
                faults.cancels_ignored -= 1
                return []  # the exchange answered, but cancelled nothing
            result = await value(*args, **kwargs)
            if name in ("create_orders", "create_order") and faults.answers_lost:
                faults.answers_lost -= 1
                raise TemporaryExchangeError(f"{name}: the answer was lost")  # placed all the same
            return result

        return call


class Gate:
    """Lets the audit see the state between two pieces of work: the engine's own ticks and stop tries
    (in the background) pass through `work`; `quiet` waits for those under way to end and holds new
    ones back while the audit reads."""

    def __init__(self) -> None:
        self.active = 0
        self.idle = asyncio.Event()
        self.idle.set()
        self.open = asyncio.Event()
        self.open.set()

    def wrap(self, call: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def gated(*args: Any) -> Any:
            await self.open.wait()
            self.active += 1
            self.idle.clear()
            try:
                return await call(*args)
            finally:
                self.active -= 1
                if not self.active:
                    self.idle.set()

        return gated

    async def quiet(self, read: Callable[[], Awaitable[Any]]) -> Any:
        self.open.clear()
        try:
            await self.idle.wait()
            return await read()
        finally:
            self.open.set()


class Sequence:
    """One random sequence on one venue (subclasses: paper, fake Bitget)."""

    def __init__(self, path: Path, seed: int, steps: int, *, background: bool = False) -> None:
        """`background`: the scheduler ticks the bots and stops are retried on their own, as in the
        app, besides the sequence's own ticks (timing decides what interleaves); without it only the
        sequence ticks and retries, so a seed replays the same steps."""
        self.path, self.rng, self.steps = path, random.Random(seed), steps
        self.background = background
        self.stats = Stats(sequences=1)
        self.faults = Faults()
        self.db = Database(f"sqlite+aiosqlite:///{path}")
        self.fleet = Fleet(self.db)
        self.cipher = CredentialCipher(b"3JH2nX0d6Hc1m5Qf0lqSOjFYz0yzS4xbD1iYSHkN1xk=")
        self.accounts = Accounts(self.db, self.cipher)
        self.engine: EngineService | None = None
        self.gate = Gate()
        self.user_id = 0
        self.telegram_id = 0
        self.made = 0
        self.bindings: dict[int, str] = {}  # bot id -> the venue it was first seen bound to
        self.broken: list[str] = []  # what an action let through that it must have refused

    # ---- what a venue provides

    async def make_engine(self) -> EngineService:
        raise NotImplementedError

    async def audit(self) -> list[str]:
        raise NotImplementedError

    async def move(self) -> None:
        raise NotImplementedError

    async def resting(self) -> list[Any]:
        """The user's resting limit orders (for partial fills and external cancels)."""
        raise NotImplementedError

    async def fill_part(self, order: Any) -> None:
        raise NotImplementedError

    async def cancel_elsewhere(self, order: Any) -> None:
        raise NotImplementedError

    def price(self) -> D:
        raise NotImplementedError

    async def close_venue(self) -> None:
        pass

    # ---- the sequence

    async def run(self) -> Stats:
        try:
            await self.setup()
            for step in range(self.steps):
                op = self.rng.choices(list(OPS), weights=list(OPS.values()))[0]
                self.stats.actions[op] += 1
                self.stats.steps += 1
                await getattr(self, f"op_{op}")()
                await self.tick_all()
                problems = await self.gate.quiet(self.audit_now)
                if problems:
                    self.stats.violations += [f"step {step} ({op}): {p}" for p in problems]
                    break
            await self.settle()
            self.stats.violations += [f"end: {p}" for p in await self.gate.quiet(self.audit_now)]
        finally:
            if self.engine is not None:
                await self.engine.shutdown()
            await self.close_venue()
            await self.db.dispose()
        return self.stats

    async def audit_now(self) -> list[str]:
        assert self.engine is not None
        await self.engine.grid.store.drain()
        await self.engine.venue.drain()
        problems, self.broken = self.broken, []
        for bot in await self._bots():  # a bot never moves to another venue (no start elsewhere here)
            if bot.venue is not None and self.bindings.setdefault(bot.id, bot.venue) != bot.venue:
                problems.append(f"bot {bot.name} moved from {self.bindings[bot.id]} to {bot.venue}")
        return problems + await self.audit()

    async def start_engine(self) -> None:
        self.engine = await self.make_engine()
        gated_tick = self.gate.wrap(self.engine.run_tick)
        self.engine.scheduler.tick = gated_tick
        self.engine._finish_stop = self.gate.wrap(self.engine._finish_stop)  # type: ignore[method-assign]
        await self.engine.start()

    async def setup(self) -> None:
        await self.start_engine()
        for _ in range(self.rng.randint(1, 2)):
            await self.op_create()

    async def settle(self) -> None:
        """The faults stop; every stop under way is carried out."""
        self.faults.cancels_ignored = self.faults.answers_lost = self.faults.requests_failed = 0
        assert self.engine is not None
        for bot in await self._bots():
            if bot.stopping:
                await self.engine._finish_stop(bot.id)
        await self.tick_all()

    async def tick_all(self, running: list[int] | None = None) -> None:
        assert self.engine is not None
        if running is None:
            running = [bot.id for bot in await self._bots() if bot.is_running]
        for bot_id in running:
            await self.engine.run_tick(bot_id)

    async def _bots(self) -> list[Any]:
        return await self.fleet.list_bots(self.user_id)

    async def _any_bot(self) -> Any | None:
        bots = await self._bots()
        return self.rng.choice(bots) if bots else None

    async def _quietly(self, action: Callable[[], Awaitable[Any]]) -> None:
        try:
            await action()
        except (DomainError, ExchangeError):
            pass  # a refusal (not running, too little capital, a failing exchange): the state must still hold

    async def op_move(self) -> None:
        await self.move()

    async def op_create(self) -> None:
        if len(await self._bots()) >= 3:
            return
        price = self.price()
        width = D(self.rng.choice(["0.003", "0.006", "0.012"]))
        lower = (price * (1 - width)).quantize(D("0.01"))
        upper = (price * (1 + width * D(self.rng.choice(["0.5", "1", "1.5"])))).quantize(D("0.01"))
        self.made += 1
        try:
            created = await self.fleet.create_grid_bot(
                self.user_id, name=f"g{self.made}", symbol="BTCUSDT", allocation_percent="15",
                lower_price=lower, upper_price=upper, grid_count=self.rng.choice([4, 6, 10]),
                total_investment=self.rng.choice(["400", "700", "1000"]),
            )  # fmt: skip
        except DomainError:
            return
        if self.rng.random() < 0.8:
            await self._quietly(lambda: self.fleet.start(self.user_id, created.bot.id))

    async def op_start(self) -> None:
        bot = await self._any_bot()
        if bot is not None:
            await self._quietly(lambda: self.fleet.start(self.user_id, bot.id))

    async def op_stop(self) -> None:
        bot = await self._any_bot()
        if bot is not None:
            holdings = self.rng.choice([None, "keep", "close"])
            await self._quietly(lambda: self.fleet.stop(self.user_id, bot.id, holdings=holdings))

    async def op_stop_all(self) -> None:
        await self._quietly(
            lambda: self.fleet.stop_all(self.user_id, holdings=self.rng.choice(["keep", "close"]))
        )

    async def op_delete(self) -> None:
        bot = await self._any_bot()
        if bot is not None:
            holdings = self.rng.choice(["keep", "close"])
            await self._quietly(lambda: self.fleet.delete(self.user_id, bot.id, holdings=holdings))

    async def op_edit(self) -> None:
        bot = await self._any_bot()
        if bot is not None:
            await self._quietly(lambda: self.fleet.rename(self.user_id, bot.id, f"{bot.name}e"[:40]))

    async def op_partial(self) -> None:
        resting = await self.resting()
        if resting:
            await self.fill_part(self.rng.choice(resting))
            self.stats.partial_fills += 1

    async def op_external_cancel(self) -> None:
        resting = await self.resting()
        if resting:
            await self.cancel_elsewhere(self.rng.choice(resting))

    async def op_fail_cancels(self) -> None:
        self.faults.cancels_ignored += self.rng.randint(1, 3)
        self.stats.failures_injected += 1

    async def op_lose_answers(self) -> None:
        self.faults.answers_lost += 1
        self.stats.failures_injected += 1

    async def op_fail_requests(self) -> None:
        self.faults.requests_failed += self.rng.randint(1, 2)
        self.stats.failures_injected += 1

    async def op_retry_stops(self) -> None:
        """The engine tries every stop under way again (what its retry loop does after a wait)."""
        assert self.engine is not None
        for bot in await self._bots():
            if bot.stopping:
                await self.engine._finish_stop(bot.id)

    async def op_switch_mode(self) -> None:
        """The user switches paper <-> live: refused while bots run or stop on the old venue; when it
        is allowed, nothing may still run there. They switch back at once (the audit stays on one venue)."""
        user = await self.accounts.get(self.telegram_id)
        back = user.trading_mode
        other = "paper" if back == "live" else "live"
        try:
            await self.accounts.set_trading_mode(self.user_id, other)
        except DomainError:
            return
        venue = ("demo" if user.demo_trading else "live") if other == "live" else "paper"
        busy = [b.name for b in await self._bots() if (b.is_running or b.stopping) and b.venue != venue]
        if busy:
            self.broken.append(f"switched to {other} while {busy} run on the old venue")
        await self.accounts.set_trading_mode(self.user_id, back)

    async def op_change_keys(self) -> None:
        """The user clears their keys (and enters them again): refused while a bot on the account
        they open runs, stops or holds anything."""

    def engine_timing(self) -> dict[str, Any]:
        if self.background:
            return {"interval": 0.05, "stop_retry": (0.01, 0.02)}
        return {"interval": 3600.0, "stop_retry": (3600.0, 3600.0)}

    async def op_restart(self) -> None:
        assert self.engine is not None
        await self.engine.shutdown()
        await self.start_engine()


class PaperSequence(Sequence):
    """On the paper venue (Bitget's fee model), its price walking the real candles."""

    def __init__(self, path: Path, seed: int, steps: int, *, background: bool = False) -> None:
        super().__init__(path, seed, steps, background=background)
        self.point = self.rng.randrange(0, len(CANDLES) - 400) * 4
        self.venue: PaperVenue | None = None

    async def setup(self) -> None:
        self.telegram_id = 100
        self.user_id = (await self.accounts.register(telegram_id=100, chat_id=100)).id
        await super().setup()

    async def make_engine(self) -> EngineService:
        self.venue = PaperVenue(self.db)  # a restart is a new venue, loaded from the database
        engine = EngineService(self.db, self.fleet, venue=self.venue, **self.engine_timing())
        real = engine.exchange_for

        async def faulty(user_id: int, venue: str) -> Any:
            return self.faults.wrap(await real(user_id, venue))

        engine.exchange_for = faulty  # type: ignore[method-assign]
        engine.grid.exchange_for = engine.trend.exchange_for = faulty
        self.fleet.listeners[:] = [engine]
        self.fleet.equity = engine.equity
        await self.venue.load()
        if not self.venue.last_price(BTC):
            await self._emit(self.point)
        return engine

    def price(self) -> D:
        assert self.venue is not None
        return self.venue.last_price(BTC) or CANDLES.price("open", self.point // 4)

    async def _emit(self, point: int) -> None:
        assert self.venue is not None
        k, step = divmod(point, 4)
        ts, o, h, lo, c = CANDLES.candle(k)
        filled = await self.venue.on_price(BTC, walk_points(o, h, lo, c)[step], ts)
        self.stats.fills += len(filled)

    async def move(self) -> None:
        running = [bot.id for bot in await self._bots() if bot.is_running]
        for _ in range(self.rng.randint(5, 60)):  # candles, the bots ticking once a candle
            for _ in range(4):
                self.point += 1
                await self._emit(self.point)
            await self.tick_all(running)

    async def resting(self) -> list[Any]:
        assert self.venue is not None
        return [
            o
            for o in self.venue.book.open_orders(self.user_id, BTC)
            if o.type == "limit" and o.remaining_qty > D("0.00002")
        ]

    async def fill_part(self, order: Any) -> None:
        assert self.venue is not None
        part = (order.remaining_qty * D(self.rng.choice(["0.2", "0.5", "0.7"]))).quantize(D("0.000001"))
        if part > 0:
            await self.venue.fill_partially(self.user_id, order.id, part)

    async def cancel_elsewhere(self, order: Any) -> None:
        assert self.venue is not None
        await self.venue.account(self.user_id).cancel_orders([order.id], BTC)

    async def audit(self) -> list[str]:
        assert self.venue is not None
        return await audit(self.db, self.venue.account(self.user_id), self.user_id, start=START)


class BitgetSequence(Sequence):
    """On the fake Bitget through real ccxt: resting orders fill at their price (the market moving),
    faults are the fake's own (503s, 429s, answers lost after the work)."""

    KEY, SECRET, PASSPHRASE = "bg_audit_key", "audit-secret", "audit-pass"

    def __init__(self, path: Path, seed: int, steps: int, fake: Any, *, background: bool = False) -> None:
        super().__init__(path, seed, steps, background=background)
        self.fake = fake
        self.account = fake.add_account(self.KEY, self.SECRET, self.PASSPHRASE, spot={"USDT": "10000"})
        self.live: LiveAccounts | None = None

    async def setup(self) -> None:
        user = await self.accounts.register(telegram_id=200, chat_id=200)
        await self.accounts.set_api_keys(
            user.id, api_key=self.KEY, secret=self.SECRET, passphrase=self.PASSPHRASE
        )
        await self.accounts.set_trading_mode(user.id, "live")
        self.user_id, self.telegram_id = user.id, 200
        await super().setup()

    async def op_change_keys(self) -> None:
        try:
            await self.accounts.clear_api_keys(self.user_id)
        except DomainError:
            return
        for bot in await self._bots():
            if bot.venue in ("live", "demo"):
                held = await self.fleet.holdings(self.user_id, bot.id)
                sellable = held.positions or held.coin >= LOT  # dust below the lot step is handed back
                if bot.is_running or bot.stopping or sellable:
                    self.broken.append(f"keys cleared while {bot.name} runs, stops or holds on them")
        await self.accounts.set_api_keys(
            self.user_id, api_key=self.KEY, secret=self.SECRET, passphrase=self.PASSPHRASE
        )
        await self.accounts.set_trading_mode(self.user_id, "live")

    async def make_engine(self) -> EngineService:
        if self.live is not None:
            await self.live.close()
        registry = CcxtExchangeRegistry(
            retry=RetryPolicy(attempts=2, base_delay=0.001, max_delay=0.01, jitter=0),
            timeout_ms=400,
            api_base_url=self.fake.url,
            ccxt_options={"rateLimit": 1, "timeout_on_exit": 0},
        )
        self.live = LiveAccounts(registry, self.cipher)
        engine = EngineService(
            self.db, self.fleet, venue=PaperVenue(self.db), live_exchange_for=self.live.exchange_for,
            **self.engine_timing(),
        )  # fmt: skip
        self.fleet.listeners[:] = [engine]
        self.fleet.equity = engine.equity
        self.accounts.watchers[:] = [engine.user_seen]
        return engine

    def price(self) -> D:
        return self.fake.books[("SPOT", "BTCUSDT")][1]

    async def move(self) -> None:
        """Some resting orders fill at their own price, as a market crossing them would."""
        for order in self.rng.sample(await self.resting(), k=min(2, len(await self.resting()))):
            self.fake.fill(self.KEY, order.order_id)
            self.stats.fills += 1

    async def resting(self) -> list[Any]:
        return [
            o
            for o in self.account.orders.values()
            if o.live and o.order_type == "limit" and o.size - o.filled > D("0.00002")
        ]

    async def fill_part(self, order: Any) -> None:
        part = ((order.size - order.filled) * D(self.rng.choice(["0.2", "0.5", "0.7"]))).quantize(
            D("0.000001")
        )
        if part > 0:
            self.fake.fill(self.KEY, order.order_id, part)

    async def cancel_elsewhere(self, order: Any) -> None:
        self.fake._cancel(self.account, order)

    async def op_fail_cancels(self) -> None:
        self.fake.inject(
            "/api/v2/spot/trade/batch-cancel-order", "server_error", times=self.rng.randint(1, 3)
        )
        self.stats.failures_injected += 1

    async def op_lose_answers(self) -> None:
        path = self.rng.choice(["/api/v2/spot/trade/batch-orders", "/api/v2/spot/trade/place-order"])
        self.fake.inject(path, "timeout", when="after")  # placed, but the answer comes too late
        self.stats.failures_injected += 1

    async def op_fail_requests(self) -> None:
        path = self.rng.choice(
            [
                "/api/v2/spot/trade/unfilled-orders",
                "/api/v2/spot/trade/orderInfo",
                "/api/v2/spot/market/tickers",
            ]
        )
        self.fake.inject(path, self.rng.choice(["server_error", "rate_limit"]), times=self.rng.randint(1, 2))
        self.stats.failures_injected += 1

    async def settle(self) -> None:
        self.fake._faults.clear()
        await super().settle()

    async def audit(self) -> list[str]:
        async with self.db.read() as session:
            from db.models import User

            user = await session.get(User, self.user_id)
        assert self.live is not None and user is not None
        saved = list(self.fake._faults)  # the audit reads the account without faults
        self.fake._faults.clear()
        try:
            return await audit(self.db, await self.live.exchange_for(user), self.user_id, start=START)
        finally:
            self.fake._faults[:0] = saved

    async def close_venue(self) -> None:
        if self.live is not None:
            await self.live.close()


def _background(seed: int) -> bool:
    """Every other sequence also has the engine tick and retry on its own, as in the app."""
    return seed % 2 == 1


def _named(stats: Stats, venue: str, seed: int) -> Stats:
    how = "background" if _background(seed) else "stepped"
    stats.violations = [f"{venue} seed {seed} ({how}): {v}" for v in stats.violations]
    return stats


async def run_paper(template: Path, work: Path, seeds: range, steps: int) -> Stats:
    total = Stats()
    for seed in seeds:
        path = work / f"paper-{seed}.db"
        shutil.copyfile(template, path)
        stats = await PaperSequence(path, seed, steps, background=_background(seed)).run()
        total.add(_named(stats, "paper", seed))
        path.unlink()
    return total


async def run_bitget(template: Path, work: Path, seeds: range, steps: int) -> Stats:
    from tests.fake_bitget import FakeBitget

    total = Stats()
    for seed in seeds:
        fake = FakeBitget(timeout_delay=0.5)  # a lost answer: longer than the client waits (0.4 s)
        await fake.start()
        try:
            path = work / f"bitget-{seed}.db"
            shutil.copyfile(template, path)
            stats = await BitgetSequence(path, seed, steps, fake, background=_background(seed)).run()
            total.add(_named(stats, "bitget", seed))
            path.unlink()
        finally:
            await fake.close()
    return total
