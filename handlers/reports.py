"""/report: the daily and weekly reports' settings (on or off, the hour, the time zone) and a report of the
last 24 hours on demand (bot/services/reports.py writes them; the alert sender delivers them)."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.i18n import t
from bot.services.dto import UserDTO
from bot.services.reports import Reports, ReportSettings
from bot.services.validation import parse_int
from handlers.texts import show

router = Router(name=__name__)
HOURS = (6, 7, 8, 9, 10, 12, 18, 21)  # the hour buttons; any other hour by /report hour N


class ReportCD(CallbackData, prefix="rp"):
    """A /report button: toggle `what` (daily, weekly), or set the hour (`what` = hour, `hour`)."""

    what: str
    hour: int = 0


def _state(on: bool, lang: str) -> str:
    return t(lang, "report.on" if on else "report.off")


def settings_view(settings: ReportSettings, lang: str) -> tuple[str, InlineKeyboardMarkup]:
    text = t(
        lang,
        "report.settings",
        daily=_state(settings.daily, lang),
        weekly=_state(settings.weekly, lang),
        hour=f"{settings.hour:02d}",
        zone=settings.zone,
    )
    toggles = [
        InlineKeyboardButton(
            text=t(lang, f"report.toggle.{kind}", state=_state(getattr(settings, kind), lang)),
            callback_data=ReportCD(what=kind).pack(),
        )
        for kind in ("daily", "weekly")
    ]
    hours = [
        InlineKeyboardButton(
            text=("• " if h == settings.hour else "") + t(lang, "report.button.hour", hour=f"{h:02d}"),
            callback_data=ReportCD(what="hour", hour=h).pack(),
        )
        for h in HOURS
    ]
    return text, InlineKeyboardMarkup(inline_keyboard=[toggles, hours[:4], hours[4:]])


@router.message(Command("report"))
async def report(
    message: Message, command: CommandObject, reports: Reports, user: UserDTO, lang: str
) -> None:
    words = (command.args or "").split()
    if not words:
        settings = await reports.settings(user.id)
    elif len(words) == 2 and words[0].lower() == "hour":
        settings = await reports.change(user.id, hour=parse_int(words[1], "report_hour"))
    elif len(words) == 2 and words[0].lower() in ("tz", "zone", "timezone"):
        settings = await reports.change(user.id, zone=words[1])
    elif len(words) == 2 and words[0].lower() in ("daily", "weekly") and words[1].lower() in ("on", "off"):
        settings = await reports.change(user.id, **{words[0].lower(): words[1].lower() == "on"})
    else:
        await message.answer(t(lang, "report.usage"))
        return
    text, keyboard = settings_view(settings, lang)
    await message.answer(text, reply_markup=keyboard)


@router.callback_query(ReportCD.filter())
async def report_button(
    cq: CallbackQuery, callback_data: ReportCD, reports: Reports, user: UserDTO, lang: str
) -> None:
    current = await reports.settings(user.id)
    if callback_data.what == "daily":
        settings = await reports.change(user.id, daily=not current.daily)
    elif callback_data.what == "weekly":
        settings = await reports.change(user.id, weekly=not current.weekly)
    elif callback_data.what == "hour":
        settings = await reports.change(user.id, hour=callback_data.hour)
    else:  # forged: nothing changes
        settings = current
    text, keyboard = settings_view(settings, lang)
    await show(cq, text, keyboard)
