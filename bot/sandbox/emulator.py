"""A local Telegram Bot API server that speaks the HTTP API the way aiogram calls it.

The bot under test (or the sandbox) talks to it through
``AiohttpSession(api=TelegramAPIServer.from_base(emulator.base_url))``; tests act as
the user through ``push_message`` / ``press_button`` and read what the bot did through
the per-chat transcript, the ``calls`` log and ``wait_for_*`` helpers. Failures
(429 with retry_after, 5xx, outages, slow answers, Telegram's flood limits) can be
injected to test the bot's resilience.

Only private chats exist: a chat's id is its user's id, as in Telegram.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import math
import re
import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

log = logging.getLogger(__name__)

MAX_TEXT_LENGTH = 4096  # UTF-16 code units, after entity parsing
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
DEFAULT_BOT_ID = 123456

TOKEN_RE = re.compile(r"^(\d+):([A-Za-z0-9_-]+)$")
_COMMAND_RE = re.compile(r"^/[A-Za-z0-9_]{1,64}(@[A-Za-z0-9_]+)?")
_BOT_COMMAND_NAME_RE = re.compile(r"^[a-z0-9_]{1,32}$")

# Update types Telegram leaves out when allowed_updates is not given or empty.
_OPT_IN_UPDATE_TYPES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)

# Methods the flood limits count (Telegram: about 1 message/s per chat, 30/s overall).
DEFAULT_RATE_LIMITED_METHODS = frozenset(
    {"sendmessage", "sendphoto", "senddocument", "sendmediagroup", "copymessage", "forwardmessage"}
)

# Accepted and answered `true`, nothing else (start-up calls a bot may make).
_NOOP_METHODS = frozenset(
    {
        "setmydescription",
        "setmyshortdescription",
        "setmyname",
        "setchatmenubutton",
        "setmydefaultadministratorrights",
    }
)

_STATUS_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

MSG_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
MSG_QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"


class ApiError(Exception):
    """An error answer of the Bot API: HTTP status, description and optional parameters."""

    def __init__(self, status: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad_request(reason: str) -> ApiError:
    return ApiError(400, f"Bad Request: {reason}")


def utf16_len(text: str) -> int:
    """Length of `text` the way Telegram counts it: in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


# --------------------------------------------------------------------------- formatting


class _ParseError(Exception):
    pass


Entity = tuple[str, int, int]  # (type, offset, length), offsets in code points: compared, never sent

_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "tg-emoji": "custom_emoji",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}
_HTML_ENTITY_RE = re.compile(r"&(lt|gt|amp|quot|#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6});")
_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _byte_offset(src: str, index: int) -> int:
    return len(src[:index].encode("utf-8"))


def parse_html(src: str) -> tuple[str, list[Entity]]:
    """Telegram's HTML parse mode: plain text and entities, or _ParseError with Telegram's wording."""
    out: list[str] = []
    stack: list[tuple[str, int]] = []
    entities: list[Entity] = []
    i = 0
    while i < len(src):
        ch = src[i]
        if ch == "<":
            end = src.find(">", i)
            if end == -1:
                raise _ParseError(f"Unclosed start tag at byte offset {_byte_offset(src, i)}")
            inner = src[i + 1 : end]
            if inner.startswith("/"):
                name = inner[1:].strip().lower()
                if not stack:
                    raise _ParseError(f"Unexpected end tag at byte offset {_byte_offset(src, i)}")
                open_name, start = stack[-1]
                if name != open_name:
                    raise _ParseError(
                        f"Unmatched end tag at byte offset {_byte_offset(src, i)}, "
                        f'expected "</{open_name}>", found "</{name}>"'
                    )
                stack.pop()
                entities.append((_HTML_TAGS[open_name], start, len(out) - start))
            else:
                match = re.match(r"[A-Za-z][A-Za-z0-9-]*", inner)
                name = match.group(0).lower() if match else ""
                if name not in _HTML_TAGS:
                    raise _ParseError(f'Unsupported start tag "{name}" at byte offset {_byte_offset(src, i)}')
                stack.append((name, len(out)))
            i = end + 1
        elif ch == "&":
            match = _HTML_ENTITY_RE.match(src, i)
            if match is None:
                out.append("&")
                i += 1
                continue
            ref = match.group(1)
            if ref in _HTML_NAMED:
                out.append(_HTML_NAMED[ref])
            else:
                code = int(ref[2:], 16) if ref[1] in "xX" else int(ref[1:])
                out.append(chr(code) if 0 < code <= 0x10FFFF else "\ufffd")
            i = match.end()
        else:
            out.append(ch)
            i += 1
    if stack:
        raise _ParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return "".join(out), entities


_MDV2_RESERVED = set("_*[]()~`>#+-=|{}.!")
_MDV2_MARKERS = {"*": "Bold", "_": "Italic", "__": "Underline", "~": "Strikethrough", "||": "Spoiler"}


def parse_markdown_v2(src: str) -> tuple[str, list[Entity]]:
    """A close approximation of Telegram's MarkdownV2: reserved characters must be escaped."""
    out: list[str] = []
    open_marks: list[tuple[str, int, int]] = []  # (marker, start in out, byte offset)
    entities: list[Entity] = []
    i = 0
    at_line_start = True
    while i < len(src):
        ch = src[i]
        if ch == "\\" and i + 1 < len(src):
            out.append(src[i + 1])
            i += 2
            at_line_start = False
            continue
        if src.startswith("```", i):
            end = src.find("```", i + 3)
            if end == -1:
                raise _ParseError(f"Can't find end of Pre entity at byte offset {_byte_offset(src, i)}")
            body = src[i + 3 : end]
            if "\n" in body:
                body = body.split("\n", 1)[1]  # first line names the language
            start = len(out)
            out.append(re.sub(r"\\([`\\])", r"\1", body))
            entities.append(("pre", start, len(out) - start))
            i = end + 3
            continue
        if ch == "`":
            end = i + 1
            while end < len(src) and src[end] != "`":
                end += 2 if src[end] == "\\" else 1
            if end >= len(src):
                raise _ParseError(f"Can't find end of Code entity at byte offset {_byte_offset(src, i)}")
            start = len(out)
            out.append(re.sub(r"\\([`\\])", r"\1", src[i + 1 : end]))
            entities.append(("code", start, len(out) - start))
            i = end + 1
            continue
        marker = next((m for m in ("__", "||", "*", "_", "~") if src.startswith(m, i)), None)
        if marker is not None:
            opened = next((k for k, item in enumerate(open_marks) if item[0] == marker), None)
            if opened is None:
                open_marks.append((marker, len("".join(out)), _byte_offset(src, i)))
            else:
                _, start, _ = open_marks.pop(opened)
                entities.append((_MDV2_MARKERS[marker].lower(), start, len("".join(out)) - start))
            i += len(marker)
            at_line_start = False
            continue
        if ch == "[":
            close = src.find("](", i)
            end = src.find(")", close + 2) if close != -1 else -1
            if close == -1 or end == -1:
                raise _ParseError(f"Can't find end of TextUrl entity at byte offset {_byte_offset(src, i)}")
            text, _ = parse_markdown_v2(src[i + 1 : close])
            start = len("".join(out))
            out.append(text)
            entities.append(("text_link", start, len(text)))
            i = end + 1
            at_line_start = False
            continue
        if ch == ">" and at_line_start:
            i += 1
            at_line_start = False
            continue
        if ch in _MDV2_RESERVED:
            raise _ParseError(f"Character '{ch}' is reserved and must be escaped with the preceding '\\'")
        out.append(ch)
        at_line_start = ch == "\n"
        i += 1
    if open_marks:
        marker, _, offset = open_marks[-1]
        raise _ParseError(f"Can't find end of {_MDV2_MARKERS[marker]} entity at byte offset {offset}")
    return "".join(out), entities


