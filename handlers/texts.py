"""Rendering: bot cards, lists, the allocation bar, the keys screen; `show` puts a screen on the chat.

Everything a user typed (bot names) goes through html.escape: messages are sent with parse_mode=HTML.
Percents are 0-100; money is quote currency (USDT).
"""

from __future__ import annotations

import html
from decimal import ROUND_HALF_UP, Decimal

from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot.i18n import t
from bot.services.dto import AllocationSummary, BotDTO, UserDTO
from bot.services.lifecycle import Holdings
from handlers.cosmetic import cosmetic
from handlers.money_texts import grid_money_lines, trend_money_lines

BAR_WIDTH = 20
HUNDRED = Decimal(100)


def num(value: Decimal | int) -> str:
    """A Decimal without exponent or trailing zeros: 30.00 -> '30', 0.50 -> '0.5'."""
    return f"{Decimal(value).normalize():f}"


# (thousands, decimal) separators of each language's locale; Korean writes numbers as English does
SEPARATORS = {"en": (",", "."), "ko": (",", ".")}


def amount(value: Decimal | int, lang: str, *, places: int | None = None) -> str:
    """A number as the user's locale writes it, e.g. '1,234.5' ('places': rounded half up to that many
    decimals and kept, as money is: '1,000.00'); never an exponent."""
    number = Decimal(value)
    if places is not None:
        number = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    else:
        number = number.normalize()
    thousands, point = SEPARATORS.get(lang, SEPARATORS["en"])
    return f"{number:,f}".replace(",", "\x00").replace(".", point).replace("\x00", thousands)


def signed(value: Decimal) -> str:
    """PnL with its sign, 2 decimals: '+12.50', '-3.00', '0.00'."""
    rounded = Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"+{rounded}" if rounded > 0 else f"{rounded}"


def name(bot: BotDTO) -> str:
    return html.escape(bot.name)


def bot_type(bot_type: str, lang: str) -> str:
    return t(lang, "bots.type.grid") if bot_type == "grid" else t(lang, "bots.type.ai_trend")


def status(running: bool, lang: str, stopping: bool = False) -> str:
    if stopping:
        return t(lang, "bots.status.stopping")
    return t(lang, "bots.status.running") if running else t(lang, "bots.status.stopped")


def bot_line(bot: BotDTO, lang: str) -> str:
    return t(
        lang,
        "bots.list.line",
        status=status(bot.is_running, lang, bot.stopping),
        name=name(bot),
        type=bot_type(bot.bot_type, lang),
        symbol=html.escape(bot.symbol),
        allocation=num(bot.allocation_percent),
        pnl=signed(bot.total_pnl),
    )


def bot_list(bots: list[BotDTO], free_percent: Decimal, lang: str) -> str:
    if not bots:
        return t(lang, "bots.list.empty", free=num(free_percent))
    lines = [t(lang, "bots.list.title", count=len(bots), running=sum(b.is_running for b in bots))]
    lines += [bot_line(b, lang) for b in bots]
    lines.append(t(lang, "bots.free", free=num(free_percent)))
    return "\n".join(lines)


def guards_line(bot: BotDTO, lang: str) -> str:
    """The bot's own guards (bot.services.risk): max loss in USDT, TP and SL on its total PnL %."""
    none = t(lang, "bots.none")
    return t(
        lang,
        "bots.card.guards",
        loss=f"{num(bot.max_loss)} USDT" if bot.max_loss is not None else none,
        tp=f"+{num(bot.pnl_take_profit)} %" if bot.pnl_take_profit is not None else none,
        sl=f"-{num(bot.pnl_stop_loss)} %" if bot.pnl_stop_loss is not None else none,
    )


