"""Public replies on the mention's own platform: the outbox's `reply` actions, posted once.

Three producers queue them: a rule's `reply` action, the SLA watcher's holding reply and an
agent's reply from Telegram. Automatic ones pass the guardrails first (responders/guardrails.py);
a rule's `dry_run: true` records what would have been sent instead of sending it.

Exactly once, even across a crash: a reply record is written `attempting` before the platform
is called and `sent` (with the outbox action, in one transaction) right after. An action found
`attempting` was interrupted in between, so before anything is posted again the platform is
asked whether the brand's reply is there (X: the brand's recent replies; Reddit: the account's
comments). Telegram's Bot API cannot list a chat's messages: such a reply is marked `uncertain`
and never posted again, because a missing auto-reply embarrasses nobody and a double one does.

The posters live beside this module, one per platform (x_poster, reddit_poster,
telegram_poster), so a platform's library is imported only when that platform is set up.
"""

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from core import platforms
from core.clock import Clock
from core.mention import Mention
from core.models import ReplyRow
from core.platforms import display_name
from core.retry import backoff
from core.store import OutboxItem, Store
from responders.base import Outcome, ResponderError
from responders.guardrails import Guardrails, author_key, conversation_key
from responders.safe_html import safe_text

if TYPE_CHECKING:  # python-telegram-bot is imported only when Telegram is set up
    from responders.telegram_alerts import TelegramAlerts

log = logging.getLogger(__name__)

AUTH_RETRY = timedelta(minutes=15)
# A platform no descriptor describes (rows of one no longer set up): Telegram's limit.
DEFAULT_REPLY_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class Posted:
    ref: str  # the reply's id on its platform
    url: str = ""


class PostFailed(Exception):
    """The platform did not take the reply. `retry_at` None: retrying cannot help.

    `unknown`: the connection broke after the request went out, so it may have been posted.
    """

    def __init__(self, message: str, retry_at: datetime | None, unknown: bool = False):
        super().__init__(message)
        self.retry_at = retry_at
        self.unknown = unknown


class CannotCheck(Exception):
    """The platform offers no way to see whether an earlier reply went out."""


class Poster(Protocol):
    platform: ClassVar[str]
    account: str  # who the reply is posted as, for the record

    async def post(self, mention: Mention, text: str) -> Posted: ...

    async def find(self, mention: Mention, text: str) -> Posted | None:
        """The brand's reply `text` to `mention` if it is on the platform; CannotCheck."""
        ...


class Replies:
    """The responder for outbox `reply` actions."""

    kind: ClassVar[str] = "reply"

    def __init__(
        self,
        store: Store,
        posters: Mapping[str, Poster],
        guardrails: Guardrails,
        clock: Clock,
    ):
        self.store = store
        self.posters = posters
        self.guardrails = guardrails
        self.clock = clock

    async def perform(self, item: OutboxItem) -> Outcome:
        mention, payload = item.mention, item.payload
        text = str(payload.get("text") or "").strip()
        automatic = "agent" not in payload
        record = await asyncio.to_thread(self.store.reply_record, item.id)
        if record is not None and record.state in ("sent", "skipped", "dry_run"):
            return Outcome(ref=record.platform_ref)  # settled; only the outbox mark was lost
        if record is not None and record.state == "uncertain":
            raise ResponderError(record.reason, None)
        values: dict[str, Any] = {
            "outbox_id": item.id,
            "mention_id": item.mention_id,
            "platform": mention.platform,
            "rule": item.rule,
            "automatic": automatic,
            "author_key": author_key(mention),
            "conversation_key": conversation_key(mention),
            "text": text,
            "posted_by": str(payload.get("agent") or ""),
            "reason": "",
            "created_at": self.clock.now(),
        }
        poster = self.posters.get(mention.platform)
        if poster is not None:
            values["posted_by"] = values["posted_by"] or poster.account
        if record is not None and record.state == "attempting":
            settled = await self._reconcile(item, record, poster, values)
            if settled is not None:
                return settled
        problem = self._unpostable(mention, text, poster)
        if problem:
            return await self._hold_back(item, values, automatic, problem)
        assert poster is not None
        if automatic:
            dry_run = bool(payload.get("dry_run"))
            verdict = await asyncio.to_thread(
                self.guardrails.check, mention, item.mention_id, item.id, self.clock.now(), dry_run
            )
            if verdict.action == "skip":
                return await self._settle(values, "skipped", verdict.reason)
            if verdict.action == "wait" and not dry_run:
                assert verdict.until is not None
                # This action alone waits: raising would pause every reply, agents' too.
                await asyncio.to_thread(
                    self.store.mark_failed, item.id, f"waits: {verdict.reason}", verdict.until
                )
                log.info("reply to mention %s waits: %s", item.mention_id, verdict.reason)
                return Outcome()
            if dry_run:
                reason = f"would wait: {verdict.reason}" if verdict.action == "wait" else ""
                return await self._settle(values, "dry_run", reason)
        return await self._post(item, poster, values)

    def _unpostable(self, mention: Mention, text: str, poster: Poster | None) -> str:
        if poster is None:
            return f"no account set up to post on {display_name(mention.platform)}"
        if not text:
            return "the reply text is empty"
        info = platforms.platform(mention.platform)
        if len(text) > (info.reply_limit if info else DEFAULT_REPLY_LIMIT):
            return f"longer than {mention.platform} allows ({len(text)} characters)"
        return ""

    async def _hold_back(
        self, item: OutboxItem, values: dict[str, Any], automatic: bool, problem: str
    ) -> Outcome:
        if automatic:
            return await self._settle(values, "skipped", problem)
        # An agent asked for this reply: it failing must show as a failure, not a skip.
        await asyncio.to_thread(
            self.store.save_reply, {**values, "state": "failed", "reason": problem}
        )
        raise ResponderError(problem, None)

    async def _settle(self, values: dict[str, Any], state: str, reason: str) -> Outcome:
        row = {**values, "state": state, "reason": reason}
        await asyncio.to_thread(self.store.save_reply, row, state, self.clock.now())
        log.info("reply to mention %s %s: %s", values["mention_id"], state, reason or "shadow mode")
        return Outcome()

    async def _post(self, item: OutboxItem, poster: Poster, values: dict[str, Any]) -> Outcome:
        await asyncio.to_thread(self.store.save_reply, {**values, "state": "attempting"})
        try:
            posted = await poster.post(item.mention, values["text"])
        except PostFailed as exc:
            if not exc.unknown:
                failed = {**values, "state": "failed", "reason": str(exc)}
                await asyncio.to_thread(self.store.save_reply, failed)
            # An unknown outcome stays `attempting`: the retry asks the platform first.
            retry = exc.retry_at or (None if not exc.unknown else self.clock.now() + backoff(1))
            raise ResponderError(str(exc), retry) from None
        return await self._record_sent(values, posted)

    async def _record_sent(self, values: dict[str, Any], posted: Posted) -> Outcome:
        now = self.clock.now()
        sent = {**values, "state": "sent", "platform_ref": posted.ref, "url": posted.url}
        await asyncio.to_thread(self.store.save_reply, {**sent, "sent_at": now}, "sent", now)
        return Outcome(ref=posted.ref)

    async def _reconcile(
        self, item: OutboxItem, record: ReplyRow, poster: Poster | None, values: dict[str, Any]
    ) -> Outcome | None:
        """An earlier attempt was cut off: find its reply, or None when it is not there."""
        if poster is None:
            return None
        try:
            found = await poster.find(item.mention, record.text)
        except CannotCheck as exc:
            reason = f"may have been posted before a restart; not posted again ({exc})"
            await asyncio.to_thread(
                self.store.save_reply, {**values, "state": "uncertain", "reason": reason}
            )
            raise ResponderError(reason, None) from None
        except PostFailed as exc:
            raise ResponderError(f"checking an interrupted reply: {exc}", exc.retry_at) from None
        if found is None:
            log.info("reply to mention %s was not posted before the restart", item.mention_id)
            return None
        log.info(
            "reply to mention %s was posted before the restart: %s", item.mention_id, found.ref
        )
        return await self._record_sent({**values, "created_at": record.created_at}, found)


