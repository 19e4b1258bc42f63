"""A fake Telegram Bot API (`/bot{token}/{method}`) on 127.0.0.1.

Envelopes follow https://core.telegram.org/bots/api#making-requests (`{"ok": true, "result"}` /
`{"ok": false, "error_code", "description", "parameters"}`); messages and updates follow the
teloxide fixtures in shared/data/telegram (supergroup chats, `from` with `is_bot`).
python-telegram-bot 22 posts form-urlencoded bodies (multipart with files) in which every
non-string value, e.g. `reply_markup` or `chat_id`, is a JSON string; JSON bodies work too.
"""

from __future__ import annotations

import copy
import html
import json
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from sandbox.http import Clock, FakeServer, Reply, Request

# Telegram's documented flood limits (core.telegram.org/bots/faq, "My bot is hitting limits"):
# about 30 messages per second overall and 20 messages per minute into one group.
_GLOBAL_PER_SECOND = 30
_GROUP_PER_MINUTE = 20
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
_PATH = re.compile(r"/bot(?P<token>[^/]+)/(?P<method>\w+)")


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


class FakeTelegram(FakeServer):
    """Bot API with pending updates, per-chat history, knobs for users pushing updates."""

    def __init__(
        self,
        *,
        token: str = "7000000001:AAHfakeTokenForBrandPulseSandbox0001",
        bot_username: str = "BrandPulseBot",
        bot_name: str = "BrandPulse",
        can_read_all_group_messages: bool = True,
        enforce_limits: bool = False,
        port: int = 0,
        clock: Clock = time.time,
    ) -> None:
        super().__init__(port=port, clock=clock)
        self.token = token
        self.enforce_limits = enforce_limits
        bot_id = int(token.split(":")[0])
        self.bot = make_user(bot_id, bot_name, bot_username, is_bot=True, language_code=None)
        self.can_read_all_group_messages = can_read_all_group_messages
        self._changed = threading.Condition(self._lock)
        self._closing = False
        self._poll_generation = 0
        self._waiting_polls = 0
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 730000000
        self._allowed_updates: list[str] = []
        self._chats: dict[int, dict[str, Any]] = {}
        self._history: dict[int, dict[int, dict[str, Any]]] = {}
        self._open_callbacks: set[str] = set()
        self._next_callback_id = 4382000000000000000
        self._send_log: deque[tuple[float, int | str]] = deque()
        self.sent: list[SentMessage] = []
        self.answered_callbacks: list[AnsweredCallback] = []
        self.commands: list[dict[str, Any]] = []
        self._methods: dict[str, Callable[[dict[str, Any]], Any]] = {
            "getme": self._get_me,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._webhook_info,
            "getupdates": self._get_updates,
            "close": lambda _: True,
            "logout": lambda _: True,
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text,
            "editmessagereplymarkup": self._edit_reply_markup,
            "answercallbackquery": self._answer_callback,
            "setmycommands": self._set_commands,
            "getmycommands": lambda _: self.commands,
            "deletemessage": self._delete_message,
        }

    # -- knobs: the people on the other side ---------------------------------------------------

    def push_group_message(
        self,
        chat_id: int,
        text: str,
        from_user: Mapping[str, Any] | None = None,
        chat_title: str | None = None,
        is_bot: bool = False,
        reply_to_message_id: int | None = None,
        message_thread_id: int | None = None,
    ) -> int | None:
        """Someone writes in a chat; returns the update_id, or None if the bot can't see it.

        Negative ids are supergroups (`-100…`), positive ids private chats. With
        `can_read_all_group_messages=False` (privacy mode) the bot only gets group messages
        that are commands, mention it, or reply to it, as on Telegram.
        """
        sender = {**DEFAULT_CUSTOMER, **(from_user or {})}
        sender["is_bot"] = is_bot or bool(sender.get("is_bot"))
        with self._lock:
            chat = self._chat(chat_id, chat_title, sender)
            message = self._store(chat, sender, text, reply_to_message_id, message_thread_id)
            if not self._bot_sees(message):
                return None
            return self._enqueue("message", copy.deepcopy(message))

    def push_reply(
        self,
        chat_id: int,
        reply_to_message_id: int,
        text: str,
        from_user: Mapping[str, Any] | None = None,
    ) -> int | None:
        """A human replies to a (bot's) message; returns the update_id."""
        return self.push_group_message(
            chat_id, text, from_user, reply_to_message_id=reply_to_message_id
        )

    def push_update(self, kind: str, payload: Mapping[str, Any]) -> int:
        """Deliver `payload` as-is as an update of `kind` ("message", "channel_post" …).

        For what the other knobs cannot produce: recorded fixtures, odd or malformed messages.
        Nothing is checked or stored in the chat history; returns the update_id.
        """
        with self._lock:
            return self._enqueue(kind, copy.deepcopy(dict(payload)))

    def press_button(
        self,
        chat_id: int,
        message_id: int,
        data: str,
        from_user: Mapping[str, Any] | None = None,
    ) -> str:
        """Someone taps an inline button carrying `data`; returns the callback query id."""
        with self._lock:
            message = self._history.get(chat_id, {}).get(message_id)
            if message is None:
                raise ValueError(f"no message {message_id} in chat {chat_id}")
            if data not in _callback_data(message.get("reply_markup")):
                raise ValueError(f"message {message_id} has no button with data {data!r}")
            query_id = str(self._next_callback_id)
            self._next_callback_id += 1
            self._open_callbacks.add(query_id)
            query = {
                "id": query_id,
                "from": {**DEFAULT_CUSTOMER, **(from_user or {})},
                "message": copy.deepcopy(message),
                # Stable per chat, as on Telegram; a signed 64-bit number in a string.
                "chat_instance": str((chat_id * 2654435761) % (1 << 63)),
                "data": data,
            }
            self._enqueue("callback_query", query)
            return query_id

    def messages(self, chat_id: int) -> list[dict[str, Any]]:
        """The chat's current messages (after edits and deletions), oldest first."""
        with self._lock:
            history = self._history.get(chat_id, {})
            return [copy.deepcopy(history[i]) for i in sorted(history)]

    @property
    def waiting_polls(self) -> int:
        """getUpdates calls currently parked in a long poll (a listener is connected)."""
        with self._lock:
            return self._waiting_polls

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._updates)

    # -- HTTP ----------------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        path = _PATH.fullmatch(request.path)
        if path is None:
            return _error(404, "Not Found")
        if path["token"] != self.token:
            return _error(401, "Unauthorized")
        method = self._methods.get(path["method"].lower())
        if method is None:
            return _error(404, "Not Found: method not found")
        try:
            result = method(_coerce(request.params))
        except TelegramError as failure:
            return _error(failure.code, failure.description, failure.retry_after)
        return Reply(200, {"ok": True, "result": result})

    def error_reply(self, status: int, request: Request) -> Reply:
        descriptions = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}
        return _error(status, descriptions.get(status, HTTPStatus(status).phrase))

    def rate_limited_reply(self, request: Request, reset_after: float) -> Reply:
        seconds = max(1, math.ceil(reset_after))
        return _error(429, f"Too Many Requests: retry after {seconds}", seconds)

    def _on_stop(self) -> None:
        with self._lock:
            self._closing = True
            self._changed.notify_all()

    # -- updates -------------------------------------------------------------------------------

    def _enqueue(self, kind: str, payload: dict[str, Any]) -> int:
        update_id = self._next_update_id
        self._next_update_id += 1
        self._updates.append({"update_id": update_id, kind: payload})
        self._changed.notify_all()
        return update_id

    def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        limit = min(max(int(params.get("limit", 100)), 1), 100)
        deadline = time.monotonic() + min(float(params.get("timeout", 0)), 50)
        with self._lock:
            # A newer getUpdates ends any older long poll with 409, as on Telegram.
            self._poll_generation += 1
            generation = self._poll_generation
            self._changed.notify_all()
            self._confirm(params.get("offset"))
            if "allowed_updates" in params:
                # Persists across calls, as on Telegram; [] means "all the usual types".
                self._allowed_updates = list(params["allowed_updates"] or [])
            while not self._visible() and not self._closing:
                if generation != self._poll_generation:
                    raise TelegramError(
                        409,
                        "Conflict: terminated by other getUpdates request; "
                        "make sure that only one bot instance is running",
                    )
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._waiting_polls += 1
                try:
                    self._changed.wait(remaining)
                finally:
                    self._waiting_polls -= 1
            return copy.deepcopy(self._visible()[:limit])

    def _confirm(self, offset: int | None) -> None:
        """Forget updates below `offset` (a negative offset keeps only the last -offset)."""
        if offset is None:
            return
        if offset < 0:
            self._updates = self._updates[offset:]
        else:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]

    def _visible(self) -> list[dict[str, Any]]:
        if not self._allowed_updates:
            return self._updates
        return [u for u in self._updates if _update_kind(u) in self._allowed_updates]

    def _get_me(self, _: dict[str, Any]) -> dict[str, Any]:
        return {
            **self.bot,
            "can_join_groups": True,
            "can_read_all_group_messages": self.can_read_all_group_messages,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _delete_webhook(self, params: dict[str, Any]) -> bool:
        if params.get("drop_pending_updates"):
            with self._lock:
                self._updates.clear()
        return True

    def _webhook_info(self, _: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            pending = len(self._updates)
        return {"url": "", "has_custom_certificate": False, "pending_update_count": pending}

    # -- messages ------------------------------------------------------------------------------

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = _required(params, "chat_id")
        if not isinstance(chat_id, int):
            # Only public channels resolve by @username; the sandbox has none.
            raise TelegramError(400, "Bad Request: chat not found")
        text = _checked_text(params)
        markup = _checked_markup(params.get("reply_markup"))
        reply_to, allow_missing = _reply_target(params)
        thread_id = params.get("message_thread_id")
        with self._lock:
            if chat_id > 0 and chat_id not in self._chats:
                # Telegram: a bot may write to a person only after they started a chat with it.
                raise TelegramError(403, "Forbidden: bot can't initiate conversation with a user")
            self._check_flood(chat_id)
            chat = self._chat(chat_id, None, None)
            if reply_to is not None and reply_to not in self._history[chat["id"]]:
                if not allow_missing:
                    raise TelegramError(400, "Bad Request: message to be replied not found")
                reply_to = None
            message = self._store(chat, self.bot, _plain(text, params), reply_to, thread_id)
            if markup is not None:
                message["reply_markup"] = markup
            self.sent.append(
                SentMessage(
                    chat_id=chat_id,
                    text=text,
                    parse_mode=params.get("parse_mode"),
                    reply_markup=markup,
                    message_id=message["message_id"],
                    reply_to=reply_to,
                    message_thread_id=thread_id,
                    link_preview_disabled=_preview_disabled(params),
                )
            )
            return copy.deepcopy(message)

    def _edit_message_text(self, params: dict[str, Any]) -> dict[str, Any]:
        text = _checked_text(params)
        markup = _checked_markup(params.get("reply_markup"))
        with self._lock:
            message = self._message_to_edit(params)
            # Telegram drops an inline keyboard that an edit does not repeat.
            changes = {"text": _plain(text, params), "reply_markup": markup}
            return self._apply_edit(message, changes)

    def _edit_reply_markup(self, params: dict[str, Any]) -> dict[str, Any]:
        markup = _checked_markup(params.get("reply_markup"))
        with self._lock:
            return self._apply_edit(self._message_to_edit(params), {"reply_markup": markup})

    def _message_to_edit(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id, message_id = _required(params, "chat_id"), _required(params, "message_id")
        message = self._history.get(chat_id, {}).get(message_id)
        if message is None:
            raise TelegramError(400, "Bad Request: message to edit not found")
        return message

    def _apply_edit(self, message: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
        if all(message.get(key) == value for key, value in changes.items()):
            raise TelegramError(
                400,
                "Bad Request: message is not modified: specified new message content and "
                "reply markup are exactly the same as a current content and reply markup "
                "of the message",
            )
        for key, value in changes.items():
            if value is None:
                message.pop(key, None)
            else:
                message[key] = value
        message["edit_date"] = int(self.now())
        return copy.deepcopy(message)

    def _delete_message(self, params: dict[str, Any]) -> bool:
        chat_id, message_id = _required(params, "chat_id"), _required(params, "message_id")
        with self._lock:
            if self._history.get(chat_id, {}).pop(message_id, None) is None:
                raise TelegramError(400, "Bad Request: message to delete not found")
        return True

    def _answer_callback(self, params: dict[str, Any]) -> bool:
        query_id = str(_required(params, "callback_query_id"))
        with self._lock:
            if query_id not in self._open_callbacks:
                raise TelegramError(
                    400,
                    "Bad Request: query is too old and response timeout expired "
                    "or query ID is invalid",
                )
            self._open_callbacks.discard(query_id)
            answer = AnsweredCallback(query_id, params.get("text"), bool(params.get("show_alert")))
            self.answered_callbacks.append(answer)
        return True

    def _set_commands(self, params: dict[str, Any]) -> bool:
        with self._lock:
            self.commands = list(_required(params, "commands"))
        return True

    # -- state helpers -------------------------------------------------------------------------

    def _chat(
        self, chat_id: int, title: str | None, member: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        if chat_id not in self._chats:
            if chat_id < 0:
                chat = {"id": chat_id, "title": title or f"Group {-chat_id}", "type": "supergroup"}
            else:
                names = {k: v for k, v in (member or {}).items() if k in ("first_name", "username")}
                chat = {"id": chat_id, "first_name": "Customer", **names, "type": "private"}
            self._chats[chat_id] = chat
            self._history[chat_id] = {}
        if title:
            self._chats[chat_id]["title"] = title
        return self._chats[chat_id]

    def _store(
        self,
        chat: dict[str, Any],
        sender: Mapping[str, Any],
        text: str,
        reply_to: int | None,
        thread_id: int | None,
    ) -> dict[str, Any]:
        history = self._history[chat["id"]]
        # Supergroup message ids are per chat and only grow.
        message_id = max(history, default=100) + 1
        message: dict[str, Any] = {
            "message_id": message_id,
            "from": dict(sender),
            "chat": dict(chat),
            "date": int(self.now()),
            "text": text,
        }
        entities = _entities(text)
        if entities:
            message["entities"] = entities
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
        if reply_to is not None and reply_to in history:
            parent = copy.deepcopy(history[reply_to])
            parent.pop("reply_to_message", None)  # Telegram nests only one level.
            message["reply_to_message"] = parent
        history[message_id] = message
        return message

    def _bot_sees(self, message: dict[str, Any]) -> bool:
        if self.can_read_all_group_messages or message["chat"]["type"] == "private":
            return True
        text = message["text"]
        replied = message.get("reply_to_message", {}).get("from", {})
        return (
            text.startswith("/")
            or f"@{self.bot['username']}".lower() in text.lower()
            or replied.get("id") == self.bot["id"]
        )

    def _check_flood(self, chat_id: int | str) -> None:
        if not self.enforce_limits:
            return
        now = self.now()
        while self._send_log and self._send_log[0][0] <= now - 60:
            self._send_log.popleft()
        last_second = [t for t, _ in self._send_log if t > now - 1]
        if len(last_second) >= _GLOBAL_PER_SECOND:
            raise _flood(last_second[0] + 1 - now)
        in_group = [t for t, c in self._send_log if c == chat_id]
        if isinstance(chat_id, int) and chat_id < 0 and len(in_group) >= _GROUP_PER_MINUTE:
            raise _flood(in_group[0] + 60 - now)
        self._send_log.append((now, chat_id))


def _flood(seconds: float) -> TelegramError:
    wait = max(1, math.ceil(seconds))
    return TelegramError(429, f"Too Many Requests: retry after {wait}", wait)


def _error(code: int, description: str, retry_after: int | None = None) -> Reply:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return Reply(code, body)


def _coerce(params: dict[str, Any]) -> dict[str, Any]:
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


def _required(params: dict[str, Any], name: str) -> Any:
    if params.get(name) in (None, ""):
        raise TelegramError(400, f"Bad Request: {name} is empty")
    return params[name]


def _update_kind(update: dict[str, Any]) -> str:
    return next(key for key in update if key != "update_id")


def _callback_data(markup: dict[str, Any] | None) -> list[str]:
    rows = (markup or {}).get("inline_keyboard", [])
    return [button["callback_data"] for row in rows for button in row if "callback_data" in button]


def _checked_markup(markup: dict[str, Any] | None) -> dict[str, Any] | None:
    for data in _callback_data(markup):
        if not 1 <= len(data.encode()) <= _MAX_CALLBACK_DATA:
            raise TelegramError(400, "Bad Request: BUTTON_DATA_INVALID")
    return markup


def _reply_target(params: dict[str, Any]) -> tuple[int | None, bool]:
    """The replied-to message id and allow_sending_without_reply, from either spelling."""
    reply = params.get("reply_parameters") or {}
    target = reply.get("message_id", params.get("reply_to_message_id"))
    allow = reply.get("allow_sending_without_reply", params.get("allow_sending_without_reply"))
    return target, bool(allow)


def _preview_disabled(params: dict[str, Any]) -> bool:
    options = params.get("link_preview_options") or {}
    return bool(options.get("is_disabled") or params.get("disable_web_page_preview"))


def _checked_text(params: dict[str, Any]) -> str:
    text = str(params.get("text") or "")
    if not text:
        raise TelegramError(400, "Bad Request: message text is empty")
    mode = (params.get("parse_mode") or "").lower()
    if mode == "html":
        _check_html(text)
    elif mode == "markdownv2":
        _check_markdown_v2(text)
    if len(_plain(text, params)) > _MAX_TEXT:
        raise TelegramError(400, "Bad Request: message is too long")
    return text


def _plain(text: str, params: dict[str, Any]) -> str:
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


def _entities(text: str) -> list[dict[str, Any]]:
    """Mentions, commands, hashtags and URLs, with UTF-16 offsets as Telegram counts them."""
    found = [
        (_utf16_len(text[: m.start()]), _utf16_len(m.group()), kind)
        for kind, pattern in _ENTITY_PATTERNS
        for m in pattern.finditer(text)
    ]
    return [{"offset": o, "length": n, "type": kind} for o, n, kind in sorted(found)]


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2