def parse_markdown(src: str) -> tuple[str, list[Entity]]:
    """Telegram's legacy Markdown: *bold* _italic_ `code` ```pre``` [text](url)."""
    out: list[str] = []
    entities: list[Entity] = []
    i = 0
    while i < len(src):
        ch = src[i]
        if ch == "\\" and i + 1 < len(src) and src[i + 1] in "_*`[":
            out.append(src[i + 1])
            i += 2
            continue
        for marker, kind in (("```", "pre"), ("*", "bold"), ("_", "italic"), ("`", "code")):
            if src.startswith(marker, i):
                end = src.find(marker, i + len(marker))
                if end == -1:
                    raise _ParseError(
                        f"Can't find end of the entity starting at byte offset {_byte_offset(src, i)}"
                    )
                body = src[i + len(marker) : end]
                start = len("".join(out))
                out.append(body)
                entities.append((kind, start, len(body)))
                i = end + len(marker)
                break
        else:
            if ch == "[":
                match = re.match(r"\[([^\]]*)\]\(([^)]*)\)", src[i:])
                if match is None:
                    raise _ParseError(
                        f"Can't find end of the entity starting at byte offset {_byte_offset(src, i)}"
                    )
                start = len("".join(out))
                out.append(match.group(1))
                entities.append(("text_link", start, len(match.group(1))))
                i += match.end()
                continue
            out.append(ch)
            i += 1
    return "".join(out), entities


def render_text(raw: str, parse_mode: str | None) -> tuple[str, list[Entity]]:
    """Apply `parse_mode` to `raw`: (plain text, entities) or ApiError 400 as Telegram words it."""
    mode = (parse_mode or "").lower()
    try:
        if mode == "html":
            return parse_html(raw)
        if mode == "markdownv2":
            return parse_markdown_v2(raw)
        if mode == "markdown":
            return parse_markdown(raw)
    except _ParseError as exc:
        raise _bad_request(f"can't parse entities: {exc}") from None
    if mode:
        raise _bad_request(f"unsupported parse_mode {parse_mode}")
    return raw, []


# --------------------------------------------------------------------------- images


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG, JPEG, GIF or WebP image, None when it is none of them."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return width, height
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and data[12:16] == b"VP8X" and len(data) >= 30:
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    if data.startswith(b"\xff\xd8"):
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                return width, height
            (length,) = struct.unpack(">H", data[i + 2 : i + 4])
            i += 2 + length
    return None


# --------------------------------------------------------------------------- records


@dataclass
class StoredFile:
    """A file the bot uploaded (photo or document); `data` is empty when sent by URL."""

    file_id: str
    file_unique_id: str
    kind: Literal["photo", "document"]
    data: bytes
    filename: str | None = None
    content_type: str | None = None
    width: int | None = None
    height: int | None = None
    url: str | None = None

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def file_path(self) -> str:
        return f"{self.kind}s/{self.file_unique_id}"

    def photo_sizes(self) -> list[dict[str, Any]]:
        return [
            {
                "file_id": self.file_id,
                "file_unique_id": self.file_unique_id,
                "width": self.width or 0,
                "height": self.height or 0,
                "file_size": self.size,
            }
        ]

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.size,
        }
        if self.filename:
            doc["file_name"] = self.filename
        if self.content_type:
            doc["mime_type"] = self.content_type
        return doc


@dataclass
class MessageVersion:
    """A previous version of an edited message."""

    text: str | None
    caption: str | None
    reply_markup: dict[str, Any] | None
    replaced_at: float  # unix time of the edit that replaced it


@dataclass
class ChatMessage:
    """One message of a chat transcript, either direction. Live: edits mutate it in place."""

    chat: dict[str, Any]
    message_id: int
    sender: Literal["user", "bot"]
    from_user: dict[str, Any]
    date: int
    text: str | None = None
    raw_text: str | None = None  # as the bot sent it, before parse_mode
    parse_mode: str | None = None
    caption: str | None = None
    photo: StoredFile | None = None
    document: StoredFile | None = None
    reply_markup: dict[str, Any] | None = None
    reply_to: ChatMessage | None = None
    entities: list[dict[str, Any]] | None = None  # only the bot_command entity of user messages
    edit_date: int | None = None
    edits: list[MessageVersion] = field(default_factory=list)
    deleted: bool = False
    deleted_at: float | None = None
    _signature: tuple[Any, ...] = ()

    @property
    def chat_id(self) -> int:
        return int(self.chat["id"])

    @property
    def is_bot(self) -> bool:
        return self.sender == "bot"

    @property
    def version(self) -> int:
        """0 when sent, +1 per edit."""
        return len(self.edits)

    @property
    def inline_keyboard(self) -> list[list[dict[str, Any]]]:
        if not self.reply_markup:
            return []
        return list(self.reply_markup.get("inline_keyboard") or [])

    @property
    def buttons(self) -> list[dict[str, Any]]:
        """The inline buttons, row by row, left to right."""
        return [button for row in self.inline_keyboard for button in row]

    def button_data(self, text: str) -> str:
        """callback_data of the button labelled `text` (LookupError when there is none)."""
        for button in self.buttons:
            if button.get("text") == text and "callback_data" in button:
                return str(button["callback_data"])
        labels = [b.get("text") for b in self.buttons]
        raise LookupError(f"message {self.message_id} has no callback button {text!r}; buttons: {labels}")

    def to_api(self, *, with_reply: bool = True) -> dict[str, Any]:
        """The Bot API Message object for this message."""
        message: dict[str, Any] = {
            "message_id": self.message_id,
            "from": dict(self.from_user),
            "chat": dict(self.chat),
            "date": self.date,
        }
        if self.edit_date is not None:
            message["edit_date"] = self.edit_date
        if with_reply and self.reply_to is not None:
            message["reply_to_message"] = self.reply_to.to_api(with_reply=False)
        if self.text is not None:
            message["text"] = self.text
        if self.entities:
            message["entities"] = [dict(e) for e in self.entities]
        if self.photo is not None:
            message["photo"] = self.photo.photo_sizes()
        if self.document is not None:
            message["document"] = self.document.document()
        if self.caption is not None:
            message["caption"] = self.caption
        # Telegram echoes only inline keyboards in Message.reply_markup.
        if self.reply_markup and "inline_keyboard" in self.reply_markup:
            message["reply_markup"] = json.loads(json.dumps(self.reply_markup))
        return message

    def describe(self) -> str:
        body = (
            self.text
            if self.text is not None
            else f"<{'photo' if self.photo else 'document'}> {self.caption or ''}"
        )
        flags = "".join(
            [f" (edited x{self.version})" if self.edits else "", " (deleted)" if self.deleted else ""]
        )
        labels = " ".join(f"[{b.get('text')}]" for b in self.buttons)
        return f"#{self.message_id} {self.sender}{flags}: {body!r} {labels}".rstrip()


