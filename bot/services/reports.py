"""Daily and weekly reports (issue 16, section 2): at the hour each user picks, in their time zone (Asia/Seoul
for Korean, UTC otherwise, until they choose one), the account's equity and its change, PnL, cycles, trades
and fees per bot over the period, the best and the worst bot, the errors of the period, and the equity
of every day of the last month (the sender draws it as a PNG).

Exactly once per user and period: the report's outbox row is written in the same transaction as its
`account_reports` row, whose unique key (user, kind, period) refuses a second one, so neither a restart
nor a second process can send a period twice. A period missed while the process was down is sent when it
comes back (late, once); only the latest period of each kind is, never a backlog.

Periods are in the user's local time: the daily report at H:00 covers the 24 hours before it (23 or 25
across a daylight-saving change), the weekly one on Monday at H:00 the 7 days before. Figures come from
the same ledger every screen reads (trades rows; equity as the main menu's status line computes it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bot.services.account_money import AccountMoney
from bot.services.errors import ValidationError
from bot.services.user_rows import locked_user, read_user
from bot.services.validation import DELETED_NAME_SEPARATOR
from db import queries as q
from db.base import utcnow
from db.models import AccountReport, AlertOutbox, BotInstance, Trade, User
from db.session import Database
from engine.money import q8

log = logging.getLogger(__name__)

ZERO = Decimal(0)
KINDS = ("daily", "weekly")
DEFAULT_ZONES = {"ko": "Asia/Seoul"}  # every other language: UTC
ERROR_KINDS = ("bot_error", "bot_stopped_error", "bot_stop_stuck")
EQUITY_DAYS = 30  # days of equity the report's picture shows
REPORT_ALERT = "report"


def default_zone(language: str) -> str:
    return DEFAULT_ZONES.get(language, "UTC")


def zone_named(name: str) -> str:
    """An IANA zone name as the tz database spells it ("asia/seoul" -> "Asia/Seoul"); ValidationError for
    anything else."""
    text = name.strip()
    if text.upper() == "UTC":
        return "UTC"
    by_lower = {z.lower(): z for z in _zones()}
    found = by_lower.get(text.lower())
    if found is None:
        raise ValidationError("report_tz", text[:64])
    return found


_ZONES: frozenset[str] | None = None


def _zones() -> frozenset[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = frozenset(available_timezones())
    return _ZONES


def zone_of(name: str | None, language: str) -> ZoneInfo:
    with contextlib.suppress(ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(name or default_zone(language))
    return ZoneInfo("UTC")


def period_due(kind: str, hour: int, zone: ZoneInfo, now: datetime) -> tuple[datetime, datetime]:
    """The latest period of `kind` that has ended by `now` (UTC, naive): (start, end) as naive UTC. The
    daily period ends at the last `hour`:00 local; the weekly one at the last Monday `hour`:00 local."""
    local = now.replace(tzinfo=UTC).astimezone(zone)
    day = local.date()
    if kind == "weekly":
        day -= timedelta(days=day.weekday())  # this week's Monday
    end = _at(day, hour, zone)
    step = 7 if kind == "weekly" else 1
    if end > local:
        day -= timedelta(days=step)
        end = _at(day, hour, zone)
    start = _at(day - timedelta(days=step), hour, zone)
    return _naive_utc(start), _naive_utc(end)


def _at(day: date, hour: int, zone: ZoneInfo) -> datetime:
    """`hour`:00 of `day` in `zone` (a time skipped by a daylight-saving change: the same wall time's
    offset before it, as zoneinfo resolves it)."""
    return datetime.combine(day, time(hour), tzinfo=zone)


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


@dataclass(frozen=True, slots=True)
class ReportSettings:
    daily: bool
    weekly: bool
    hour: int
    zone: str  # the effective zone
    zone_chosen: bool  # False: the language's default


@dataclass(frozen=True, slots=True)
class BotLine:
    bot_id: int | None  # None: manual trades
    name: str
    pnl: Decimal  # realized over the period
    cycles: int  # completed grid cycles and closed trend trades of the period
    trades: int
    fees: Decimal


@dataclass(frozen=True, slots=True)
class Report:
    kind: str
    start: datetime  # naive UTC
    end: datetime
    zone: str
    equity: Decimal | None
    equity_before: Decimal | None  # at the previous report of the kind
    bots: tuple[BotLine, ...]
    unrealized: Decimal  # now: grid floating PnL and open positions
    errors: int
    days: tuple[tuple[str, Decimal], ...]  # (local date, equity) of the daily reports, oldest first

    @property
    def pnl(self) -> Decimal:
        return sum((b.pnl for b in self.bots), ZERO)

    @property
    def trades(self) -> int:
        return sum(b.trades for b in self.bots)

    @property
    def cycles(self) -> int:
        return sum(b.cycles for b in self.bots)

    @property
    def fees(self) -> Decimal:
        return sum((b.fees for b in self.bots), ZERO)

    @property
    def best(self) -> BotLine | None:
        ranked = [b for b in self.bots if b.bot_id is not None]
        return max(ranked, key=lambda b: b.pnl) if len(ranked) > 1 else None

    @property
    def worst(self) -> BotLine | None:
        ranked = [b for b in self.bots if b.bot_id is not None]
        return min(ranked, key=lambda b: b.pnl) if len(ranked) > 1 else None

    def payload(self) -> dict[str, Any]:
        """The outbox row's payload: everything the sender renders, as JSON (money as strings)."""
        best, worst = self.best, self.worst
        return {
            "report": self.kind,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "zone": self.zone,
            "equity": _text(self.equity),
            "equity_before": _text(self.equity_before),
            "pnl": str(self.pnl),
            "unrealized": str(self.unrealized),
            "trades": self.trades,
            "cycles": self.cycles,
            "fees": str(self.fees),
            "errors": self.errors,
            "bots": [[b.name, str(b.pnl), b.cycles, b.trades, str(b.fees)] for b in self.bots],
            "best": [best.name, str(best.pnl)] if best else None,
            "worst": [worst.name, str(worst.pnl)] if worst else None,
            "days": [[d, str(e)] for d, e in self.days],
        }


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


