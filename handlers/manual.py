"""Manual trading from the chat: a trend bot card's "close" and /trade, each confirmed with a second tap.

The first step checks and shows the action and stores it under a one-time token (bot.services.
confirmations); the confirm button carries only that token, so a replayed, forged, stolen or expired one
places nothing. Ownership is re-checked by the trading service (a forged callback for someone else's bot is
"not found"); exchange refusals come back as domain errors, shown by the error router.
"""

from __future__ import annotations

import html
from decimal import Decimal

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message

from bot.i18n import t
from bot.services.confirmations import Confirmations
from bot.services.dto import UserDTO
from bot.services.fleet import Fleet
from bot.services.trading import Trading
from bot.services.validation import split_symbol
from handlers import keyboards as kb
from handlers import texts as render
from handlers.callbacks import BotAction, BotCD, CancelCD, Confirm, ConfirmCD
from handlers.texts import show

router = Router(name=__name__)
MAX_AMOUNT_CHARS = 20  # no amount anyone means is longer


@router.callback_query(BotCD.filter(F.action == BotAction.close))
async def ask_close(
    cq: CallbackQuery,
    callback_data: BotCD,
    trading: Trading,
    confirmations: Confirmations,
    user: UserDTO,
    lang: str,
) -> None:
    positions = await trading.open_positions(user.id, callback_data.bot_id)
    token = confirmations.issue(user.id, Confirm.close, bot_id=positions.bot_id)
    text = t(
        lang,
        "manual.confirm_close",
        name=html.escape(positions.name),
        count=positions.count,
        symbol=positions.symbol,
        long_qty=render.num(positions.long_qty),
        short_qty=render.num(positions.short_qty),
    )
    await show(cq, text, kb.close_confirm(token, lang))


@router.callback_query(ConfirmCD.filter(F.action == Confirm.close))
async def close_positions(
    cq: CallbackQuery,
    callback_data: ConfirmCD,
    trading: Trading,
    fleet: Fleet,
    confirmations: Confirmations,
    user: UserDTO,
    lang: str,
) -> None:
    pending = confirmations.consume(user.id, callback_data.token, Confirm.close)
    result = await trading.close_bot(user.id, pending["bot_id"])
    note = t(
        lang,
        "manual.closed",
        name=html.escape(result.name),
        count=result.closed,
        pnl=render.signed(result.pnl),
    )
    bot, summary = await fleet.card(user.id, result.bot_id)
    await show(cq, f"{note}\n\n{render.bot_card(bot, summary.free_percent, lang)}", kb.bot_card(bot, lang))


@router.message(Command("trade"))
async def trade(
    message: Message,
    command: CommandObject,
    trading: Trading,
    confirmations: Confirmations,
    user: UserDTO,
    lang: str,
) -> None:
    parts = (command.args or "").split()
    if len(parts) != 3 or len(parts[2]) > MAX_AMOUNT_CHARS:
        await message.answer(t(lang, "manual.trade.usage"))
        return
    symbol, side, amount = parts[0], parts[1].lower(), parts[2]
    order = await trading.preview(user.id, symbol, side, amount)  # checked against the market and balance
    base, quote = split_symbol(order.symbol)
    price = order.price or Decimal(0)  # preview refuses an order it cannot price
    text = t(
        lang,
        "manual.trade.confirm",
        side=t(lang, f"manual.side.{order.side}"),
        qty=render.amount(order.qty, lang),
        base=base,
        symbol=order.symbol,
        value=render.amount(order.qty * price, lang, places=2),
        price=render.amount(price, lang),
        quote=quote,
    )
    # the order exactly as previewed waits here; it is checked against the market and balance once more
    token = confirmations.issue(user.id, Confirm.trade, symbol=order.symbol, side=order.side, qty=order.qty)
    await message.answer(text, reply_markup=kb.trade_confirm(token, lang))


@router.callback_query(ConfirmCD.filter(F.action == Confirm.trade))
async def place_trade(
    cq: CallbackQuery,
    callback_data: ConfirmCD,
    trading: Trading,
    confirmations: Confirmations,
    user: UserDTO,
    lang: str,
) -> None:
    pending = confirmations.consume(user.id, callback_data.token, Confirm.trade)
    nonce = cq.message.message_id if cq.message is not None else 0  # the client order id's part, too
    order = await trading.market_order(
        user.id, pending["symbol"], pending["side"], pending["qty"], nonce=nonce
    )
    text = t(
        lang,
        "manual.trade.done",
        side=t(lang, f"manual.side.{order.side}"),
        qty=render.num(order.qty),
        symbol=order.symbol,
        price=render.num(order.price) if order.price is not None else "-",
        fee=render.num(order.fee or 0),
    )
    await show(cq, text)


@router.callback_query(CancelCD.filter(F.action == Confirm.trade))
async def cancel_trade(
    cq: CallbackQuery, callback_data: CancelCD, confirmations: Confirmations, user: UserDTO, lang: str
) -> None:
    confirmations.revoke(user.id, callback_data.token, Confirm.trade)
    await show(cq, t(lang, "common.cancelled"))
