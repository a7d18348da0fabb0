"""A local Telegram Bot API server that speaks the HTTP API the way aiogram calls it.

The bot under test (or the sandbox) talks to it through
``AiohttpSession(api=TelegramAPIServer.from_base(emulator.base_url))``; tests act as
the user through ``push_message`` / ``press_button`` and read what the bot did through
the per-chat transcript, the ``calls`` log and ``wait_for_*`` helpers. Failures
(429 with retry_after, 5xx, outages, slow answers, Telegram's flood limits) can be
injected to test the bot's resilience.

Only private chats exist: a chat's id is its user's id, as in Telegram.

Beside it: `methods` (the Bot API methods it answers and the chat state they work on), `params`
(a request's parameters), `faults` (injected failures, slow answers and flood control), `formatting`
(parse modes, entities, UTF-16 lengths), `records` (what the emulator records for the tests and the
terminal chat), `api_error` (the Bot API's error answers), `images` (a picture's size).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web

from bot.sandbox.api_error import ApiError
from bot.sandbox.faults import Faults
from bot.sandbox.formatting import utf16_len
from bot.sandbox.methods import MAX_TEXT_LENGTH, NOOP_METHODS, BotApiMethods, Chat, Handler, PendingQuery
from bot.sandbox.params import Params, read_params
from bot.sandbox.records import (
    ApiCall,
    CallbackAnswer,
    ChatMessage,
    EmulatorEvent,
    FailureRule,
    Listener,
    RateLimits,
    RetryAfterRecord,
    StoredFile,
)

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
DEFAULT_BOT_ID = 123456

TOKEN_RE = re.compile(r"^(\d+):([A-Za-z0-9_-]+)$")
_COMMAND_RE = re.compile(r"^/[A-Za-z0-9_]{1,64}(@[A-Za-z0-9_]+)?")


# --------------------------------------------------------------------------- state


@dataclass
class _Outage:
    mode: Literal["502", "close", "refuse"]
    until: float  # time.monotonic()


# --------------------------------------------------------------------------- the emulator


class TelegramEmulator(BotApiMethods):
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
        self._faults = Faults()  # failure rules, retry_after log, slow answers, flood control

        self._users: dict[int, dict[str, Any]] = {}
        self._chats: dict[int, Chat] = {}
        self._blocked: set[int] = set()
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 1
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0
        self._webhook_url = ""
        self._commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._queries: dict[str, PendingQuery] = {}
        self._query_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._files: dict[str, StoredFile] = {}
        self._listeners: list[Listener] = []
        self._changed = asyncio.Event()
        self._outage: _Outage | None = None
        self._reopen_task: asyncio.Task[None] | None = None
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._closing = False
        self._methods: dict[str, Handler] = self._method_handlers()

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
            self._chats[user_id] = Chat(info=chat_info)
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
        self._queries[query_id] = PendingQuery(
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

    @property
    def failure_rules(self) -> list[FailureRule]:
        """The injected failure rules, oldest first, each with its hits so far."""
        return self._faults.failure_rules

    @property
    def retry_after_log(self) -> list[RetryAfterRecord]:
        """Every 429 answered (injected or flood control), with the call that followed it."""
        return self._faults.retry_after_log

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
        return self._faults.inject(
            method,
            status=status,
            retry_after=retry_after,
            count=count,
            duration=duration,
            chat_id=chat_id,
            description=description,
        )

    def clear_failures(self) -> None:
        """Drop injected failures, slow methods and rate-limit penalties (not the outage)."""
        self._faults.clear()

    def slow(self, method: str | None, seconds: float | None) -> None:
        """Answer calls of `method` (None: every method) `seconds` late; 0 or None clears.

        The call takes effect at once; only the answer is late (as with a slow network,
        where a client that times out and retries may duplicate a message).
        """
        self._faults.slow(method, seconds)

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
        self._faults.enforce_rate_limits(enabled, limits=limits)

    # ------------------------------------------------------------------ HTTP

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        method = request.match_info["method"]
        now = time.monotonic()
        outage = self._current_outage(now)
        try:
            params = await read_params(request)
        except ApiError as exc:
            params, early_error = Params({}, {}), exc
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
        params: Params,
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
        delay = self._faults.answer_delay(method)
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

    async def _dispatch(
        self, token: str, method: str, params: Params, call: ApiCall
    ) -> tuple[int, dict[str, Any]]:
        match = TOKEN_RE.match(token)
        if match is None or (self.token is not None and token != self.token):
            return 401, ApiError(401, "Unauthorized").payload()
        name = method.lower()
        handler = self._methods.get(name)
        if handler is None and name not in NOOP_METHODS:
            return 404, ApiError(404, "Not Found: method not found").payload()
        failure = self._faults.failure_for(name, call)
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
        self, chat: Chat, *, sender: Literal["user", "bot"], from_user: dict[str, Any], **fields: Any
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


def iter_buttons(markup: dict[str, Any] | None) -> Iterable[tuple[int, dict[str, Any]]]:
    """(1-based number, button) for every inline button of a reply_markup, row by row."""
    rows = (markup or {}).get("inline_keyboard") or []
    return enumerate((button for row in rows for button in row), start=1)