class Reports:
    """The users' report settings, and the reports themselves (`write_due`, run every minute by the app)."""

    def __init__(self, db: Database, money: AccountMoney) -> None:
        self.db, self.money = db, money

    # --- settings -----------------------------------------------------------------------------------

    async def settings(self, user_id: int) -> ReportSettings:
        return _settings_of(await read_user(self.db, user_id))

    async def change(
        self,
        user_id: int,
        *,
        daily: bool | None = None,
        weekly: bool | None = None,
        hour: int | None = None,
        zone: str | None = None,
    ) -> ReportSettings:
        """Change what is given; `hour` 0-23, `zone` an IANA name (ValidationError otherwise)."""
        if hour is not None and not 0 <= hour <= 23:
            raise ValidationError("report_hour", str(hour))
        chosen = zone_named(zone) if zone is not None else None
        async with self.db.write() as session:
            user = await locked_user(session, user_id)
            if daily is not None:
                user.report_daily = daily
            if weekly is not None:
                user.report_weekly = weekly
            if hour is not None:
                user.report_hour = hour
            if chosen is not None:
                user.report_tz = chosen
            return _settings_of(user)

    # --- reports ------------------------------------------------------------------------------------

    async def write_due(self, now: datetime | None = None) -> int:
        """Write every report whose period has ended and that is not written yet; returns how many."""
        now = now or utcnow()
        async with self.db.read() as session:
            users = (
                await session.execute(
                    select(User).where((User.report_daily.is_(True)) | (User.report_weekly.is_(True)))
                )
            ).scalars()
            wanted = []
            for user in users:
                zone = zone_of(user.report_tz, user.language)
                for kind in KINDS:
                    if getattr(user, f"report_{kind}"):
                        start, end = period_due(kind, user.report_hour, zone, now)
                        wanted.append((user.id, user.chat_id, kind, start, end, zone))
            if not wanted:
                return 0
            done = set(
                (
                    await session.execute(
                        select(AccountReport.user_id, AccountReport.kind, AccountReport.period_start).where(
                            AccountReport.period_start >= min(w[3] for w in wanted)
                        )
                    )
                ).all()
            )
            # a report needs a bot made before its period ended (a new user gets none for the past)
            first_bot = dict(
                (
                    await session.execute(
                        select(BotInstance.user_id, func.min(BotInstance.created_at)).group_by(
                            BotInstance.user_id
                        )
                    )
                ).all()
            )
        written = 0
        for user_id, chat_id, kind, start, end, zone in wanted:
            made = first_bot.get(user_id)
            if (user_id, kind, start) in done or made is None or made >= end:
                continue
            report = await self.build(user_id, kind, start, end, zone)
            if await self._write(user_id, chat_id, report):
                written += 1
        return written

    async def build(self, user_id: int, kind: str, start: datetime, end: datetime, zone: ZoneInfo) -> Report:
        """The report of `kind` for the period [start, end) (naive UTC), with the equity of now."""
        status = await self.money.status(user_id)
        pnl = await self.money.pnl(user_id)
        async with self.db.read() as session:
            rows = (
                await session.execute(
                    select(
                        Trade.bot_instance_id,
                        func.count(Trade.id),
                        func.count(Trade.realized_pnl),
                        func.coalesce(func.sum(Trade.realized_pnl), 0),
                        func.coalesce(func.sum(Trade.fee), 0),
                    )
                    .where(Trade.user_id == user_id, Trade.executed_at >= start, Trade.executed_at < end)
                    .group_by(Trade.bot_instance_id)
                )
            ).all()
            names = {
                b.id: b.name.split(DELETED_NAME_SEPARATOR, 1)[0]
                for b in (
                    await session.execute(select(BotInstance).where(BotInstance.user_id == user_id))
                ).scalars()
            }
            errors = (
                await session.execute(
                    select(func.count(AlertOutbox.id)).where(
                        AlertOutbox.user_id == user_id,
                        AlertOutbox.kind.in_(ERROR_KINDS),
                        AlertOutbox.created_at >= start,
                        AlertOutbox.created_at < end,
                    )
                )
            ).scalar_one()
            before = (
                await session.execute(
                    select(AccountReport.equity)
                    .where(
                        AccountReport.user_id == user_id,
                        AccountReport.kind == kind,
                        AccountReport.period_start < start,
                    )
                    .order_by(AccountReport.period_start.desc())
                    .limit(1)
                )
            ).scalar()
            history = (
                await session.execute(
                    select(AccountReport.period_end, AccountReport.equity)
                    .where(
                        AccountReport.user_id == user_id,
                        AccountReport.kind == "daily",
                        AccountReport.period_end >= end - timedelta(days=EQUITY_DAYS),
                        AccountReport.period_end < end,
                        AccountReport.equity.is_not(None),
                    )
                    .order_by(AccountReport.period_end)
                )
            ).all()
        lines = []
        for bot_id, trades, closed, realized, fees in rows:
            name = names.get(bot_id, "") if bot_id is not None else ""
            lines.append(BotLine(bot_id, name, Decimal(realized), int(closed), int(trades), Decimal(fees)))
        lines.sort(key=lambda b: (b.bot_id is None, -b.pnl, b.name))
        days = [(_local_day(at, zone), value) for at, value in history]
        equity = q8(status.equity) if status.equity is not None else None  # as the column keeps it
        if equity is not None:
            days.append((_local_day(end, zone), equity))
        return Report(
            kind=kind,
            start=start,
            end=end,
            zone=zone.key,
            equity=equity,
            equity_before=before,
            bots=tuple(lines),
            unrealized=pnl.unrealized,
            errors=int(errors),
            days=tuple(days),
        )

    async def _write(self, user_id: int, chat_id: int, report: Report) -> bool:
        """The report's row and its outbox row in one transaction; False when the period has one already
        (another process, or a race with the previous run)."""
        try:
            async with self.db.write() as session:
                session.add(
                    AccountReport(
                        user_id=user_id,
                        kind=report.kind,
                        period_start=report.start,
                        period_end=report.end,
                        equity=report.equity,
                    )
                )
                await session.flush()  # the unique key refuses a second report of the period here
                await q.enqueue_alert(
                    session, user_id=user_id, chat_id=chat_id, kind=REPORT_ALERT, payload=report.payload()
                )
        except IntegrityError:
            return False
        return True


def _settings_of(user: User) -> ReportSettings:
    zone = user.report_tz
    valid = zone is not None and zone in _zones() | {"UTC"}
    return ReportSettings(
        daily=user.report_daily,
        weekly=user.report_weekly,
        hour=user.report_hour,
        zone=zone if valid and zone else default_zone(user.language),
        zone_chosen=valid,
    )


def _local_day(moment: datetime, zone: ZoneInfo) -> str:
    """The local date a period ending at `moment` (naive UTC) reports on: the day before its end."""
    local = moment.replace(tzinfo=UTC).astimezone(zone) - timedelta(seconds=1)
    return local.date().isoformat()


async def reports_forever(reports: Reports, wake: Callable[[], None], every: float = 60.0) -> None:
    """Write the due reports every `every` seconds (the first round at once: a restart sends what it
    missed) and wake the alert sender when there are new ones."""
    while True:
        try:
            if await reports.write_due():
                wake()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("writing the due reports failed")
        await asyncio.sleep(every)
