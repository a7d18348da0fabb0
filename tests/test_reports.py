"""Daily and weekly reports (issue 16, section 2): periods in the user's zone, figures as computed by hand
from the trades rows a real grid bot wrote (paper venue, real BTC/USDT 1m candles), exactly once per user
and period across restarts and racing writers, the settings through the production Dispatcher, and the
delivery (text, then the PNG of equity per day) through the alert sender to the Bot API emulator."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from decimal import Decimal as D
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update

from bot.alerts import AlertSender
from bot.services.reports import Reports, period_due
from db.models import AccountReport, AlertOutbox, BotInstance
from engine.money import q8
from tests import test_handlers_e2e as e2e
from tests.test_account_money_chat import cents, trades_of, walk
from tests.test_handlers_e2e import ALICE, App, labels
from tests.test_stop_choices_chat import BTC, grid_holding_coin

app, emu = e2e.app, e2e.emu  # the chat's fixtures
PNG_MAGIC = b"\x89PNG"
SEOUL, BERLIN, UTC = ZoneInfo("Asia/Seoul"), ZoneInfo("Europe/Berlin"), ZoneInfo("UTC")


def test_periods_end_at_the_users_hour_in_their_zone() -> None:
    # 10:00 in Seoul (01:00 UTC): the daily period is the 24 hours before 09:00 KST today
    assert period_due("daily", 9, SEOUL, datetime(2026, 12, 3, 1, 0)) == (
        datetime(2026, 12, 2, 0, 0),
        datetime(2026, 12, 3, 0, 0),
    )
    # 08:59 in Seoul: today's has not ended, so yesterday's is the latest
    assert period_due("daily", 9, SEOUL, datetime(2026, 12, 2, 23, 59)) == (
        datetime(2026, 12, 1, 0, 0),
        datetime(2026, 12, 2, 0, 0),
    )
    # weekly: Monday 09:00 local; 2026-12-03 is a Thursday, so the week ended on Monday 2026-11-30
    assert period_due("weekly", 9, UTC, datetime(2026, 12, 3, 12, 0)) == (
        datetime(2026, 11, 23, 9, 0),
        datetime(2026, 11, 30, 9, 0),
    )
    # on the Monday itself, before and after the hour
    assert period_due("weekly", 9, UTC, datetime(2026, 11, 30, 8, 0))[1] == datetime(2026, 11, 23, 9, 0)
    assert period_due("weekly", 9, UTC, datetime(2026, 11, 30, 9, 0))[1] == datetime(2026, 11, 30, 9, 0)
    # a daylight-saving change: Berlin moves its clocks forward on 2026-03-29, that day has 23 hours
    start, end = period_due("daily", 9, BERLIN, datetime(2026, 3, 29, 12, 0))
    assert (start, end) == (datetime(2026, 3, 28, 8, 0), datetime(2026, 3, 29, 7, 0))
    assert end - start == timedelta(hours=23)


async def _a_year_ago(app: App) -> None:
    """The bots were made long before the candles' days (the fills are booked at the candles' times)."""
    async with app.services.db.write() as session:
        await session.execute(update(BotInstance).values(created_at=datetime(2020, 1, 1)))


async def _reports(app: App) -> list[AccountReport]:
    async with app.services.db.read() as session:
        return list((await session.execute(select(AccountReport).order_by(AccountReport.id))).scalars())


async def _report_alerts(app: App) -> list[AlertOutbox]:
    async with app.services.db.read() as session:
        return list(
            (
                await session.execute(
                    select(AlertOutbox).where(AlertOutbox.kind == "report").order_by(AlertOutbox.id)
                )
            ).scalars()
        )


async def test_a_daily_report_reads_as_computed_by_hand_and_arrives_with_its_picture(app: App) -> None:
    bot_id = await grid_holding_coin(app, spread=D("0.004"))
    await walk(app, bot_id, 1, 240)
    await _a_year_ago(app)
    trades = await trades_of(app)
    # a period that ends inside the walk, so some fills fall in it and some before it
    times = sorted(t.executed_at for t in trades)
    end = (times[0] + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)  # the first hour after
    reports = app.services.reports
    assert reports is not None
    await reports.change((await app.user(ALICE)).id, hour=end.hour, zone="UTC")
    now = end + timedelta(minutes=30)  # the hour has passed: the period ended at end.hour:00
    start = end - timedelta(days=1)
    inside = [t for t in trades if start <= t.executed_at < end]
    assert inside and len(inside) < len(trades)
    app.emu.add_user(ALICE)
    sender = AlertSender(app.services.db, app.bot, per_chat_burst=10)
    await sender.drain_once()  # the bot's own alerts (start, fills) first
    assert await reports.write_due(now) == 1

    user = await app.user(ALICE)
    balance = await app.services.engine.venue.account(user.id).fetch_balance()
    price = app.services.engine.venue.last_price(BTC)
    assert price is not None
    equity = q8(balance.total("USDT") + balance.total("BTC") * price)  # the ledger's 8 decimals
    pnl = sum((t.realized_pnl for t in inside if t.realized_pnl is not None), D(0))
    fees = sum((t.fee for t in inside), D(0))
    cycles = sum(t.realized_pnl is not None for t in inside)

    assert await sender.drain_once() == 1
    text, picture = app.emu.bot_messages(ALICE)[-2:]
    assert text.text is not None and text.text.startswith("📊 Daily report")
    assert f"Equity: {cents(equity)} USDT" in text.text
    signed = f"+{cents(pnl)}" if pnl > 0 else cents(pnl)
    assert f"Realized PnL: {signed} USDT" in text.text
    assert f"Trades {len(inside)} · cycles {cycles} · fees {cents(fees)} USDT" in text.text
    assert f"• Gridy: {signed} USDT · {cycles} cycles · {len(inside)} trades" in text.text
    assert "No errors in this period." in text.text
    assert picture.photo is not None and picture.photo.data.startswith(PNG_MAGIC)
    assert picture.caption == "Equity per day, last 1 days"
    [row] = await _reports(app)
    assert (row.period_start, row.period_end, row.equity) == (start, end, equity)

    # the next day: the change since the first report, and two days in the picture
    assert await reports.write_due(now + timedelta(days=1)) == 1
    assert await sender.drain_once() == 1
    text = app.emu.bot_messages(ALICE)[-2]
    assert text.text is not None and f"({cents(D(0))} / 0.00 % since the last report)" in text.text
    later = [t for t in trades if end <= t.executed_at < end + timedelta(days=1)]  # the rest of the walk
    assert later and f"Trades {len(later)} · " in text.text
    assert app.emu.bot_messages(ALICE)[-1].caption == "Equity per day, last 2 days"


async def test_each_period_is_reported_once_across_restarts_and_racing_writers(app: App) -> None:
    await grid_holding_coin(app)
    await _a_year_ago(app)
    now = datetime(2026, 12, 3, 10, 30)
    services = app.services
    assert services.reports is not None
    first, second = services.reports, Reports(services.db, services.money)  # two processes, in effect
    await first.change((await app.user(ALICE)).id, weekly=True, zone="UTC")
    written = await asyncio.gather(first.write_due(now), second.write_due(now), first.write_due(now))
    assert sum(written) == 2  # the daily and the weekly report, each once
    restarted = Reports(services.db, services.money)
    assert await restarted.write_due(now + timedelta(minutes=30)) == 0  # the same periods: nothing new
    assert await restarted.write_due(now + timedelta(days=1)) == 1  # the next day's daily one
    rows = await _reports(app)
    assert sorted((r.kind, r.period_end) for r in rows) == [
        ("daily", datetime(2026, 12, 3, 9, 0)),
        ("daily", datetime(2026, 12, 4, 9, 0)),
        ("weekly", datetime(2026, 11, 30, 9, 0)),
    ]
    assert len(await _report_alerts(app)) == 3
    # down for a week: only the latest day is sent, no backlog
    assert await restarted.write_due(now + timedelta(days=8)) == 2  # that day's, and the new week's


async def test_a_user_gets_no_report_of_a_period_before_their_first_bot(app: App) -> None:
    await app.send(ALICE, "/start")
    reports = app.services.reports
    assert reports is not None
    assert await reports.write_due(datetime(2030, 1, 1, 12, 0)) == 0  # no bot at all
    await grid_holding_coin(app)  # made now (2026): a report of a 2025 period would be about nothing
    assert await reports.write_due(datetime(2025, 6, 1, 12, 0)) == 0
    assert await reports.write_due(datetime(2030, 1, 1, 12, 0)) == 1


async def test_report_settings_through_the_chat(app: App) -> None:
    screen = await app.send(ALICE, "/report")
    assert "Daily report: on at 09:00 (UTC)" in (screen.text or "")
    assert "Weekly report (Mondays): off" in (screen.text or "")
    ko = await app.send(e2e.BOB, "/report", language_code="ko")
    assert "(Asia/Seoul)" in (ko.text or "")  # a Korean user's default zone

    screen = await app.send(ALICE, "/report tz europe/berlin")  # as the tz database spells it
    assert "(Europe/Berlin)" in (screen.text or "")
    screen = await app.send(ALICE, "/report tz Mars/Olympus")
    assert "Unknown time zone" in (screen.text or "")
    screen = await app.send(ALICE, "/report hour 24")
    assert "from 0 to 23" in (screen.text or "")
    screen = await app.send(ALICE, "/report hour 7")
    assert "at 07:00 (Europe/Berlin)" in (screen.text or "")

    await app.press(ALICE, screen, "Weekly: off")
    assert "Weekly report (Mondays): on" in (screen.text or "") and "Weekly: on" in labels(screen)
    await app.press(ALICE, screen, "21:00")
    assert "at 21:00 (Europe/Berlin)" in (screen.text or "")
    answer = await app.press_data(ALICE, screen, "rp:hour:99")  # forged: refused, nothing changes
    assert "from 0 to 23" in (answer.text or "")
    settings = await app.services.reports.settings((await app.user(ALICE)).id)  # type: ignore[union-attr]
    assert (settings.daily, settings.weekly, settings.hour, settings.zone) == (
        True,
        True,
        21,
        "Europe/Berlin",
    )
    screen = await app.send(ALICE, "/report daily off")
    assert "Daily report: off" in (screen.text or "")
    screen = await app.send(ALICE, "/report sometimes")
    assert "Use /report, /report hour 9" in (screen.text or "")


async def test_reports_are_counted_in_the_outbox_once_per_user(app: App) -> None:
    """Ten users with a bot each: one daily report each, whatever how many rounds run."""
    services = app.services
    assert services.reports is not None
    for k in range(10):
        user = await services.accounts.register(telegram_id=9100 + k, chat_id=9100 + k)
        await services.fleet.create_grid_bot(
            user.id, name="g", symbol="BTCUSDT", allocation_percent="10", lower_price="90000",
            upper_price="110000", grid_count=10, total_investment="500",
        )  # fmt: skip
    await _a_year_ago(app)
    now = datetime(2026, 12, 3, 10, 0)
    for _ in range(3):
        await services.reports.write_due(now)
    async with services.db.read() as session:
        per_user = (
            await session.execute(
                select(AlertOutbox.user_id, func.count())
                .where(AlertOutbox.kind == "report")
                .group_by(AlertOutbox.user_id)
            )
        ).all()
    assert len(per_user) == 10 and {count for _, count in per_user} == {1}