# --- showing replies to staff ----------------------------------------------------------------

_STATE_NOTES = {
    "sent": "↩️ <b>Replied on {platform}</b>{by}",
    "dry_run": "🧪 <b>Dry run</b>: this reply would have been posted on {platform}",
    "skipped": "⏸ <b>Auto-reply not sent</b>",
    "failed": "⚠️ <b>Reply failed</b>",
    "uncertain": "⚠️ <b>Reply maybe sent</b>: interrupted by a restart, not posted again",
}


def reply_note(reply: ReplyRow) -> str:
    """How a reply reads under its alert in the staff chat (Telegram HTML, user text escaped)."""
    name = display_name(reply.platform)
    who = safe_text(reply.posted_by, 64)
    by = "" if not who else f" as {who}" if reply.automatic else f" by {who}"
    lines = [_STATE_NOTES.get(reply.state, reply.state).format(platform=name, by=by)]
    if reply.rule and reply.automatic:
        lines[0] += f" · rule {safe_text(reply.rule, 64)}"
    lines.append(f"<blockquote>{safe_text(reply.text, 600)}</blockquote>")
    if reply.reason:
        lines.append(f"Why: {safe_text(reply.reason, 300)}")
    when = reply.sent_at or reply.created_at
    details = f"{when:%Y-%m-%d %H:%M} UTC"
    if reply.platform_ref:
        details += f" · id {safe_text(reply.platform_ref, 64)}"
    lines.append(details)
    return "\n".join(lines)


class ReplyNotes:
    """Shows each settled reply in Telegram: under the mention's alert, or to the staff route.

    The alert renderer is another module's; a threaded note keeps the alert's own edits (buttons,
    claims) from wiping the reply out of view.
    """

    def __init__(self, store: Store, alerts: "TelegramAlerts", clock: Clock):
        self.store = store
        self.alerts = alerts
        self.clock = clock

    async def flush(self) -> int:
        """Post the notes that are due; count them. A note whose alert is still queued waits."""
        done = 0
        for reply in await asyncio.to_thread(self.store.unnoted_replies):
            alert, waiting = await asyncio.to_thread(self.store.alert_of_mention, reply.mention_id)
            text = reply_note(reply)
            if alert is not None:
                shown = await self.alerts.notify(alert.chat_id, alert.message_id, text)
            elif waiting:
                continue
            else:
                try:
                    await self.alerts.send("staff", text)
                    shown = True
                except ResponderError as exc:
                    log.warning("reply note not sent: %s", exc)
                    shown = False
            if not shown:
                return done  # Telegram trouble: the rest wait for the next round, in order
            await asyncio.to_thread(self.store.mark_reply_noted, reply.id or 0, self.clock.now())
            done += 1
        return done
