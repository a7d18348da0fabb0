"""Typed callback data shared across handler modules. Ids, short enums and tokens only: Telegram allows 64
bytes, and anything in them can be forged.

Every handler that receives a bot id re-checks ownership through the fleet service. The second tap of a
two-step action carries no action at all, only the one-time token of the pending action the first tap
stored (bot.services.confirmations), which is bound to the user, expires and acts once.
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
    delete = "del"
    edit = "edit"
    trades = "trades"
    grid_view = "grid"
    chart = "chart"
    notify = "notify"
    close = "close"


class BotCD(CallbackData, prefix="b"):
    """A button on a bot card: `action` on bot `bot_id`."""

    action: BotAction
    bot_id: int


class Confirm(StrEnum):
    """The two-step actions; each one's pending action is stored under a one-time token."""

    stop = "stop"
    delete = "del"
    close = "close"
    trade = "trade"
    stop_all = "stopall"
    mode = "mode"
    keys_clear = "keysclr"
    strategy_delete = "sgdel"


class ConfirmCD(CallbackData, prefix="ok"):
    """The confirm button of a two-step action: the pending `action` stored under `token`."""

    action: Confirm
    token: str


class CancelCD(CallbackData, prefix="no"):
    """The cancel button next to it: the token acts no more."""

    action: Confirm
    token: str
