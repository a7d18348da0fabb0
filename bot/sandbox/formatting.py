"""Telegram's text formatting as the Bot API applies it: parse modes (HTML, MarkdownV2, Markdown) to
plain text and entities, and lengths counted in UTF-16 code units."""

from __future__ import annotations

import re

from bot.sandbox.api_error import bad_request


def utf16_len(text: str) -> int:
    """Length of `text` the way Telegram counts it: in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


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
        raise bad_request(f"can't parse entities: {exc}") from None
    if mode:
        raise bad_request(f"unsupported parse_mode {parse_mode}")
    return raw, []
