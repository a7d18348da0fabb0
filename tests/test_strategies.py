"""Strategies: the built-in rows come from a migration; a user saves tuned copies that only they see."""

from __future__ import annotations

import pytest

from bot.services.dto import UserDTO
from bot.services.errors import NameTaken, NotFound, ValidationError
from bot.services.fleet import Fleet
from bot.services.strategies import Strategies
from db.session import Database
from engine.trend.strategies import BUILTIN_STRATEGIES, StrategyDef


@pytest.fixture
def strategies(database: Database) -> Strategies:
    return Strategies(database)


async def test_builtins_are_seeded_and_match_the_engine(strategies: Strategies, alice: UserDTO) -> None:
    listed = await strategies.list_for(alice.id)
    assert [s.name for s in listed] == sorted(s.name for s in BUILTIN_STRATEGIES)
    for row in listed:
        assert row.is_builtin
        assert row.definition() == next(s for s in BUILTIN_STRATEGIES if s.name == row.name)


async def test_a_saved_copy_is_the_owners_only(
    strategies: Strategies, fleet: Fleet, alice: UserDTO, bob: UserDTO
) -> None:
    base = await strategies.by_name(alice.id, "conservative")
    mine = await strategies.save_copy(
        alice.id,
        base.id,
        name="slow and steady",
        overrides={"ema_fast": "10", "stop_loss_percent": "2.5", "leverage": "3", "timeframe": "1h"},
    )
    assert (mine.params["ema_fast"], mine.timeframe) == (10, "1h")
    assert mine.params["risk"]["stop_loss_percent"] == "2.5" and mine.params["risk"]["leverage"] == 3
    assert mine.definition().params["ema_slow"] == base.params["ema_slow"]
    assert "slow and steady" in [s.name for s in await strategies.list_for(alice.id)]
    assert "slow and steady" not in [s.name for s in await strategies.list_for(bob.id)]
    with pytest.raises(NotFound):
        await strategies.get(bob.id, mine.id)
    with pytest.raises(NotFound):
        await fleet.create_trend_bot(
            bob.id, name="thief", symbol="BTCUSDT", allocation_percent="5", strategy_id=mine.id
        )
    bot = (
        await fleet.create_trend_bot(
            alice.id, name="uses it", symbol="BTCUSDT", allocation_percent="5", strategy_id=mine.id
        )
    ).bot
    assert bot.strategy_id == mine.id
    with pytest.raises(NameTaken):
        await strategies.save_copy(alice.id, base.id, name="slow and steady")


@pytest.mark.parametrize(
    "overrides",
    [
        {"nonsense": "1"},
        {"ema_fast": "-3"},
        {"ema_fast": "abc"},
        {"leverage": "101"},
        {"timeframe": "7m"},
        {"stop_loss_percent": "100"},
        {"risk": "1"},
    ],
)
async def test_bad_overrides_change_nothing(
    strategies: Strategies, alice: UserDTO, overrides: dict[str, str]
) -> None:
    base = await strategies.by_name(alice.id, "conservative")
    with pytest.raises(ValidationError):
        await strategies.save_copy(alice.id, base.id, name="bad", overrides=overrides)
    assert all(s.is_builtin for s in await strategies.list_for(alice.id))


def test_definitions_round_trip_through_rows() -> None:
    for strategy in BUILTIN_STRATEGIES:
        assert StrategyDef.from_row(strategy.to_row()) == strategy
