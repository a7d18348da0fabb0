"""/bots: the list, a bot's card and everything its buttons do (start, stop, delete, edit, trades).

Every action goes through the fleet service, which re-checks that the bot belongs to the user: a forged
callback for someone else's bot raises NotFound, which the error router shows as "not found".
Stop and delete take a second tap (each of its buttons a one-time token of bot.services.confirmations),
which also says what happens to what the bot holds: a grid's coin is
kept or sold, a trend bot's positions kept with their protection or closed (the bot's setting first).
A stop that waits for the exchange says so; the alert says when it is done. Typed values (allocation,
risk numbers, a new name) are asked for with the EditBot.value state; a wrong value is answered with the
reason and the state stays, so the user can simply send another one (or /cancel).
"""

from __future__ import annotations

import html

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message

from bot.i18n import t
from bot.services.confirmations import Confirmations
from bot.services.dto import BotDTO, UserDTO
from bot.services.fleet import Fleet
from bot.services.lifecycle import Holdings
from handlers import keyboards as kb
from handlers import texts as render
from handlers.callbacks import BotAction, BotCD, CancelCD, Confirm, ConfirmCD, MenuAction, MenuCD
from handlers.keyboards import EditCD, EditField
from handlers.texts import show

router = Router(name=__name__)

# settings the fleet refuses to change while the bot runs (DESIGN: edited while stopped, except safe ones)
NOT_WHILE_RUNNING = {
    EditField.allocation: "allocation",
    EditField.leverage: "leverage",
    EditField.positions: "max_positions",
}
PROMPTS = {
    EditField.name: "bots.ask.name",
    EditField.leverage: "bots.ask.leverage",
    EditField.positions: "bots.ask.positions",
    EditField.stop_loss: "bots.ask.stop_loss",
    EditField.take_profit: "bots.ask.take_profit",
    EditField.max_loss: "bots.ask.max_loss",
    EditField.pnl_take_profit: "bots.ask.pnl_take_profit",
    EditField.pnl_stop_loss: "bots.ask.pnl_stop_loss",
}
GUARDS = {
    EditField.max_loss: "max_loss",
    EditField.pnl_take_profit: "pnl_take_profit",
    EditField.pnl_stop_loss: "pnl_stop_loss",
}


class EditBot(StatesGroup):
    value = State()  # data: bot_id, field (EditField value)


# ---- list and card


@router.message(Command("bots"))
@router.callback_query(MenuCD.filter(F.action == MenuAction.bots))
async def list_bots(
    event: Message | CallbackQuery, state: FSMContext, fleet: Fleet, user: UserDTO, lang: str
) -> None:
    await state.clear()
    bots, summary = await fleet.overview(user.id)
    await show(event, render.bot_list(bots, summary.free_percent, lang), kb.bot_list(bots, lang))


@router.callback_query(BotCD.filter(F.action == BotAction.card))
async def bot_card(
    cq: CallbackQuery, callback_data: BotCD, state: FSMContext, fleet: Fleet, user: UserDTO, lang: str
) -> None:
    await state.clear()
    await _show_card(cq, fleet, user, callback_data.bot_id, lang)


async def _show_card(
    event: Message | CallbackQuery,
    fleet: Fleet,
    user: UserDTO,
    bot_id: int,
    lang: str,
    note: str | None = None,
) -> None:
    bot, summary = await fleet.card(user.id, bot_id)
    text = render.bot_card(bot, summary.free_percent, lang)
    await show(event, f"{note}\n\n{text}" if note else text, kb.bot_card(bot, lang))


# ---- start, stop, delete


@router.callback_query(BotCD.filter(F.action == BotAction.start))
async def start_bot(cq: CallbackQuery, callback_data: BotCD, fleet: Fleet, user: UserDTO, lang: str) -> None:
    bot = await fleet.start(user.id, callback_data.bot_id)
    await _show_card(cq, fleet, user, bot.id, lang, note=t(lang, "bots.started", name=render.name(bot)))


@router.callback_query(BotCD.filter(F.action == BotAction.stop))
async def ask_stop(
    cq: CallbackQuery,
    callback_data: BotCD,
    fleet: Fleet,
    confirmations: Confirmations,
    user: UserDTO,
    lang: str,
) -> None:
    bot = await fleet.get_bot(user.id, callback_data.bot_id)
    held = await fleet.holdings(user.id, bot.id)
    tokens = _tokens(confirmations, user.id, Confirm.stop, bot.id, held)
    await show(cq, render.stop_question(bot, held, lang), kb.stop_confirm(held, tokens, lang))


