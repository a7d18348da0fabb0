"""Notification control (issue 16, section 3): a level per event type (on, silent, off; stops and errors never
off), quiet hours held for one digest at their end, a digest window that coalesces a bot's fills and cycles
into one line; the sender applies them against the Bot API emulator, /notify changes them through the
production Dispatcher."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

from bot.alerts import AlertSender
from bot.services.notifications import HELD, NotifySettings, decide
from db import queries as q
from db.base import utcnow
from db.models import AlertOutbox
from tests import test_handlers_e2e as e2e
from tests.test_handlers_e2e import ALICE, App, labels

app, emu = e2e.app, e2e.emu  # the chat's fixtures
NOON = datetime(2026, 12, 3, 12, 0)  # UTC


def settings(**changes: object) -> NotifySettings:
    values: dict[str, object] = {
        "levels": {}, "quiet_from": None, "quiet_to": None, "digest_minutes": 0, "zone": "UTC",
    }  # fmt: skip
    values.update(changes)
    return NotifySettings(**values)  # type: ignore[arg-type]


def test_levels_quiet_hours_and_digests_decide_what_goes_when() -> None:
    plain = settings()
    assert decide(plain, "grid_fill", NOON, False, NOON).action == "send"
    off = settings(levels={"fill": "off", "error": "off", "stop": "off"})
    assert decide(off, "grid_fill", NOON, False, NOON).action == "drop"
    # stops and errors cannot be switched off: a stored "off" silences them
    for kind in ("bot_stopped", "bot_error", "bot_stopped_error", "account_kind_changed"):
        decision = decide(off, kind, NOON, False, NOON)
        assert (decision.action, decision.silent) == ("send", True), kind
    assert decide(settings(levels={"trade": "silent"}), "trend_exit", NOON, False, NOON).silent

    # quiet 23-7 in Seoul: noon UTC is 21:00 KST (outside), 15:00 UTC is 00:00 KST (inside, until 07:00 KST)
    quiet = settings(quiet_from=23, quiet_to=7, zone="Asia/Seoul")
    assert decide(quiet, "grid_fill", NOON, False, NOON).action == "send"
    late = datetime(2026, 12, 3, 15, 0)
    held = decide(quiet, "grid_fill", late, False, late)
    assert (held.action, held.until) == ("hold", datetime(2026, 12, 3, 22, 0))  # 07:00 KST on the 4th
    urgent = decide(quiet, "bot_error", late, False, late)
    assert (urgent.action, urgent.silent) == ("send", True)
    assert quiet.quiet_until(datetime(2026, 12, 3, 22, 0)) is None  # 07:00 KST: over

    digest = settings(digest_minutes=15)
    wait = decide(digest, "grid_cycle", NOON, False, NOON + timedelta(minutes=5))
    assert (wait.action, wait.until) == ("hold", NOON + timedelta(minutes=15))
    due = decide(digest, "grid_cycle", NOON, True, NOON + timedelta(minutes=15))
    assert (due.action, due.digest) == ("send", True)
    assert not decide(digest, "trend_entry", NOON, False, NOON).digest  # only fills and cycles


async def _alice(app: App) -> int:
    await app.send(ALICE, "/start")
    return (await app.user(ALICE)).id


async def _alert(app: App, user_id: int, kind: str, payload: dict, *, bot_id: int | None = None) -> None:
    async with app.services.db.write() as session:
        session.add(
            AlertOutbox(
                **q.alert_values(user_id=user_id, chat_id=ALICE, bot_id=bot_id, kind=kind, payload=payload)
            )
        )


def _fill(n: int) -> dict:
    return {
        "name": "Grid B", "side": "buy", "qty": "0.001", "symbol": "BTC/USDT", "price": str(100000 + n),
        "interval": n, "fee": "0.02", "line": n + 1, "lines": 11, "realized_profit": "1", "held": f"0.00{n}",
        "asset": "BTC",
    }  # fmt: skip


async def _rows(app: App) -> list[AlertOutbox]:
    async with app.services.db.read() as session:
        return list((await session.execute(select(AlertOutbox).order_by(AlertOutbox.id))).scalars())


def _messages_after(app: App, count: int) -> list[str]:
    return [m.text or "" for m in app.emu.bot_messages(ALICE)[count:]]


async def test_the_sender_drops_silences_and_digests_as_the_user_chose(app: App) -> None:
    user_id = await _alice(app)
    notifications = app.services.notifications
    assert notifications is not None
    sender = AlertSender(app.services.db, app.bot, per_chat_burst=20)
    seen = len(app.emu.bot_messages(ALICE))

    # fills off, trades silent
    await notifications.change(user_id, event="fill", level="off")
    await notifications.change(user_id, event="trade", level="silent")
    await _alert(app, user_id, "grid_fill", _fill(1))
    await _alert(
        app, user_id, "trend_entry", {"name": "T", "side": "long", "qty": "1", "symbol": "X", "price": "1"}
    )
    assert await sender.drain_once() == 1
    [entry] = _messages_after(app, seen)
    assert entry.startswith("📈 T opened long")
    [call] = [c for c in app.emu.calls_to("sendMessage") if "opened long" in str(c.params.get("text"))]
    assert str(call.params.get("disable_notification")).lower() == "true"
    rows = await _rows(app)
    assert [(r.kind, r.sent_at is not None, r.last_error) for r in rows[-2:]] == [
        ("grid_fill", True, "off"),
        ("trend_entry", True, None),
    ]

    # a digest window of 15 minutes: a bot's fills and cycles wait, then go as one line
    await notifications.change(user_id, event="fill", level="on", digest_minutes=15)
    seen = len(app.emu.bot_messages(ALICE))
    for n in range(2, 7):
        await _alert(app, user_id, "grid_fill", _fill(n))
    await _alert(app, user_id, "grid_cycle", {**_fill(6), "cycle": 1, "profit": "1.25"})
    await _alert(app, user_id, "grid_cycle", {**_fill(6), "cycle": 2, "profit": "1.96"})
    assert await sender.drain_once() == 0 and _messages_after(app, seen) == []
    held = [r for r in await _rows(app) if r.sent_at is None]
    assert len(held) == 7 and {r.last_error for r in held} == {HELD}
    assert all(r.next_attempt_at is not None and r.next_attempt_at > utcnow() for r in held)
    async with app.services.db.write() as session:  # 15 minutes later
        await session.execute(
            update(AlertOutbox)
            .where(AlertOutbox.sent_at.is_(None))
            .values(
                created_at=utcnow() - timedelta(minutes=16), next_attempt_at=utcnow() - timedelta(seconds=1)
            )
        )
    assert await sender.drain_once() == 7
    assert _messages_after(app, seen) == ["🧾 Grid B: 5 fills, 2 cycles, +3.21 USDT, holds 0.006 BTC"]


async def test_quiet_hours_hold_everything_but_stops_and_errors_until_they_end(app: App) -> None:
    user_id = await _alice(app)
    notifications = app.services.notifications
    assert notifications is not None
    hour = utcnow().hour
    await app.services.reports.change(user_id, zone="UTC")  # type: ignore[union-attr]
    await notifications.change(user_id, quiet=(hour, (hour + 2) % 24))  # quiet now, for two hours
    sender = AlertSender(app.services.db, app.bot, per_chat_burst=20)
    seen = len(app.emu.bot_messages(ALICE))
    await _alert(app, user_id, "grid_fill", _fill(1))
    await _alert(app, user_id, "grid_fill", _fill(2))
    await _alert(app, user_id, "bot_error", {"name": "Grid B", "error": "the exchange refused an order"})
    assert await sender.drain_once() == 1
    assert _messages_after(app, seen) == ["⚠️ Grid B: the exchange refused an order"]
    [error] = [c for c in app.emu.calls_to("sendMessage") if "refused an order" in str(c.params.get("text"))]
    assert str(error.params.get("disable_notification")).lower() == "true"  # at once, but silently
    held = [r for r in await _rows(app) if r.sent_at is None]
    end = utcnow().replace(minute=0, second=0, microsecond=0) + timedelta(hours=2)
    assert [r.next_attempt_at for r in held] == [end, end]

    await notifications.change(user_id, no_quiet=True)  # the quiet hours are over
    async with app.services.db.write() as session:
        await session.execute(update(AlertOutbox).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    assert await sender.drain_once() == 2
    assert _messages_after(app, seen)[1:] == ["🧾 Grid B: 2 fills, 0 cycles, 0.00 USDT, holds 0.002 BTC"]


async def test_notify_through_the_chat(app: App) -> None:
    screen = await app.send(ALICE, "/notify")
    assert "Grid fills: on" in (screen.text or "") and "Quiet hours: none" in (screen.text or "")
    await app.press(ALICE, screen, "Grid fills: on")
    assert "Grid fills: silent" in labels(screen)
    await app.press(ALICE, screen, "Grid fills: silent")
    assert "Grid fills: off" in labels(screen)
    await app.press(ALICE, screen, "Errors: on")
    assert "Errors: silent" in labels(screen)
    await app.press(ALICE, screen, "Errors: silent")
    assert "Errors: on" in labels(screen)  # never off
    answer = await app.press_data(ALICE, screen, "nf:digest:99999")  # forged: refused
    assert "0 to 1440 minutes" in (answer.text or "")
    await app.press(ALICE, screen, "Digest: 15 min")
    assert "every 15 min" in (screen.text or "")

    screen = await app.send(ALICE, "/notify quiet 23-7")
    assert "Quiet hours: 23:00–07:00 (UTC)" in (screen.text or "")
    screen = await app.send(ALICE, "/notify quiet 25-3")
    assert "two hours from 0 to 23" in (screen.text or "")
    screen = await app.send(ALICE, "/notify digest 0")
    assert "Digest of fills and cycles: off" in (screen.text or "")
    screen = await app.send(ALICE, "/notify loudly")
    assert "Use /notify" in (screen.text or "")
    notifications = app.services.notifications
    assert notifications is not None
    settings_now = await notifications.settings((await app.user(ALICE)).id)
    assert settings_now.level("fill") == "off" and settings_now.level("error") == "on"
    assert (settings_now.quiet_from, settings_now.quiet_to, settings_now.digest_minutes) == (23, 7, 0)
