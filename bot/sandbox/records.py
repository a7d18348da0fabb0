"""What the emulator records and hands to the tests and the terminal chat: the files and messages the
bot sent (with their edits), callback answers, API calls, retry-after answers, failure rules, flood
limits and the events a watcher sees."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

# Methods the flood limits count (Telegram: about 1 message/s per chat, 30/s overall).
DEFAULT_RATE_LIMITED_METHODS = frozenset(
    {"sendmessage", "sendphoto", "senddocument", "sendmediagroup", "copymessage", "forwardmessage"}
)


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
