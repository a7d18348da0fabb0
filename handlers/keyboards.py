"""Inline keyboards: pure functions of DTOs and the language, returning InlineKeyboardMarkup.

The CallbackData factories of the menus built here live here too (ids and short enums only: Telegram
allows 64 bytes of callback data; the longest we make is "be:notify_off:2147483647", 24 bytes; a
confirmation's "ok:keysclr:" and its 12-character token, 23 bytes).
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.i18n import t
from bot.services.dto import AllocationSummary, BotDTO, UserDTO
from bot.services.lifecycle import Holdings
from handlers.callbacks import BotAction, BotCD, CancelCD, Confirm, ConfirmCD, MenuAction, MenuCD

LANGUAGE_NAMES = {"en": "English", "ko": "한국어"}


class LangCD(CallbackData, prefix="lang"):
    code: str  # "en" | "ko"; anything else is refused by the accounts service


class EditField(StrEnum):
    allocation = "alloc"
    name = "name"
    risk = "risk"  # opens the risk sub-menu
    leverage = "lev"
    positions = "pos"
    stop_loss = "sl"
    take_profit = "tp"
    max_loss = "maxloss"  # the bot's guards (bot.services.risk)
    pnl_take_profit = "ptp"
    pnl_stop_loss = "psl"
    notify_on = "notify_on"
    notify_off = "notify_off"


class EditCD(CallbackData, prefix="be"):
    """Edit `field` of bot `bot_id` (ownership is re-checked by the fleet service)."""

    field: EditField
    bot_id: int


class KeysAction(StrEnum):
    set = "set"
    paper = "paper"
    live = "live"
    demo = "demo"  # Bitget's demo trading (live mode on demo keys)
    clear = "clear"
    stop_bots = "stopbots"  # stop the bots a switch or a key change waits for, then do it


class KeysCD(CallbackData, prefix="k"):
    action: KeysAction
    exchange: str = "bitget"
    target: str = ""  # with stop_bots: paper, live, set (new keys) or clear


def _button(text: str, data: CallbackData) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


# Buttons are built once per (text, data) and shared: building and validating the pydantic models on every
# screen was a visible share of a chat update's time (bench/chat_latency.py). They are never mutated.
# A button is about 1.3 KB: the per-bot caches keep the buttons of the bots shown lately (BUTTONS_KEPT),
# so that they stop growing with every bot ever created (issue 14's flat memory).
BUTTONS_KEPT = 1024


@lru_cache(maxsize=4096)
def _menu(lang: str, action: MenuAction, key: str) -> InlineKeyboardButton:
    return _button(t(lang, key), MenuCD(action=action))


def _markup(*rows: list[InlineKeyboardButton]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[row for row in rows if row])


def main_menu(lang: str) -> InlineKeyboardMarkup:
    return _markup(
        [_menu(lang, MenuAction.bots, "menu.bots"), _menu(lang, MenuAction.newbot, "menu.newbot")],
        [
            _menu(lang, MenuAction.allocation, "menu.allocation"),
            _menu(lang, MenuAction.stopall, "menu.stopall"),
        ],
        [_menu(lang, MenuAction.keys, "menu.keys"), _menu(lang, MenuAction.language, "menu.language")],
        [_menu(lang, MenuAction.backtest, "menu.backtest"), _menu(lang, MenuAction.help, "menu.help")],
    )


def back_to_menu(lang: str) -> InlineKeyboardMarkup:
    return _markup([_menu(lang, MenuAction.main, "menu.main")])


def languages() -> InlineKeyboardMarkup:
    return _markup([_button(name, LangCD(code=code)) for code, name in LANGUAGE_NAMES.items()])


@lru_cache(maxsize=BUTTONS_KEPT)
def _card_button(running: bool, name: str, bot_id: int) -> InlineKeyboardButton:
    return _button(f"{'🟢' if running else '⚪'} {name}", BotCD(action=BotAction.card, bot_id=bot_id))


def bot_list(bots: list[BotDTO], lang: str) -> InlineKeyboardMarkup:
    """One button per bot (opens its card), then new bot / allocation / main menu."""
    rows = [[_card_button(b.is_running, b.name, b.id)] for b in bots]
    return _markup(
        *rows,
        [
            _menu(lang, MenuAction.newbot, "menu.newbot"),
            _menu(lang, MenuAction.allocation, "menu.allocation"),
        ],
        [_menu(lang, MenuAction.main, "menu.main")],
    )


@lru_cache(maxsize=BUTTONS_KEPT)
def _bot(lang: str, key: str, action: BotAction, bot_id: int) -> InlineKeyboardButton:
    return _button(t(lang, key), BotCD(action=action, bot_id=bot_id))


def bot_card(bot: BotDTO, lang: str) -> InlineKeyboardMarkup:
    run = (
        _bot(lang, "bots.btn.stop", BotAction.stop, bot.id)
        if bot.is_running or bot.stopping
        else _bot(lang, "bots.btn.start", BotAction.start, bot.id)
    )
    return _markup(
        [run, _bot(lang, "bots.btn.edit", BotAction.edit, bot.id)],
        [
            _bot(lang, "bots.btn.trades", BotAction.trades, bot.id),
            _bot(lang, "bots.btn.delete", BotAction.delete, bot.id),
        ],
        [
            _bot(lang, "grid.btn.view", BotAction.grid_view, bot.id),
            _bot(lang, "grid.btn.chart", BotAction.chart, bot.id),
        ]
        if bot.bot_type == "grid"
        else [],
        [_bot(lang, "manual.btn.close", BotAction.close, bot.id)] if bot.bot_type == "ai_trend" else [],
        [_menu(lang, MenuAction.bots, "bots.btn.list")],
    )


def close_confirm(token: str, lang: str) -> InlineKeyboardMarkup:
    return confirm(lang, "manual.btn.close_confirm", Confirm.close, token)


def trade_confirm(token: str, lang: str) -> InlineKeyboardMarkup:
    """[Place the order] [Cancel] for /trade; the order itself waits server side under `token`."""
    return confirm(lang, "manual.btn.trade_confirm", Confirm.trade, token)


def grid_view(bot_id: int, lang: str) -> InlineKeyboardMarkup:
    return _markup(
        [
            _bot(lang, "grid.btn.chart", BotAction.chart, bot_id),
            _bot(lang, "bots.btn.back", BotAction.card, bot_id),
        ]
    )


def confirm(lang: str, yes_key: str, action: Confirm, token: str) -> InlineKeyboardMarkup:
    """A second tap: [yes] [cancel], both carrying only the pending action's one-time token."""
    return _markup(
        [
            _button(t(lang, yes_key), ConfirmCD(action=action, token=token)),
            _button(t(lang, "common.cancel"), CancelCD(action=action, token=token)),
        ]
    )


