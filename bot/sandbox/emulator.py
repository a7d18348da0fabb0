"""A local Telegram Bot API server that speaks the HTTP API the way aiogram calls it.

The bot under test (or the sandbox) talks to it through
``AiohttpSession(api=TelegramAPIServer.from_base(emulator.base_url))``; tests act as
the user through ``push_message`` / ``press_button`` / ``push_update`` and read what the bot did
through the per-chat transcript, the ``calls`` log and ``wait_for_*`` helpers. Failures
(429 with retry_after, 5xx, outages, slow answers, Telegram's flood limits) can be
injected to test the bot's resilience.

A private chat's id is its user's id, as in Telegram; groups and channels are added with `add_chat`.

Beside it: `users` (people, their chats and the updates they make), `methods` (the Bot API methods it
answers and the chat state they work on), `params`
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
from bot.sandbox.methods import NOOP_METHODS, BotApiMethods, Chat, Handler, PendingQuery
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
from bot.sandbox.users import UserSide

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
DEFAULT_BOT_ID = 123456

TOKEN_RE = re.compile(r"^(\d+):([A-Za-z0-9_-]+)$")


# --------------------------------------------------------------------------- state


@dataclass
class _Outage:
    mode: Literal["502", "close", "refuse"]
    until: float  # time.monotonic()


# --------------------------------------------------------------------------- the emulator


class TelegramEmulator(UserSide, BotApiMethods):
    """A Telegram Bot API server on 127.0.0.1 for one bot and any number of chats.

    `token`: when given, only this token is accepted; otherwise any well-formed token
    ("<digits>:<letters, digits, _ or ->") is, and the bot's id is the token's number.
    `callback_query_ttl`: seconds within which a callback query must be answered.
    `max_logged_calls`: keep only this many newest entries in `calls`, `callback_answers` and
    `retry_after_log` (None: all).
    `max_messages_per_chat`: keep only this many newest messages of each chat's transcript (None: all);
    a long run (bench/chat_fuzz.py) bounds both, so the emulator's records stay flat.
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
        max_messages_per_chat: int | None = None,
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
        self.max_messages_per_chat = max_messages_per_chat

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

    @property
    def last_update_id(self) -> int:
        """The update_id of the newest update enqueued (0 before the first)."""
        return self._next_update_id - 1

    @property
    def allowed_updates(self) -> list[str] | None:
        """The update types the bot asked for in getUpdates (None: every type but the opt-in ones)."""
        return None if self._allowed_updates is None else list(self._allowed_updates)

    def is_pending(self, update_id: int) -> bool:
        """True while the update waits for getUpdates (not yet confirmed by an offset, nor dropped because
        the bot does not ask for its type)."""
        return any(update["update_id"] == update_id for update in self._updates)

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
        self._trim_records()
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

    def _trim_records(self) -> None:
        limit = self.max_logged_calls
        if limit is None:
            return
        for records in (self.calls, self.callback_answers, self._faults.retry_after_log):
            if len(records) > limit:
                del records[: len(records) - limit]

    def _finish(self, call: ApiCall, status: int, payload: dict[str, Any] | None) -> None:
        call.finished_at = time.monotonic()
        call.status = status
        call.response = payload
        self._trim_records()  # the call may have added a callback answer or a retry-after record
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

    def _enqueue_update(self, kind: str, payload: Any) -> int:
        update_id = self._next_update_id
        self._updates.append({"update_id": update_id, kind: payload})
        self._next_update_id += 1
        self._notify()
        return update_id

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
        if self.max_messages_per_chat is not None and len(chat.messages) > self.max_messages_per_chat:
            del chat.messages[next(iter(chat.messages))]  # the oldest (dicts keep insertion order)
        return message


def iter_buttons(markup: dict[str, Any] | None) -> Iterable[tuple[int, dict[str, Any]]]:
    """(1-based number, button) for every inline button of a reply_markup, row by row."""
    rows = (markup or {}).get("inline_keyboard") or []
    return enumerate((button for row in rows for button in row), start=1)
