"""The alert sender: drains the outbox into the owners' chats within Telegram's limits.

- Rates: per chat about 1 message/s sustained with short bursts, overall at most 25 messages/s
  (aiolimiter's leaky buckets).
- A 429 pauses all sending for its retry_after (we cannot tell a chat's flood limit from the global one,
  so nothing is retried early). Other failures (5xx, network) back off exponentially per alert.
- A row is marked sent only after Telegram accepted the message; unsent rows survive restarts.
  Delivery is at least once: a crash between Telegram's accept and our mark sends that message again.
- Several pending alerts of one chat are merged into one message (up to MAX_MERGED or the length limit).
- A chat that refuses the bot (403) or a message Telegram rejects (400) is marked undeliverable
  (sent_at set, last_error says why) instead of being retried forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramRetryAfter
from aiogram.types import BufferedInputFile
from aiolimiter import AsyncLimiter
from sqlalchemy import or_, select, update

from bot.i18n import CATALOG, t
from bot.report_texts import render_report, report_chart
from bot.services.exchange_errors import exchange_code, topic
from bot.services.notifications import HELD, NotifySettings, decide, settings_of
from bot.services.reports import REPORT_ALERT
from bot.services.validation import DELETED_NAME_SEPARATOR
from db.base import utcnow
from db.models import AlertOutbox, BotInstance, User
from db.session import Database
from handlers.money_texts import money_text, signed_money

log = logging.getLogger(__name__)

MAX_MERGED = 20
MONEY_FIELDS = frozenset({"margin", "equity", "peak", "floor", "loss", "limit"})  # 2 decimals, separators
SIGNED_FIELDS = frozenset({"pnl", "pnl_percent", "profit", "realized_profit"})  # the same, with a sign
MESSAGE_LIMIT = 4096
SEPARATOR = "\n\n"


@dataclass(frozen=True, slots=True)
class PendingAlert:
    id: int
    chat_id: int
    kind: str
    payload: dict[str, Any]
    language: str
    attempts: int
    bot_id: int | None = None
    created_at: datetime | None = None
    held: bool = False  # held before for quiet hours or a digest window (bot.services.notifications)
    settings: NotifySettings | None = None
    silent: bool = False  # sent without a sound
    merged: tuple[int, ...] = ()  # a digest's other outbox rows

    @property
    def ids(self) -> tuple[int, ...]:
        return (self.id, *self.merged)


def _current_name(payload: dict[str, Any] | None, name: str | None) -> dict[str, Any]:
    """The payload with the bot's name as it is now (renamed since the alert was written: the new one)."""
    values = dict(payload or {})
    if name is not None and "name" in values:
        values["name"] = name.split(DELETED_NAME_SEPARATOR, 1)[0]
    return values


def render_alert(kind: str, payload: dict[str, Any], lang: str) -> str:
    """The alert's text in `lang`; payload values are HTML-escaped (they may hold bot names)."""
    if kind == REPORT_ALERT:
        return render_report(payload, lang)
    key = f"alert.{kind}"
    params = {name: html.escape(_display(name, value)) for name, value in payload.items()}
    if payload.get("account_kind") in ("classic", "uta"):
        params["kind"] = html.escape(t(lang, f"keys.kind.{payload['account_kind']}"))
    if "error" in payload and exchange_code(str(payload["error"])):
        # an exchange's refusal in words, with its code, never its raw answer
        error = str(payload["error"])
        reason = t(lang, f"exchange.error.{topic(error)}")
        params["error"] = html.escape(
            t(lang, "exchange.error.inline", reason=reason, code=exchange_code(error))
        )
    if kind == "grid_fill" and payload.get("interval") == -1:
        key = "alert.grid_fill_close"  # the sale of everything held at a stop: no line
    if payload.get("held_seconds") is not None:
        days, rest = divmod(int(payload["held_seconds"]), 86_400)
        params["held_for"] = t(
            lang, "bots.money.duration", days=days, hours=rest // 3600, minutes=rest % 3600 // 60
        )
    if key not in CATALOG["en"]:
        return t(lang, "alert.generic", kind=html.escape(kind), details=html.escape(_details(payload)))
    for text_key in (key, f"{key}_brief"):  # the brief text: alerts written before the fields existed
        if text_key in CATALOG["en"]:
            try:
                return t(lang, text_key, **params)
            except (KeyError, IndexError):  # a payload without a field the text needs
                continue
    return t(lang, "alert.generic", kind=html.escape(kind), details=html.escape(_details(payload)))


