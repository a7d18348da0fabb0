"""A local Telegram Bot API server that speaks the HTTP API the way aiogram calls it.

The bot under test (or the sandbox) talks to it through
``AiohttpSession(api=TelegramAPIServer.from_base(emulator.base_url))``; tests act as
the user through ``push_message`` / ``press_button`` and read what the bot did through
the per-chat transcript, the ``calls`` log and ``wait_for_*`` helpers. Failures
(429 with retry_after, 5xx, outages, slow answers, Telegram's flood limits) can be
injected to test the bot's resilience.

Only private chats exist: a chat's id is its user's id, as in Telegram.

Beside it: `formatting` (parse modes, entities, UTF-16 lengths), `records` (what the emulator records
for the tests and the terminal chat), `api_error` (the Bot API's error answers), `images` (a
picture's size).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

from bot.sandbox.api_error import ApiError, bad_request
from bot.sandbox.formatting import Entity, render_text, utf16_len
from bot.sandbox.images import image_size
from bot.sandbox.records import (
    ApiCall,
    CallbackAnswer,
    ChatMessage,
    EmulatorEvent,
    FailureRule,
    Listener,
    MessageVersion,
    RateLimits,
    RetryAfterRecord,
    StoredFile,
)

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


# --------------------------------------------------------------------------- state


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
            raise bad_request(f"invalid {name} specified")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

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
                raise bad_request("can't parse reply keyboard markup JSON object") from None
            raise bad_request(f"can't parse {name} JSON object") from None

    def chat_id(self, name: str = "chat_id") -> int:
        value = self.raw.get(name)
        if value in (None, ""):
            raise bad_request(f"{name} is empty")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_request("chat not found") from None

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
                    raise bad_request("can't parse JSON encoded request") from None
                if not isinstance(body, dict):
                    raise bad_request("JSON object expected")
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
            raise bad_request("chat not found")
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
            raise bad_request("message to be replied not found")
        return target

    def _reply_markup(self, params: _Params) -> dict[str, Any] | None:
        markup = params.json("reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in markup:
            return markup  # reply keyboards, ForceReply, ReplyKeyboardRemove: stored as given
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request(
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
                    raise bad_request("can't parse inline keyboard button: Text must be a String")
                if not any(key in button for key in actions):
                    raise bad_request(
                        "can't parse inline keyboard button: "
                        "Text buttons are unallowed in the inline keyboard"
                    )
                if "callback_data" in button:
                    data = button["callback_data"]
                    if not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA_BYTES:
                        raise bad_request("BUTTON_DATA_INVALID")
                if "url" in button and not str(button["url"]).strip():
                    raise bad_request("BUTTON_URL_INVALID")
        if not any(rows):
            return None  # an empty inline keyboard is no keyboard
        return markup

    def _chat_message_for_edit(self, params: _Params) -> ChatMessage:
        if params.has("inline_message_id"):
            raise bad_request("inline messages are not supported by the emulator")
        chat = self._chats.get(params.chat_id())
        if chat is None:
            raise bad_request("chat not found")
        message_id = params.int("message_id")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        message = chat.messages.get(message_id)
        if message is None or message.deleted:
            raise bad_request("message to edit not found")
        if not message.is_bot:
            raise bad_request("message can't be edited")
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
                raise bad_request(
                    f"wrong file identifier/HTTP URL specified: {kind} not found in the request"
                )
        if upload is None:
            if not value:
                raise bad_request(f"there is no {kind} in the request")
            known = self._files.get(str(value))
            if known is not None:
                return known
            if not str(value).startswith(("http://", "https://")):
                raise bad_request("wrong file identifier/HTTP URL specified")
            upload = _Upload(filename=str(value).rsplit("/", 1)[-1], content_type=None, data=b"")
            url: str | None = str(value)
        else:
            url = None
            if not upload.data:
                raise bad_request("file must be non-empty")
        width = height = None
        if kind == "photo" and url is None:
            size = image_size(upload.data)
            if size is None:
                raise bad_request("IMAGE_PROCESS_FAILED")
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
            raise bad_request("message caption is too long")
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
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
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
            raise bad_request("commands must be an Array")
        if len(commands) > 100:
            raise bad_request("too many commands")
        for command in commands:
            name = command.get("command", "") if isinstance(command, dict) else ""
            description = command.get("description", "") if isinstance(command, dict) else ""
            if not _BOT_COMMAND_NAME_RE.match(str(name)):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(description)) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
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
            raise bad_request("message text is empty")
        parse_mode = params.str("parse_mode")
        text, entities = render_text(raw, parse_mode)
        if not text.strip():
            raise bad_request("message text is empty")
        if utf16_len(text) > MAX_TEXT_LENGTH:
            raise bad_request("message is too long")
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
            raise bad_request("there is no text in the message to edit")
        raw = params.str("text")
        if not raw:
            raise bad_request("message text is empty")
        parse_mode = params.str("parse_mode")
        text, entities = render_text(raw, parse_mode)
        if not text.strip():
            raise bad_request("message text is empty")
        if utf16_len(text) > MAX_TEXT_LENGTH:
            raise bad_request("MESSAGE_TOO_LONG")
        markup = self._reply_markup(params)  # omitted: the inline keyboard is removed, as in Telegram
        signature = (text, tuple(entities))
        if signature == message._signature and markup == message.reply_markup:
            raise bad_request(MSG_NOT_MODIFIED.removeprefix("Bad Request: "))
        return self._apply_edit(
            message, text=text, raw_text=raw, parse_mode=parse_mode, reply_markup=markup, _signature=signature
        )

    async def _edit_message_reply_markup(self, params: _Params, bot: dict[str, Any]) -> dict[str, Any]:
        message = self._chat_message_for_edit(params)
        markup = self._reply_markup(params)
        if markup == message.reply_markup:
            raise bad_request(MSG_NOT_MODIFIED.removeprefix("Bad Request: "))
        return self._apply_edit(message, reply_markup=markup)

    async def _edit_message_caption(self, params: _Params, bot: dict[str, Any]) -> dict[str, Any]:
        message = self._chat_message_for_edit(params)
        if message.photo is None and message.document is None:
            raise bad_request("there is no caption in the message to edit")
        caption, entities = self._caption(params)
        markup = self._reply_markup(params)
        signature = (caption, tuple(entities))
        if signature == message._signature and markup == message.reply_markup:
            raise bad_request(MSG_NOT_MODIFIED.removeprefix("Bad Request: "))
        return self._apply_edit(message, caption=caption, reply_markup=markup, _signature=signature)

    async def _delete_message(self, params: _Params, bot: dict[str, Any]) -> bool:
        chat = self._chats.get(params.chat_id())
        if chat is None:
            raise bad_request("chat not found")
        message = chat.messages.get(params.int("message_id") or 0)
        if message is None or message.deleted:
            raise bad_request("message to delete not found")
        message.deleted = True
        message.deleted_at = time.time()
        self._emit(EmulatorEvent("delete", message.chat_id, message.message_id, message))
        return True

    async def _answer_callback_query(self, params: _Params, bot: dict[str, Any]) -> bool:
        query_id = params.str("callback_query_id") or ""
        query = self._queries.get(query_id)
        now = time.monotonic()
        if query is None or query.answered or now - query.created_at > self.callback_query_ttl:
            raise bad_request(MSG_QUERY_TOO_OLD.removeprefix("Bad Request: "))
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
            raise bad_request("wrong parameter action in request")
        self._emit(EmulatorEvent("chat_action", int(chat.info["id"]), action=action))
        return True

    async def _get_file(self, params: _Params, bot: dict[str, Any]) -> dict[str, Any]:
        stored = self._files.get(params.str("file_id") or "")
        if stored is None:
            raise bad_request("invalid file_id")
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
