"""The fleet service on both databases: creating, reading, editing, running and deleting bots."""

from __future__ import annotations

from contextlib import asynccontextmanager
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from bot.services.dto import UserDTO
from bot.services.errors import (
    AlreadyRunning,
    NameTaken,
    NotFound,
    NotRunning,
    OppositeSides,
    OverAllocation,
    StillStopping,
    StopBotFirst,
    TooManyBots,
    ValidationError,
)
from bot.services.fleet import Fleet, GridTooSmall, InsufficientCapital, RiskLimits
from db.models import AlertOutbox, BotInstance, GridOrder
from db.session import Database
from engine.ports import HaltReport


async def _trend(fleet: Fleet, user: UserDTO, name: str = "trend", allocation: str = "10", **kw):  # type: ignore[no-untyped-def]
    return (
        await fleet.create_trend_bot(
            user.id, name=name, symbol="btc/usdt", allocation_percent=allocation, **kw
        )
    ).bot


async def _grid(fleet: Fleet, user: UserDTO, name: str = "grid", **kw):  # type: ignore[no-untyped-def]
    values = dict(
        name=name,
        symbol="BTCUSDT",
        allocation_percent="20",
        lower_price="60000",
        upper_price="70000",
        grid_count=10,
        total_investment="1000",
    )
    values.update(kw)
    return await fleet.create_grid_bot(user.id, **values)


async def _count(database: Database, model: type) -> int:
    async with database.read() as session:
        return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def test_create_trend_bot_and_the_free_share(fleet: Fleet, alice: UserDTO) -> None:
    change = await fleet.create_trend_bot(
        alice.id,
        name="  My  trend ",
        symbol="BTC/USDT:USDT",
        allocation_percent="12.5",
        risk=RiskLimits(
            max_leverage=5, max_positions=2, stop_loss_percent=Decimal("2"), take_profit_percent=Decimal("4")
        ),
    )
    bot = change.bot
    assert (bot.name, bot.symbol, bot.bot_type) == ("My trend", "BTCUSDT", "ai_trend")
    assert bot.allocation_percent == Decimal("12.5")
    assert (bot.max_leverage, bot.max_positions) == (5, 2)
    assert (bot.stop_loss_percent, bot.take_profit_percent) == (Decimal("2"), Decimal("4"))
    assert change.free_percent == Decimal("87.5")
    assert not bot.is_running and bot.is_active and bot.telegram_notify


async def test_create_grid_bot_writes_lines_and_pending_rows(
    fleet: Fleet, alice: UserDTO, database: Database
) -> None:
    change = await _grid(fleet, alice)
    grid = change.bot.grid
    assert grid is not None
    # arithmetic: 60000 + k * (70000 - 60000) / 10, k = 0..10
    assert grid.lines == tuple(Decimal(60000 + 1000 * k) for k in range(11))
    assert grid.per_grid_amount == Decimal("100")  # 1000 / 10
    assert [i.status for i in grid.intervals] == ["pending"] * 10
    assert [(i.buy_price, i.sell_price) for i in grid.intervals][:2] == [
        (Decimal(60000), Decimal(61000)),
        (Decimal(61000), Decimal(62000)),
    ]
    async with database.read() as session:
        rows = (await session.execute(select(GridOrder).order_by(GridOrder.grid_index))).scalars().all()
    assert [r.grid_index for r in rows] == list(range(10))
    # quantity of interval 0 = 100 / 60000 rounded down to the 0.000001 lot step
    assert rows[0].qty == Decimal("0.001666")
    assert change.free_percent == Decimal(80)


async def test_geometric_grid_has_equal_ratios(fleet: Fleet, alice: UserDTO) -> None:
    grid = (
        await _grid(
            fleet, alice, lower_price="1000", upper_price="16000", grid_count=4, grid_mode="geometric"
        )
    ).bot.grid
    # 1000 * 16^(k/4) = 1000, 2000, 4000, 8000, 16000
    assert grid.lines == (Decimal(1000), Decimal(2000), Decimal(4000), Decimal(8000), Decimal(16000))


async def test_grid_under_the_exchange_minimum_is_refused_with_the_minimum(
    fleet: Fleet, alice: UserDTO, database: Database
) -> None:
    with pytest.raises(GridTooSmall) as err:
        await _grid(fleet, alice, total_investment="5", grid_count=10)
    # 10 intervals of at least 1 USDT each (Bitget's spot minimum) need at least 10 USDT
    assert err.value.min_investment >= Decimal(10)
    assert await _count(database, BotInstance) == 0
    assert (await _grid(fleet, alice, total_investment=str(err.value.min_investment))).bot.grid is not None


