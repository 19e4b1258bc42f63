"""How an alert reads in the staff chat (Telegram HTML), with every piece of user text made safe
(by responders/safe_html.py).
"""

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from core.mention import Mention
from core.platforms import address, display_name
from core.reasons import Reason
from responders.safe_html import safe_text, safe_url

MAX_TEXT = 900  # characters of the mention shown; the link leads to the rest
MAX_NAME = 64


@dataclass(frozen=True, slots=True)
class Progress:
    """What people and the SLA watcher did with an alert, shown under it."""

    state: str = "open"  # open | acknowledged (claimed) | resolved | not_relevant
    acted_by: str = ""  # who claimed it, or who resolved / dismissed it
    answered_by: str = ""  # the agent whose reply was posted
    escalated_by: str = ""
    snoozed_until: datetime | None = None
    due_at: datetime | None = None
    overdue: bool = False  # the first-response deadline has passed without an answer
    replying: str = ""  # the agent writing a reply now
    draft: str = ""  # a reply waiting for confirmation
    suppressed: int = 0  # muted or held back on the route since the previous alert
    zone: tzinfo = UTC  # times are shown in the brand's time zone


@dataclass(frozen=True, slots=True)
class AlertView:
    mention: Mention
    urgency: int
    sentiment: float
    reasons: tuple[Reason, ...]
    rules: tuple[str, ...]
    state: str = "open"
    acted_by: str = ""
    maybe_repeat: bool = False
    more_from_author: int = 0  # later mentions by the same author counted in this alert
    progress: Progress | None = None


@dataclass(frozen=True, slots=True)
class Sample:
    mention: Mention
    urgency: int
    console_page: str = ""  # the mention's page on the web console, "" when it is off


@dataclass(frozen=True, slots=True)
class GroupView:
    """A storm in one alert: its count and its newest mentions, each one a tap away."""

    rule: str  # the rule it folds, for a group of one rule's rate
    count: int
    first_at: datetime
    last_at: datetime
    samples: tuple[Sample, ...]  # the newest first
    progress: Progress = Progress()
    # Why these fold: "rule" (its rate), "chat" (no room left in the chat's minute), "thread"
    # (one thread or conversation), "text" (near-identical text).
    gathers: str = "rule"
    shown_each: int = 0  # of them posted one by one since an agent tapped Show each
    each_left: int = 0  # still to be posted one by one


@dataclass(frozen=True, slots=True)
class WindowView:
    """A window rule that fired (a spike), and the per-mention alerts it held back."""

    rule: str
    summary: str
    held_back: int
    progress: Progress = Progress()


def render(view: AlertView) -> str:
    mention = view.mention
    platform = display_name(mention.platform)
    icon = "🔴" if view.urgency >= 70 else "🟠" if view.urgency >= 40 else "🟡"
    lines = [
        f"{icon} <b>Urgency {view.urgency}/100</b> · {platform} · {_author(mention)}",
        f"<blockquote>{safe_text(mention.text, MAX_TEXT) or '(no text)'}</blockquote>",
        f"Sentiment {view.sentiment:+.2f}"
        + (f" · Rules: {safe_text(', '.join(view.rules), 200)}" if view.rules else ""),
    ]
    if view.reasons:
        lines.append(f"Why: {safe_text(', '.join(map(str, view.reasons)), 400)}")
    url = safe_url(mention.url)
    if url:
        lines.append(f'<a href="{url}">Open on {platform}</a>')
    if view.more_from_author:
        more = view.more_from_author
        lines.append(
            f"➕ {more} more mention{'s' if more > 1 else ''} by this author since, counted here"
        )
    if view.maybe_repeat:
        lines.append("<i>Sent again after a restart: this may repeat an earlier alert.</i>")
    progress = view.progress or Progress(state=view.state, acted_by=view.acted_by)
    return "\n".join(lines + _progress_lines(progress))


_GATHERS = {
    "chat": "came faster than this chat can take (Telegram: 20 messages a minute)",
    "thread": "in one thread",
    "text": "saying the same thing",
}
FIRST_WORDS = 60  # characters of each folded mention a group message lists


