"""Which alerts reach a user, and how (issue 16, section 3). Per event type (fill, cycle, trade, stop, error,
report): on, silent (Telegram's disable_notification) or off; stops and errors can be silenced but never
switched off. Quiet hours (in the user's time zone, the reports' one): what arrives meanwhile is held and
sent as one digest when they end; stops and errors still go at once, silently. A digest window: a bot's
fills and cycles are held for that many minutes and sent as one line per bot ("Grid B: 12 fills, 5
cycles, +3.21 USDT, holds 0.0042 BTC"). A bot's own mute (its notifications off) stays as it is.

The sender (bot/alerts.py) asks `Delivery.decide` about each pending alert; the settings live on the
users row (migration 0009)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from bot.services.errors import ValidationError
from bot.services.reports import zone_of
from bot.services.user_rows import locked_user, read_user
from db.models import User
from db.session import Database

Level = Literal["on", "silent", "off"]
LEVELS: tuple[Level, ...] = ("on", "silent", "off")
EVENTS = ("fill", "cycle", "trade", "stop", "error", "report")
NEVER_OFF = frozenset({"stop", "error"})
DIGEST_EVENTS = frozenset({"fill", "cycle"})
DIGEST_WINDOWS = (0, 15, 60)  # minutes the buttons offer (any 0-1440 by command)
HELD = "held"  # last_error of an alert held for quiet hours or a digest window (sent coalesced later)

# the alert kinds of each event type; any other kind (keys, account changes) is an error: never off
EVENT_OF = {
    "grid_fill": "fill",
    "grid_cycle": "cycle",
    "trend_entry": "trade",
    "trend_exit": "trade",
    "bot_started": "stop",
    "bot_stopped": "stop",
    "grid_stop": "stop",
    "stop_kept_coins": "stop",
    "stop_sold_coins": "stop",
    "stop_kept_positions": "stop",
    "report": "report",
}


def event_of(kind: str) -> str:
    return EVENT_OF.get(kind, "error")


@dataclass(frozen=True, slots=True)
class NotifySettings:
    levels: dict[str, Level]
    quiet_from: int | None  # local hour quiet hours start, None: no quiet hours
    quiet_to: int | None
    digest_minutes: int
    zone: str

    def level(self, event: str) -> Level:
        level = self.levels.get(event, "on")
        return "silent" if level == "off" and event in NEVER_OFF else level

    def quiet_until(self, now: datetime) -> datetime | None:
        """The end of the quiet hours `now` (naive UTC) is in, as naive UTC; None outside them."""
        if self.quiet_from is None or self.quiet_to is None or self.quiet_from == self.quiet_to:
            return None
        local = now.replace(tzinfo=UTC).astimezone(ZoneInfo(self.zone))
        hour, start, end = local.hour, self.quiet_from, self.quiet_to
        inside = start <= hour < end if start < end else hour >= start or hour < end
        if not inside:
            return None
        day = local.date() if hour < end else local.date() + timedelta(days=1)
        until = datetime(day.year, day.month, day.day, end, tzinfo=ZoneInfo(self.zone))
        return until.astimezone(UTC).replace(tzinfo=None)


def settings_of(user: User) -> NotifySettings:
    raw = user.notify or {}
    levels: dict[str, Level] = {e: raw[e] for e in EVENTS if raw.get(e) in LEVELS}
    return NotifySettings(
        levels=levels,
        quiet_from=user.quiet_from,
        quiet_to=user.quiet_to,
        digest_minutes=user.digest_minutes or 0,
        zone=zone_of(user.report_tz, user.language).key,
    )


@dataclass(frozen=True, slots=True)
class Decision:
    """What the sender does with one pending alert now: drop it (off), hold it until `until`, or send it
    (`silent`: without a sound; `digest`: coalesced with the bot's other fills and cycles)."""

    action: Literal["send", "hold", "drop"]
    silent: bool = False
    until: datetime | None = None
    digest: bool = False


def decide(settings: NotifySettings, kind: str, created_at: datetime, held: bool, now: datetime) -> Decision:
    """`held`: the alert was held before (quiet hours or a digest window); it is sent as part of a digest."""
    event = event_of(kind)
    level = settings.level(event)
    if level == "off":
        return Decision("drop")
    silent = level == "silent"
    quiet = settings.quiet_until(now)
    if quiet is not None:
        if event in NEVER_OFF:
            return Decision("send", silent=True)
        return Decision("hold", until=quiet)
    if event in DIGEST_EVENTS and settings.digest_minutes > 0:
        due = created_at + timedelta(minutes=settings.digest_minutes)
        if due > now:
            return Decision("hold", until=due)
        return Decision("send", silent=silent, digest=True)
    return Decision("send", silent=silent, digest=held and event in DIGEST_EVENTS)


class Notifications:
    """The users' notification settings (read and changed from the chat)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def settings(self, user_id: int) -> NotifySettings:
        return settings_of(await read_user(self.db, user_id))

    async def change(
        self,
        user_id: int,
        *,
        event: str | None = None,
        level: str | None = None,
        quiet: tuple[int, int] | None = None,
        no_quiet: bool = False,
        digest_minutes: int | None = None,
    ) -> NotifySettings:
        """Set `event`'s level, quiet hours (from, to: local hours 0-23) or none, the digest window
        (minutes, 0 = off); ValidationError for what the rules refuse (stops and errors off, say)."""
        if event is not None:
            if event not in EVENTS:
                raise ValidationError("notify_event", event[:32])
            if level not in LEVELS:
                raise ValidationError("notify_level", str(level)[:32])
            if level == "off" and event in NEVER_OFF:
                raise ValidationError("notify_never_off", event)
        if quiet is not None and not all(0 <= h <= 23 for h in quiet):
            raise ValidationError("quiet_hours", f"{quiet}")
        if digest_minutes is not None and not 0 <= digest_minutes <= 1440:
            raise ValidationError("digest_minutes", str(digest_minutes))
        async with self.db.write() as session:
            user = await locked_user(session, user_id)
            if event is not None:
                levels: dict[str, Any] = dict(user.notify or {})
                levels[event] = level
                user.notify = levels
            if quiet is not None:
                user.quiet_from, user.quiet_to = quiet
            if no_quiet:
                user.quiet_from = user.quiet_to = None
            if digest_minutes is not None:
                user.digest_minutes = digest_minutes
            return settings_of(user)