def _tokens(
    confirmations: Confirmations, user_id: int, action: Confirm, bot_id: int, held: Holdings
) -> dict[str, str]:
    """One token per choice on the screen: "confirm" (nothing held), or "keep" and "close"."""
    choices = {"keep": "keep", "close": "close"} if held.anything else {"confirm": None}
    return {
        choice: confirmations.issue(user_id, action, bot_id=bot_id, holdings=holdings)
        for choice, holdings in choices.items()
    }


@router.callback_query(ConfirmCD.filter(F.action == Confirm.stop))
async def stop_bot(
    cq: CallbackQuery,
    callback_data: ConfirmCD,
    fleet: Fleet,
    confirmations: Confirmations,
    user: UserDTO,
    lang: str,
) -> None:
    pending = confirmations.consume(user.id, callback_data.token, Confirm.stop)
    bot = await fleet.stop(user.id, pending["bot_id"], holdings=pending.get("holdings"))
    if bot.stopping:
        note = t(lang, "bots.stopping", name=render.name(bot), note=html.escape(bot.stop_note or "…"))
    else:
        note = t(lang, "bots.stopped", name=render.name(bot))
    await _show_card(cq, fleet, user, bot.id, lang, note=note)


@router.callback_query(BotCD.filter(F.action == BotAction.delete))
async def ask_delete(
    cq: CallbackQuery,
    callback_data: BotCD,
    fleet: Fleet,
    confirmations: Confirmations,
    user: UserDTO,
    lang: str,
) -> None:
    bot = await fleet.get_bot(user.id, callback_data.bot_id)
    held = await fleet.holdings(user.id, bot.id)
    tokens = _tokens(confirmations, user.id, Confirm.delete, bot.id, held)
    await show(cq, render.delete_question(bot, held, lang), kb.delete_confirm(held, tokens, lang))


@router.callback_query(ConfirmCD.filter(F.action == Confirm.delete))
async def delete_bot(
    cq: CallbackQuery,
    callback_data: ConfirmCD,
    fleet: Fleet,
    confirmations: Confirmations,
    user: UserDTO,
    lang: str,
) -> None:
    pending = confirmations.consume(user.id, callback_data.token, Confirm.delete)
    bot = await fleet.get_bot(user.id, pending["bot_id"])
    summary = await fleet.delete(user.id, bot.id, holdings=pending.get("holdings"))
    bots = await fleet.list_bots(user.id)
    gone = all(b.id != bot.id for b in bots)
    note = t(lang, "bots.deleted" if gone else "bots.deleting", name=render.name(bot))
    await show(cq, f"{note}\n\n{render.bot_list(bots, summary.free_percent, lang)}", kb.bot_list(bots, lang))


@router.callback_query(CancelCD.filter(F.action.in_({Confirm.stop, Confirm.delete, Confirm.close})))
async def cancel_on_card(
    cq: CallbackQuery,
    callback_data: CancelCD,
    state: FSMContext,
    fleet: Fleet,
    confirmations: Confirmations,
    user: UserDTO,
    lang: str,
) -> None:
    """Cancel of a stop, a delete or a close: its token acts no more; back to the bot's card."""
    pending = confirmations.revoke(user.id, callback_data.token, callback_data.action)
    if pending is None:  # used, expired or never this user's: nothing to go back to
        await list_bots(cq, state, fleet, user, lang)
        return
    await _show_card(cq, fleet, user, pending.params["bot_id"], lang)


@router.callback_query(BotCD.filter(F.action == BotAction.trades))
async def trades(cq: CallbackQuery, callback_data: BotCD, fleet: Fleet, user: UserDTO, lang: str) -> None:
    bot = await fleet.get_bot(user.id, callback_data.bot_id)
    await show(cq, render.trades(bot, lang), kb.back_to_card(bot.id, lang))


# ---- edit


@router.callback_query(BotCD.filter(F.action == BotAction.edit))
async def edit_menu(
    cq: CallbackQuery, callback_data: BotCD, state: FSMContext, fleet: Fleet, user: UserDTO, lang: str
) -> None:
    await state.clear()
    bot = await fleet.get_bot(user.id, callback_data.bot_id)
    await show(cq, t(lang, "bots.edit.title", name=render.name(bot)), kb.edit_menu(bot, lang))


