"""The Bot API's wire format as the fake Telegram speaks it: envelopes, users, text checks.

Envelopes follow https://core.telegram.org/bots/api#making-requests (`{"ok": true, "result"}` /
`{"ok": false, "error_code", "description", "parameters"}`). python-telegram-bot 22 posts
form-urlencoded bodies (multipart with files) in which every non-string value, e.g.
`reply_markup` or `chat_id`, is a JSON string; JSON bodies work too.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from typing import Any

from sandbox.http import Reply

_MAX_TEXT = 4096
_MAX_CALLBACK_DATA = 64

# Parameters that are plain strings on the wire; every other form value is JSON-encoded.
_STRING_PARAMS = frozenset(
    {"text", "parse_mode", "callback_query_id", "url", "inline_message_id", "data", "caption"}
)

_HTML_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a"}
    | {"code", "pre", "blockquote", "tg-emoji"}
)

# MarkdownV2 characters that are never formatting, so an unescaped one is always an error.
_MARKDOWN_V2_RESERVED = frozenset(".!#+-={}")

_ENTITY_PATTERNS = [
    ("bot_command", re.compile(r"(?<!\S)/\w+(?:@\w+)?")),
    ("mention", re.compile(r"(?<!\w)@\w{5,32}")),
    ("hashtag", re.compile(r"(?<!\w)#\w+")),
    ("url", re.compile(r"https?://\S+")),
]


class TelegramError(Exception):
    """Raised inside a method handler to answer `{"ok": false}` with this code."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.retry_after = code, description, retry_after


@dataclass(frozen=True)
class SentMessage:
    chat_id: int | str
    text: str
    parse_mode: str | None
    reply_markup: dict[str, Any] | None
    message_id: int
    reply_to: int | None
    message_thread_id: int | None
    link_preview_disabled: bool
    sent_at: float  # on the server's clock, POSIX seconds


@dataclass(frozen=True)
class AnsweredCallback:
    callback_query_id: str
    text: str | None
    show_alert: bool


def make_user(
    user_id: int,
    first_name: str,
    username: str | None = None,
    *,
    is_bot: bool = False,
    language_code: str | None = "en",
) -> dict[str, Any]:
    """A Telegram `User` object, shaped like the fixtures' `from`."""
    user: dict[str, Any] = {"id": user_id, "is_bot": is_bot, "first_name": first_name}
    if username:
        user["username"] = username
    if language_code:
        user["language_code"] = language_code
    return user


DEFAULT_CUSTOMER = make_user(5964236329, "Dana", "dana_k")


def failure_reply(code: int, description: str, retry_after: int | None = None) -> Reply:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return Reply(code, body)


def decoded_params(params: dict[str, Any]) -> dict[str, Any]:
    """Decode the JSON-encoded values of form fields; plain-string parameters stay as sent."""
    return {
        key: _json_or_raw(value) if isinstance(value, str) and key not in _STRING_PARAMS else value
        for key, value in params.items()
    }


def _json_or_raw(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value  # e.g. chat_id="@channelname"


def required(params: dict[str, Any], name: str) -> Any:
    if params.get(name) in (None, ""):
        raise TelegramError(400, f"Bad Request: {name} is empty")
    return params[name]


def callback_data(markup: dict[str, Any] | None) -> list[str]:
    rows = (markup or {}).get("inline_keyboard", [])
    return [button["callback_data"] for row in rows for button in row if "callback_data" in button]


def checked_markup(markup: dict[str, Any] | None) -> dict[str, Any] | None:
    for data in callback_data(markup):
        if not 1 <= len(data.encode()) <= _MAX_CALLBACK_DATA:
            raise TelegramError(400, "Bad Request: BUTTON_DATA_INVALID")
    return markup


def reply_target(params: dict[str, Any]) -> tuple[int | None, bool]:
    """The replied-to message id and allow_sending_without_reply, from either spelling."""
    reply = params.get("reply_parameters") or {}
    target = reply.get("message_id", params.get("reply_to_message_id"))
    allow = reply.get("allow_sending_without_reply", params.get("allow_sending_without_reply"))
    return target, bool(allow)


def preview_disabled(params: dict[str, Any]) -> bool:
    options = params.get("link_preview_options") or {}
    return bool(options.get("is_disabled") or params.get("disable_web_page_preview"))


def checked_text(params: dict[str, Any]) -> str:
    text = str(params.get("text") or "")
    if not text:
        raise TelegramError(400, "Bad Request: message text is empty")
    mode = (params.get("parse_mode") or "").lower()
    if mode == "html":
        _check_html(text)
    elif mode == "markdownv2":
        _check_markdown_v2(text)
    if len(plain_text(text, params)) > _MAX_TEXT:
        raise TelegramError(400, "Bad Request: message is too long")
    return text


def plain_text(text: str, params: dict[str, Any]) -> str:
    """The text as recipients see it: HTML markup removed (other modes kept as sent)."""
    if (params.get("parse_mode") or "").lower() != "html":
        return text
    return html.unescape(re.sub(r"<[^>]*>", "", text))


def _check_html(text: str) -> None:
    """Reject what Telegram rejects: unknown tags, bare '<', unbalanced tags."""
    open_tags: list[str] = []
    for found in re.finditer(r"<(/?)([a-zA-Z][\w-]*)?[^<>]*(>?)", text):
        closing, name, closed = found.group(1), (found.group(2) or "").lower(), found.group(3)
        offset = len(text[: found.start()].encode())
        if not name or not closed or name not in _HTML_TAGS:
            raise _cant_parse(f'Unsupported start tag "{name}" at byte offset {offset}')
        if not closing:
            open_tags.append(name)
        elif not open_tags or open_tags.pop() != name:
            raise _cant_parse(f'Unmatched end tag at byte offset {offset}, found "</{name}>"')
    if open_tags:
        raise _cant_parse(f'Can\'t find end tag corresponding to start tag "{open_tags[-1]}"')


def _check_markdown_v2(text: str) -> None:
    escaped = in_code = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "`":
            in_code = not in_code
        elif char in _MARKDOWN_V2_RESERVED and not in_code:
            raise _cant_parse(
                f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
            )


def _cant_parse(detail: str) -> TelegramError:
    return TelegramError(400, f"Bad Request: can't parse entities: {detail}")


def text_entities(text: str) -> list[dict[str, Any]]:
    """Mentions, commands, hashtags and URLs, with UTF-16 offsets as Telegram counts them."""
    found = [
        (_utf16_len(text[: m.start()]), _utf16_len(m.group()), kind)
        for kind, pattern in _ENTITY_PATTERNS
        for m in pattern.finditer(text)
    ]
    return [{"offset": o, "length": n, "type": kind} for o, n, kind in sorted(found)]


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2
