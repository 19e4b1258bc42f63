"""The fake Telegram's update side: what people do (write, reply, tap) and getUpdates.

Updates wait in a queue until a long poll confirms them, as on Telegram; a newer getUpdates ends
an older one with 409. Button taps become callback queries that must be answered once.
`FakeTelegram` (sandbox/telegram_api.py) mixes this in and owns the state it works on.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sandbox.telegram_wire import (
    DEFAULT_CUSTOMER,
    AnsweredCallback,
    TelegramError,
    callback_data,
    required,
)


class TelegramUpdates:
    """Pending updates, long polls and callback queries of a `FakeTelegram`."""

    # Set up by FakeTelegram.__init__: one lock guards the updates and the chats alike.
    bot: dict[str, Any]
    can_read_all_group_messages: bool
    answered_callbacks: list[AnsweredCallback]
    _lock: threading.RLock
    _changed: threading.Condition
    _closing: bool
    _poll_generation: int
    _waiting_polls: int
    _updates: list[dict[str, Any]]
    _next_update_id: int
    _allowed_updates: list[str]
    _history: dict[int, dict[int, dict[str, Any]]]
    _open_callbacks: set[str]
    _next_callback_id: int

    if TYPE_CHECKING:  # FakeTelegram keeps the chats and their history

        def _chat(
            self, chat_id: int, title: str | None, member: Mapping[str, Any] | None
        ) -> dict[str, Any]: ...

        def _store(
            self,
            chat: dict[str, Any],
            sender: Mapping[str, Any],
            text: str,
            reply_to: int | None,
            thread_id: int | None,
        ) -> dict[str, Any]: ...

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
            if data not in callback_data(message.get("reply_markup")):
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

    @property
    def waiting_polls(self) -> int:
        """getUpdates calls currently parked in a long poll (a listener is connected)."""
        with self._lock:
            return self._waiting_polls

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._updates)

    # -- updates -------------------------------------------------------------------------------

    def _on_stop(self) -> None:
        with self._lock:
            self._closing = True
            self._changed.notify_all()

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

    def _delete_webhook(self, params: dict[str, Any]) -> bool:
        if params.get("drop_pending_updates"):
            with self._lock:
                self._updates.clear()
        return True

    def _webhook_info(self, _: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            pending = len(self._updates)
        return {"url": "", "has_custom_certificate": False, "pending_update_count": pending}

    def _answer_callback(self, params: dict[str, Any]) -> bool:
        query_id = str(required(params, "callback_query_id"))
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


def _update_kind(update: dict[str, Any]) -> str:
    return next(key for key in update if key != "update_id")