def render_group(view: GroupView) -> str:
    what = _GATHERS.get(view.gathers) or f"matched {safe_text(view.rule, 128)}"
    zone = view.progress.zone
    span = f"{clock_time(view.first_at, zone)}–{clock_time(view.last_at, zone)}"
    lines = [f"🔥 <b>{view.count:,} mentions</b> {what} ({span})", "Newest:"]
    for sample in view.samples:
        mention = sample.mention
        text = safe_text(mention.text, FIRST_WORDS) or "(no text)"
        url = safe_url(mention.url)
        link = f' <a href="{url}">open</a>' if url else ""
        page = safe_url(sample.console_page)
        link += f' <a href="{page}">inbox</a>' if page else ""
        author = address(mention.platform, safe_text(mention.author_handle or "?", MAX_NAME))
        lines.append(f"• {sample.urgency} · {author}: {text}{link}")
    if view.each_left:
        lines.append(
            f"📋 Posting them one by one, most urgent first: {view.shown_each:,} posted, "
            f"{view.each_left:,} to go"
        )
    elif view.shown_each:
        lines.append(f"📋 {view.shown_each:,} of them posted one by one")
    else:
        lines.append("<i>📋 Show each posts every one of them as an alert of its own.</i>")
    return "\n".join(lines + _progress_lines(view.progress))


def render_window(view: WindowView) -> str:
    lines = [
        f"🚨 <b>{safe_text(view.rule, 128)}</b>: {safe_text(view.summary, 400)}",
        f"While this alert is open, {view.held_back:,} per-mention alerts of its rules were "
        "held back and counted here.",
    ]
    return "\n".join(lines + _progress_lines(view.progress))


def render_escalation(reason: str, original: str, link: str) -> str:
    """The note an escalation chat receives: why, the original alert, and a link to it."""
    lines = [f"⬆️ <b>{safe_text(reason, 200)}</b>", original]
    if link:
        lines.append(f'<a href="{safe_url(link)}">Go to the alert</a>')
    return "\n".join(lines)


def message_link(chat_id: int | str, message_id: int) -> str:
    """A t.me link to a message in a supergroup (ids -100…), or "" for other chats."""
    text = str(chat_id)
    if not text.startswith("-100") or message_id <= 0:
        return ""
    return f"https://t.me/c/{text[4:]}/{message_id}"


def _author(mention: Mention) -> str:
    handle = safe_text(mention.author_handle or mention.author_id or "unknown", MAX_NAME)
    author = address(mention.platform, handle)
    verified = " ✔" if mention.author_verified else ""
    reach = f" · {mention.author_followers:,} followers" if mention.author_followers else ""
    return f"{author}{verified}{reach}"


def _progress_lines(progress: Progress) -> list[str]:
    name = safe_text(progress.acted_by, MAX_NAME)
    lines = []
    if progress.suppressed:
        lines.append(f"🔕 {progress.suppressed:,} suppressed since the last alert")
    if progress.state == "acknowledged":
        lines.append(f"🙋 Claimed by {name}")
    elif progress.state == "resolved":
        lines.append(f"✅ Resolved by {name}")
    elif progress.state == "not_relevant":
        lines.append(f"🚫 Not relevant (said {name})")
    if progress.answered_by:
        lines.append(f"💬 Answered by {safe_text(progress.answered_by, MAX_NAME)}")
    if progress.escalated_by:
        lines.append(f"⬆️ Escalated by {safe_text(progress.escalated_by, MAX_NAME)}")
    if progress.state in ("open", "acknowledged"):
        if progress.snoozed_until is not None:
            lines.append(f"💤 Snoozed until {clock_time(progress.snoozed_until, progress.zone)}")
        elif progress.due_at is not None and not progress.answered_by:
            due = clock_time(progress.due_at, progress.zone)
            lines.append(
                f"⏰ First response overdue (was due {due})"
                if progress.overdue
                else f"⏱ First response due {due}"
            )
        if progress.draft:
            lines.append(
                f"📝 Reply by {safe_text(progress.replying, MAX_NAME)}, not posted yet:\n"
                f"<blockquote>{safe_text(progress.draft, MAX_TEXT)}</blockquote>\nSend it?"
            )
        elif progress.replying:
            lines.append(
                f"✍️ {safe_text(progress.replying, MAX_NAME)} is replying: pick a saved reply, "
                "or answer this message with the text to post."
            )
    return lines


def clock_time(moment: datetime, zone: tzinfo) -> str:
    local = moment.astimezone(zone)
    return f"{local:%H:%M} {local.tzname() or ''}".rstrip()
