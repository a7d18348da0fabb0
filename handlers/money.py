"""The account at a glance: /balance, /positions, /pnl, and /trades with paging and a filter per bot
(bot/services/account_money.py reads them from the ledger and the venue)."""

from __future__ import annotations

import html
from decimal import Decimal

from aiogram import Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.i18n import t
from bot.services.account_money import AccountMoney, TradesPage
from bot.services.dto import UserDTO
from handlers.money_texts import money_text, plain, signed_money, trend_money_lines
from handlers.texts import show

router = Router(name=__name__)
MAX_FILTER_BUTTONS = 9


class TradesCD(CallbackData, prefix="tp"):
    """A page of /trades: `page` (0 = newest) of bot `bot_id` (0 = all bots)."""

    page: int
    bot_id: int


@router.message(Command("balance"))
async def balance(message: Message, money: AccountMoney, user: UserDTO, lang: str) -> None:
    view = await money.balance(user.id)
    lines = [t(lang, "money.balance.title", venue=t(lang, f"bots.venue.{view.venue}"))]
    for wallet in view.wallets:
        lines.append(
            t(
                lang,
                f"money.balance.wallet.{wallet.name}",
                free=money_text(wallet.usdt_free),
                used=money_text(wallet.usdt_used),
            )
        )
    for coin in view.coins:
        if coin.value is None:
            lines.append(
                t(lang, "money.balance.coin_unpriced", asset=html.escape(coin.asset), qty=plain(coin.qty))
            )
        else:
            lines.append(
                t(
                    lang,
                    "money.balance.coin",
                    asset=html.escape(coin.asset),
                    qty=plain(coin.qty),
                    value=money_text(coin.value),
                )
            )
    lines.append(t(lang, "money.balance.equity", equity=money_text(view.equity)))
    lines.append(
        t(
            lang,
            "money.balance.bots",
            running=view.bots_running,
            coin=money_text(view.bots_coin),
            margin=money_text(view.bots_margin),
            reserved=money_text(view.reserved),
        )
    )
    await message.answer("\n".join(lines))


@router.message(Command("positions"))
async def positions(message: Message, money: AccountMoney, user: UserDTO, lang: str) -> None:
    lines = []
    for bot in await money.cards(user.id):
        name = html.escape(bot.name)
        if bot.trend is not None and bot.trend.positions:
            lines.append(t(lang, "money.positions.bot", name=name, symbol=html.escape(bot.symbol)))
            lines += trend_money_lines(bot.trend, lang)[: len(bot.trend.positions)]
        grid = bot.grid.money if bot.grid is not None else None
        if grid is not None and grid.held > 0 and grid.average_cost is not None:
            lines.append(
                t(
                    lang,
                    "money.positions.grid",
                    name=name,
                    held=plain(grid.held),
                    asset=html.escape(bot.symbol.removesuffix("USDT")),
                    cost=money_text(grid.average_cost),
                    floating=signed_money(grid.floating_pnl),
                )
            )
    if not lines:
        await message.answer(t(lang, "money.positions.none"))
        return
    await message.answer("\n".join([t(lang, "money.positions.title"), *lines]))


@router.message(Command("pnl"))
async def pnl(message: Message, money: AccountMoney, user: UserDTO, lang: str) -> None:
    report = await money.pnl(user.id)
    lines = [t(lang, "money.pnl.title"), t(lang, "money.pnl.header")]
    for bot in report.bots:
        lines.append(
            t(
                lang,
                "money.pnl.bot",
                name=html.escape(bot.name),
                **_windows(bot.realized),
                unrealized=signed_money(bot.unrealized),
            )
        )
    lines.append(
        t(lang, "money.pnl.total", **_windows(report.realized), unrealized=signed_money(report.unrealized))
    )
    await message.answer("\n".join(lines))


def _windows(sums: dict[str, Decimal]) -> dict[str, str]:
    return {
        "today": signed_money(sums["today"]),
        "d7": signed_money(sums["7d"]),
        "d30": signed_money(sums["30d"]),
        "all": signed_money(sums["all"]),
    }


@router.message(Command("trades"))
async def trades(message: Message, money: AccountMoney, user: UserDTO, lang: str) -> None:
    page = await money.trades(user.id)
    await show(message, _trades_text(page, lang), _trades_keyboard(page, lang))


@router.callback_query(TradesCD.filter())
async def trades_page(
    cq: CallbackQuery, callback_data: TradesCD, money: AccountMoney, user: UserDTO, lang: str
) -> None:
    page = await money.trades(user.id, callback_data.page, callback_data.bot_id or None)
    await show(cq, _trades_text(page, lang), _trades_keyboard(page, lang))


def _trades_text(page: TradesPage, lang: str) -> str:
    which = (
        html.escape(page.names.get(page.bot_id, "?"))
        if page.bot_id is not None
        else t(lang, "money.trades.all")
    )
    title = t(lang, "money.trades.title", which=which, page=page.page + 1, pages=page.pages)
    if not page.trades:
        return f"{title}\n{t(lang, 'money.trades.none')}"
    lines = [title]
    for trade in page.trades:
        name = page.names.get(trade.bot_id) if trade.bot_id is not None else None
        lines.append(
            t(
                lang,
                "money.trades.line",
                at=trade.executed_at.strftime("%m-%d %H:%M"),
                name=html.escape(name) if name else t(lang, "money.trades.manual"),
                side=trade.side,
                qty=plain(trade.qty),
                symbol=html.escape(trade.symbol),
                price=plain(trade.price, grouped=True),
                fee=money_text(trade.fee),
                pnl=(
                    t(lang, "money.trades.pnl", pnl=signed_money(trade.realized_pnl))
                    if trade.realized_pnl is not None
                    else ""
                ),
            )
        )
    return "\n".join(lines)


def _trades_keyboard(page: TradesPage, lang: str) -> InlineKeyboardMarkup:
    bot = page.bot_id or 0
    rows: list[list[InlineKeyboardButton]] = []
    paging = []
    if page.page > 0:
        paging.append(_button(t(lang, "money.btn.prev"), TradesCD(page=page.page - 1, bot_id=bot)))
    if page.page + 1 < page.pages:
        paging.append(_button(t(lang, "money.btn.next"), TradesCD(page=page.page + 1, bot_id=bot)))
    if paging:
        rows.append(paging)
    filters = [_button(t(lang, "money.btn.all"), TradesCD(page=0, bot_id=0))] if page.bot_id else []
    filters += [
        _button(name[:30], TradesCD(page=0, bot_id=bot_id))
        for bot_id, name in list(page.names.items())[:MAX_FILTER_BUTTONS]
        if bot_id != page.bot_id
    ]
    rows += [filters[i : i + 3] for i in range(0, len(filters), 3)]
    return InlineKeyboardMarkup(inline_keyboard=rows)


def _button(text: str, data: TradesCD) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())