def _ok(lang: str, key: str, action: Confirm, token: str) -> InlineKeyboardButton:
    return _button(t(lang, key), ConfirmCD(action=action, token=token))


def stop_confirm(held: Holdings, tokens: dict[str, str], lang: str) -> InlineKeyboardMarkup:
    """[Stop] [Cancel], or, when the bot holds something, its two choices (the bot's setting first); every
    button carries a one-time token of its own choice ("confirm", or "keep" and "close")."""
    if not held.anything:
        return confirm(lang, "bots.btn.stop_confirm", Confirm.stop, tokens["confirm"])
    coins = held.coin > 0
    keep = _ok(
        lang, "bots.btn.keep_coins" if coins else "bots.btn.keep_positions", Confirm.stop, tokens["keep"]
    )
    close = _ok(
        lang, "bots.btn.sell_coins" if coins else "bots.btn.close_positions", Confirm.stop, tokens["close"]
    )
    first, second = (close, keep) if held.close_on_stop else (keep, close)
    cancel = _button(t(lang, "common.cancel"), CancelCD(action=Confirm.stop, token=tokens["keep"]))
    return _markup([first], [second], [cancel])


def delete_confirm(held: Holdings, tokens: dict[str, str], lang: str) -> InlineKeyboardMarkup:
    """[Delete] [Cancel]; a grid holding coin: sell or hand back; a trend bot with positions: close."""
    if held.coin > 0:
        sell = _ok(lang, "bots.btn.delete_sell", Confirm.delete, tokens["close"])
        keep = _ok(lang, "bots.btn.delete_keep", Confirm.delete, tokens["keep"])
        cancel = _button(t(lang, "common.cancel"), CancelCD(action=Confirm.delete, token=tokens["close"]))
        return _markup([sell], [keep], [cancel])
    if held.positions:
        return confirm(lang, "bots.btn.delete_close", Confirm.delete, tokens["close"])
    return confirm(lang, "bots.btn.delete_confirm", Confirm.delete, tokens["confirm"])


def _edit(lang: str, key: str, field: EditField, bot_id: int) -> InlineKeyboardButton:
    return _button(t(lang, key), EditCD(field=field, bot_id=bot_id))


def edit_menu(bot: BotDTO, lang: str) -> InlineKeyboardMarkup:
    notify = (
        _edit(lang, "bots.btn.notify_off", EditField.notify_off, bot.id)
        if bot.telegram_notify
        else _edit(lang, "bots.btn.notify_on", EditField.notify_on, bot.id)
    )
    return _markup(
        [
            _edit(lang, "bots.btn.allocation", EditField.allocation, bot.id),
            _edit(lang, "bots.btn.risk", EditField.risk, bot.id),
        ],
        [notify, _edit(lang, "bots.btn.rename", EditField.name, bot.id)],
        [_bot(lang, "bots.btn.back", BotAction.card, bot.id)],
    )


