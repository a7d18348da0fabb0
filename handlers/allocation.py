"""/allocation (every bot's share of the balance and the free share) and /stopall, the kill switch (a second
tap confirms it, through a one-time token: bot.services.confirmations)."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from bot.i18n import t
from bot.services.confirmations import Confirmations
from bot.services.dto import UserDTO
from bot.services.fleet import Fleet
from handlers import keyboards as kb
from handlers import texts as render
from handlers.callbacks import CancelCD, Confirm, ConfirmCD, MenuAction, MenuCD
from handlers.texts import show

router = Router(name=__name__)


@router.message(Command("allocation"))
@router.callback_query(MenuCD.filter(F.action == MenuAction.allocation))
async def allocation(event: Message | CallbackQuery, fleet: Fleet, user: UserDTO, lang: str) -> None:
    summary = await fleet.allocation(user.id)
    await show(event, render.allocation(summary, lang), kb.allocation(summary, lang))


@router.message(Command("stopall"))
@router.callback_query(MenuCD.filter(F.action == MenuAction.stopall))
async def ask_stop_all(
    event: Message | CallbackQuery, fleet: Fleet, confirmations: Confirmations, user: UserDTO, lang: str
) -> None:
    summary = await fleet.allocation(user.id)
    running = [share for share in summary.shares if share.is_running]
    if not running:
        await show(event, t(lang, "alloc.none_running"), kb.back_to_menu(lang))
        return
    holding = [await fleet.holdings(user.id, share.bot_id) for share in running]
    if any(held.anything for held in holding):
        tokens = {
            choice: confirmations.issue(user.id, Confirm.stop_all, holdings=choice)
            for choice in ("keep", "close")
        }
        await show(
            event,
            t(lang, "alloc.confirm_stopall_holdings", count=len(running)),
            kb.stop_all_holdings(tokens, lang),
        )
        return
    token = confirmations.issue(user.id, Confirm.stop_all, holdings=None)
    await show(event, t(lang, "alloc.confirm_stopall", count=len(running)), kb.stop_all_confirm(token, lang))


@router.callback_query(ConfirmCD.filter(F.action == Confirm.stop_all))
async def stop_all(
    cq: CallbackQuery,
    callback_data: ConfirmCD,
    fleet: Fleet,
    confirmations: Confirmations,
    user: UserDTO,
    lang: str,
) -> None:
    pending = confirmations.consume(user.id, callback_data.token, Confirm.stop_all)
    holdings = pending.get("holdings")
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


@router.callback_query(CancelCD.filter(F.action == Confirm.stop_all))
async def cancel_stop_all(
    cq: CallbackQuery,
    callback_data: CancelCD,
    confirmations: Confirmations,
    user: UserDTO,
    lang: str,
) -> None:
    confirmations.revoke(user.id, callback_data.token, Confirm.stop_all)
    await show(cq, t(lang, "menu.title"), kb.main_menu(lang))
