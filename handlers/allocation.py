"""/allocation (every bot's share of the balance and the free share) and /stopall, the kill switch."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from bot.i18n import t
from bot.services.dto import UserDTO
from bot.services.fleet import Fleet
from handlers import keyboards as kb
from handlers import texts as render
from handlers.callbacks import MenuAction, MenuCD
from handlers.texts import show

router = Router(name=__name__)


@router.message(Command("allocation"))
@router.callback_query(MenuCD.filter(F.action == MenuAction.allocation))
async def allocation(event: Message | CallbackQuery, fleet: Fleet, user: UserDTO, lang: str) -> None:
    summary = await fleet.allocation(user.id)
    await show(event, render.allocation(summary, lang), kb.allocation(summary, lang))


@router.message(Command("stopall"))
@router.callback_query(MenuCD.filter(F.action == MenuAction.stopall))
async def ask_stop_all(event: Message | CallbackQuery, fleet: Fleet, user: UserDTO, lang: str) -> None:
    summary = await fleet.allocation(user.id)
    running = [share for share in summary.shares if share.is_running]
    if not running:
        await show(event, t(lang, "alloc.none_running"), kb.back_to_menu(lang))
        return
    holding = [await fleet.holdings(user.id, share.bot_id) for share in running]
    if any(held.anything for held in holding):
        await show(
            event, t(lang, "alloc.confirm_stopall_holdings", count=len(running)), kb.stop_all_holdings(lang)
        )
        return
    await show(event, t(lang, "alloc.confirm_stopall", count=len(running)), kb.stop_all_confirm(lang))


@router.callback_query(kb.KillSwitchCD.filter())
async def stop_all(
    cq: CallbackQuery, callback_data: kb.KillSwitchCD, fleet: Fleet, user: UserDTO, lang: str
) -> None:
    holdings = {kb.KillAction.keep: "keep", kb.KillAction.close: "close"}.get(callback_data.action)
    stopped = await fleet.stop_all(
        user.id, holdings=holdings, reason="kill_switch" if holdings != "close" else "user"
    )
    summary = await fleet.allocation(user.id)
    lines = [t(lang, "alloc.stopped_all", count=len(stopped))]
    still = sum(bot.stopping for bot in stopped)
    if still:
        lines.append(t(lang, "alloc.stopping_all", stopping=still, count=len(stopped)))
    text = "\n".join(lines) + f"\n\n{render.allocation(summary, lang)}"
    await show(cq, text, kb.allocation(summary, lang))