async def test_unknown_symbol_is_refused(fleet: Fleet, alice: UserDTO) -> None:
    with pytest.raises(ValidationError) as err:
        await fleet.create_trend_bot(alice.id, name="x", symbol="NOPEUSDT", allocation_percent="5")
    assert err.value.field == "symbol"


async def test_over_allocation_is_refused_and_says_what_is_free(
    fleet: Fleet, alice: UserDTO, database: Database
) -> None:
    await _trend(fleet, alice, "a", "60")
    await _trend(fleet, alice, "b", "39.99")
    with pytest.raises(OverAllocation) as err:
        await _trend(fleet, alice, "c", "0.02")
    assert err.value.free == Decimal("0.01")
    bot = await _trend(fleet, alice, "c", "0.01")
    assert (await fleet.allocation(alice.id)).free_percent == Decimal(0)
    assert bot.allocation_percent == Decimal("0.01")
    assert await _count(database, BotInstance) == 3


async def test_set_allocation_counts_everything_but_the_bot_itself(fleet: Fleet, alice: UserDTO) -> None:
    a = await _trend(fleet, alice, "a", "50")
    await _trend(fleet, alice, "b", "30")
    change = await fleet.set_allocation(alice.id, a.id, "70")
    assert change.bot.allocation_percent == Decimal(70)
    assert change.free_percent == Decimal(0)
    with pytest.raises(OverAllocation) as err:
        await fleet.set_allocation(alice.id, a.id, "70.01")
    assert err.value.free == Decimal(70)
    assert (await fleet.get_bot(alice.id, a.id)).allocation_percent == Decimal(70)


async def test_names_are_unique_among_active_bots_and_freed_by_delete(
    fleet: Fleet, alice: UserDTO, bob: UserDTO
) -> None:
    first = await _trend(fleet, alice, "same")
    with pytest.raises(NameTaken):
        await _trend(fleet, alice, "same")
    await _trend(fleet, bob, "same")  # another user's names are theirs
    other = await _trend(fleet, alice, "other")
    with pytest.raises(NameTaken):
        await fleet.rename(alice.id, other.id, "same")
    await fleet.delete(alice.id, first.id)
    again = await _trend(fleet, alice, "same")
    assert again.name == "same" and again.id != first.id
    renamed = await fleet.rename(alice.id, other.id, "fresh name")
    assert renamed.name == "fresh name"


async def test_too_many_bots(database: Database, alice: UserDTO) -> None:
    fleet = Fleet(database, max_bots_per_user=3)
    for i in range(3):
        await _trend(fleet, alice, f"b{i}", "1")
    with pytest.raises(TooManyBots):
        await _trend(fleet, alice, "b3", "1")


