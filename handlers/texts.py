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
from handlers.cosmetic import cosmetic

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


def status(running: bool, lang: str) -> str:
    return t(lang, "bots.status.running") if running else t(lang, "bots.status.stopped")


def bot_line(bot: BotDTO, lang: str) -> str:
    return t(
        lang,
        "bots.list.line",
        status=status(bot.is_running, lang),
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


def bot_card(bot: BotDTO, free_percent: Decimal, lang: str) -> str:
    lines = [
        t(lang, "bots.card.title", name=name(bot), status=status(bot.is_running, lang)),
        t(lang, "bots.card.kind", type=bot_type(bot.bot_type, lang), symbol=html.escape(bot.symbol)),
        t(lang, "bots.card.allocation", allocation=num(bot.allocation_percent), free=num(free_percent)),
        t(
            lang,
            "bots.card.risk",
            leverage=bot.max_leverage,
            positions=bot.max_positions,
            sl=num(bot.stop_loss_percent) if bot.stop_loss_percent is not None else "-",
            tp=num(bot.take_profit_percent) if bot.take_profit_percent is not None else "-",
        ),
    ]
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
    lines.append(
        t(
            lang,
            "bots.card.stats",
            trades=bot.total_trades,
            win_rate=_win_rate(bot),
            pnl=signed(bot.total_pnl),
        )
    )
    lines.append(t(lang, "bots.card.notify_on" if bot.telegram_notify else "bots.card.notify_off"))
    if bot.last_error:
        lines.append(t(lang, "bots.card.last_error", error=html.escape(bot.last_error[:300])))
    return "\n".join(lines)


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
    mode = t(lang, "keys.mode.live") if user.trading_mode == "live" else t(lang, "keys.mode.paper")
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