def _display(name: str, value: object) -> str:
    """'0.00047100' -> '0.000471', 'BTC/USDT' and 'BTC/USDT:USDT' -> 'BTCUSDT', money at 2 decimals with
    thousands separators (PnL signed), none as a dash; other values as they are."""
    if value is None:
        return "—"
    text = str(value)
    if name == "symbol":
        return text.split(":", 1)[0].replace("/", "")
    if name in MONEY_FIELDS or name in SIGNED_FIELDS:
        try:
            number = Decimal(text)
        except InvalidOperation:
            return text
        if number.is_finite():
            return signed_money(number) if name in SIGNED_FIELDS else money_text(number)
    if isinstance(value, str) and name not in ("name", "reason", "error", "side"):
        try:
            number = Decimal(text)
        except InvalidOperation:
            return text
        if number.is_finite():
            return f"{number.normalize():f}"
    return text


def _details(payload: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in payload.items())


def backoff_seconds(attempts: int, *, base: float = 1.0, cap: float = 30.0) -> float:
    """Wait before the next try after `attempts` failed ones: 1, 2, 4, ... seconds, at most `cap`."""
    return min(cap, base * 2 ** max(0, attempts - 1))


class AlertSender:
    def __init__(
        self,
        db: Database,
        bot: Bot,
        *,
        per_chat_per_second: float = 1.0,
        per_chat_burst: int = 3,
        global_per_second: float = 25.0,
        poll_interval: float = 0.5,
        batch_size: int = 500,
        backoff_cap: float = 30.0,
    ) -> None:
        self.db = db
        self.bot = bot
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        self.backoff_cap = backoff_cap
        self._per_chat_burst = per_chat_burst
        self._per_chat_period = per_chat_burst / per_chat_per_second
        self._chat_limiters: OrderedDict[int, AsyncLimiter] = OrderedDict()
        # a burst of at most a fifth of a second's worth keeps every 1 s window under ~1.2x the rate
        self._global = AsyncLimiter(max(1.0, global_per_second / 5), 0.2)
        self._paused_until = 0.0  # time.monotonic() before which nothing is sent (a 429's retry_after)
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self.sent_messages = 0

    def notify(self) -> None:
        """Something was written to the outbox: look now rather than at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        """Drain until stop(); errors of one round are logged and the next round tries again."""
        while not self._stopping.is_set():
            try:
                await self.drain_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("alert sender round failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)

    async def drain_once(self) -> int:
        """Send what is due now; returns how many alerts were marked sent."""
        pending = await self._due()
        by_chat: OrderedDict[int, list[PendingAlert]] = OrderedDict()
        for alert in pending:
            by_chat.setdefault(alert.chat_id, []).append(alert)
        results = await asyncio.gather(*(self._send_chat(alerts) for alerts in by_chat.values()))
        return sum(results)

    async def _due(self) -> list[PendingAlert]:
        now = utcnow()
        async with self.db.read() as session:
            rows = await session.execute(
                select(AlertOutbox, User, BotInstance.name)
                .join(User, User.id == AlertOutbox.user_id)
                .outerjoin(BotInstance, BotInstance.id == AlertOutbox.bot_instance_id)
                .where(
                    AlertOutbox.sent_at.is_(None),
                    or_(AlertOutbox.next_attempt_at.is_(None), AlertOutbox.next_attempt_at <= now),
                )
                .order_by(AlertOutbox.id)
                .limit(self.batch_size)
            )
            settings: dict[int, NotifySettings] = {}
            pending = []
            for a, user, name in rows:
                if user.id not in settings:
                    settings[user.id] = settings_of(user)
                pending.append(
                    PendingAlert(
                        a.id,
                        a.chat_id,
                        a.kind,
                        _current_name(a.payload, name),
                        user.language,
                        a.attempts,
                        bot_id=a.bot_instance_id,
                        created_at=a.created_at,
                        held=a.last_error == HELD,
                        settings=settings[user.id],
                    )
                )
            return pending

    async def _send_chat(self, alerts: list[PendingAlert]) -> int:
        alerts = await self._apply_settings(alerts)
        sent = 0
        while alerts:
            group, text = _merge(alerts)
            alerts = alerts[len(group) :]
            outcome = await self._send(group[0].chat_id, text, silent=group[0].silent)
            ids = [i for a in group for i in a.ids]
            if outcome == "sent":
                if group[0].kind == REPORT_ALERT:
                    await self._send_chart(group[0])
                await self._mark_sent(ids)
                sent += len(ids)
            elif outcome == "undeliverable":
                await self._mark_sent(ids, error="undeliverable")
            else:
                await self._mark_failed(group, outcome)
                return sent  # keep this chat's order: the rest waits for the retry
        return sent

    async def _apply_settings(self, alerts: list[PendingAlert]) -> list[PendingAlert]:
        """The user's notification settings on a chat's pending alerts: those switched off are marked
        done (not sent), those in quiet hours or a digest window held until it ends, and a bot's fills and
        cycles due together in a digest coalesced into one line; returns what to send now, in order."""
        now = utcnow()
        off: list[int] = []
        hold: list[tuple[PendingAlert, datetime]] = []
        out: list[PendingAlert] = []
        digests: dict[int | None, list[PendingAlert]] = {}
        for alert in alerts:
            if alert.settings is None:
                out.append(alert)
                continue
            decision = decide(alert.settings, alert.kind, alert.created_at or now, alert.held, now)
            if decision.action == "drop":
                off.append(alert.id)
            elif decision.action == "hold":
                assert decision.until is not None
                hold.append((alert, decision.until))
            else:
                alert = replace(alert, silent=decision.silent)
                if decision.digest:
                    bucket = digests.setdefault(alert.bot_id, [])
                    if not bucket:
                        out.append(alert)  # the digest takes the place of the bot's first fill
                    bucket.append(alert)
                else:
                    out.append(alert)
        if off:
            await self._mark_sent(off, error="off")
        if hold:
            await self._hold(hold)
        return [
            _digest(digests[a.bot_id]) if a.bot_id in digests and a is digests[a.bot_id][0] else a
            for a in out
        ]

    async def _hold(self, held: list[tuple[PendingAlert, datetime]]) -> None:
        async with self.db.write() as session:
            for alert, until in held:
                await session.execute(
                    update(AlertOutbox)
                    .where(AlertOutbox.id == alert.id)
                    .values(next_attempt_at=until, last_error=HELD)
                )

    async def _send_chart(self, alert: PendingAlert) -> None:
        """A report's picture, after its text: best effort (the text is the report; a picture Telegram
        refuses or a failure is logged, not retried, so the report is never sent twice for it)."""
        try:
            chart = await asyncio.to_thread(report_chart, alert.payload, alert.language)
        except Exception:
            log.exception("report chart for chat %s failed", alert.chat_id)
            return
        if chart is not None:
            png, caption = chart
            await self._send(alert.chat_id, caption, photo=png, silent=alert.silent)

    async def _send(
        self, chat_id: int, text: str, *, photo: bytes | None = None, silent: bool = False
    ) -> str:
        limiter = self._chat_limiter(chat_id)
        while True:  # take the rate tokens only once no pause is on, so a pause's end is no stampede
            while (delay := self._paused_until - time.monotonic()) > 0:  # noqa: ASYNC110 - a deadline
                await asyncio.sleep(delay)
            await limiter.acquire()
            await self._global.acquire()
            if self._paused_until <= time.monotonic():
                break
        try:
            if photo is None:
                await self.bot.send_message(chat_id, text, disable_notification=silent or None)
            else:
                await self.bot.send_photo(
                    chat_id,
                    BufferedInputFile(photo, "equity.png"),
                    caption=text,
                    disable_notification=silent or None,
                )
        except TelegramRetryAfter as exc:
            self._paused_until = max(self._paused_until, time.monotonic() + exc.retry_after)
            log.warning("telegram asked to wait %s s", exc.retry_after)
            return "retry_after"
        except (TelegramForbiddenError, TelegramBadRequest) as exc:
            log.warning("alert to chat %s undeliverable: %s", chat_id, exc.message)
            return "undeliverable"
        except Exception as exc:  # network errors, 5xx, timeouts: back off and retry
            log.warning("alert to chat %s failed: %s", chat_id, exc)
            return f"error: {type(exc).__name__}: {exc}"[:500]
        self.sent_messages += 1
        return "sent"

    def _chat_limiter(self, chat_id: int) -> AsyncLimiter:
        limiter = self._chat_limiters.get(chat_id)
        if limiter is None:
            limiter = AsyncLimiter(self._per_chat_burst, self._per_chat_period)
            self._chat_limiters[chat_id] = limiter
            if len(self._chat_limiters) > 10_000:  # forget the least recently used chats
                self._chat_limiters.popitem(last=False)
        else:
            self._chat_limiters.move_to_end(chat_id)
        return limiter

    async def _mark_sent(self, ids: list[int], *, error: str | None = None) -> None:
        async with self.db.write() as session:
            await session.execute(
                update(AlertOutbox).where(AlertOutbox.id.in_(ids)).values(sent_at=utcnow(), last_error=error)
            )

    async def _mark_failed(self, group: list[PendingAlert], reason: str) -> None:
        now = utcnow()
        async with self.db.write() as session:
            for alert in group:
                attempts = alert.attempts + 1
                wait = 0.0 if reason == "retry_after" else backoff_seconds(attempts, cap=self.backoff_cap)
                await session.execute(
                    update(AlertOutbox)
                    .where(AlertOutbox.id.in_(alert.ids))
                    .values(
                        attempts=attempts, last_error=reason, next_attempt_at=now + timedelta(seconds=wait)
                    )
                )


def _merge(alerts: list[PendingAlert]) -> tuple[list[PendingAlert], str]:
    """The longest prefix of a chat's queue that fits one message, and its text."""
    group: list[PendingAlert] = []
    parts: list[str] = []
    length = 0
    for alert in alerts[:MAX_MERGED]:
        if parts and REPORT_ALERT in (alert.kind, group[0].kind):
            break  # a report goes alone (its picture follows it)
        if parts and alert.silent != group[0].silent:
            break  # one message is silent or not as a whole
        text = render_alert(alert.kind, alert.payload, alert.language)[:MESSAGE_LIMIT]
        extra = len(text) + (len(SEPARATOR) if parts else 0)
        if parts and length + extra > MESSAGE_LIMIT:
            break
        group.append(alert)
        parts.append(text)
        length += extra
    return group, SEPARATOR.join(parts)


def _digest(alerts: list[PendingAlert]) -> PendingAlert:
    """A bot's fills and cycles as one line: how many of each, the cycles' profit, what it holds now."""
    if len(alerts) == 1:
        return alerts[0]
    first, fills = alerts[0], [a for a in alerts if a.kind == "grid_fill"]
    profit = sum(
        (Decimal(str(a.payload.get("profit", 0))) for a in alerts if a.kind == "grid_cycle"), Decimal(0)
    )
    last = (fills or alerts)[-1].payload
    payload = {
        "name": last.get("name", ""),
        "fills": len(fills),
        "cycles": sum(a.kind == "grid_cycle" for a in alerts),
        "profit": str(profit),
        "held": last.get("held", "0"),
        "asset": last.get("asset", ""),
    }
    return replace(
        first,
        kind="digest",
        payload=payload,
        silent=all(a.silent for a in alerts),
        merged=tuple(i for a in alerts for i in a.ids)[1:],
    )