@dataclass(frozen=True)
class CallbackAnswer:
    """What the bot answered to a callback query (answerCallbackQuery)."""

    callback_query_id: str
    user_id: int
    chat_id: int | None
    message_id: int | None
    data: str | None
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int | None
    pressed_at: float  # time.monotonic()
    answered_at: float  # time.monotonic()


@dataclass
class ApiCall:
    """One HTTP call of the Bot API; status 0 means the connection was dropped."""

    method: str
    params: dict[str, Any]
    chat_id: int | None
    started_at: float  # time.monotonic()
    wall_time: float  # time.time()
    finished_at: float | None = None
    status: int | None = None
    response: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass
class RetryAfterRecord:
    """A 429 the emulator issued, and when the next call for the same chat (or method) came."""

    method: str
    chat_id: int | None
    retry_after: int
    issued_at: float  # time.monotonic()
    source: Literal["injected", "rate_limit"]
    next_call_at: float | None = None
    next_call_method: str | None = None

    @property
    def waited(self) -> float | None:
        return None if self.next_call_at is None else self.next_call_at - self.issued_at

    @property
    def early(self) -> bool:
        """True when the next call came before retry_after seconds had passed."""
        return self.waited is not None and self.waited < self.retry_after


@dataclass
class FailureRule:
    """An injected failure: answers `status` to matching calls, `remaining` times or until `until`."""

    method: str | None  # lower-case; None = every method except getUpdates
    status: int
    description: str
    retry_after: int | None
    chat_id: int | None
    remaining: int | None
    until: float | None  # time.monotonic()
    hits: int = 0

    def active(self, now: float) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        return self.until is None or now < self.until

    def matches(self, method: str, chat_id: int | None) -> bool:
        if self.method is None:
            if method == "getupdates":
                return False
        elif self.method != method:
            return False
        return self.chat_id is None or self.chat_id == chat_id


@dataclass
class RateLimits:
    """Telegram-like flood limits: token buckets per chat and overall (messages per second)."""

    per_chat_per_second: float = 1.0
    per_chat_burst: int = 3
    global_per_second: float = 30.0
    global_burst: int = 30
    methods: frozenset[str] = DEFAULT_RATE_LIMITED_METHODS


@dataclass(frozen=True)
class EmulatorEvent:
    """A change the bot or the user made, as told to subscribers.

    kind: "user_message", "message" (bot text), "photo", "document", "edit", "delete",
    "callback_query", "callback_answer", "chat_action". `text`, `caption` and
    `reply_markup` are snapshots taken when the event happened; `message` is live.
    """

    kind: str
    chat_id: int | None
    message_id: int | None = None
    message: ChatMessage | None = None
    text: str | None = None
    caption: str | None = None
    reply_markup: dict[str, Any] | None = None
    callback_answer: CallbackAnswer | None = None
    action: str | None = None
    at: float = field(default_factory=time.monotonic)


Listener = Callable[[EmulatorEvent], Any]


@dataclass
class _Chat:
    info: dict[str, Any]
    messages: dict[int, ChatMessage] = field(default_factory=dict)
    next_message_id: int = 1


@dataclass
class _PendingQuery:
    user_id: int
    chat_id: int | None
    message_id: int | None
    data: str | None
    created_at: float
    answered: bool = False


@dataclass
class _Bucket:
    tokens: float
    updated_at: float

    def refill(self, now: float, rate: float, burst: int) -> None:
        self.tokens = min(float(burst), self.tokens + (now - self.updated_at) * rate)
        self.updated_at = now


@dataclass
class _Outage:
    mode: Literal["502", "close", "refuse"]
    until: float  # time.monotonic()


@dataclass
class _Upload:
    filename: str | None
    content_type: str | None
    data: bytes


# --------------------------------------------------------------------------- request params

_JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "reply_parameters",
        "allowed_updates",
        "commands",
        "scope",
        "link_preview_options",
        "entities",
        "caption_entities",
        "media",
    }
)
_INT_FIELDS = frozenset(
    {"message_id", "offset", "limit", "timeout", "reply_to_message_id", "cache_time", "message_thread_id"}
)
_BOOL_FIELDS = frozenset(
    {
        "show_alert",
        "disable_notification",
        "protect_content",
        "drop_pending_updates",
        "allow_sending_without_reply",
        "disable_web_page_preview",
        "show_caption_above_media",
        "has_spoiler",
    }
)


class _Params:
    """Request parameters from a query string, a form, a multipart body or JSON."""

    def __init__(self, raw: dict[str, Any], files: dict[str, _Upload]) -> None:
        self.raw = raw
        self.files = files

    def has(self, name: str) -> bool:
        return self.raw.get(name) not in (None, "")

    def str(self, name: str) -> str | None:
        value = self.raw.get(name)
        if value is None:
            return None
        return value if isinstance(value, str) else json.dumps(value)

    def int(self, name: str, default: int | None = None) -> int | None:
        value = self.raw.get(name)
        if value in (None, ""):
            return default
        if isinstance(value, bool):
            raise _bad_request(f"invalid {name} specified")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise _bad_request(f"invalid {name} specified") from None

    def bool(self, name: str) -> bool:
        value = self.raw.get(name)
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1")
        return bool(value)

    def json(self, name: str) -> Any:
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError:
            if name == "reply_markup":
                raise _bad_request("can't parse reply keyboard markup JSON object") from None
            raise _bad_request(f"can't parse {name} JSON object") from None

    def chat_id(self, name: str = "chat_id") -> int:
        value = self.raw.get(name)
        if value in (None, ""):
            raise _bad_request(f"{name} is empty")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise _bad_request("chat not found") from None

    def decoded(self) -> dict[str, Any]:
        """Best-effort typed view for the calls log (never raises)."""
        view: dict[str, Any] = {}
        for name, value in self.raw.items():
            try:
                if name in _JSON_FIELDS:
                    view[name] = self.json(name)
                elif name in _INT_FIELDS or name == "chat_id":
                    view[name] = self.int(name)
                elif name in _BOOL_FIELDS:
                    view[name] = self.bool(name)
                else:
                    view[name] = value
            except ApiError:
                view[name] = value
        for name, upload in self.files.items():
            view[name] = {"filename": upload.filename, "size": len(upload.data)}
        return view

    def call_chat_id(self) -> int | None:
        value = self.raw.get("chat_id")
        try:
            return int(value) if value not in (None, "") else None
        except (TypeError, ValueError):
            return None


# --------------------------------------------------------------------------- the emulator


