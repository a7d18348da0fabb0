"""Typed callback data shared across handler modules. Ids and short enums only: Telegram allows 64 bytes.

Every handler that receives a bot id re-checks ownership through the fleet service (data can be forged).
"""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData


class MenuAction(StrEnum):
    main = "main"
    bots = "bots"
    newbot = "newbot"
    allocation = "alloc"
    stopall = "stopall"
    keys = "keys"
    help = "help"
    language = "lang"
    backtest = "bt"


class MenuCD(CallbackData, prefix="m"):
    """A main-menu button."""

    action: MenuAction


class BotAction(StrEnum):
    card = "card"
    start = "start"
    stop = "stop"
    stop_confirm = "stopok"  # nothing held: just stop
    stop_keep = "stopk"  # keep the coin / the positions with their protection
    stop_close = "stopc"  # sell the coin / close the positions at market
    delete = "del"
    delete_confirm = "delok"  # nothing held: just delete
    delete_keep = "delk"  # hand the coin back, then delete
    delete_close = "delc"  # sell the coin / close the positions, then delete
    edit = "edit"
    trades = "trades"
    grid_view = "grid"
    chart = "chart"
    notify = "notify"
    close = "close"
    close_confirm = "closeok"


class BotCD(CallbackData, prefix="b"):
    """A button on a bot card: `action` on bot `bot_id`."""

    action: BotAction
    bot_id: int
