"""Risk guards (issue 16, section 4), checked every few seconds by the app (`guards_forever`):

- the account's kill switch: every bot stops when the account's equity falls `guard_drawdown` % below its
  peak (the highest equity seen while the guard is on) or below `guard_floor` USDT;
- the daily loss limit: every bot stops when equity is `guard_daily_loss` USDT below what it was when the
  user's local day began (the reports' time zone); once a day, so bots the user restarts that day run on;
- per bot: a bot stops when its total PnL (realized + unrealized, fees included) is `max_loss` USDT down,
  or its total PnL % of the investment reaches `pnl_take_profit` or falls to `-pnl_stop_loss` (the take
  profit / stop loss on total PnL that exchanges' grid bots offer, beside stop_upper / stop_lower).

The account's stops close what the bots hold (`guard_close`) or keep it (coin kept, positions protected by
their exchange stop loss), through the same stop every other stop uses (the money-safety issue's); a bot's
own stop uses its own setting. Each trip writes an alert (never switched off: it is an error's kind).
Equity is the main menu's (spot USDT + coins at their price + futures equity); where the venue does not
answer, nothing is decided that round."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import or_, select

from bot.services.account_money import AccountMoney
from bot.services.dto import BotDTO
from bot.services.errors import DomainError, ValidationError
from bot.services.fleet import Fleet
from bot.services.reports import zone_of
from bot.services.user_rows import locked_user, read_user
from bot.services.validation import validate_limit
from db import queries as q
from db.base import utcnow
from db.models import BotInstance, User
from db.session import Database
from engine.money import q8

log = logging.getLogger(__name__)

ZERO = Decimal(0)
HUNDRED = Decimal(100)
DEFAULT_DAILY_LOSS = Decimal(500)  # USDT, when the limit is switched on without an amount
BOT_REASONS = {
    "risk_bot_loss": "max_loss",
    "risk_bot_take_profit": "pnl_take_profit",
    "risk_bot_stop_loss": "pnl_stop_loss",
}


@dataclass(frozen=True, slots=True)
class GuardSettings:
    drawdown: Decimal | None  # percent below the peak
    floor: Decimal | None  # USDT
    daily_loss: Decimal | None  # USDT
    close: bool  # the stop closes what the bots hold (else keeps it)
    peak: Decimal | None
    day_equity: Decimal | None

    @property
    def any(self) -> bool:
        return self.drawdown is not None or self.floor is not None or self.daily_loss is not None


def _settings_of(user: User) -> GuardSettings:
    return GuardSettings(
        user.guard_drawdown, user.guard_floor, user.guard_daily_loss, bool(user.guard_close),
        user.equity_peak, user.day_equity,
    )  # fmt: skip


def total_pnl(bot: BotDTO) -> tuple[Decimal, Decimal | None] | None:
    """The bot's total PnL (USDT) and its percent of the investment, as its card shows them."""
    if bot.grid is not None and bot.grid.money is not None:
        return bot.grid.money.total_pnl, bot.grid.money.roi_percent
    if bot.trend is not None:
        total = bot.trend.realized_pnl + bot.trend.unrealized_pnl
        capital = bot.trend.capital
        return total, total * HUNDRED / capital if capital else None
    return None


def bot_trip(bot: BotDTO) -> tuple[str, dict[str, str]] | None:
    """Which of the bot's guards its money trips now, and the figures the alert shows."""
    money = total_pnl(bot)
    if money is None:
        return None
    total, percent = money
    if bot.max_loss is not None and total <= -bot.max_loss:
        return "risk_bot_loss", {"pnl": str(total), "limit": str(bot.max_loss)}
    if percent is not None and bot.pnl_take_profit is not None and percent >= bot.pnl_take_profit:
        return "risk_bot_take_profit", {"percent": str(q8(percent)), "limit": str(bot.pnl_take_profit)}
    if percent is not None and bot.pnl_stop_loss is not None and percent <= -bot.pnl_stop_loss:
        return "risk_bot_stop_loss", {"percent": str(q8(percent)), "limit": str(bot.pnl_stop_loss)}
    return None


