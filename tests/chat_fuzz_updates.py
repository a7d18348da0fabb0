"""What the chat fuzzer sends (tests/chat_fuzz.py): seeded texts of every size and script, numbers in every
notation, commands with random arguments, forged and mutated callback data of every CallbackData prefix of
handlers/, and the raw payloads of the updates Telegram sends rarely (group and channel messages, messages
on behalf of a chat, edits, updates without optional fields) or that aiogram cannot parse at all.

Everything takes a `random.Random`, so a seed gives the same updates again.
"""

from __future__ import annotations

import enum
import importlib
import pkgutil
import random
import time
from collections.abc import Sequence
from typing import Any

from aiogram.filters.callback_data import CallbackData

import handlers
from bot.app import COMMANDS

# Telegram's own senders in groups: an anonymous admin posts as the group, a linked channel as the channel
ANONYMOUS_ADMIN = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}
CHANNEL_BOT = {"id": 136817688, "is_bot": True, "first_name": "Channel", "username": "Channel_Bot"}
MAX_CALLBACK_DATA_BYTES = 64

SCRIPTS: dict[str, str] = {
    "latin": "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?-_",
    "cyrillic": "абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГДЕЁЖЗИЙ ",
    "hangul": "가나다라마바사아자차카타파하봇매수매도잔고그리드 ",
    "cjk": "中文字符測試机器人交易网格日本語のテキスト ",
    "arabic": "مرحبا بالعالم تداول الروبوت ٠١٢٣٤٥٦٧٨٩ ",
    "hebrew": "שלום עולם מסחר ",
    "devanagari": "नमस्ते दुनिया व्यापार ",
    "thai": "สวัสดีชาวโลกการซื้อขาย ",
    "emoji": "😀🚀💰📈📉🔥✅❌🇰🇷🇺🇸👨‍👩‍👧🏳️‍🌈",
    "combining": "e\u0301a\u0308o\u0302\u0336\u20dd",
    "bidi": "\u202e\u202d\u200e\u200f\u2066\u2069",
    "invisible": "\u200b\u200c\u200d\ufeff\u00ad\u2060",
    "html": "<b>&amp;</b><i><script>alert(1)</script>&lt;&#x41;<a href='x'>",
    "math": "𝟙𝟚𝟛𝐀𝐁𝕏∑∞≠±√",
    "fullwidth": "０１２３４５６７８９ＡＢＣ，．",
    "control": "\t\n\r\x0b\x0c",
}

NUMBERS = (
    "0,5", "1,5", "1,50", "12,345", "1,500", "1,500,000", "1,234.5", "1.234,5", "0,500", ",5", "5,",
    "1e5", "1E-3", "1e309", "1e-400", "1e30", "2e1", "NaN", "nan", "sNaN", "inf", "-inf", "Infinity",
    "-0", "+0", "-0.0", "0x10", "0X1F", "0b101", "0o17", "1_000", "１２", "٣", "١٫٥", "12.5%", " 7 ",
    "-5", "0", "0.00000001", "99999999999999999999", "1.2.3", "1,2,3", ".5", "5.", "1 000", "--1",
    "10", "25", "50", "100", "0.001", "0.01", "3", "20", "105000", "95000", "110000", "1000", "2", "100.01",
)  # fmt: skip
SIDES = ("buy", "sell", "BUY", "hold", "", "buy;")
SYMBOLS = ("BTCUSDT", "ETHUSDT", "btc/usdt", "XYZUSDT", "BTC", "💰USDT", "BTCUSDT" * 4)
UNKNOWN_COMMANDS = ("/foo", "/START", "/sudo", "/delete_everything", "/", "/menu@otherbot")