def risk_menu(bot: BotDTO, lang: str) -> InlineKeyboardMarkup:
    guards = [
        [_edit(lang, "bots.btn.max_loss", EditField.max_loss, bot.id)],
        [
            _edit(lang, "bots.btn.pnl_take_profit", EditField.pnl_take_profit, bot.id),
            _edit(lang, "bots.btn.pnl_stop_loss", EditField.pnl_stop_loss, bot.id),
        ],
    ]
    back = [_bot(lang, "bots.btn.back", BotAction.edit, bot.id)]
    if bot.bot_type == "grid":  # a grid has no leverage, positions or per-trade SL / TP: its guards only
        return _markup(*guards, back)
    return _markup(
        [
            _edit(lang, "bots.btn.leverage", EditField.leverage, bot.id),
            _edit(lang, "bots.btn.positions", EditField.positions, bot.id),
        ],
        [
            _edit(lang, "bots.btn.stop_loss", EditField.stop_loss, bot.id),
            _edit(lang, "bots.btn.take_profit", EditField.take_profit, bot.id),
        ],
        *guards,
        back,
    )


def back_to_card(bot_id: int, lang: str) -> InlineKeyboardMarkup:
    return _markup([_bot(lang, "bots.btn.back", BotAction.card, bot_id)])


def allocation(summary: AllocationSummary, lang: str) -> InlineKeyboardMarkup:
    stop_all = (
        [_menu(lang, MenuAction.stopall, "menu.stopall")] if any(s.is_running for s in summary.shares) else []
    )
    return _markup(
        [_menu(lang, MenuAction.bots, "menu.bots"), _menu(lang, MenuAction.newbot, "menu.newbot")],
        stop_all,
        [_menu(lang, MenuAction.main, "menu.main")],
    )


def stop_all_confirm(token: str, lang: str) -> InlineKeyboardMarkup:
    return confirm(lang, "alloc.btn.stopall_confirm", Confirm.stop_all, token)


def stop_all_holdings(tokens: dict[str, str], lang: str) -> InlineKeyboardMarkup:
    """The kill switch when bots hold coin or positions: keep them (protected) or close them."""
    return _markup(
        [_ok(lang, "alloc.btn.stopall_keep", Confirm.stop_all, tokens["keep"])],
        [_ok(lang, "alloc.btn.stopall_close", Confirm.stop_all, tokens["close"])],
        [_button(t(lang, "common.cancel"), CancelCD(action=Confirm.stop_all, token=tokens["keep"]))],
    )


def keys_menu(user: UserDTO, exchanges: tuple[str, ...], lang: str) -> InlineKeyboardMarkup:
    """Set keys per exchange, switch between paper, demo and live, remove the keys."""
    set_rows = [
        [
            _button(
                t(lang, "keys.btn.set", exchange=name.capitalize()),
                KeysCD(action=KeysAction.set, exchange=name),
            )
        ]
        for name in exchanges
    ]
    current = ("demo" if user.demo_trading else "live") if user.trading_mode == "live" else "paper"
    modes = [
        _button(t(lang, f"keys.btn.{mode}"), KeysCD(action=KeysAction(mode)))
        for mode in ("paper", "demo", "live")
        if mode != current
    ]  # the three modes: paper (simulated here), demo (Bitget's demo trading), live
    clear = [_button(t(lang, "keys.btn.clear"), KeysCD(action=KeysAction.clear))] if user.has_api_keys else []
    return _markup(*set_rows, modes, clear, [_menu(lang, MenuAction.main, "menu.main")])


def stop_bots_first(count: int, target: str, lang: str) -> InlineKeyboardMarkup:
    """[Stop these N bots first] [Cancel]: a switch or a key change that bots run on waits for them."""
    return _markup(
        [
            _button(
                t(lang, "keys.btn.stop_bots", count=count), KeysCD(action=KeysAction.stop_bots, target=target)
            )
        ],
        [_button(t(lang, "common.cancel"), MenuCD(action=MenuAction.keys))],
    )


def keys_clear_confirm(token: str, lang: str) -> InlineKeyboardMarkup:
    return confirm(lang, "keys.btn.clear_confirm", Confirm.keys_clear, token)


def mode_confirm(target: str, token: str, lang: str) -> InlineKeyboardMarkup:
    """[Yes, trade live / on demo / on paper] [Cancel]: the switch waits for this second tap."""
    return confirm(lang, f"keys.btn.{target}_confirm", Confirm.mode, token)