def bot_card(bot: BotDTO, free_percent: Decimal, lang: str) -> str:
    lines = [
        t(lang, "bots.card.title", name=name(bot), status=status(bot.is_running, lang, bot.stopping)),
        t(lang, "bots.card.kind", type=bot_type(bot.bot_type, lang), symbol=html.escape(bot.symbol)),
        t(lang, "bots.card.allocation", allocation=num(bot.allocation_percent), free=num(free_percent)),
    ]
    if bot.grid is None:  # a grid's card shows grid settings only (leverage, SL % and TP % do nothing there)
        lines.append(
            t(
                lang,
                "bots.card.risk",
                leverage=bot.max_leverage,
                positions=bot.max_positions,
                sl=num(bot.stop_loss_percent) if bot.stop_loss_percent is not None else "-",
                tp=num(bot.take_profit_percent) if bot.take_profit_percent is not None else "-",
            )
        )
    if bot.grid is not None:
        grid = bot.grid
        lines.append(
            t(
                lang,
                "bots.card.grid",
                lower=num(grid.lower_price),
                upper=num(grid.upper_price),
                count=grid.grid_count,
                mode=t(lang, f"bots.grid_mode.{grid.grid_mode}"),
                investment=num(grid.total_investment),
            )
        )
        lines += _grid_conditions(bot, lang)
        lines += grid_money_lines(grid, bot.symbol, lang)
    lines += trend_money_lines(bot.trend, lang)
    lines.append(
        t(
            lang,
            "bots.card.stats",
            trades=bot.total_trades,
            win_rate=_win_rate(bot),
            pnl=signed(bot.total_pnl),
        )
    )
    if bot.venue is not None:
        lines.append(t(lang, "bots.card.venue", venue=t(lang, f"bots.venue.{bot.venue}")))
    if bot.stopping:
        lines.append(
            t(lang, "bots.card.stopping", note=html.escape(bot.stop_note[:300]))
            if bot.stop_note
            else t(lang, "bots.card.stopping_plain")
        )
    if bot.max_loss is not None or bot.pnl_take_profit is not None or bot.pnl_stop_loss is not None:
        lines.append(guards_line(bot, lang))
    lines.append(t(lang, "bots.card.notify_on" if bot.telegram_notify else "bots.card.notify_off"))
    if bot.last_error:
        lines.append(t(lang, "bots.card.last_error", error=html.escape(bot.last_error[:300])))
    return "\n".join(lines)


def _grid_conditions(bot: BotDTO, lang: str) -> list[str]:
    """The grid's trigger and stops, and whether it still waits for its trigger."""
    grid = bot.grid
    assert grid is not None
    lines = []
    if grid.trigger_price is not None:
        waiting = (
            bot.is_running
            and not grid.active_buy_orders
            and not grid.active_sell_orders
            and not grid.filled_buy_count
            and not grid.filled_sell_count
        )
        key = "bots.card.trigger_waiting" if waiting else "bots.card.trigger"
        lines.append(t(lang, key, price=f"{grid.trigger_price.normalize():,f}"))
    if grid.stop_upper is not None or grid.stop_lower is not None:
        lines.append(
            t(
                lang,
                "bots.card.grid_stops",
                upper=f"{grid.stop_upper.normalize():,f}" if grid.stop_upper is not None else "-",
                lower=f"{grid.stop_lower.normalize():,f}" if grid.stop_lower is not None else "-",
            )
        )
    return lines


def _win_rate(bot: BotDTO) -> str:
    return "-" if bot.win_rate is None else f"{num(bot.win_rate)}%"


def trades(bot: BotDTO, lang: str) -> str:
    title = t(lang, "bots.trades.title", name=name(bot))
    if not bot.total_trades:
        return f"{title}\n{t(lang, 'bots.trades.none')}"
    last = bot.last_trade_at.strftime("%Y-%m-%d %H:%M UTC") if bot.last_trade_at else "-"
    return "\n".join(
        [
            title,
            t(
                lang,
                "bots.trades.summary",
                trades=bot.total_trades,
                wins=bot.winning_trades,
                win_rate=_win_rate(bot),
                pnl=signed(bot.total_pnl),
                last=last,
            ),
        ]
    )


