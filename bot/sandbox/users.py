"""The user side of the emulator: people, their private chats and the groups and channels they post in, and
the updates they make (messages, button presses, and any raw update a test wants to hand the bot).

`UserSide` is a mixin of `TelegramEmulator`: the state stays on the emulator. A private chat's id is its
user's id, as in Telegram; groups, supergroups and channels have negative ids and are added with
`add_chat`. `push_update` enqueues a payload exactly as given, so a test can send what Telegram sends
rarely (anonymous admins, channel posts, edits, updates without optional fields) and what aiogram cannot
parse at all.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

from bot.sandbox.formatting import utf16_len
from bot.sandbox.methods import MAX_TEXT_LENGTH, Chat, PendingQuery
from bot.sandbox.records import ChatMessage, EmulatorEvent

_COMMAND_RE = re.compile(r"^/[A-Za-z0-9_]{1,64}(@[A-Za-z0-9_]+)?")
ChatType = Literal["group", "supergroup", "channel"]
QUERY_PRUNE_AT = 1_000  # pending callback queries kept before the expired ones are forgotten


class UserSide:
    """People and what they do. Tests act as the users through these methods."""

    callback_query_ttl: float
    _users: dict[int, dict[str, Any]]
    _chats: dict[int, Chat]
    _blocked: set[int]
    _queries: dict[str, PendingQuery]
    _query_ids: Iterator[int]

    if TYPE_CHECKING:  # the emulator's own methods

        def _emit(self, event: EmulatorEvent) -> None: ...

        def _enqueue_update(self, kind: str, payload: dict[str, Any]) -> int: ...

        def _add_message(
            self, chat: Chat, *, sender: Literal["user", "bot"], from_user: dict[str, Any], **fields: Any
        ) -> ChatMessage: ...

        def message(self, chat_id: int, message_id: int) -> ChatMessage: ...

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

    def add_chat(
        self, chat_id: int, *, kind: ChatType = "supergroup", title: str | None = None
    ) -> dict[str, Any]:
        """A group, supergroup or channel the bot is a member of (ids are negative); returns its Chat."""
        if chat_id >= 0:
            raise ValueError("group and channel ids are negative")
        info = {"id": chat_id, "type": kind, "title": title or f"Chat {chat_id}"}
        chat = self._chats.get(chat_id)
        if chat is None:
            self._chats[chat_id] = Chat(info=info)
        else:
            chat.info = info
        return dict(info)

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
        chat_id: int | None = None,
    ) -> dict[str, Any]:
        """The user sends `text` to the bot (in their private chat, or in the group `chat_id` added with
        `add_chat`); returns the Message as the bot will receive it."""
        if not text:
            raise ValueError("a user cannot send an empty message")
        if utf16_len(text) > MAX_TEXT_LENGTH:
            raise ValueError("Telegram clients split messages over 4096 characters")
        user = self.add_user(user_id, first_name=first_name, username=username, language_code=language_code)
        chat = self._chats.get(user_id if chat_id is None else chat_id)
        if chat is None:
            raise LookupError(f"no chat {chat_id}: add it with add_chat first")
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
        self._emit(EmulatorEvent("user_message", message.chat_id, message.message_id, message, text=text))
        return api_message

    def push_update(self, kind: str, payload: Any) -> int:
        """Enqueue the update `{"update_id": ..., kind: payload}` exactly as given; returns its update_id.

        Nothing is checked or recorded in a transcript: this is how a test sends channel posts, edits,
        messages on behalf of a chat, updates without optional fields, or an update aiogram cannot parse.
        """
        return self._enqueue_update(kind, payload)

    async def press_button(
        self,
        user_id: int,
        message_id: int,
        callback_data: str | None,
        *,
        forged: bool = False,
        chat_id: int | None = None,
        inaccessible: bool = False,
    ) -> str:
        """The user presses the inline button carrying `callback_data`; returns the callback_query id.

        With `forged=True` any data is sent, whether or not a button carries it (callback data can be
        forged by a modified client); None sends none (a game button). `chat_id` is the group the
        message is in (default: the user's private chat). With `inaccessible=True` the query carries the
        message as Telegram does for one too old for the bot to see (InaccessibleMessage: date 0).
        """
        chat = self._chats.get(user_id if chat_id is None else chat_id)
        message = chat.messages.get(message_id) if chat else None
        if message is None or message.deleted:
            raise LookupError(f"chat {chat_id or user_id} has no message {message_id}")
        if not forged and callback_data not in [b.get("callback_data") for b in message.buttons]:
            raise LookupError(
                f"message {message_id} has no button with callback_data {callback_data!r}; "
                f"buttons: {message.buttons}"
            )
        self.add_user(user_id, language_code=None)
        query_id = self._new_query(user_id, message.chat_id, message_id, callback_data)
        api_message = (
            {"chat": dict(message.chat), "message_id": message_id, "date": 0}
            if inaccessible
            else message.to_api()
        )
        query = {
            "id": query_id,
            "from": dict(self._users[user_id]),
            "message": api_message,
            "chat_instance": str(-(message.chat_id * 7919 + 104729)),
        }
        if callback_data is not None:
            query["data"] = callback_data
        self._enqueue_update("callback_query", query)
        self._emit(EmulatorEvent("callback_query", message.chat_id, message_id, message, text=callback_data))
        return query_id

    async def press_inline_button(self, user_id: int, inline_message_id: str, callback_data: str) -> str:
        """The user presses a button of an inline message (one sent via the bot in some other chat): the
        query has no message, only `inline_message_id`. Returns the callback_query id."""
        self.add_user(user_id, language_code=None)
        query_id = self._new_query(user_id, None, None, callback_data)
        query = {
            "id": query_id,
            "from": dict(self._users[user_id]),
            "inline_message_id": inline_message_id,
            "chat_instance": str(-(user_id * 7919 + 104729)),
            "data": callback_data,
        }
        self._enqueue_update("callback_query", query)
        self._emit(EmulatorEvent("callback_query", None, None, None, text=callback_data))
        return query_id

    async def press_button_text(self, user_id: int, message_id: int, text: str) -> str:
        """Press the callback button labelled `text` on a message; returns the callback_query id."""
        message = self.message(user_id, message_id)
        return await self.press_button(user_id, message_id, message.button_data(text))

    def _new_query(self, user_id: int, chat_id: int | None, message_id: int | None, data: str | None) -> str:
        now = time.monotonic()
        if len(self._queries) >= QUERY_PRUNE_AT:  # an expired query answers "too old" whether kept or not
            for key in [k for k, q in self._queries.items() if now - q.created_at > self.callback_query_ttl]:
                del self._queries[key]
        query_id = f"{user_id}{next(self._query_ids):06d}"
        self._queries[query_id] = PendingQuery(
            user_id=user_id, chat_id=chat_id, message_id=message_id, data=data, created_at=now
        )
        return query_id
