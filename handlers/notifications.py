"""/notify: which alerts reach the user and how (bot/services/notifications.py): a level per event type
(a tap cycles on → silent → off; stops and errors only on ↔ silent), quiet hours, the digest window."""

from __future__ import annotations

import re

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.i18n import t
from bot.services.dto import UserDTO
from bot.services.notifications import DIGEST_WINDOWS, EVENTS, NEVER_OFF, Notifications, NotifySettings
from bot.services.validation import parse_int
from handlers.texts import show

router = Router(name=__name__)
QUIET = re.compile(r"^(\d{1,2})-(\d{1,2})$")


class NotifyCD(CallbackData, prefix="nf"):
    """A /notify button: `what` = an event type (its next level), "digest" (`minutes`) or "quiet_off"."""

    what: str
    minutes: int = 0


def _next_level(settings: NotifySettings, event: str) -> str:
    order = ("on", "silent") if event in NEVER_OFF else ("on", "silent", "off")
    current = settings.level(event)
    return order[(order.index(current) + 1) % len(order)]


def notify_view(settings: NotifySettings, lang: str) -> tuple[str, InlineKeyboardMarkup]:
    lines = [t(lang, "notify.title")]
    for event in EVENTS:
        level = t(lang, f"notify.level.{settings.level(event)}")
        lines.append(t(lang, "notify.line", event=t(lang, f"notify.event.{event}"), level=level))
    if settings.quiet_from is not None and settings.quiet_to is not None:
        lines.append(
            t(
                lang,
                "notify.quiet",
                start=f"{settings.quiet_from:02d}",
                end=f"{settings.quiet_to:02d}",
                zone=settings.zone,
            )
        )
    else:
        lines.append(t(lang, "notify.quiet_none"))
    if settings.digest_minutes:
        lines.append(t(lang, "notify.digest", minutes=settings.digest_minutes))
    else:
        lines.append(t(lang, "notify.digest_none"))
    lines.append(t(lang, "notify.never_off"))
    rows = []
    buttons = [
        InlineKeyboardButton(
            text=t(
                lang,
                "notify.line",
                event=t(lang, f"notify.event.{event}"),
                level=t(lang, f"notify.level.{settings.level(event)}"),
            ),
            callback_data=NotifyCD(what=event).pack(),
        )
        for event in EVENTS
    ]
    rows += [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    rows.append(
        [
            InlineKeyboardButton(
                text=("• " if minutes == settings.digest_minutes else "")
                + t(
                    lang,
                    "notify.button.digest",
                    label=t(lang, "notify.minutes", minutes=minutes)
                    if minutes
                    else t(lang, "notify.level.off"),
                ),
                callback_data=NotifyCD(what="digest", minutes=minutes).pack(),
            )
            for minutes in DIGEST_WINDOWS
        ]
    )
    if settings.quiet_from is not None:
        rows.append(
            [
                InlineKeyboardButton(
                    text=t(lang, "notify.button.quiet_off"), callback_data=NotifyCD(what="quiet_off").pack()
                )
            ]
        )
    return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows)


@router.message(Command("notify"))
async def notify(
    message: Message, command: CommandObject, notifications: Notifications, user: UserDTO, lang: str
) -> None:
    words = (command.args or "").split()
    if not words:
        settings = await notifications.settings(user.id)
    elif len(words) == 2 and words[0].lower() == "quiet" and words[1].lower() == "off":
        settings = await notifications.change(user.id, no_quiet=True)
    elif len(words) == 2 and words[0].lower() == "quiet" and (hours := QUIET.match(words[1])):
        settings = await notifications.change(user.id, quiet=(int(hours[1]), int(hours[2])))
    elif len(words) == 2 and words[0].lower() == "digest":
        settings = await notifications.change(user.id, digest_minutes=parse_int(words[1], "digest_minutes"))
    else:
        await message.answer(t(lang, "notify.usage"))
        return
    text, keyboard = notify_view(settings, lang)
    await message.answer(text, reply_markup=keyboard)


@router.callback_query(NotifyCD.filter())
async def notify_button(
    cq: CallbackQuery, callback_data: NotifyCD, notifications: Notifications, user: UserDTO, lang: str
) -> None:
    current = await notifications.settings(user.id)
    what = callback_data.what
    if what in EVENTS:
        settings = await notifications.change(user.id, event=what, level=_next_level(current, what))
    elif what == "digest":
        settings = await notifications.change(user.id, digest_minutes=callback_data.minutes)
    elif what == "quiet_off":
        settings = await notifications.change(user.id, no_quiet=True)
    else:  # forged: nothing changes
        settings = current
    text, keyboard = notify_view(settings, lang)
    await show(cq, text, keyboard)
