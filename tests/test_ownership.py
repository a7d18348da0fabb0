"""Invariant 2 at the service: another user's bot id can be neither read nor changed, and the answer
is the same "not found" a missing bot gets."""

from __future__ import annotations

import pytest

from bot.services.dto import UserDTO
from bot.services.errors import NotFound
from bot.services.fleet import Fleet


async def test_another_users_bot_is_invisible_and_untouchable(
    fleet: Fleet, alice: UserDTO, bob: UserDTO
) -> None:
    mine = (
        await fleet.create_trend_bot(alice.id, name="mine", symbol="BTCUSDT", allocation_percent="30")
    ).bot
    before = await fleet.get_bot(alice.id, mine.id)
    attempts = [
        fleet.get_bot(bob.id, mine.id),
        fleet.set_allocation(bob.id, mine.id, "5"),
        fleet.set_risk(bob.id, mine.id, max_leverage=2),
        fleet.set_notify(bob.id, mine.id, False),
        fleet.rename(bob.id, mine.id, "stolen"),
        fleet.start(bob.id, mine.id),
        fleet.stop(bob.id, mine.id),
        fleet.delete(bob.id, mine.id),
    ]
    for attempt in attempts:
        with pytest.raises(NotFound) as err:
            await attempt
        assert str(err.value) == "bot not found"
    assert await fleet.get_bot(alice.id, mine.id) == before
    assert await fleet.list_bots(bob.id) == []
    assert (await fleet.allocation(bob.id)).shares == ()


@pytest.mark.parametrize("forged", [0, -1, 2**31, 2**63, 999_999])
async def test_forged_ids_are_not_found(fleet: Fleet, alice: UserDTO, forged: int) -> None:
    with pytest.raises(NotFound):
        await fleet.get_bot(alice.id, forged)
    with pytest.raises(NotFound):
        await fleet.start(alice.id, forged)


async def test_deleted_bot_is_not_found_even_for_its_owner(fleet: Fleet, alice: UserDTO) -> None:
    bot = (await fleet.create_trend_bot(alice.id, name="gone", symbol="BTCUSDT", allocation_percent="1")).bot
    await fleet.delete(alice.id, bot.id)
    for attempt in (
        fleet.get_bot(alice.id, bot.id),
        fleet.start(alice.id, bot.id),
        fleet.delete(alice.id, bot.id),
    ):
        with pytest.raises(NotFound):
            await attempt
