"""The chat's most-read answers (a user's bot list, allocation summary and bot cards), kept in memory
until something changes them: every write of the fleet service, and every engine tick (through
`Fleet.bot_changed`), drops the user's view. A read that a write overtook is not kept (the version).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.services.dto import AllocationSummary, BotDTO

VIEW_CACHE_SIZE = 20_000  # users whose views are kept


@dataclass(slots=True)
class BotView:
    bots: tuple[BotDTO, ...]
    summary: AllocationSummary
    cards: dict[int, BotDTO]


class BotViews:
    def __init__(self, *, enabled: bool, size: int = VIEW_CACHE_SIZE) -> None:
        self.enabled = enabled
        self.size = size
        self._views: dict[int, BotView] = {}
        self._owners: dict[int, int] = {}  # bot id -> user id, for the bots of kept views
        self._versions: dict[int, int] = {}  # user id -> count of changes, to spot a write during a read

    def get(self, user_id: int) -> BotView | None:
        return self._views.get(user_id) if self.enabled else None

    def version(self, user_id: int) -> int:
        return self._versions.get(user_id, 0)

    def keep(self, user_id: int, view: BotView, version: int) -> None:
        """Keep a view read when the user's version was `version`, unless a change came since."""
        if not self.enabled or self.version(user_id) != version:
            return
        self._drop(user_id)
        self._views[user_id] = view
        self._owners.update((bot.id, user_id) for bot in view.bots)
        if len(self._views) > self.size:
            self.user_changed(next(iter(self._views)))

    def user_changed(self, user_id: int) -> None:
        self._versions[user_id] = self.version(user_id) + 1
        self._drop(user_id)

    def bot_changed(self, bot_id: int) -> None:
        owner = self._owners.get(bot_id)
        if owner is not None:
            self.user_changed(owner)

    def _drop(self, user_id: int) -> None:
        view = self._views.pop(user_id, None)
        if view is not None:
            for bot in view.bots:
                self._owners.pop(bot.id, None)