def random_text(rng: random.Random, max_units: int = 4096) -> str:
    """A text of 1 to `max_units` UTF-16 units from one or several scripts (sizes skewed to short)."""
    size = rng.choice((1, rng.randint(2, 10), rng.randint(10, 100), rng.randint(100, 1000), max_units))
    alphabets = rng.sample(list(SCRIPTS.values()), rng.randint(1, 3))
    out: list[str] = []
    units = 0
    while units < size:
        ch = rng.choice(rng.choice(alphabets))
        width = len(ch.encode("utf-16-le")) // 2
        if units + width > size:
            break
        out.append(ch)
        units += width
    text = "".join(out)
    return text if text.strip() else "x"


def random_number(rng: random.Random) -> str:
    return rng.choice(NUMBERS)


def random_command(rng: random.Random, bot_username: str) -> str:
    """A command (ours, someone else's or none at all) with 0 to 4 random arguments."""
    roll = rng.random()
    if roll < 0.25:
        return f"/trade {rng.choice(SYMBOLS)} {rng.choice(SIDES)} {random_number(rng)}"
    if roll < 0.3:
        return rng.choice(UNKNOWN_COMMANDS)
    name = rng.choice((*COMMANDS, "menu"))
    mention = rng.choice(("", "", "", f"@{bot_username}", "@otherbot"))
    args = [rng.choice((random_number(rng), random_text(rng, 30))) for _ in range(rng.randint(0, 4))]
    return " ".join([f"/{name}{mention}", *args])[:4000]


# --------------------------------------------------------------------------- callback data


