"""One tick of one bot, whatever its type: the scheduler calls `Runner.tick(bot_id, bot_type)`.

Grid bots tick through `engine.grid.runtime.GridRuntime`; other types register their own tick
(the trend engine plugs in here). A tick is idempotent: re-running it after a crash does no harm.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from engine.grid.runtime import GridRuntime

TickFn = Callable[[int], Awaitable[None]]


class Runner:
    def __init__(self, grid: GridRuntime, others: dict[str, tuple[TickFn, TickFn]] | None = None) -> None:
        """`others` maps a bot type to its (tick, halt) functions."""
        self.grid = grid
        self.others = dict(others or {})

    def handles(self, bot_type: str) -> bool:
        return bot_type == "grid" or bot_type in self.others

    async def tick(self, bot_id: int, bot_type: str) -> None:
        if bot_type == "grid":
            await self.grid.tick(bot_id)
        elif bot_type in self.others:
            await self.others[bot_type][0](bot_id)

    async def halt(self, bot_id: int, bot_type: str) -> None:
        """The bot was stopped: cancel its orders (and close its position where it says so)."""
        if bot_type == "grid":
            await self.grid.halt(bot_id)
        elif bot_type in self.others:
            await self.others[bot_type][1](bot_id)
