"""A grid bot's status view (its lines, which interval holds a buy or a sell, profit, counters) and the
chart button that sends the picture of the bot's own fills."""

from __future__ import annotations

import asyncio
import html

from aiogram import F, Router
from aiogram.types import BufferedInputFile, CallbackQuery

from bot.i18n import t
from bot.services.dto import BotDTO, GridDTO, UserDTO
from bot.services.fleet import Fleet
from engine.charts.fills import bot_fills_chart
from handlers import keyboards as kb
from handlers.callbacks import BotAction, BotCD
from handlers.cosmetic import cosmetic
from handlers.texts import name, num, show, signed

router = Router(name=__name__)

MAX_LINES_SHOWN = 24
MARKERS = {"buy_placed": "🟢", "sell_placed": "🔴"}


def grid_status(bot: BotDTO, lang: str) -> str:
    """The grid, highest interval first; long grids show the intervals nearest the price."""
    grid: GridDTO = bot.grid  # type: ignore[assignment]
    mode = grid.grid_mode
    parts = [t(lang, "grid.view.title", name=name(bot), symbol=html.escape(bot.symbol), mode=mode)]
    parts.append(
        t(lang, "grid.view.price", price=num(grid.current_price))
        if grid.current_price is not None
        else t(lang, "grid.view.price_unknown")
    )
    parts.append(
        t(
            lang,
            "grid.view.counters",
            buys=grid.active_buy_orders,
            sells=grid.active_sell_orders,
            filled_buys=grid.filled_buy_count,
            filled_sells=grid.filled_sell_count,
        )
    )
    parts.append(
        t(lang, "grid.view.profit", profit=signed(grid.realized_profit), per_grid=num(grid.per_grid_amount))
    )
    parts.append(t(lang, "grid.view.legend"))
    intervals = list(grid.intervals)
    shown = intervals
    if len(intervals) > MAX_LINES_SHOWN:
        middle = intervals[len(intervals) // 2].buy_price
        price = grid.current_price if grid.current_price is not None else middle
        nearest = min(range(len(intervals)), key=lambda i: abs(intervals[i].buy_price - price))
        start = max(0, min(len(intervals) - MAX_LINES_SHOWN, nearest - MAX_LINES_SHOWN // 2))
        shown = intervals[start : start + MAX_LINES_SHOWN]
    for interval in reversed(shown):
        parts.append(
            t(
                lang,
                "grid.view.line",
                marker=MARKERS.get(interval.status, "⚪"),
                index=interval.index,
                buy=num(interval.buy_price),
                sell=num(interval.sell_price),
                cycles=interval.cycle,
                profit=signed(interval.profit),
            )
        )
    if len(shown) < len(intervals):
        parts.append(t(lang, "grid.view.more", count=len(intervals) - len(shown)))
    return "\n".join(parts)


@router.callback_query(BotCD.filter(F.action == BotAction.grid_view))
async def grid_view(cq: CallbackQuery, callback_data: BotCD, fleet: Fleet, user: UserDTO, lang: str) -> None:
    bot = await fleet.get_bot(user.id, callback_data.bot_id)
    if bot.grid is None:
        await cq.answer(t(lang, "grid.not_grid"), show_alert=True)
        return
    await show(cq, grid_status(bot, lang), kb.grid_view(bot.id, lang))


@router.callback_query(BotCD.filter(F.action == BotAction.chart))
async def grid_chart(cq: CallbackQuery, callback_data: BotCD, fleet: Fleet, user: UserDTO, lang: str) -> None:
    bot = await fleet.get_bot(user.id, callback_data.bot_id)
    fills = await fleet.trades(user.id, bot.id, limit=None)
    if not fills:
        await cq.answer(t(lang, "grid.chart.none"), show_alert=True)
        return
    await cosmetic(cq.answer(), "answering the button")  # the chart is the answer
    lines = bot.grid.lines if bot.grid is not None else ()
    price = bot.grid.current_price if bot.grid is not None else None
    points = [(f.executed_at, f.side, f.price) for f in fills]
    # matplotlib takes a few hundred ms: off the event loop, so other users' updates go on
    png = await asyncio.to_thread(bot_fills_chart, f"{bot.name} · {bot.symbol}", points, lines, price)
    await cq.bot.send_photo(  # type: ignore[union-attr]
        user.chat_id,
        BufferedInputFile(png, filename=f"bot-{bot.id}-fills.png"),
        caption=t(lang, "grid.chart.caption", name=name(bot), count=len(fills)),
    )
