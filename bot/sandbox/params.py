"""A Bot API request's parameters, read the way Telegram reads them: from the query string, a form, a
multipart body (with its uploaded files) or a JSON body."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.sandbox.api_error import ApiError, bad_request


@dataclass
class Upload:
    """A file sent as a part of a multipart body."""

    filename: str | None
    content_type: str | None
    data: bytes


# How the calls log decodes each field (see Params.decoded); any other field is logged as sent.
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


class Params:
    """Request parameters from a query string, a form, a multipart body or JSON."""

    def __init__(self, raw: dict[str, Any], files: dict[str, Upload]) -> None:
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


async def read_params(request: web.Request) -> Params:
    """The parameters of a request's query string and body; ApiError 400 for a malformed JSON body."""
    raw: dict[str, Any] = dict(request.query)
    files: dict[str, Upload] = {}
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
                    files[name] = Upload(value.filename, value.content_type, value.file.read())
                else:
                    raw[name] = value if isinstance(value, str) else bytes(value).decode()
    return Params(raw, files)
