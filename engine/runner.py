"""One tick of one bot, whatever its type: the scheduler calls `Runner.tick(bot_id, bot_type)`, a stop
`Runner.halt`. Grid bots go to engine.grid.runtime.GridRuntime, AI trend bots to
engine.trend.runtime.TrendRuntime. A tick is idempotent: re-running it after a crash does no harm.
"""

from __future__ import annotations

from engine.grid.runtime import GridRuntime
from engine.ports import HaltReport
from engine.trend.runtime import TrendRuntime

BOT_TYPES = ("grid", "ai_trend")


class Runner:
    def __init__(self, grid: GridRuntime, trend: TrendRuntime) -> None:
        self.grid = grid
        self.trend = trend

    def handles(self, bot_type: str) -> bool:
        return bot_type in BOT_TYPES

    async def tick(self, bot_id: int, bot_type: str) -> None:
        if bot_type == "grid":
            await self.grid.tick(bot_id)
        elif bot_type == "ai_trend":
            await self.trend.tick(bot_id)

    def resume(self, bot_id: int, bot_type: str) -> None:
        """The bot was started: its ticks run (again)."""
        if bot_type == "grid":
            self.grid.resume(bot_id)
        elif bot_type == "ai_trend":
            self.trend.resume(bot_id)

    async def halt(self, bot_id: int, bot_type: str, *, close: bool | None = None) -> HaltReport:
        """The bot is stopping: cancel its orders and, as `close` says (None: the bot's setting), sell
        its coin / close its positions at market or keep them. Raises StopIncomplete while orders of it
        stay open on the venue."""
        if bot_type == "grid":
            return await self.grid.halt(bot_id, sell=close)
        if bot_type == "ai_trend":
            return await self.trend.halt(bot_id, close=close)
        return HaltReport()