class TelegramEmulator:
    """A Telegram Bot API server on 127.0.0.1 for one bot and any number of private chats.

    `token`: when given, only this token is accepted; otherwise any well-formed token
    ("<digits>:<letters, digits, _ or ->") is, and the bot's id is the token's number.
    `callback_query_ttl`: seconds within which a callback query must be answered.
    `max_logged_calls`: keep only this many newest entries in `calls` (None: all).
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        bot_first_name: str = "Multibot",
        bot_username: str = "multibot_sandbox_bot",
        callback_query_ttl: float = 15.0,
        max_logged_calls: int | None = None,
    ) -> None:
        if token is not None and not TOKEN_RE.match(token):
            raise ValueError("token must look like 123456:ABC-DEF")
        self.token = token
        self.host = host
        self.port = port
        self.bot_first_name = bot_first_name
        self.bot_username = bot_username
        self.callback_query_ttl = callback_query_ttl
        self.max_logged_calls = max_logged_calls  # a long sandbox session keeps only the newest calls

        self.calls: list[ApiCall] = []
        self.callback_answers: list[CallbackAnswer] = []
        self.retry_after_log: list[RetryAfterRecord] = []
        self.failure_rules: list[FailureRule] = []

        self._users: dict[int, dict[str, Any]] = {}
        self._chats: dict[int, _Chat] = {}
        self._blocked: set[int] = set()
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 1
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0
        self._webhook_url = ""
        self._commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._queries: dict[str, _PendingQuery] = {}
        self._query_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._files: dict[str, StoredFile] = {}
        self._listeners: list[Listener] = []
        self._changed = asyncio.Event()
        self._slow: dict[str | None, float] = {}
        self._outage: _Outage | None = None
        self._reopen_task: asyncio.Task[None] | None = None
        self._rate_limits: RateLimits | None = None
        self._chat_buckets: dict[int, _Bucket] = {}
        self._global_bucket: _Bucket | None = None
        self._penalty_until: dict[int, float] = {}
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._closing = False
        self._methods: dict[str, Callable[[_Params, dict[str, Any]], Any]] = {
            "getme": self._get_me,
            "getupdates": self._get_updates,
            "deletewebhook": self._delete_webhook,
            "setwebhook": self._set_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "setmycommands": self._set_my_commands,
            "deletemycommands": self._delete_my_commands,
            "getmycommands": self._get_my_commands,
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "editmessagecaption": self._edit_message_caption,
            "answercallbackquery": self._answer_callback_query,
            "deletemessage": self._delete_message,
            "sendphoto": self._send_photo,
            "senddocument": self._send_document,
            "sendchataction": self._send_chat_action,
            "getfile": self._get_file,
        }

    # ------------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        """Root URL for `TelegramAPIServer.from_base(...)`, e.g. http://127.0.0.1:43121."""
        if self._runner is None:
            raise RuntimeError("emulator is not started")
        return f"http://{self.host}:{self.port}"

    async def start(self) -> TelegramEmulator:
        app = web.Application(client_max_size=MAX_UPLOAD_BYTES + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        self._closing = False
        await self._open_site()
        log.info("Telegram Bot API emulator listening on %s", self.base_url)
        return self

    async def stop(self) -> None:
        if self._runner is None:
            return
        self._closing = True
        self._notify()
        if self._reopen_task is not None:
            self._reopen_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reopen_task
            self._reopen_task = None
        await self._runner.cleanup()
        self._runner = None
        self._site = None

    async def __aenter__(self) -> TelegramEmulator:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def _open_site(self) -> None:
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await self._site.start()
        if self.port == 0:
            self.port = int(self._runner.addresses[-1][1])

    # ------------------------------------------------------------------ user side

    def add_user(
        self,
        user_id: int,
        *,
        first_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
    ) -> dict[str, Any]:
        """Register a user and their private chat (as if they had opened the bot); returns the User."""
        if user_id <= 0:
            raise ValueError("user ids of private chats are positive")
        user = self._users.get(user_id)
        if user is None:
            user = {"id": user_id, "is_bot": False, "first_name": first_name or f"User{user_id}"}
            self._users[user_id] = user
        if first_name is not None:
            user["first_name"] = first_name
        if username is not None:
            user["username"] = username
        if language_code is not None:
            user["language_code"] = language_code
        chat_info = {"id": user_id, "type": "private", "first_name": user["first_name"]}
        if user.get("username"):
            chat_info["username"] = user["username"]
        chat = self._chats.get(user_id)
        if chat is None:
            self._chats[user_id] = _Chat(info=chat_info)
        else:
            chat.info = chat_info
        return dict(user)

    def block_bot(self, user_id: int, blocked: bool = True) -> None:
        """The user blocks (or unblocks) the bot: sends to them answer 403 Forbidden."""
        if blocked:
            self._blocked.add(user_id)
        else:
            self._blocked.discard(user_id)

    async def push_message(
        self,
        user_id: int,
        text: str,
        *,
        first_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        reply_to_message_id: int | None = None,
    ) -> dict[str, Any]:
        """The user sends `text` to the bot; returns the Message as the bot will receive it."""
        if not text:
            raise ValueError("a user cannot send an empty message")
        if utf16_len(text) > MAX_TEXT_LENGTH:
            raise ValueError("Telegram clients split messages over 4096 characters")
        user = self.add_user(user_id, first_name=first_name, username=username, language_code=language_code)
        chat = self._chats[user_id]
        entities = None
        command = _COMMAND_RE.match(text)
        if command:
            entities = [{"offset": 0, "length": utf16_len(command.group(0)), "type": "bot_command"}]
        reply_to = chat.messages.get(reply_to_message_id) if reply_to_message_id else None
        message = self._add_message(
            chat, sender="user", from_user=user, text=text, entities=entities, reply_to=reply_to
        )
        api_message = message.to_api()
        self._enqueue_update("message", api_message)
        self._emit(EmulatorEvent("user_message", user_id, message.message_id, message, text=text))
        return api_message

    async def press_button(
        self, user_id: int, message_id: int, callback_data: str, *, forged: bool = False
    ) -> str:
        """The user presses the inline button carrying `callback_data`; returns the callback_query id.

        With `forged=True` any data is sent, whether or not a button carries it (callback
        data can be forged by a modified client).
        """
        chat = self._chats.get(user_id)
        message = chat.messages.get(message_id) if chat else None
        if message is None or message.deleted:
            raise LookupError(f"chat {user_id} has no message {message_id}")
        if not forged and callback_data not in [b.get("callback_data") for b in message.buttons]:
            raise LookupError(
                f"message {message_id} has no button with callback_data {callback_data!r}; "
                f"buttons: {message.buttons}"
            )
        query_id = f"{user_id}{next(self._query_ids):06d}"
        self._queries[query_id] = _PendingQuery(
            user_id=user_id,
            chat_id=user_id,
            message_id=message_id,
            data=callback_data,
            created_at=time.monotonic(),
        )
        query = {
            "id": query_id,
            "from": dict(self._users[user_id]),
            "message": message.to_api(),
            "chat_instance": str(-(user_id * 7919 + 104729)),
            "data": callback_data,
        }
        self._enqueue_update("callback_query", query)
        self._emit(EmulatorEvent("callback_query", user_id, message_id, message, text=callback_data))
        return query_id

    async def press_button_text(self, user_id: int, message_id: int, text: str) -> str:
        """Press the callback button labelled `text` on a message; returns the callback_query id."""
        message = self.message(user_id, message_id)
        return await self.press_button(user_id, message_id, message.button_data(text))

    # ------------------------------------------------------------------ inspection

    def transcript(self, chat_id: int) -> list[ChatMessage]:
        """Every message of the chat in order, both directions, deleted ones marked."""
        chat = self._chats.get(chat_id)
        return list(chat.messages.values()) if chat else []

    def bot_messages(self, chat_id: int, *, include_deleted: bool = False) -> list[ChatMessage]:
        return [m for m in self.transcript(chat_id) if m.is_bot and (include_deleted or not m.deleted)]

    def message(self, chat_id: int, message_id: int) -> ChatMessage:
        chat = self._chats.get(chat_id)
        if chat is None or message_id not in chat.messages:
            raise LookupError(f"chat {chat_id} has no message {message_id}")
        return chat.messages[message_id]

    def format_transcript(self, chat_id: int) -> str:
        return "\n".join(m.describe() for m in self.transcript(chat_id)) or "(empty chat)"

    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed by getUpdates' offset."""
        return [json.loads(json.dumps(u)) for u in self._updates]

    def commands(
        self, *, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, Any]]:
        return list(self._commands.get((self._scope_key(scope), language_code), []))

    def calls_to(self, method: str) -> list[ApiCall]:
        wanted = method.lower()
        return [c for c in self.calls if c.method.lower() == wanted]

    def early_retries(self) -> list[RetryAfterRecord]:
        """429s after which the next call for the same chat came before retry_after had passed."""
        return [r for r in self.retry_after_log if r.early]

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(event)` on every change; returns the function that unsubscribes it.

        A coroutine returned by the listener is scheduled as a task.
        """
        self._listeners.append(listener)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return unsubscribe

    # ------------------------------------------------------------------ waiting

    async def wait_until(self, predicate: Callable[[], Any], *, timeout: float = 5.0) -> Any:  # noqa: ASYNC109
        """Wait (event-driven) until predicate() is truthy; return its value or raise TimeoutError."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout} s")
            changed = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)

    async def wait_for_bot_message(
        self,
        chat_id: int,
        *,
        after_message_id: int | None = None,
        predicate: Callable[[ChatMessage], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> ChatMessage:
        """The first bot message of the chat with id > after_message_id (None: any) matching predicate."""

        def find() -> ChatMessage | None:
            for message in self.bot_messages(chat_id):
                if after_message_id is not None and message.message_id <= after_message_id:
                    continue
                if predicate is None or predicate(message):
                    return message
            return None

        try:
            return await self.wait_until(find, timeout=timeout)
        except TimeoutError:
            raise TimeoutError(
                f"no bot message in chat {chat_id} after #{after_message_id} within {timeout} s; "
                f"transcript:\n{self.format_transcript(chat_id)}"
            ) from None

    async def wait_for_edit(
        self,
        chat_id: int,
        message_id: int,
        *,
        after_version: int = 0,
        predicate: Callable[[ChatMessage], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> ChatMessage:
        """Wait until the message has been edited past `after_version` (and matches predicate)."""

        def edited() -> ChatMessage | None:
            chat = self._chats.get(chat_id)
            message = chat.messages.get(message_id) if chat else None
            if message is None or message.version <= after_version:
                return None
            return message if predicate is None or predicate(message) else None

        try:
            return await self.wait_until(edited, timeout=timeout)
        except TimeoutError:
            raise TimeoutError(
                f"message {message_id} of chat {chat_id} not edited past version {after_version} "
                f"within {timeout} s; transcript:\n{self.format_transcript(chat_id)}"
            ) from None

    async def wait_for_callback_answer(
        self,
        callback_query_id: str,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> CallbackAnswer:
        def answered() -> CallbackAnswer | None:
            return next((a for a in self.callback_answers if a.callback_query_id == callback_query_id), None)

        try:
            return await self.wait_until(answered, timeout=timeout)
        except TimeoutError:
            raise TimeoutError(
                f"callback query {callback_query_id} not answered within {timeout} s"
            ) from None

    async def wait_for_call(
        self,
        method: str,
        *,
        predicate: Callable[[ApiCall], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> ApiCall:
        """The first finished call of `method` (matching predicate)."""

        def find() -> ApiCall | None:
            for call in self.calls_to(method):
                if call.status is not None and (predicate is None or predicate(call)):
                    return call
            return None

        return await self.wait_until(find, timeout=timeout)

    # ------------------------------------------------------------------ failure injection

    def inject_failures(
        self,
        method: str | None = None,
        *,
        status: int = 429,
        retry_after: int | None = None,
        count: int | None = 1,
        duration: float | None = None,
        chat_id: int | None = None,
        description: str | None = None,
    ) -> FailureRule:
        """Answer `status` to the next `count` matching calls (None: unlimited) or for `duration` s.

        `method` None matches every method except getUpdates (so a running poller does not
        eat the failures). 429 answers carry parameters.retry_after (default 1 s).
        """
        if count is None and duration is None:
            raise ValueError("give a count, a duration, or both")
        if status == 429:
            retry_after = 1 if retry_after is None else retry_after
            description = description or f"Too Many Requests: retry after {retry_after}"
        else:
            description = description or _STATUS_DESCRIPTIONS.get(status, "Error")
        rule = FailureRule(
            method=method.lower() if method else None,
            status=status,
            description=description,
            retry_after=retry_after,
            chat_id=chat_id,
            remaining=count,
            until=time.monotonic() + duration if duration is not None else None,
        )
        self.failure_rules.append(rule)
        return rule

    def clear_failures(self) -> None:
        """Drop injected failures, slow methods and rate-limit penalties (not the outage)."""
        self.failure_rules.clear()
        self._slow.clear()
        self._penalty_until.clear()

    def slow(self, method: str | None, seconds: float | None) -> None:
        """Answer calls of `method` (None: every method) `seconds` late; 0 or None clears.

        The call takes effect at once; only the answer is late (as with a slow network,
        where a client that times out and retries may duplicate a message).
        """
        key = method.lower() if method else None
        if seconds:
            self._slow[key] = seconds
        else:
            self._slow.pop(key, None)

    async def outage(self, seconds: float, *, mode: Literal["502", "close", "refuse"] = "502") -> None:
        """Make the API unavailable for `seconds` from now.

        "502": every call answers 502 Bad Gateway; "close": connections are dropped
        without an answer; "refuse": the port stops listening (connection refused) and
        kept-alive connections are dropped.
        """
        until = time.monotonic() + seconds
        self._outage = _Outage(mode=mode, until=until)
        self._notify()  # wake long polls so they see the outage
        if mode == "refuse":
            if self._site is not None:
                await self._site.stop()
                self._site = None
            if self._reopen_task is not None:
                self._reopen_task.cancel()
            self._reopen_task = asyncio.create_task(self._reopen_after(seconds))

    async def end_outage(self) -> None:
        self._outage = None
        if self._reopen_task is not None:
            self._reopen_task.cancel()
            self._reopen_task = None
        if self._site is None and self._runner is not None and not self._closing:
            await self._open_site()

    async def _reopen_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self._reopen_task = None
        await self.end_outage()

    def enforce_rate_limits(self, enabled: bool = True, *, limits: RateLimits | None = None) -> None:
        """Answer 429 with retry_after like Telegram's flood control (default ~1 msg/s per chat, 30/s)."""
        self._rate_limits = (limits or RateLimits()) if enabled else None
        self._chat_buckets.clear()
        self._global_bucket = None
        self._penalty_until.clear()

    # ------------------------------------------------------------------ HTTP

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        method = request.match_info["method"]
        now = time.monotonic()
        outage = self._current_outage(now)
        try:
            params = await self._read_params(request)
        except ApiError as exc:
            params, early_error = _Params({}, {}), exc
        else:
            early_error = None
        call = ApiCall(
            method=method,
            params=params.decoded(),
            chat_id=params.call_chat_id(),
            started_at=now,
            wall_time=time.time(),
        )
        self.calls.append(call)
        if self.max_logged_calls is not None and len(self.calls) > self.max_logged_calls:
            del self.calls[: len(self.calls) - self.max_logged_calls]
        try:
            return await self._answer(request, token, method, params, early_error, outage, call)
        finally:
            if call.status is None:  # the client went away (e.g. a cancelled long poll)
                self._finish(call, 0, None)

    async def _answer(
        self,
        request: web.Request,
        token: str,
        method: str,
        params: _Params,
        early_error: ApiError | None,
        outage: _Outage | None,
        call: ApiCall,
    ) -> web.StreamResponse:
        if outage is not None and outage.mode != "502":
            self._finish(call, 0, None)
            return self._drop_connection(request)
        if outage is not None:
            status, payload = 502, ApiError(502, "Bad Gateway").payload()
        elif early_error is not None:
            status, payload = early_error.status, early_error.payload()
        else:
            status, payload = await self._dispatch(token, method, params, call)
            outage = self._current_outage(time.monotonic())  # a long poll may end inside an outage
            if outage is not None and outage.mode != "502":
                self._finish(call, 0, None)
                return self._drop_connection(request)
        delay = self._slow.get(method.lower(), self._slow.get(None, 0.0))
        if delay:
            await asyncio.sleep(delay)
        self._finish(call, status, payload)
        return web.json_response(payload, status=status)

    def _finish(self, call: ApiCall, status: int, payload: dict[str, Any] | None) -> None:
        call.finished_at = time.monotonic()
        call.status = status
        call.response = payload
        log.debug("%s %s -> %s", call.method, call.params, status)
        self._notify()

    @staticmethod
    def _drop_connection(request: web.Request) -> web.StreamResponse:
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=503)  # never reaches the client: the socket is gone

    def _current_outage(self, now: float) -> _Outage | None:
        if self._outage is not None and now >= self._outage.until:
            self._outage = None
        return self._outage

    async def _read_params(self, request: web.Request) -> _Params:
        raw: dict[str, Any] = dict(request.query)
        files: dict[str, _Upload] = {}
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                try:
                    body = json.loads(await request.read() or b"{}")
                except ValueError:
                    raise _bad_request("can't parse JSON encoded request") from None
                if not isinstance(body, dict):
                    raise _bad_request("JSON object expected")
                raw.update(body)
            else:
                form = await request.post()
                for name, value in form.items():
                    if isinstance(value, web.FileField):
                        files[name] = _Upload(value.filename, value.content_type, value.file.read())
                    else:
                        raw[name] = value if isinstance(value, str) else bytes(value).decode()
        return _Params(raw, files)

    async def _dispatch(
        self, token: str, method: str, params: _Params, call: ApiCall
    ) -> tuple[int, dict[str, Any]]:
        match = TOKEN_RE.match(token)
        if match is None or (self.token is not None and token != self.token):
            return 401, ApiError(401, "Unauthorized").payload()
        name = method.lower()
        handler = self._methods.get(name)
        if handler is None and name not in _NOOP_METHODS:
            return 404, ApiError(404, "Not Found: method not found").payload()
        self._note_followup(name, call)
        failure = self._injected_failure(name, call) or self._flood_control(name, call)
        if failure is not None:
            return failure.status, failure.payload()
        bot_user = self._bot_user(int(match.group(1)))
        try:
            result = True if handler is None else await handler(params, bot_user)
        except ApiError as exc:
            return exc.status, exc.payload()
        return 200, {"ok": True, "result": result}

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if not TOKEN_RE.match(request.match_info["token"]):
            return web.json_response(ApiError(401, "Unauthorized").payload(), status=401)
        path = request.match_info["path"]
        stored = next((f for f in self._files.values() if f.file_path == path), None)
        if stored is None:
            return web.json_response(ApiError(404, "Not Found").payload(), status=404)
        return web.Response(body=stored.data, content_type=stored.content_type or "application/octet-stream")

    # ------------------------------------------------------------------ failures and flood control

    def _retry_key_matches(self, record: RetryAfterRecord, method: str, chat_id: int | None) -> bool:
        if record.chat_id is not None:
            return chat_id == record.chat_id
        return method == record.method.lower()

    def _note_followup(self, method: str, call: ApiCall) -> None:
        if method in ("getupdates", "sendchataction"):
            return
        for record in self.retry_after_log:
            if record.next_call_at is None and self._retry_key_matches(record, method, call.chat_id):
                record.next_call_at = call.started_at
                record.next_call_method = call.method

    def _issue_429(
        self, call: ApiCall, retry_after: int, source: Literal["injected", "rate_limit"]
    ) -> ApiError:
        self.retry_after_log.append(
            RetryAfterRecord(
                method=call.method,
                chat_id=call.chat_id,
                retry_after=retry_after,
                issued_at=call.started_at,
                source=source,
            )
        )
        return ApiError(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})

    def _injected_failure(self, method: str, call: ApiCall) -> ApiError | None:
        now = call.started_at
        for rule in self.failure_rules:
            if not rule.active(now) or not rule.matches(method, call.chat_id):
                continue
            rule.hits += 1
            if rule.remaining is not None:
                rule.remaining -= 1
            if rule.status == 429:
                retry_after = rule.retry_after or 1
                error = self._issue_429(call, retry_after, "injected")
                error.description = rule.description
                return error
            return ApiError(rule.status, rule.description)
        return None

    def _flood_control(self, method: str, call: ApiCall) -> ApiError | None:
        limits = self._rate_limits
        chat_id = call.chat_id
        if limits is None or method not in limits.methods or chat_id is None:
            return None
        now = call.started_at
        penalty = self._penalty_until.get(chat_id)
        if penalty is not None and now < penalty:
            return self._issue_429(call, max(1, math.ceil(penalty - now)), "rate_limit")
        bucket = self._chat_buckets.setdefault(chat_id, _Bucket(float(limits.per_chat_burst), now))
        bucket.refill(now, limits.per_chat_per_second, limits.per_chat_burst)
        if self._global_bucket is None:
            self._global_bucket = _Bucket(float(limits.global_burst), now)
        overall = self._global_bucket
        overall.refill(now, limits.global_per_second, limits.global_burst)
        wait = 0.0
        if bucket.tokens < 1:
            wait = (1 - bucket.tokens) / limits.per_chat_per_second
        elif overall.tokens < 1:
            wait = (1 - overall.tokens) / limits.global_per_second
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            self._penalty_until[chat_id] = now + retry_after
            return self._issue_429(call, retry_after, "rate_limit")
        bucket.tokens -= 1
        overall.tokens -= 1
        return None

    # ------------------------------------------------------------------ state helpers

    def _bot_user(self, bot_id: int) -> dict[str, Any]:
        return {
            "id": bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def _emit(self, event: EmulatorEvent) -> None:
        for listener in list(self._listeners):
            try:
                result = listener(event)
                if asyncio.iscoroutine(result):
                    asyncio.get_running_loop().create_task(result)
            except Exception:
                log.exception("emulator listener failed on %s", event.kind)
        self._notify()

    def _enqueue_update(self, kind: str, payload: dict[str, Any]) -> None:
        self._updates.append({"update_id": self._next_update_id, kind: payload})
        self._next_update_id += 1
        self._notify()

    def _add_message(
        self, chat: _Chat, *, sender: Literal["user", "bot"], from_user: dict[str, Any], **fields: Any
    ) -> ChatMessage:
        message = ChatMessage(
            chat=dict(chat.info),
            message_id=chat.next_message_id,
            sender=sender,
            from_user=dict(from_user),
            date=int(time.time()),
            **fields,
        )
        chat.next_message_id += 1
        chat.messages[message.message_id] = message
        return message

    def _chat_for_send(self, params: _Params) -> _Chat:
        chat_id = params.chat_id()
        chat = self._chats.get(chat_id)
        if chat is None:
            raise _bad_request("chat not found")
        if chat_id in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _reply_target(self, params: _Params, chat: _Chat) -> ChatMessage | None:
        reply = params.json("reply_parameters")
        if isinstance(reply, dict) and reply.get("message_id") is not None:
            message_id, allow_missing = (
                int(reply["message_id"]),
                bool(reply.get("allow_sending_without_reply")),
            )
        elif params.has("reply_to_message_id"):
            message_id = params.int("reply_to_message_id") or 0
            allow_missing = params.bool("allow_sending_without_reply")
        else:
            return None
        target = chat.messages.get(message_id)
        if target is None or target.deleted:
            if allow_missing:
                return None
            raise _bad_request("message to be replied not found")
        return target

    def _reply_markup(self, params: _Params) -> dict[str, Any] | None:
        markup = params.json("reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in markup:
            return markup  # reply keyboards, ForceReply, ReplyKeyboardRemove: stored as given
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad_request(
                'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
            )
        actions = (
            "url",
            "callback_data",
            "web_app",
            "login_url",
            "switch_inline_query",
            "switch_inline_query_current_chat",
            "switch_inline_query_chosen_chat",
            "copy_text",
            "callback_game",
            "pay",
        )
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                    raise _bad_request("can't parse inline keyboard button: Text must be a String")
                if not any(key in button for key in actions):
                    raise _bad_request(
                        "can't parse inline keyboard button: "
                        "Text buttons are unallowed in the inline keyboard"
                    )
                if "callback_data" in button:
                    data = button["callback_data"]
                    if not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA_BYTES:
                        raise _bad_request("BUTTON_DATA_INVALID")
                if "url" in button and not str(button["url"]).strip():
                    raise _bad_request("BUTTON_URL_INVALID")
        if not any(rows):
            return None  # an empty inline keyboard is no keyboard
        return markup

    def _chat_message_for_edit(self, params: _Params) -> ChatMessage:
        if params.has("inline_message_id"):
            raise _bad_request("inline messages are not supported by the emulator")
        chat = self._chats.get(params.chat_id())
        if chat is None:
            raise _bad_request("chat not found")
        message_id = params.int("message_id")
        if message_id is None:
            raise _bad_request("message identifier is not specified")
        message = chat.messages.get(message_id)
        if message is None or message.deleted:
            raise _bad_request("message to edit not found")
        if not message.is_bot:
            raise _bad_request("message can't be edited")
        return message

    def _apply_edit(self, message: ChatMessage, **changes: Any) -> dict[str, Any]:
        message.edits.append(
            MessageVersion(
                text=message.text,
                caption=message.caption,
                reply_markup=message.reply_markup,
                replaced_at=time.time(),
            )
        )
        for name, value in changes.items():
            setattr(message, name, value)
        message.edit_date = int(time.time())
        self._emit(
            EmulatorEvent(
                "edit",
                message.chat_id,
                message.message_id,
                message,
                text=message.text,
                caption=message.caption,
                reply_markup=message.reply_markup,
            )
        )
        return message.to_api()

    def _store_file(self, kind: Literal["photo", "document"], params: _Params) -> StoredFile:
        value = params.raw.get(kind)
        upload = params.files.get(kind)
        if upload is None and isinstance(value, str) and value.startswith("attach://"):
            upload = params.files.get(value.removeprefix("attach://"))
            if upload is None:
                raise _bad_request(
                    f"wrong file identifier/HTTP URL specified: {kind} not found in the request"
                )
        if upload is None:
            if not value:
                raise _bad_request(f"there is no {kind} in the request")
            known = self._files.get(str(value))
            if known is not None:
                return known
            if not str(value).startswith(("http://", "https://")):
                raise _bad_request("wrong file identifier/HTTP URL specified")
            upload = _Upload(filename=str(value).rsplit("/", 1)[-1], content_type=None, data=b"")
            url: str | None = str(value)
        else:
            url = None
            if not upload.data:
                raise _bad_request("file must be non-empty")
        width = height = None
        if kind == "photo" and url is None:
            size = image_size(upload.data)
            if size is None:
                raise _bad_request("IMAGE_PROCESS_FAILED")
            width, height = size
        number = next(self._file_ids)
        stored = StoredFile(
            file_id=f"emu-{kind}-{number:06d}",
            file_unique_id=f"AQAD{number:06d}",
            kind=kind,
            data=upload.data,
            filename=upload.filename,
            content_type=upload.content_type,
            width=width,
            height=height,
            url=url,
        )
        self._files[stored.file_id] = stored
        return stored

    def _caption(self, params: _Params) -> tuple[str | None, list[Entity]]:
        raw = params.str("caption")
        if not raw:
            return None, []
        caption, entities = render_text(raw, params.str("parse_mode"))
        if utf16_len(caption) > MAX_CAPTION_LENGTH:
            raise _bad_request("message caption is too long")
        return caption, entities

    @staticmethod
    def _scope_key(scope: Any) -> str:
        return json.dumps(scope or {"type": "default"}, sort_keys=True)

    # ------------------------------------------------------------------ methods

    async def _get_me(self, params: _Params, bot: dict[str, Any]) -> dict[str, Any]:
        return {
            **bot,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _deliverable(self, limit: int) -> list[dict[str, Any]]:
        allowed = self._allowed_updates
        selected: list[dict[str, Any]] = []
        for update in list(self._updates):
            kind = next(key for key in update if key != "update_id")
            wanted = kind in allowed if allowed else kind not in _OPT_IN_UPDATE_TYPES
            if not wanted:
                self._updates.remove(update)  # Telegram never generates updates the bot opted out of
                continue
            selected.append(update)
            if len(selected) >= limit:
                break
        return selected

    async def _get_updates(self, params: _Params, bot: dict[str, Any]) -> list[dict[str, Any]]:
        if self._webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = params.int("offset")
        limit = min(max(params.int("limit", 100) or 100, 1), 100)
        timeout = max(params.int("timeout", 0) or 0, 0)
        allowed = params.json("allowed_updates")
        if allowed is not None:
            self._allowed_updates = list(allowed) or None
        if offset is not None and offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif offset is not None and offset < 0:
            self._updates = self._updates[offset:]
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()  # an older long poll answers 409, as in Telegram

        def ready() -> bool:
            return bool(
                self._closing
                or generation != self._poll_generation
                or self._current_outage(time.monotonic()) is not None
                or self._deliverable(limit)
            )

        if timeout > 0:
            with contextlib.suppress(TimeoutError):
                await self.wait_until(ready, timeout=timeout)
        if generation != self._poll_generation:
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; "
                "make sure that only one bot instance is running",
            )
        if self._current_outage(time.monotonic()) is not None:
            raise ApiError(502, "Bad Gateway")
        return json.loads(json.dumps(self._deliverable(limit)))

    async def _set_webhook(self, params: _Params, bot: dict[str, Any]) -> bool:
        url = params.str("url") or ""
        if url and not url.startswith("https://"):
            raise _bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        self._webhook_url = url
        if params.bool("drop_pending_updates"):
            self._updates.clear()
        self._notify()
        return True

    async def _delete_webhook(self, params: _Params, bot: dict[str, Any]) -> bool:
        self._webhook_url = ""
        if params.bool("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _get_webhook_info(self, params: _Params, bot: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": self._webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    async def _set_my_commands(self, params: _Params, bot: dict[str, Any]) -> bool:
        commands = params.json("commands")
        if not isinstance(commands, list):
            raise _bad_request("commands must be an Array")
        if len(commands) > 100:
            raise _bad_request("too many commands")
        for command in commands:
            name = command.get("command", "") if isinstance(command, dict) else ""
            description = command.get("description", "") if isinstance(command, dict) else ""
            if not _BOT_COMMAND_NAME_RE.match(str(name)):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(description)) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        key = (self._scope_key(params.json("scope")), params.str("language_code") or "")
        self._commands[key] = [{"command": c["command"], "description": c["description"]} for c in commands]
        return True

    async def _delete_my_commands(self, params: _Params, bot: dict[str, Any]) -> bool:
        self._commands.pop((self._scope_key(params.json("scope")), params.str("language_code") or ""), None)
        return True

    async def _get_my_commands(self, params: _Params, bot: dict[str, Any]) -> list[dict[str, Any]]:
        return self.commands(scope=params.json("scope"), language_code=params.str("language_code") or "")

    async def _send_message(self, params: _Params, bot: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat_for_send(params)
        raw = params.str("text")
        if not raw:
            raise _bad_request("message text is empty")
        parse_mode = params.str("parse_mode")
        text, entities = render_text(raw, parse_mode)
        if not text.strip():
            raise _bad_request("message text is empty")
        if utf16_len(text) > MAX_TEXT_LENGTH:
            raise _bad_request("message is too long")
        markup = self._reply_markup(params)
        reply_to = self._reply_target(params, chat)
        message = self._add_message(
            chat,
            sender="bot",
            from_user=bot,
            text=text,
            raw_text=raw,
            parse_mode=parse_mode,
            reply_markup=markup,
            reply_to=reply_to,
            _signature=(text, tuple(entities)),
        )
        self._emit(
            EmulatorEvent(
                "message", message.chat_id, message.message_id, message, text=text, reply_markup=markup
            )
        )
        return message.to_api()

    async def _edit_message_text(self, params: _Params, bot: dict[str, Any]) -> dict[str, Any]:
        message = self._chat_message_for_edit(params)
        if message.text is None:
            raise _bad_request("there is no text in the message to edit")
        raw = params.str("text")
        if not raw:
            raise _bad_request("message text is empty")
        parse_mode = params.str("parse_mode")
        text, entities = render_text(raw, parse_mode)
        if not text.strip():
            raise _bad_request("message text is empty")
        if utf16_len(text) > MAX_TEXT_LENGTH:
            raise _bad_request("MESSAGE_TOO_LONG")
        markup = self._reply_markup(params)  # omitted: the inline keyboard is removed, as in Telegram
        signature = (text, tuple(entities))
        if signature == message._signature and markup == message.reply_markup:
            raise _bad_request(MSG_NOT_MODIFIED.removeprefix("Bad Request: "))
        return self._apply_edit(
            message, text=text, raw_text=raw, parse_mode=parse_mode, reply_markup=markup, _signature=signature
        )

    async def _edit_message_reply_markup(self, params: _Params, bot: dict[str, Any]) -> dict[str, Any]:
        message = self._chat_message_for_edit(params)
        markup = self._reply_markup(params)
        if markup == message.reply_markup:
            raise _bad_request(MSG_NOT_MODIFIED.removeprefix("Bad Request: "))
        return self._apply_edit(message, reply_markup=markup)

    async def _edit_message_caption(self, params: _Params, bot: dict[str, Any]) -> dict[str, Any]:
        message = self._chat_message_for_edit(params)
        if message.photo is None and message.document is None:
            raise _bad_request("there is no caption in the message to edit")
        caption, entities = self._caption(params)
        markup = self._reply_markup(params)
        signature = (caption, tuple(entities))
        if signature == message._signature and markup == message.reply_markup:
            raise _bad_request(MSG_NOT_MODIFIED.removeprefix("Bad Request: "))
        return self._apply_edit(message, caption=caption, reply_markup=markup, _signature=signature)

    async def _delete_message(self, params: _Params, bot: dict[str, Any]) -> bool:
        chat = self._chats.get(params.chat_id())
        if chat is None:
            raise _bad_request("chat not found")
        message = chat.messages.get(params.int("message_id") or 0)
        if message is None or message.deleted:
            raise _bad_request("message to delete not found")
        message.deleted = True
        message.deleted_at = time.time()
        self._emit(EmulatorEvent("delete", message.chat_id, message.message_id, message))
        return True

    async def _answer_callback_query(self, params: _Params, bot: dict[str, Any]) -> bool:
        query_id = params.str("callback_query_id") or ""
        query = self._queries.get(query_id)
        now = time.monotonic()
        if query is None or query.answered or now - query.created_at > self.callback_query_ttl:
            raise _bad_request(MSG_QUERY_TOO_OLD.removeprefix("Bad Request: "))
        query.answered = True
        answer = CallbackAnswer(
            callback_query_id=query_id,
            user_id=query.user_id,
            chat_id=query.chat_id,
            message_id=query.message_id,
            data=query.data,
            text=params.str("text"),
            show_alert=params.bool("show_alert"),
            url=params.str("url"),
            cache_time=params.int("cache_time"),
            pressed_at=query.created_at,
            answered_at=now,
        )
        self.callback_answers.append(answer)
        self._emit(
            EmulatorEvent(
                "callback_answer", query.chat_id, query.message_id, text=answer.text, callback_answer=answer
            )
        )
        return True

    async def _send_media(
        self, kind: Literal["photo", "document"], params: _Params, bot: dict[str, Any]
    ) -> dict[str, Any]:
        chat = self._chat_for_send(params)
        caption, entities = self._caption(params)
        markup = self._reply_markup(params)
        reply_to = self._reply_target(params, chat)
        stored = self._store_file(kind, params)
        message = self._add_message(
            chat,
            sender="bot",
            from_user=bot,
            caption=caption,
            parse_mode=params.str("parse_mode"),
            reply_markup=markup,
            reply_to=reply_to,
            _signature=(caption, tuple(entities)),
            **{kind: stored},
        )
        self._emit(
            EmulatorEvent(
                kind, message.chat_id, message.message_id, message, caption=caption, reply_markup=markup
            )
        )
        return message.to_api()

    async def _send_photo(self, params: _Params, bot: dict[str, Any]) -> dict[str, Any]:
        return await self._send_media("photo", params, bot)

    async def _send_document(self, params: _Params, bot: dict[str, Any]) -> dict[str, Any]:
        return await self._send_media("document", params, bot)

    async def _send_chat_action(self, params: _Params, bot: dict[str, Any]) -> bool:
        chat = self._chat_for_send(params)
        action = params.str("action") or ""
        if action not in _CHAT_ACTIONS:
            raise _bad_request("wrong parameter action in request")
        self._emit(EmulatorEvent("chat_action", int(chat.info["id"]), action=action))
        return True

    async def _get_file(self, params: _Params, bot: dict[str, Any]) -> dict[str, Any]:
        stored = self._files.get(params.str("file_id") or "")
        if stored is None:
            raise _bad_request("invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "file_path": stored.file_path,
        }


def iter_buttons(markup: dict[str, Any] | None) -> Iterable[tuple[int, dict[str, Any]]]:
    """(1-based number, button) for every inline button of a reply_markup, row by row."""
    rows = (markup or {}).get("inline_keyboard") or []
    return enumerate((button for row in rows for button in row), start=1)
