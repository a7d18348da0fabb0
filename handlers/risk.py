"""/risk: the account's guards (bot/services/risk.py): the kill switch on a drawdown from the equity peak,
an equity floor, the daily loss limit, and whether their stop closes or keeps what the bots hold."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.i18n import t
from bot.services.dto import UserDTO
from bot.services.reports import Reports
from bot.services.risk import GuardSettings, RiskGuards
from handlers.money_texts import money_text
from handlers.texts import num

router = Router(name=__name__)


def risk_text(guards: GuardSettings, zone: str, lang: str) -> str:
    lines = [t(lang, "risk.title")]
    if guards.drawdown is not None:
        peak = money_text(guards.peak) if guards.peak is not None else "—"
        lines.append(t(lang, "risk.drawdown", percent=num(guards.drawdown), peak=peak))
    else:
        lines.append(t(lang, "risk.drawdown_off"))
    if guards.floor is not None:
        lines.append(t(lang, "risk.floor", floor=money_text(guards.floor)))
    else:
        lines.append(t(lang, "risk.floor_off"))
    if guards.daily_loss is not None:
        lines.append(t(lang, "risk.daily", limit=money_text(guards.daily_loss), zone=zone))
    else:
        lines.append(t(lang, "risk.daily_off"))
    choice = t(lang, "risk.holdings.close" if guards.close else "risk.holdings.keep")
    lines.append(t(lang, "risk.holdings", choice=choice))
    lines.append(t(lang, "risk.per_bot"))
    return "\n".join(lines)


@router.message(Command("risk"))
async def risk(
    message: Message, command: CommandObject, guards: RiskGuards, reports: Reports, user: UserDTO, lang: str
) -> None:
    words = [w.lower() for w in (command.args or "").split()]
    if not words:
        settings = await guards.settings(user.id)
    elif words == ["off"]:
        settings = await guards.change(user.id, all_off=True)
    elif len(words) == 2 and words[0] == "drawdown":
        settings = await guards.change(user.id, drawdown=words[1])
    elif len(words) == 2 and words[0] == "floor":
        settings = await guards.change(user.id, floor=words[1])
    elif len(words) == 2 and words[0] == "daily":
        settings = await guards.change(user.id, daily_loss=words[1])
    elif len(words) == 2 and words[0] == "close" and words[1] in ("on", "off"):
        settings = await guards.change(user.id, close=words[1] == "on")
    else:
        await message.answer(t(lang, "risk.usage"))
        return
    zone = (await reports.settings(user.id)).zone
    await message.answer(risk_text(settings, zone, lang))
