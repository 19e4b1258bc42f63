"""Alerts in the staff chat in Telegram, and the buttons and replies agents act with.

`TelegramAlerts` sends and edits alert messages (the service decides which: see
service/grouping.py) and turns agents' taps into recorded actions. Button data carries
`verb:alert_id` (≤ 64 bytes); the id is looked up and checked against the message it came from,
never trusted. Every send and edit is counted in a `FloodBudget`, so the service can keep each
chat under Telegram's limit of 20 messages a minute.
"""

import logging
import random
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, tzinfo

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from telegram import (
    Bot,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from core.clock import Clock
from core.config_types import blank_is_none, comma_separated, http_url
from core.models import AlertRow, MentionRow, ReplyDraftRow
from core.platforms import author_values
from core.store import FINAL_STATES, AlertContext, PlannedAction, Store
from responders.alert_format import (
    AlertView,
    GroupView,
    Progress,
    Sample,
    WindowView,
    clock_time,
    message_link,
    render,
    render_escalation,
    render_group,
    render_window,
)
from responders.base import ResponderError

log = logging.getLogger(__name__)

LABELS = {
    "claim": "🙋 Claim",
    "reply": "💬 Reply",
    "esc": "⬆️ Escalate",
    "s15": "💤 15 min",
    "s60": "💤 1 h",
    "resolve": "✅ Resolve",
    "nr": "🚫 Not relevant",
    "noreply": "✖ Cancel reply",
    "send": "📤 Send reply",
    "cancel": "✖ Discard",
}
SNOOZES = {"s15": timedelta(minutes=15), "s60": timedelta(hours=1)}
REFUSAL = "Sorry, only the support team's agents can act on alerts."
TELEGRAM_PER_MINUTE = 20  # messages a minute into one group


class Route(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    chat_id: int
    topic: int | None = None  # a forum topic (message_thread_id) inside the chat


class SavedReply(BaseModel):
    """A ready answer agents pick from the Reply button; `{author}` and `{platform}` filled in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=40)
    text: str = Field(min_length=1, max_length=2000)


class TelegramConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    api_base: str = "https://api.telegram.org"
    bot_token: SecretStr = SecretStr("")
    alert_chat_id: int | None = None  # the "staff" route
    escalation_chat_id: int | None = None  # the "escalation" route: leads, on-call
    routes: dict[str, Route] = Field(default_factory=dict)
    # Telegram user ids allowed to act on alerts; empty: anyone in the staff chat.
    agents: list[int] = Field(default_factory=list)

    _chats = field_validator("alert_chat_id", "escalation_chat_id", mode="before")(blank_is_none)
    _lists = field_validator("agents", mode="before")(comma_separated)
    _urls = field_validator("api_base")(http_url)

    @property
    def enabled(self) -> bool:
        return bool(self.bot_token.get_secret_value())

    def route(self, name: str) -> Route | None:
        if name in self.routes:
            return self.routes[name]
        if name == "staff" and self.alert_chat_id is not None:
            return Route(chat_id=self.alert_chat_id)
        if name == "escalation" and self.escalation_chat_id is not None:
            return Route(chat_id=self.escalation_chat_id)
        return None

    def is_agent(self, user_id: int) -> bool:
        return not self.agents or user_id in self.agents


class FloodBudget:
    """Messages and edits per chat in the last minute, on the service's clock.

    PTB's AIORateLimiter would also hold calls back, but by waiting: a storm would stall the
    service for minutes. Counting here lets the service decide to group instead of waiting.
    """

    def __init__(self, clock: Clock, per_minute: int = TELEGRAM_PER_MINUTE - 2):
        self.clock = clock
        self.per_minute = per_minute
        self._calls: dict[str, deque[datetime]] = {}

    def left(self, chat_id: int | str) -> int:
        return self.per_minute - len(self._recent(str(chat_id)))

    def spend(self, chat_id: int | str) -> None:
        self._recent(str(chat_id)).append(self.clock.now())

    def next_free(self, chat_id: int | str) -> datetime:
        calls = self._recent(str(chat_id))
        if len(calls) < self.per_minute:
            return self.clock.now()
        return calls[len(calls) - self.per_minute] + timedelta(minutes=1)

    def busiest_minute(self, chat_id: int | str) -> int:
        """Calls in the last minute (what a test or a health check compares with the limit)."""
        return len(self._recent(str(chat_id)))

    def _recent(self, chat_id: str) -> deque[datetime]:
        calls = self._calls.setdefault(chat_id, deque())
        horizon = self.clock.now() - timedelta(minutes=1)
        while calls and calls[0] <= horizon:
            calls.popleft()
        return calls


Buttons = tuple[tuple[tuple[str, str], ...], ...]  # rows of (verb, callback data)


def keyboard(alert: AlertRow, draft: ReplyDraftRow | None = None, saved: int = 0) -> Buttons:
    """The buttons for an alert in its current state; `verb:alert_id`, looked up on a tap."""
    if alert.state in FINAL_STATES:
        return ()
    aid = alert.id
    if draft is not None:
        return ((("send", f"send:{draft.id}"), ("cancel", f"cancel:{draft.id}")),)
    if alert.kind == "mention" and alert.replying_id:
        rows: list[tuple[tuple[str, str], ...]] = [
            ((f"saved:{n}", f"saved:{aid}:{n}"),) for n in range(saved)
        ]
        rows.append((("noreply", f"noreply:{aid}"),))
        return tuple(rows)
    first = [v for v in ("claim", "reply", "esc") if _offers(v, alert)]
    return (
        tuple((v, f"{v}:{aid}") for v in first),
        (("s15", f"s15:{aid}"), ("s60", f"s60:{aid}")),
        (("resolve", f"resolve:{aid}"), ("nr", f"nr:{aid}")),
    )


def _offers(verb: str, alert: AlertRow) -> bool:
    if verb == "claim":
        return alert.state == "open"
    if verb == "reply":
        return alert.kind == "mention" and alert.mention_id is not None
    return not alert.escalated_by  # esc


class TelegramAlerts:
    def __init__(
        self,
        config: TelegramConfig,
        bot: Bot,
        store: Store,
        clock: Clock,
        budget: FloodBudget | None = None,
        saved_replies: Sequence[SavedReply] = (),
        zone: tzinfo = UTC,
    ):
        self.config = config
        self.bot = bot
        self.store = store
        self.clock = clock
        self.budget = budget or FloodBudget(clock)
        self.saved_replies = tuple(saved_replies)
        self.zone = zone

    # --- sending and editing ----------------------------------------------------------------

    async def send(
        self,
        route_name: str,
        text: str,
        markup: InlineKeyboardMarkup | None = None,
        reply_to: int | None = None,
        attempts: int = 1,
    ) -> tuple[int, int]:
        """Post `text` to a route; (chat id, message id). Raises ResponderError."""
        route = self.config.route(route_name)
        if route is None:
            raise ResponderError(f"no Telegram chat configured for route {route_name!r}", None)
        self.budget.spend(route.chat_id)
        try:
            message = await self.bot.send_message(
                chat_id=route.chat_id,
                message_thread_id=route.topic,
                text=text,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
                reply_to_message_id=reply_to,
                disable_web_page_preview=True,
            )
        except TelegramError as exc:
            raise self._failure(exc, attempts) from None
        return route.chat_id, message.message_id

    async def refresh(self, alert_id: int) -> None:
        """Show the alert's current state in its message (edited in place)."""
        shown = self.view(alert_id)
        if shown is None:
            return
        alert, text, markup = shown
        if alert.message_id <= 0:
            return
        self.budget.spend(alert.chat_id)
        try:
            await self.bot.edit_message_text(
                text,
                chat_id=int(alert.chat_id),
                message_id=alert.message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
                disable_web_page_preview=True,
            )
        except BadRequest as exc:
            # "message is not modified": a second tap on the same state changes nothing.
            log.debug("alert %s not edited: %s", alert_id, exc.message)
        except TelegramError as exc:
            log.warning("alert %s could not be updated: %s", alert_id, exc)
            return
        self.store.alert_edited(alert_id, alert.count, self.clock.now())

    def view(
        self, alert_id: int, maybe_repeat: bool = False
    ) -> tuple[AlertRow, str, InlineKeyboardMarkup | None] | None:
        """The alert's message as it should read now, with its buttons.

        `maybe_repeat`: sent again after a crash, so the chat may have seen it already.
        """
        found = self.store.alert_context(alert_id)
        if found is None:
            return None
        alert = found.alert
        draft = self.store.pending_draft(alert_id) if alert.kind == "mention" else None
        progress = self._progress(alert, draft)
        if alert.kind == "group":
            members = self.store.members(alert_id, limit=3)
            text = render_group(
                GroupView(
                    rule=alert.rule if not alert.group_key.endswith("|*") else "",
                    count=alert.count,
                    first_at=alert.created_at,
                    last_at=alert.last_at or alert.created_at,
                    samples=tuple(
                        Sample(m.mention.to_mention(), m.mention.urgency or 0)
                        for m in members
                        if m.mention is not None
                    ),
                    progress=progress,
                )
            )
        elif alert.kind == "window":
            text = render_window(WindowView(alert.rule, alert.summary, alert.count, progress))
        else:
            text = render(self._mention_view(found, progress, maybe_repeat))
        rows = keyboard(alert, draft, len(self.saved_replies))
        markup = InlineKeyboardMarkup(
            [
                [InlineKeyboardButton(self._label(verb), callback_data=data) for verb, data in row]
                for row in rows
                if row
            ]
        )
        return alert, text, (markup if rows else None)

    def _label(self, verb: str) -> str:
        if verb.startswith("saved:"):
            return f"💬 {self.saved_replies[int(verb.split(':')[1])].name}"
        return LABELS[verb]

    def _mention_view(
        self, found: AlertContext, progress: Progress, maybe_repeat: bool
    ) -> AlertView:
        mention = found.mention
        assert mention is not None  # mention alerts always have one
        return AlertView(
            mention=mention.to_mention(),
            urgency=mention.urgency or 0,
            sentiment=mention.sentiment or 0.0,
            reasons=tuple(mention.reasons or ()),
            rules=tuple(mention.rules or ()),
            maybe_repeat=maybe_repeat,
            more_from_author=max(0, found.alert.count - 1),
            progress=progress,
        )

    def _progress(self, alert: AlertRow, draft: ReplyDraftRow | None) -> Progress:
        now = self.clock.now()
        replying = ""
        if draft is not None:
            replying = draft.user_name
        elif alert.replying_id:
            started = [
                a for a in self.store.agent_actions(alert.id or 0) if a.action == "reply_start"
            ]
            replying = started[-1].user_name if started else "an agent"
        snoozed = alert.snoozed_until
        return Progress(
            state=alert.state,
            acted_by=alert.acknowledged_by if alert.state == "acknowledged" else alert.resolved_by,
            answered_by=alert.answered_by,
            escalated_by=alert.escalated_by,
            snoozed_until=snoozed if snoozed is not None and snoozed > now else None,
            due_at=alert.due_at,
            overdue=alert.due_at is not None and alert.due_at <= now,
            replying=replying,
            draft=draft.text if draft is not None else "",
            suppressed=alert.suppressed,
            zone=self.zone,
        )

    async def notify(self, alert: AlertRow, text: str) -> bool:
        """A short note answering the alert's message (SLA warning, snooze over)."""
        self.budget.spend(alert.chat_id)
        try:
            await self.bot.send_message(
                chat_id=int(alert.chat_id),
                text=text,
                parse_mode=ParseMode.HTML,
                reply_to_message_id=alert.message_id or None,
                allow_sending_without_reply=True,
            )
        except TelegramError as exc:
            log.warning("note on alert %s not sent: %s", alert.id, exc)
            return False
        return True

    async def escalate(self, alert_id: int, reason: str, route_name: str) -> bool:
        """Tell the escalation route, linking the alert; without one, ping the alert's chat."""
        shown = self.view(alert_id)
        if shown is None:
            return False
        alert, text, _markup = shown
        link = message_link(alert.chat_id, alert.message_id)
        note = render_escalation(reason, text, link)
        if self.config.route(route_name) is None:
            return await self.notify(alert, f"⬆️ <b>{reason}</b> (no {route_name} chat set up)")
        try:
            await self.send(route_name, note)
        except ResponderError as exc:
            log.warning("escalation of alert %s not sent: %s", alert_id, exc)
            return False
        return True

    def _failure(self, exc: TelegramError, attempts: int) -> ResponderError:
        now = self.clock.now()
        if isinstance(exc, RetryAfter):
            wait = exc.retry_after
            seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
            return ResponderError(
                f"Telegram flood control ({seconds:.0f} s)", now + timedelta(seconds=seconds)
            )
        if isinstance(exc, BadRequest) and "chat not found" not in exc.message.lower():
            # The message itself is refused (too long, bad markup): sending it again cannot work.
            return ResponderError(f"Telegram refused the alert: {exc.message}", None)
        if isinstance(exc, NetworkError | Forbidden | BadRequest | TelegramError):
            return ResponderError(f"Telegram: {exc.message}", now + backoff(attempts))
        return ResponderError(str(exc), now + backoff(attempts))

    # --- agents -----------------------------------------------------------------------------

    async def handle_button(self, query: CallbackQuery) -> None:
        """Check who tapped what on which message, record it, show the new state in place."""
        verb, _, rest = (query.data or "").partition(":")
        parts = rest.split(":")
        user = query.from_user
        arity = 2 if verb == "saved" else 1 if verb in LABELS else 0
        if len(parts) != arity or not all(part.isdigit() for part in parts):
            await query.answer("This button is not recognised.")
            return
        if query.message is None:
            await query.answer("This alert is unknown here.")
            return
        if not self.config.is_agent(user.id):
            await query.answer(REFUSAL, show_alert=True)
            return
        who = f"@{user.username}" if user.username else user.full_name
        if verb in ("send", "cancel"):
            await self._draft_button(query, verb, int(parts[0]), str(user.id), who)
            return
        alert = self._alert_of(int(parts[0]), query.message)
        if alert is None or alert.id is None:
            await query.answer("This alert is unknown here.")
            return
        if alert.state in FINAL_STATES:
            await query.answer("This alert is already closed.")
            await self.refresh(alert.id)
            return
        answer = await self._act(alert, verb, parts[1:], str(user.id), who)
        await query.answer(answer)
        await self.refresh(alert.id)

    def _alert_of(self, alert_id: int, message: object) -> AlertRow | None:
        """The alert `alert_id`, only if it is the one shown in `message`."""
        if not isinstance(message, Message):
            return None
        alert = self.store.alert(alert_id)
        if (
            alert is None
            or alert.delivery != "sent"
            or alert.chat_id != str(message.chat.id)
            or alert.message_id != message.message_id
        ):
            return None
        return alert

    async def _act(
        self, alert: AlertRow, verb: str, args: list[str], user_id: str, who: str
    ) -> str:
        aid, now = alert.id or 0, self.clock.now()
        record = self.store.record_agent_action
        if verb == "claim":
            record(aid, "claim", user_id, who, now)
            return "Claimed: it's yours."
        if verb == "resolve":
            record(aid, "resolve", user_id, who, now)
            return "Resolved."
        if verb == "nr":
            record(aid, "not_relevant", user_id, who, now)
            return "Marked not relevant; the rules' backtest will show it."
        if verb in SNOOZES:
            until = now + SNOOZES[verb]
            record(aid, "snooze", user_id, who, now, until=until)
            return f"Snoozed until {clock_time(until, self.zone)}."
        if verb == "esc":
            record(aid, "escalate", user_id, who, now, route="escalation")
            await self.escalate(aid, f"Escalated by {who}", "escalation")
            return "Escalated."
        if verb == "reply":
            if alert.kind != "mention" or alert.mention_id is None:
                return "A grouped alert has no single author to answer."
            record(aid, "reply_start", user_id, who, now)
            return "Pick a saved reply, or answer the alert message with your text."
        if verb == "noreply":
            self.store.update_alert(aid, replying_id="")
            return "Reply cancelled."
        # saved:<alert>:<n>
        index = int(args[0]) if args else -1
        if alert.mention_id is None or not 0 <= index < len(self.saved_replies):
            return "This saved reply no longer exists."
        saved = self.saved_replies[index]
        mention = self.store.mention(alert.mention_id)
        text = fill(saved.text, mention)
        self.store.update_alert(aid, replying_id=user_id)
        self.store.add_draft(aid, text, f"saved:{saved.name}", user_id, who, now)
        return "Check the reply, then send it."

    async def _draft_button(
        self, query: CallbackQuery, verb: str, draft_id: int, user_id: str, who: str
    ) -> None:
        draft = self.store.draft(draft_id)
        alert = self._alert_of(draft.alert_id, query.message) if draft else None
        if draft is None or alert is None or alert.id is None:
            await query.answer("This draft is unknown here.")
            return
        if draft.state != "pending":
            await query.answer("This draft was already sent or discarded.")
            return
        if draft.user_id != user_id:
            await query.answer(f"Only {draft.user_name} can send or discard this draft.")
            return
        now = self.clock.now()
        if verb == "cancel":
            self.store.cancel_draft(draft_id, user_id, who, now)
            await query.answer("Draft discarded.")
        else:
            action = PlannedAction(
                kind="reply",
                # One key per draft: a double tap on Send queues the reply once.
                rule=f"agent-reply-{draft_id}",
                payload={
                    "text": draft.text,
                    "template": "",
                    "dry_run": False,
                    "agent": who,
                    "agent_id": user_id,
                    "alert_id": alert.id,
                },
            )
            self.store.send_draft(draft_id, action, user_id, who, now)
            await query.answer("Reply queued: it is posted in a moment.")
        await self.refresh(alert.id)

    async def handle_reply_message(self, message: Message) -> None:
        """An agent who pressed Reply answers the alert message: that text becomes a draft."""
        parent = message.reply_to_message
        user = message.from_user
        if parent is None or user is None or not message.text:
            return
        alert = self.store.alert_by_message(str(message.chat.id), parent.message_id)
        # Staff also talk in reply threads; only the agent who pressed Reply writes a draft.
        if (
            alert is None
            or alert.id is None
            or alert.replying_id != str(user.id)
            or not self.config.is_agent(user.id)
            or alert.state in FINAL_STATES
        ):
            return
        who = f"@{user.username}" if user.username else user.full_name
        self.store.add_draft(alert.id, message.text, "typed", str(user.id), who, self.clock.now())
        await self.refresh(alert.id)


def fill(template: str, mention: MentionRow | None) -> str:
    """A saved reply with `{author}` and `{platform}` filled in; nothing else is substituted."""
    values = (
        author_values(mention.platform, mention.author_handle, mention.author_id)
        if mention
        else author_values("", "", "")
    )
    return template.replace("{author}", values["author"]).replace("{platform}", values["platform"])


def backoff(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s … capped at 10 minutes, with jitter so retries do not arrive in step."""
    base = min(600.0, 5.0 * 2 ** max(0, attempts - 1))
    return timedelta(seconds=base * random.uniform(0.8, 1.2))
