"""A fake Telegram Bot API (`/bot{token}/{method}`) on 127.0.0.1: the sending side.

Messages and updates follow the teloxide fixtures in shared/data/telegram (supergroup chats,
`from` with `is_bot`). This module holds the chats, their history and what the bot sends and
edits, with Telegram's flood limits when asked to enforce them; what people do and getUpdates
are in sandbox/telegram_updates.py, the wire format in sandbox/telegram_wire.py.
"""

from __future__ import annotations

import copy
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

from sandbox.http import Clock, FakeServer, Reply, Request
from sandbox.telegram_updates import TelegramUpdates
from sandbox.telegram_wire import (
    AnsweredCallback,
    SentMessage,
    TelegramError,
    checked_markup,
    checked_text,
    decoded_params,
    failure_reply,
    make_user,
    plain_text,
    preview_disabled,
    reply_target,
    required,
    text_entities,
)

__all__ = ["AnsweredCallback", "FakeTelegram", "SentMessage", "TelegramError", "make_user"]

# Telegram's documented flood limits (core.telegram.org/bots/faq, "My bot is hitting limits"):
# about 30 messages per second overall and 20 messages per minute into one group. Edits count
# too: flood control answers 429 to editMessageText as it does to sendMessage.
_GLOBAL_PER_SECOND = 30
_GROUP_PER_MINUTE = 20
_PATH = re.compile(r"/bot(?P<token>[^/]+)/(?P<method>\w+)")


class FakeTelegram(TelegramUpdates, FakeServer):
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
        self.flood_refusals: list[tuple[float, int | str]] = []  # (when, chat) of each 429
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

    def messages(self, chat_id: int) -> list[dict[str, Any]]:
        """The chat's current messages (after edits and deletions), oldest first."""
        with self._lock:
            history = self._history.get(chat_id, {})
            return [copy.deepcopy(history[i]) for i in sorted(history)]

    # -- HTTP ----------------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        path = _PATH.fullmatch(request.path)
        if path is None:
            return failure_reply(404, "Not Found")
        if path["token"] != self.token:
            return failure_reply(401, "Unauthorized")
        method = self._methods.get(path["method"].lower())
        if method is None:
            return failure_reply(404, "Not Found: method not found")
        try:
            result = method(decoded_params(request.params))
        except TelegramError as failure:
            return failure_reply(failure.code, failure.description, failure.retry_after)
        return Reply(200, {"ok": True, "result": result})

    def error_reply(self, status: int, request: Request) -> Reply:
        descriptions = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}
        return failure_reply(status, descriptions.get(status, HTTPStatus(status).phrase))

    def rate_limited_reply(self, request: Request, reset_after: float) -> Reply:
        seconds = max(1, math.ceil(reset_after))
        return failure_reply(429, f"Too Many Requests: retry after {seconds}", seconds)

    def _get_me(self, _: dict[str, Any]) -> dict[str, Any]:
        return {
            **self.bot,
            "can_join_groups": True,
            "can_read_all_group_messages": self.can_read_all_group_messages,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    # -- messages ------------------------------------------------------------------------------

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = required(params, "chat_id")
        if not isinstance(chat_id, int):
            # Only public channels resolve by @username; the sandbox has none.
            raise TelegramError(400, "Bad Request: chat not found")
        text = checked_text(params)
        markup = checked_markup(params.get("reply_markup"))
        reply_to, allow_missing = reply_target(params)
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
            message = self._store(chat, self.bot, plain_text(text, params), reply_to, thread_id)
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
                    link_preview_disabled=preview_disabled(params),
                    sent_at=self.now(),
                )
            )
            return copy.deepcopy(message)

    def _edit_message_text(self, params: dict[str, Any]) -> dict[str, Any]:
        text = checked_text(params)
        markup = checked_markup(params.get("reply_markup"))
        with self._lock:
            message = self._message_to_edit(params)
            self._check_flood(message["chat"]["id"])
            # Telegram drops an inline keyboard that an edit does not repeat.
            changes = {"text": plain_text(text, params), "reply_markup": markup}
            return self._apply_edit(message, changes)

    def _edit_reply_markup(self, params: dict[str, Any]) -> dict[str, Any]:
        markup = checked_markup(params.get("reply_markup"))
        with self._lock:
            message = self._message_to_edit(params)
            self._check_flood(message["chat"]["id"])
            return self._apply_edit(message, {"reply_markup": markup})

    def _message_to_edit(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id, message_id = required(params, "chat_id"), required(params, "message_id")
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
        chat_id, message_id = required(params, "chat_id"), required(params, "message_id")
        with self._lock:
            if self._history.get(chat_id, {}).pop(message_id, None) is None:
                raise TelegramError(400, "Bad Request: message to delete not found")
        return True

    def _set_commands(self, params: dict[str, Any]) -> bool:
        with self._lock:
            self.commands = list(required(params, "commands"))
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
        entities = text_entities(text)
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

    def _check_flood(self, chat_id: int | str) -> None:
        if not self.enforce_limits:
            return
        now = self.now()
        while self._send_log and self._send_log[0][0] <= now - 60:
            self._send_log.popleft()
        last_second = [t for t, _ in self._send_log if t > now - 1]
        in_group = [t for t, c in self._send_log if c == chat_id]
        wait = None
        if len(last_second) >= _GLOBAL_PER_SECOND:
            wait = last_second[0] + 1 - now
        elif isinstance(chat_id, int) and chat_id < 0 and len(in_group) >= _GROUP_PER_MINUTE:
            wait = in_group[0] + 60 - now
        if wait is not None:
            self.flood_refusals.append((now, chat_id))
            raise _flood(wait)
        self._send_log.append((now, chat_id))


def _flood(seconds: float) -> TelegramError:
    wait = max(1, math.ceil(seconds))
    return TelegramError(429, f"Too Many Requests: retry after {wait}", wait)
