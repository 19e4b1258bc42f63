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
"""

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Protocol

import praw
import prawcore
import requests
import tweepy
from praw.exceptions import PRAWException, RedditAPIException
from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut

from core import platforms
from core.clock import Clock
from core.models import Mention, ReplyRow
from core.platforms import display_name
from core.retry import backoff, retry_after_seconds
from core.store import OutboxItem, Store
from responders.alert_format import safe_text
from responders.base import Outcome, ResponderError
from responders.guardrails import Guardrails, author_key, conversation_key
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


class XPoster:
    """`create_tweet(in_reply_to_tweet_id=…)` with the user-context keys (tweepy client)."""

    platform: ClassVar[str] = "x"

    def __init__(self, client: tweepy.Client, account: str, clock: Clock):
        self.client = client
        self.account = account
        self.clock = clock

    async def post(self, mention: Mention, text: str) -> Posted:
        return await asyncio.to_thread(self._post, mention, text)

    def _post(self, mention: Mention, text: str) -> Posted:
        response = self._call(
            lambda: self.client.create_tweet(
                text=text, in_reply_to_tweet_id=mention.external_id, user_auth=True
            )
        )
        tweet_id = str(response["data"]["id"])
        return Posted(tweet_id, f"https://x.com/{self.account or 'i'}/status/{tweet_id}")

    async def find(self, mention: Mention, text: str) -> Posted | None:
        if not self.account:
            raise CannotCheck("the brand's X account (X_ACCOUNT) is not configured")
        return await asyncio.to_thread(self._find, mention, text)

    def _find(self, mention: Mention, text: str) -> Posted | None:
        # The brand's replies since the mention was written (recent search covers 7 days).
        start = max(mention.created_at, self.clock.now() - timedelta(days=6))
        params = {
            "query": f"from:{self.account} is:reply",
            "start_time": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "max_results": 100,
            "tweet.fields": "referenced_tweets",
        }
        body = self._call(
            lambda: self.client.request("GET", "/2/tweets/search/recent", params=params)
        )
        for tweet in body.get("data") or []:
            replied = {
                str(ref.get("id"))
                for ref in tweet.get("referenced_tweets") or []
                if ref.get("type") == "replied_to"
            }
            if mention.external_id in replied and tweet.get("text", "").strip() == text.strip():
                tweet_id = str(tweet["id"])
                return Posted(tweet_id, f"https://x.com/{self.account}/status/{tweet_id}")
        return None

    def _call(self, request: Callable[[], Any]) -> dict[str, Any]:
        now = self.clock.now()
        try:
            response = request()
        except tweepy.TooManyRequests as exc:
            reset = getattr(exc.response, "headers", {}).get("x-rate-limit-reset")
            at = datetime.fromtimestamp(int(reset), now.tzinfo) if reset else now + AUTH_RETRY
            raise PostFailed("X rate limit reached (429)", at) from None
        except tweepy.Unauthorized:
            raise PostFailed("X refused the user-context keys (401)", now + AUTH_RETRY) from None
        except tweepy.Forbidden as exc:
            raise PostFailed(f"X refused the reply: {_x_detail(exc)}", None) from None
        except tweepy.TwitterServerError as exc:
            raise PostFailed(f"X server error ({_status(exc)})", now + backoff(1)) from None
        except tweepy.HTTPException as exc:
            raise PostFailed(f"X refused the reply: {_x_detail(exc)}", None) from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            message = f"X unreachable ({type(exc).__name__})"
            raise PostFailed(message, now + backoff(1), unknown=True) from None
        try:
            body = response.json()
        except ValueError:
            raise PostFailed("X sent a malformed answer", now + backoff(1), unknown=True) from None
        return body if isinstance(body, dict) else {}


def _status(exc: tweepy.HTTPException) -> int:
    return getattr(exc.response, "status_code", 0)


def _x_detail(exc: tweepy.HTTPException) -> str:
    return "; ".join(exc.api_messages) or str(_status(exc))


class RedditPoster:
    """A comment under the submission or comment, via praw (`POST /api/comment`)."""

    platform: ClassVar[str] = "reddit"

    def __init__(self, reddit: praw.Reddit, account: str, clock: Clock):
        self.reddit = reddit
        self.account = account
        self.clock = clock

    async def post(self, mention: Mention, text: str) -> Posted:
        return await asyncio.to_thread(self._post, mention, text)

    def _post(self, mention: Mention, text: str) -> Posted:
        kind, _, thing_id = mention.external_id.partition("_")
        parent = self.reddit.submission(thing_id) if kind == "t3" else self.reddit.comment(thing_id)
        comment = self._call(lambda: parent.reply(body=text))
        if comment is None:
            raise PostFailed("Reddit accepted the comment but returned none", None, unknown=True)
        return Posted(comment.fullname, f"https://www.reddit.com{comment.permalink}")

    async def find(self, mention: Mention, text: str) -> Posted | None:
        return await asyncio.to_thread(self._find, mention, text)

    def _find(self, mention: Mention, text: str) -> Posted | None:
        path = f"user/{self.account}/comments"
        body = self._call(
            lambda: self.reddit.request(
                method="GET", path=path, params={"limit": 100, "sort": "new"}
            )
        )
        for child in (body.get("data") or {}).get("children") or []:
            data = child.get("data") or {}
            if data.get("parent_id") == mention.external_id and data.get("body") == text:
                return Posted(
                    str(data["name"]), f"https://www.reddit.com{data.get('permalink', '')}"
                )
        return None

    def _call(self, request: Callable[[], Any]) -> Any:
        now = self.clock.now()
        try:
            return request()
        except RedditAPIException as exc:
            if any(item.error_type == "RATELIMIT" for item in exc.items):
                raise PostFailed(f"Reddit: {exc}", now + AUTH_RETRY) from None
            raise PostFailed(f"Reddit refused the reply: {exc}", None) from None
        except prawcore.TooManyRequests:
            raise PostFailed("Reddit rate limit reached (429)", now + AUTH_RETRY) from None
        except (prawcore.InvalidToken, prawcore.OAuthException):
            raise PostFailed("Reddit refused the credentials", now + AUTH_RETRY) from None
        except prawcore.ServerError as exc:
            status = exc.response.status_code
            raise PostFailed(f"Reddit server error ({status})", now + backoff(1)) from None
        except prawcore.RequestException as exc:
            message = f"Reddit unreachable ({type(exc.original_exception).__name__})"
            raise PostFailed(message, now + backoff(1), unknown=True) from None
        except prawcore.ResponseException as exc:
            status = exc.response.status_code
            # The token endpoint's answers, which prawcore does not map to its own classes.
            if status == 429:
                raise PostFailed("Reddit rate limit reached (429)", now + AUTH_RETRY) from None
            if status >= 500:
                raise PostFailed(f"Reddit server error ({status})", now + backoff(1)) from None
            raise PostFailed(f"Reddit refused the reply ({status})", None) from None
        except PRAWException as exc:
            raise PostFailed(f"Reddit: {exc}", None) from None


class TelegramPoster:
    """A message in the same chat answering the mention (`reply_to_message_id`)."""

    platform: ClassVar[str] = "telegram"

    def __init__(self, bot: Bot, account: str, clock: Clock):
        self.bot = bot
        self.account = account
        self.clock = clock

    async def post(self, mention: Mention, text: str) -> Posted:
        chat, _, message = mention.external_id.partition(":")
        raw = mention.raw or {}
        now = self.clock.now()
        try:
            sent = await self.bot.send_message(
                chat_id=int(chat),
                text=text,
                reply_to_message_id=int(message),
                message_thread_id=raw.get("message_thread_id")
                if raw.get("is_topic_message")
                else None,
                disable_web_page_preview=True,
            )
        except RetryAfter as exc:
            wait = timedelta(seconds=retry_after_seconds(exc.retry_after))
            raise PostFailed("Telegram flood control", now + wait) from None
        except (BadRequest, Forbidden) as exc:
            raise PostFailed(f"Telegram refused the reply: {exc.message}", None) from None
        except TimedOut as exc:
            # The request went out; Telegram may well have posted it.
            raise PostFailed(f"Telegram: {exc.message}", now + backoff(1), unknown=True) from None
        except (NetworkError, TelegramError) as exc:
            raise PostFailed(f"Telegram: {exc.message}", now + backoff(1)) from None
        ref = f"{chat}:{sent.message_id}"
        username = (raw.get("chat") or {}).get("username")
        url = f"https://t.me/{username}/{sent.message_id}" if username else ""
        return Posted(ref, url)

    async def find(self, mention: Mention, text: str) -> Posted | None:
        raise CannotCheck("Telegram's Bot API cannot list the messages of a chat")


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

    def __init__(self, store: Store, alerts: TelegramAlerts, clock: Clock):
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