class _Engine:
    """What the engine service does for the fleet, with a venue that holds nothing of the bots: a stop
    is confirmed at once."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.events: list[tuple[str, int]] = []

    async def bot_started(self, bot) -> None:  # type: ignore[no-untyped-def]
        self.events.append(("started", bot.id))

    async def bot_stopping(self, bot) -> None:  # type: ignore[no-untyped-def]
        self.events.append(("stopping", bot.id))
        await self.fleet.complete_stop(bot.id, HaltReport())

    async def bot_edited(self, bot) -> None:  # type: ignore[no-untyped-def]
        self.events.append(("edited", bot.id))


async def test_start_stop_and_their_alerts(fleet: Fleet, alice: UserDTO, database: Database) -> None:
    bot = await _trend(fleet, alice)
    started = await fleet.start(alice.id, bot.id)
    assert started.is_running and started.last_started_at is not None and started.venue == "paper"
    with pytest.raises(AlreadyRunning):
        await fleet.start(alice.id, bot.id)
    # without an engine to carry it out, a stop is a state: the bot no longer runs, and is stopping
    stopping = await fleet.stop(alice.id, bot.id)
    assert not stopping.is_running and stopping.stopping and stopping.last_stopped_at is None
    with pytest.raises(StillStopping):
        await fleet.start(alice.id, bot.id)
    again = await fleet.stop(alice.id, bot.id)  # asking again is fine: it is still stopping
    assert again.stopping
    done = await fleet.complete_stop(bot.id, HaltReport(cancelled=2))  # the engine: the venue confirmed
    assert done is not None and not done.stopping and done.last_stopped_at >= started.last_started_at
    with pytest.raises(NotRunning):
        await fleet.stop(alice.id, bot.id)
    async with database.read() as session:
        rows = (await session.execute(select(AlertOutbox).order_by(AlertOutbox.id))).scalars().all()
    assert [r.kind for r in rows] == ["bot_started", "bot_stopped"]
    assert rows[1].payload["cancelled"] == 2 and rows[1].chat_id == alice.telegram_id


async def test_notifications_off_writes_no_alerts(fleet: Fleet, alice: UserDTO, database: Database) -> None:
    bot = await _trend(fleet, alice)
    assert not (await fleet.set_notify(alice.id, bot.id, False)).telegram_notify
    await fleet.start(alice.id, bot.id)
    await fleet.stop(alice.id, bot.id)
    assert await _count(database, AlertOutbox) == 0


async def test_edits_that_are_unsafe_while_running_need_a_stop(fleet: Fleet, alice: UserDTO) -> None:
    bot = await _trend(fleet, alice)
    await fleet.start(alice.id, bot.id)
    with pytest.raises(StopBotFirst):
        await fleet.set_allocation(alice.id, bot.id, "20")
    with pytest.raises(StopBotFirst):
        await fleet.set_risk(alice.id, bot.id, max_leverage=3)
    # name, notifications, SL and TP are safe while running
    edited = await fleet.set_risk(alice.id, bot.id, stop_loss_percent="3.5", take_profit_percent="7")
    assert (edited.stop_loss_percent, edited.take_profit_percent) == (Decimal("3.5"), Decimal("7"))
    assert (await fleet.rename(alice.id, bot.id, "renamed")).name == "renamed"
    await fleet.stop(alice.id, bot.id)
    edited = await fleet.set_risk(alice.id, bot.id, max_leverage=3, max_positions=20)
    assert (edited.max_leverage, edited.max_positions) == (3, 20)


async def test_invalid_risk_changes_nothing(fleet: Fleet, alice: UserDTO) -> None:
    bot = await _trend(fleet, alice)
    with pytest.raises(ValidationError):
        await fleet.set_risk(alice.id, bot.id, max_leverage=101, stop_loss_percent="3")
    assert await fleet.get_bot(alice.id, bot.id) == bot


async def test_leverage_cap_setting(database: Database, alice: UserDTO) -> None:
    fleet = Fleet(database, max_leverage=20)
    with pytest.raises(ValidationError):
        await _trend(fleet, alice, risk=RiskLimits(max_leverage=21))
    assert (await _trend(fleet, alice, risk=RiskLimits(max_leverage=20))).max_leverage == 20


async def test_delete_stops_a_running_bot_and_frees_its_share_once_the_stop_is_done(
    fleet: Fleet, alice: UserDTO
) -> None:
    bot = await _trend(fleet, alice, allocation="40")
    await fleet.start(alice.id, bot.id)
    summary = await fleet.delete(alice.id, bot.id)
    # no engine confirmed the stop yet: the bot (and its share) stay until it holds nothing
    assert summary.free_percent == Decimal(60) and (await fleet.get_bot(alice.id, bot.id)).delete_requested
    await fleet.complete_stop(bot.id, HaltReport(positions_closed=1))
    summary = await fleet.allocation(alice.id)
    assert summary.free_percent == Decimal(100) and summary.shares == ()
    with pytest.raises(NotFound):
        await fleet.get_bot(alice.id, bot.id)
    assert await fleet.list_bots(alice.id) == []


async def test_stop_all_is_a_kill_switch(fleet: Fleet, alice: UserDTO, bob: UserDTO) -> None:
    fleet.listeners.append(_Engine(fleet))
    bots = [await _grid(fleet, alice, f"b{i}", allocation_percent="10") for i in range(4)]
    bots = [b.bot for b in bots]
    bobs = await _trend(fleet, bob, "bobs", "5")
    for b in bots[:3]:
        await fleet.start(alice.id, b.id)
    await fleet.start(bob.id, bobs.id)
    stopped = await fleet.stop_all(alice.id)
    assert sorted(b.id for b in stopped) == sorted(b.id for b in bots[:3])
    assert not any(b.is_running for b in await fleet.list_bots(alice.id))
    assert (await fleet.get_bot(bob.id, bobs.id)).is_running


async def test_grid_start_needs_the_capital_in_its_allocation(fleet: Fleet, alice: UserDTO) -> None:
    # paper balance 10,000 USDT; 5 % of it is 500, less than the 1,000 the grid invests
    bot = (await _grid(fleet, alice, allocation_percent="5")).bot
    with pytest.raises(InsufficientCapital):
        await fleet.start(alice.id, bot.id)
    await fleet.set_allocation(alice.id, bot.id, "10")
    assert (await fleet.start(alice.id, bot.id)).is_running


async def test_listeners_hear_committed_starts_stops_and_edits(fleet: Fleet, alice: UserDTO) -> None:
    engine = _Engine(fleet)
    fleet.listeners.append(engine)
    bot = await _trend(fleet, alice)
    await fleet.start(alice.id, bot.id)
    with pytest.raises(AlreadyRunning):
        await fleet.start(alice.id, bot.id)
    await fleet.set_risk(alice.id, bot.id, stop_loss_percent="3")  # a running bot's exits follow it
    await fleet.delete(alice.id, bot.id)
    assert engine.events == [("started", bot.id), ("edited", bot.id), ("stopping", bot.id)]
    assert (await fleet.allocation(alice.id)).shares == ()  # the stop was confirmed: released


async def test_two_trend_bots_on_one_perpetual_cannot_both_run(fleet: Fleet, alice: UserDTO) -> None:
    """One-way mode nets one user's positions on a perpetual: an exit of one bot would fill against
    the other's position (before, +39.40 USDT of invented profit in an independent probe)."""
    first, second = await _trend(fleet, alice, "one"), await _trend(fleet, alice, "two")
    await fleet.start(alice.id, first.id)
    with pytest.raises(OppositeSides):
        await fleet.start(alice.id, second.id)
    other = (await fleet.create_trend_bot(alice.id, name="eth", symbol="ETHUSDT", allocation_percent="5")).bot
    assert (await fleet.start(alice.id, other.id)).is_running  # another symbol is fine