def callback_classes() -> list[type[CallbackData]]:
    """Every CallbackData factory the handlers define (imported from every module of handlers/)."""
    for info in pkgutil.iter_modules(handlers.__path__):
        importlib.import_module(f"handlers.{info.name}")
    found: list[type[CallbackData]] = []
    stack = list(CallbackData.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__module__.startswith("handlers."):
            found.append(cls)
    return sorted(found, key=lambda c: c.__prefix__)


def _field_value(rng: random.Random, annotation: Any, ids: Sequence[int]) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return rng.choice(list(annotation))
    if annotation is int:
        return rng.choice((*ids, *ids, 0, 1, -1, 2**31, 2**53, rng.randint(1, 10**6)))
    return rng.choice(("", "x", "BTCUSDT", "buy", "0.001", "1e30", "en", "ko", "zz", "d", "30", "g", "t"))


def forge(rng: random.Random, cls: type[CallbackData], ids: Sequence[int]) -> str:
    """Well-formed data of `cls` with random field values (bot ids from `ids`, others' included)."""
    values = {name: _field_value(rng, field.annotation, ids) for name, field in cls.model_fields.items()}
    try:
        packed = cls(**values).pack()
    except ValueError:  # a value that cannot be packed: hand-made then
        packed = ":".join([cls.__prefix__, *(str(getattr(v, "value", v)) for v in values.values())])
    return fit(packed)


def mutate(rng: random.Random, data: str) -> str:
    """A damaged copy of callback data: a field dropped, doubled, changed or the whole thing garbled."""
    parts = data.split(":")
    roll = rng.random()
    if roll < 0.2 and len(parts) > 1:
        parts.pop(rng.randrange(1, len(parts)))
    elif roll < 0.4:
        parts.insert(rng.randrange(len(parts) + 1), rng.choice(("", "x", "0", "-1", "999999999", "ok")))
    elif roll < 0.6 and len(parts) > 1:
        parts[rng.randrange(1, len(parts))] = random_text(rng, 8).replace(":", "")
    elif roll < 0.75:
        parts = [p.upper() for p in parts]
    elif roll < 0.9:
        return fit(random_text(rng, 40))
    else:
        return fit(data + ":" + data)
    return fit(":".join(parts))


def fit(data: str) -> str:
    """Telegram carries 1 to 64 bytes of callback data."""
    raw = data.encode()[:MAX_CALLBACK_DATA_BYTES].decode(errors="ignore")
    return raw or "x"


# The second taps of the two-step actions (handlers.callbacks.ConfirmCD: "ok:<action>:<token>") and what
# each confirms; the old ones that carried the action itself ("b:stopok:<bot id>", "tr:ok:BTCUSDT:buy:0.05")
# are forged too: they must act on nothing, and so must "k:live" and "k:paper", once a one-tap switch and now
# the first step of one.
CONFIRMATIONS = {
    ("ok", "stop"): "stop",
    ("ok", "del"): "delete",
    ("ok", "close"): "close",
    ("ok", "trade"): "trade",
    ("ok", "stopall"): "stop all",
    ("ok", "keysclr"): "key removal",
    ("ok", "mode"): "mode switch",
    ("ok", "sgdel"): "strategy delete",
    ("b", "stopok"): "stop",
    ("b", "delok"): "delete",
    ("b", "closeok"): "close",
    ("tr", "ok"): "trade",
    ("ks", "ok"): "stop all",
    ("k", "clearok"): "key removal",
    ("k", "live"): "mode switch",
    ("k", "paper"): "mode switch",
    ("sg", "delok"): "strategy delete",
}


def forged_token(rng: random.Random) -> str:
    """A token of the right shape (12 URL-safe characters) that nobody issued."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return "".join(rng.choice(alphabet) for _ in range(12))


def confirmation_of(data: str | None) -> str | None:
    """The two-step action `data` is the second tap of, if any."""
    if not data:
        return None
    parts = data.split(":")
    return CONFIRMATIONS.get((parts[0], parts[1])) if len(parts) > 1 else None


# --------------------------------------------------------------------------- raw payloads


def _now() -> int:
    return int(time.time())


def human(user_id: int, *, minimal: bool = False) -> dict[str, Any]:
    if minimal:
        return {"id": user_id, "is_bot": False, "first_name": "U"}
    return {"id": user_id, "is_bot": False, "first_name": f"User{user_id}", "language_code": "en"}


def message_payload(
    chat: dict[str, Any],
    message_id: int,
    text: str | None,
    *,
    sender: dict[str, Any] | None,
    sender_chat: dict[str, Any] | None = None,
    edited: bool = False,
) -> dict[str, Any]:
    """A Message as Telegram sends it; `sender` None leaves out `from` (channel posts)."""
    message: dict[str, Any] = {"message_id": message_id, "date": _now(), "chat": dict(chat)}
    if sender is not None:
        message["from"] = dict(sender)
    if sender_chat is not None:
        message["sender_chat"] = dict(sender_chat)
    if text is not None:
        message["text"] = text
        if text.startswith("/"):
            length = len(text.split()[0].encode("utf-16-le")) // 2
            message["entities"] = [{"offset": 0, "length": length, "type": "bot_command"}]
    if edited:
        message["edit_date"] = _now()
    return message


def my_chat_member(chat: dict[str, Any], user: dict[str, Any], bot_user: dict[str, Any]) -> dict[str, Any]:
    """The bot added to a chat (or unblocked in a private chat) by `user`."""
    return {
        "chat": dict(chat),
        "from": dict(user),
        "date": _now(),
        "old_chat_member": {"status": "left", "user": dict(bot_user)},
        "new_chat_member": {"status": "member", "user": dict(bot_user)},
    }


def inline_query(user: dict[str, Any], query: str, number: int) -> dict[str, Any]:
    return {"id": f"iq{number}", "from": dict(user), "query": query[:256], "offset": ""}


def poison(rng: random.Random) -> tuple[str, Any]:
    """An update aiogram cannot parse (a field of the wrong type or a required one missing)."""
    return rng.choice(
        (
            ("message", {"message_id": "not a number", "date": _now(), "chat": {"id": 1, "type": "private"}}),
            ("message", {"message_id": 1, "date": _now()}),
            ("callback_query", {"id": 5, "from": "nobody"}),
            ("edited_message", []),
            ("my_chat_member", {"chat": {"id": -1, "type": "group"}, "date": "yesterday"}),
        )
    )