def allocation_bar(percent: Decimal, width: int = BAR_WIDTH) -> str:
    """'███████░░░░░░░░░░░░░' for 35 % of 20 cells (rounded to the nearest cell)."""
    filled = int((min(max(percent, Decimal(0)), HUNDRED) * width / HUNDRED).to_integral_value())
    return "█" * filled + "░" * (width - filled)


def allocation(summary: AllocationSummary, lang: str) -> str:
    lines = [t(lang, "alloc.title"), f"<code>{allocation_bar(summary.used_percent)}</code>"]
    for share in summary.shares:
        lines.append(
            t(
                lang,
                "alloc.line",
                status="🟢" if share.is_running else "⚪",
                name=html.escape(share.name),
                type=bot_type(share.bot_type, lang),
                allocation=num(share.allocation_percent),
            )
        )
    if not summary.shares:
        lines.append(t(lang, "alloc.none"))
    lines.append(t(lang, "alloc.totals", used=num(summary.used_percent), free=num(summary.free_percent)))
    return "\n".join(lines)


def keys(user: UserDTO, lang: str) -> str:
    api_key = (
        html.escape(user.masked_api_key)
        if user.has_api_keys and user.masked_api_key
        else t(lang, "keys.none")
    )
    mode = t(lang, "keys.mode.paper")
    if user.trading_mode == "live":
        mode = t(lang, "keys.mode.demo") if user.demo_trading else t(lang, "keys.mode.live")
    return t(lang, "keys.title", exchange=html.escape(user.exchange_id), api_key=api_key, mode=mode)


# what Telegram answers when the message to edit is gone (deleted, or too old to edit)
_GONE = (
    "message to edit not found",
    "message can't be edited",
    "MESSAGE_ID_INVALID",
    "there is no text in the message to edit",  # a photo (a chart): the screen goes below it
)


async def show(event: Message | CallbackQuery, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """A screen: a button press edits its own message in place, a command sends a new one. When the
    pressed message is gone (deleted meanwhile, or too old to edit) the screen is sent anew: the action is
    done, its answer must reach the person."""
    if isinstance(event, CallbackQuery):
        message = event.message
        if isinstance(message, Message):
            try:
                await message.edit_text(text, reply_markup=markup)
            except TelegramBadRequest as exc:
                if any(reason in exc.message for reason in _GONE):
                    await message.answer(text, reply_markup=markup)
                elif "message is not modified" not in exc.message:
                    raise
        elif event.from_user is not None and event.bot is not None:  # too old to edit: send anew
            await event.bot.send_message(event.from_user.id, text, reply_markup=markup)
        await cosmetic(event.answer(), "answering the button")  # the query may have expired meanwhile
        return
    await event.answer(text, reply_markup=markup)


def _sizes(held: Holdings) -> str:
    sides = []
    if held.long_qty:
        sides.append(f"long {num(held.long_qty)} {held.asset}")
    if held.short_qty:
        sides.append(f"short {num(held.short_qty)} {held.asset}")
    return ", ".join(sides)


def stop_question(bot: BotDTO, held: Holdings, lang: str) -> str:
    """The second tap of a stop: what it cancels, and what the bot holds (coin, positions)."""
    if held.coin > 0:
        return t(
            lang,
            "bots.confirm_stop_coins",
            name=name(bot),
            qty=num(held.coin),
            asset=html.escape(held.asset),
            cost=signed(held.cost).lstrip("+"),
        )
    if held.positions:
        return t(
            lang, "bots.confirm_stop_positions", name=name(bot), count=held.positions, sizes=_sizes(held)
        )
    return t(lang, "bots.confirm_stop", name=name(bot))


def delete_question(bot: BotDTO, held: Holdings, lang: str) -> str:
    if held.coin > 0:
        return t(
            lang,
            "bots.confirm_delete_coins",
            name=name(bot),
            qty=num(held.coin),
            asset=html.escape(held.asset),
        )
    if held.positions:
        return t(
            lang, "bots.confirm_delete_positions", name=name(bot), count=held.positions, sizes=_sizes(held)
        )
    return t(lang, "bots.confirm_delete", name=name(bot))