async def test_a_range_too_narrow_for_the_tick_is_refused(
    fleet: Fleet, alice: UserDTO, database: Database
) -> None:
    # 100 intervals between 100.00 and 100.50 would need lines 0.005 apart; BTCUSDT's tick is 0.01
    with pytest.raises(ValidationError) as err:
        await _grid(
            fleet, alice, lower_price="100", upper_price="100.5", grid_count=100, total_investment="100000"
        )
    assert err.value.field == "grid_count"
    assert await _count(database, BotInstance) == 0


async def test_account_equity_is_the_paper_balance_by_default(fleet: Fleet, alice: UserDTO) -> None:
    assert await fleet.account_equity(alice.id) == Decimal("10000")
    with pytest.raises(NotFound):
        await fleet.account_equity(10**9)


async def test_the_view_cache_never_shows_a_stale_bot(database: Database, alice: UserDTO) -> None:
    fleet = Fleet(database, view_cache=True)
    bot = await _trend(fleet, alice, "cached", "10")
    first, _ = await fleet.overview(alice.id)
    assert first[0].total_pnl == Decimal(0)
    # the engine writes a bot's stats outside the service, then says so (EngineService after each tick)
    async with database.write() as session:
        await session.execute(
            BotInstance.__table__.update()
            .where(BotInstance.id == bot.id)
            .values(total_pnl="12.5", total_trades=3)
        )
    fleet.bot_changed(bot.id)
    (after, _), (card, _) = await fleet.overview(alice.id), await fleet.card(alice.id, bot.id)
    assert after[0].total_pnl == card.total_pnl == Decimal("12.5")
    # every write of the service drops the view
    await fleet.set_allocation(alice.id, bot.id, "30")
    assert (await fleet.overview(alice.id))[0][0].allocation_percent == Decimal(30)
    assert (await fleet.card(alice.id, bot.id))[1].free_percent == Decimal(70)
    await fleet.start(alice.id, bot.id)
    assert (await fleet.card(alice.id, bot.id))[0].is_running


async def test_a_write_during_a_read_is_not_hidden_by_the_cache(database: Database, alice: UserDTO) -> None:
    fleet = Fleet(database, view_cache=True)
    bot = await _trend(fleet, alice, "racy", "10")
    real_read = database.read

    @asynccontextmanager
    async def read_then_a_write_lands():  # type: ignore[no-untyped-def]
        async with real_read() as session:
            yield session  # the view's SELECT sees allocation 10 ...
        database.read = real_read  # type: ignore[method-assign]
        await fleet.set_allocation(alice.id, bot.id, "40")  # ... and a write commits before it is kept

    database.read = read_then_a_write_lands  # type: ignore[method-assign]
    stale, _ = await fleet.overview(alice.id)
    assert stale[0].allocation_percent == Decimal(10)  # that answer was right when it was read
    assert (await fleet.overview(alice.id))[0][0].allocation_percent == Decimal(40)  # but not kept
