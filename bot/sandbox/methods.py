"""The Bot API methods the emulator answers (getUpdates, sendMessage, editMessageText, ...), with the
checks Telegram makes on their parameters, and the chat state they work on.

`BotApiMethods` is a mixin of `TelegramEmulator`: the state stays on the emulator.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from bot.sandbox.api_error import ApiError, bad_request
from bot.sandbox.formatting import Entity, render_text, utf16_len
from bot.sandbox.images import image_size
from bot.sandbox.params import Params, Upload
from bot.sandbox.records import CallbackAnswer, ChatMessage, EmulatorEvent, MessageVersion, StoredFile

MAX_TEXT_LENGTH = 4096  # UTF-16 code units, after entity parsing
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64

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
NOOP_METHODS = frozenset(
    {
        "setmydescription",
        "setmyshortdescription",
        "setmyname",
        "setchatmenubutton",
        "setmydefaultadministratorrights",
    }
)

MSG_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
MSG_QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"


@dataclass
class Chat:
    """A private chat: its Chat object, its messages by id and the id the next message gets."""

    info: dict[str, Any]
    messages: dict[int, ChatMessage] = field(default_factory=dict)
    next_message_id: int = 1


@dataclass
class PendingQuery:
    """A callback query of a pressed button, to be answered within the emulator's callback_query_ttl."""

    user_id: int
    chat_id: int | None
    message_id: int | None
    data: str | None
    created_at: float
    answered: bool = False


# A method's implementation: (parameters, the bot's User) -> the result of the answer.
Handler = Callable[[Params, dict[str, Any]], Any]


class BotApiMethods:
    """The Bot API methods of `TelegramEmulator`, by lower-case name in `_method_handlers()`."""

    # The emulator's state the methods read and change (set in TelegramEmulator.__init__).
    callback_query_ttl: float
    callback_answers: list[CallbackAnswer]
    _chats: dict[int, Chat]
    _blocked: set[int]
    _updates: list[dict[str, Any]]
    _allowed_updates: list[str] | None
    _poll_generation: int
    _webhook_url: str
    _commands: dict[tuple[str, str], list[dict[str, Any]]]
    _queries: dict[str, PendingQuery]
    _file_ids: Iterator[int]
    _files: dict[str, StoredFile]
    _closing: bool

    if TYPE_CHECKING:  # the emulator's own methods the Bot API methods call

        def _notify(self) -> None: ...

        def _emit(self, event: EmulatorEvent) -> None: ...

        def _add_message(
            self, chat: Chat, *, sender: Literal["user", "bot"], from_user: dict[str, Any], **fields: Any
        ) -> ChatMessage: ...

        def _current_outage(self, now: float) -> object | None: ...

        async def wait_until(self, predicate: Callable[[], Any], *, timeout: float = 5.0) -> Any: ...  # noqa: ASYNC109

        def commands(
            self, *, scope: dict[str, Any] | None = None, language_code: str = ""
        ) -> list[dict[str, Any]]: ...

    def _method_handlers(self) -> dict[str, Handler]:
        """The methods answered here by lower-case name (NOOP_METHODS are answered `true` elsewhere)."""
        return {
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

    async def _get_me(self, params: Params, bot: dict[str, Any]) -> dict[str, Any]:
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

    async def _get_updates(self, params: Params, bot: dict[str, Any]) -> list[dict[str, Any]]:
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

    async def _set_webhook(self, params: Params, bot: dict[str, Any]) -> bool:
        url = params.str("url") or ""
        if url and not url.startswith("https://"):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        self._webhook_url = url
        if params.bool("drop_pending_updates"):
            self._updates.clear()
        self._notify()
        return True

    async def _delete_webhook(self, params: Params, bot: dict[str, Any]) -> bool:
        self._webhook_url = ""
        if params.bool("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _get_webhook_info(self, params: Params, bot: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": self._webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    async def _set_my_commands(self, params: Params, bot: dict[str, Any]) -> bool:
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

    async def _delete_my_commands(self, params: Params, bot: dict[str, Any]) -> bool:
        self._commands.pop((self._scope_key(params.json("scope")), params.str("language_code") or ""), None)
        return True

    async def _get_my_commands(self, params: Params, bot: dict[str, Any]) -> list[dict[str, Any]]:
        return self.commands(scope=params.json("scope"), language_code=params.str("language_code") or "")

    async def _send_message(self, params: Params, bot: dict[str, Any]) -> dict[str, Any]:
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

    async def _edit_message_text(self, params: Params, bot: dict[str, Any]) -> dict[str, Any]:
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

    async def _edit_message_reply_markup(self, params: Params, bot: dict[str, Any]) -> dict[str, Any]:
        message = self._chat_message_for_edit(params)
        markup = self._reply_markup(params)
        if markup == message.reply_markup:
            raise bad_request(MSG_NOT_MODIFIED.removeprefix("Bad Request: "))
        return self._apply_edit(message, reply_markup=markup)

    async def _edit_message_caption(self, params: Params, bot: dict[str, Any]) -> dict[str, Any]:
        message = self._chat_message_for_edit(params)
        if message.photo is None and message.document is None:
            raise bad_request("there is no caption in the message to edit")
        caption, entities = self._caption(params)
        markup = self._reply_markup(params)
        signature = (caption, tuple(entities))
        if signature == message._signature and markup == message.reply_markup:
            raise bad_request(MSG_NOT_MODIFIED.removeprefix("Bad Request: "))
        return self._apply_edit(message, caption=caption, reply_markup=markup, _signature=signature)

    async def _delete_message(self, params: Params, bot: dict[str, Any]) -> bool:
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

    async def _answer_callback_query(self, params: Params, bot: dict[str, Any]) -> bool:
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
        self, kind: Literal["photo", "document"], params: Params, bot: dict[str, Any]
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

    async def _send_photo(self, params: Params, bot: dict[str, Any]) -> dict[str, Any]:
        return await self._send_media("photo", params, bot)

    async def _send_document(self, params: Params, bot: dict[str, Any]) -> dict[str, Any]:
        return await self._send_media("document", params, bot)

    async def _send_chat_action(self, params: Params, bot: dict[str, Any]) -> bool:
        chat = self._chat_for_send(params)
        action = params.str("action") or ""
        if action not in _CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        self._emit(EmulatorEvent("chat_action", int(chat.info["id"]), action=action))
        return True

    async def _get_file(self, params: Params, bot: dict[str, Any]) -> dict[str, Any]:
        stored = self._files.get(params.str("file_id") or "")
        if stored is None:
            raise bad_request("invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "file_path": stored.file_path,
        }

    # ------------------------------------------------------------------ helpers of the methods

    def _chat_for_send(self, params: Params) -> Chat:
        chat_id = params.chat_id()
        chat = self._chats.get(chat_id)
        if chat is None:
            raise bad_request("chat not found")
        if chat_id in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _reply_target(self, params: Params, chat: Chat) -> ChatMessage | None:
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

    def _reply_markup(self, params: Params) -> dict[str, Any] | None:
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

    def _chat_message_for_edit(self, params: Params) -> ChatMessage:
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

    def _store_file(self, kind: Literal["photo", "document"], params: Params) -> StoredFile:
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
            upload = Upload(filename=str(value).rsplit("/", 1)[-1], content_type=None, data=b"")
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

    def _caption(self, params: Params) -> tuple[str | None, list[Entity]]:
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