class RiskGuards:
    def __init__(self, db: Database, fleet: Fleet, money: AccountMoney) -> None:
        self.db, self.fleet, self.money = db, fleet, money

    # --- settings -----------------------------------------------------------------------------------

    async def settings(self, user_id: int) -> GuardSettings:
        return _settings_of(await read_user(self.db, user_id))

    async def change(
        self,
        user_id: int,
        *,
        drawdown: object = None,
        floor: object = None,
        daily_loss: object = None,
        close: bool | None = None,
        all_off: bool = False,
    ) -> GuardSettings:
        """Set what is given ("0" or "off" removes a guard; daily_loss "on" is 500 USDT)."""
        values: dict[str, Decimal | None] = {}
        if drawdown is not None:
            limit = validate_limit(drawdown, "guard_drawdown", percent=True)
            if limit is not None and limit >= HUNDRED:
                raise ValidationError("guard_drawdown", "the drawdown is under 100 %")
            values["guard_drawdown"] = limit
        if floor is not None:
            values["guard_floor"] = validate_limit(floor, "guard_floor", percent=False)
        if daily_loss is not None:
            on = isinstance(daily_loss, str) and daily_loss.strip().lower() == "on"
            values["guard_daily_loss"] = (
                DEFAULT_DAILY_LOSS if on else validate_limit(daily_loss, "guard_daily_loss", percent=False)
            )
        async with self.db.write() as session:
            user = await locked_user(session, user_id)
            if all_off:
                user.guard_drawdown = user.guard_floor = user.guard_daily_loss = None
            for name, value in values.items():
                setattr(user, name, value)
            if "guard_drawdown" in values:
                user.equity_peak = None  # a new guard measures from the equity it first sees
            if close is not None:
                user.guard_close = close
            return _settings_of(user)

    # --- the check ----------------------------------------------------------------------------------

    async def check(self, now: datetime | None = None) -> int:
        """One round over every user with a guard on and a running bot; returns how many stops it began."""
        now = now or utcnow()
        async with self.db.read() as session:
            users = list(
                (
                    await session.execute(
                        select(User).where(
                            User.id.in_(
                                select(BotInstance.user_id).where(
                                    BotInstance.is_running.is_(True), BotInstance.is_active.is_(True)
                                )
                            )
                        )
                    )
                ).scalars()
            )
            guarded_bots = set(
                (
                    await session.execute(
                        select(BotInstance.user_id).where(
                            BotInstance.is_running.is_(True),
                            BotInstance.is_active.is_(True),
                            or_(
                                BotInstance.max_loss.is_not(None),
                                BotInstance.pnl_take_profit.is_not(None),
                                BotInstance.pnl_stop_loss.is_not(None),
                            ),
                        )
                    )
                ).scalars()
            )
        stops = 0
        for user in users:
            try:
                if _settings_of(user).any:
                    stops += await self._check_account(user, now)
                if user.id in guarded_bots:
                    stops += await self._check_bots(user.id)
            except DomainError as exc:  # a bot stopped or deleted meanwhile: the next round sees it
                log.info("risk check of user %s: %s", user.id, exc)
        return stops

    async def _check_account(self, user: User, now: datetime) -> int:
        equity = (await self.money.status(user.id)).equity
        if equity is None:
            return 0
        equity = q8(equity)
        today = now.replace(tzinfo=UTC).astimezone(zone_of(user.report_tz, user.language)).date().isoformat()
        trip: tuple[str, dict[str, str]] | None = None
        async with self.db.write() as session:
            row = await q.lock_user(session, user.id)
            if row is None:
                return 0
            if row.guard_drawdown is not None:
                row.equity_peak = max(row.equity_peak or equity, equity)
            if row.day_equity_on != today or row.day_equity is None:
                row.day_equity, row.day_equity_on = equity, today
            peak, floor, limit = row.equity_peak, row.guard_floor, row.guard_daily_loss
            if floor is not None and equity <= floor:
                trip = "risk_floor", {"equity": str(equity), "floor": str(floor)}
            elif (
                row.guard_drawdown is not None
                and peak
                and equity <= peak * (1 - row.guard_drawdown / HUNDRED)
            ):
                trip = "risk_drawdown", {
                    "equity": str(equity), "peak": str(peak), "percent": str(row.guard_drawdown),
                }  # fmt: skip
            elif limit is not None and row.guard_tripped_on != today and row.day_equity - equity >= limit:
                trip = "risk_daily_loss", {
                    "equity": str(equity), "loss": str(row.day_equity - equity), "limit": str(limit),
                }  # fmt: skip
            close = bool(row.guard_close)
        if trip is None:
            return 0
        kind, payload = trip
        log.warning("risk guard %s of user %s: stopping every bot (%s)", kind, user.id, payload)
        # the stop first: a crash before the alert repeats the stop (of nothing) and then alerts
        stopped = await self.fleet.stop_all(user.id, holdings="close" if close else "keep", reason=kind[5:])
        async with self.db.write() as session:
            row = await q.lock_user(session, user.id)
            if row is None:
                return len(stopped)
            if kind == "risk_drawdown":
                row.equity_peak = equity  # measured afresh: bots the user restarts are not stopped at once
            elif kind == "risk_daily_loss":
                row.guard_tripped_on = today  # once a day
            payload.update(holdings="close" if close else "keep", bots=str(len(stopped)))
            await q.enqueue_alert(
                session, user_id=row.id, chat_id=q.private_chat(row), kind=kind, payload=payload
            )
        return len(stopped)

    async def _check_bots(self, user_id: int) -> int:
        stops = 0
        for bot in await self.money.cards(user_id):
            if not bot.is_running or bot.stopping:
                continue
            trip = bot_trip(bot)
            if trip is None:
                continue
            kind, payload = trip
            log.warning("risk guard %s of bot %s: stopping it (%s)", kind, bot.id, payload)
            await self.fleet.stop(user_id, bot.id, reason=BOT_REASONS[kind])
            async with self.db.write() as session:
                row = await q.lock_user(session, user_id)
                if row is None:
                    return stops
                await q.enqueue_alert(
                    session,
                    user_id=user_id,
                    chat_id=q.private_chat(row),
                    kind=kind,
                    payload={"name": bot.name, **payload},
                )
            stops += 1
        return stops


async def guards_forever(guards: RiskGuards, wake: Callable[[], None], every: float = 15.0) -> None:
    """Check the guards every `every` seconds; wake the alert sender when one tripped."""
    while True:
        try:
            if await guards.check():
                wake()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the risk guards' round failed")
        await asyncio.sleep(every)