@router.callback_query(EditCD.filter(F.field == EditField.risk))
async def risk_menu(cq: CallbackQuery, callback_data: EditCD, fleet: Fleet, user: UserDTO, lang: str) -> None:
    bot = await fleet.get_bot(user.id, callback_data.bot_id)
    text = "\n".join([t(lang, "bots.edit.risk_title", name=render.name(bot)), _risk_line(bot, lang)])
    await show(cq, text, kb.risk_menu(bot, lang))


@router.callback_query(EditCD.filter(F.field.in_({EditField.notify_on, EditField.notify_off})))
async def toggle_notify(
    cq: CallbackQuery, callback_data: EditCD, fleet: Fleet, user: UserDTO, lang: str
) -> None:
    bot = await fleet.set_notify(user.id, callback_data.bot_id, callback_data.field == EditField.notify_on)
    await show(cq, t(lang, "bots.edit.title", name=render.name(bot)), kb.edit_menu(bot, lang))


@router.callback_query(EditCD.filter())
async def ask_value(
    cq: CallbackQuery, callback_data: EditCD, state: FSMContext, fleet: Fleet, user: UserDTO, lang: str
) -> None:
    bot = await fleet.get_bot(user.id, callback_data.bot_id)
    field = callback_data.field
    if bot.is_running and field in NOT_WHILE_RUNNING:
        setting = t(lang, f"field.{NOT_WHILE_RUNNING[field]}")
        await cq.answer(t(lang, "error.stop_first", setting=setting), show_alert=True)
        return
    if field == EditField.allocation:
        summary = await fleet.allocation(user.id)
        prompt = t(
            lang,
            "bots.ask.allocation",
            current=render.num(bot.allocation_percent),
            free=render.num(summary.free_percent),
            most=render.num(summary.free_percent + bot.allocation_percent),
        )
    else:
        prompt = t(lang, PROMPTS[field], current=_current(bot, field))
    await state.set_state(EditBot.value)
    await state.update_data(bot_id=bot.id, field=field.value)
    await show(
        cq, f"{t(lang, 'bots.edit.title', name=render.name(bot))}\n\n{prompt}", kb.back_to_card(bot.id, lang)
    )


@router.message(StateFilter(EditBot.value), F.text, ~F.text.startswith("/"))
async def receive_value(message: Message, state: FSMContext, fleet: Fleet, user: UserDTO, lang: str) -> None:
    data = await state.get_data()
    bot_id, field, value = int(data["bot_id"]), EditField(data["field"]), message.text or ""
    if field == EditField.allocation:
        bot = (await fleet.set_allocation(user.id, bot_id, value)).bot
    elif field == EditField.name:
        bot = await fleet.rename(user.id, bot_id, value)
    elif field == EditField.leverage:
        bot = await fleet.set_risk(user.id, bot_id, max_leverage=value)
    elif field == EditField.positions:
        bot = await fleet.set_risk(user.id, bot_id, max_positions=value)
    elif field == EditField.stop_loss:
        bot = await fleet.set_risk(user.id, bot_id, stop_loss_percent=value)
    elif field in GUARDS:
        bot = await fleet.set_risk(user.id, bot_id, **{GUARDS[field]: value})
    else:
        bot = await fleet.set_risk(user.id, bot_id, take_profit_percent=value)
    await state.clear()
    await _show_card(message, fleet, user, bot.id, lang, note=t(lang, "bots.saved"))


def _current(bot: BotDTO, field: EditField) -> str:
    if field == EditField.name:
        return html.escape(bot.name)
    if field == EditField.leverage:
        return str(bot.max_leverage)
    if field == EditField.positions:
        return str(bot.max_positions)
    if field in GUARDS:
        return render.num(getattr(bot, GUARDS[field])) if getattr(bot, GUARDS[field]) is not None else "-"
    value = bot.stop_loss_percent if field == EditField.stop_loss else bot.take_profit_percent
    return render.num(value) if value is not None else "-"


def _risk_line(bot: BotDTO, lang: str) -> str:
    guards = render.guards_line(bot, lang)
    if bot.bot_type == "grid":
        return guards
    return (
        guards
        + "\n"
        + t(
            lang,
            "bots.card.risk",
            leverage=bot.max_leverage,
            positions=bot.max_positions,
            sl=_current(bot, EditField.stop_loss),
            tp=_current(bot, EditField.take_profit),
        )
    )
