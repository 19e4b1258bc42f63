"""What an alert message says now, and which buttons it has, read from the store.

Plain functions of the database (call them through `asyncio.to_thread`): the alert responder
posts their result, and every change of an alert's state edits its message with it.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import tzinfo

from telegram import InlineKeyboardMarkup

from core.alert_keys import gathers_any_rule, gathers_same_content
from core.clock import Clock
from core.models import AlertRow, ReplyDraftRow
from core.states import FINAL_STATES, AlertKind, AlertState
from core.store import AlertContext, Store
from responders.alert_buttons import keyboard, markup
from responders.alert_format import (
    AlertView,
    GroupView,
    Progress,
    Sample,
    WindowView,
    render,
    render_group,
    render_window,
    safe_text,
)

NEWEST = 8  # folded mentions a group message lists, the newest first


@dataclass(frozen=True, slots=True)
class Shown:
    alert: AlertRow
    text: str
    markup: InlineKeyboardMarkup | None


class AlertViews:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        saved_names: Sequence[str],
        zone: tzinfo,
        console_url: str = "",
    ):
        self.store = store
        self.clock = clock
        self.saved_names = tuple(saved_names)
        self.zone = zone
        # The web console's address ("" when it is off): each folded line links to its page.
        self.console_url = console_url.rstrip("/")

    def _page_of(self, mention_id: int | None) -> str:
        if not self.console_url or mention_id is None:
            return ""
        return f"{self.console_url}/mentions/{mention_id}"

    def view(self, alert_id: int, maybe_repeat: bool = False) -> Shown | None:
        """The alert's message as it should read now, with its buttons.

        `maybe_repeat`: sent again after a crash, so the chat may have seen it already.
        """
        found = self.store.alert_context(alert_id)
        if found is None:
            return None
        alert = found.alert
        draft = self.store.pending_draft(alert_id) if alert.kind == AlertKind.MENTION else None
        progress = self._progress(alert, draft)
        if alert.kind == AlertKind.GROUP:
            members = self.store.members(alert_id, limit=NEWEST, newest=True)
            posted, waiting = self.store.unfold_progress(alert_id)
            text = render_group(
                GroupView(
                    rule=alert.rule,
                    count=alert.count,
                    first_at=alert.created_at,
                    last_at=alert.last_at or alert.created_at,
                    samples=tuple(
                        Sample(
                            m.mention.to_mention(),
                            m.mention.urgency or 0,
                            self._page_of(m.mention.id),
                        )
                        for m in members
                        if m.mention is not None
                    ),
                    progress=progress,
                    gathers=_gathers(alert.group_key),
                    shown_each=posted,
                    each_left=waiting,
                )
            ) + _worked_line(self.store.worked_members(alert_id))
        elif alert.kind == AlertKind.WINDOW:
            text = render_window(WindowView(alert.rule, alert.summary, alert.count, progress))
        else:
            text = render(_mention_view(found, progress, maybe_repeat))
        rows = keyboard(alert, draft, len(self.saved_names))
        return Shown(alert, text, markup(rows, self.saved_names))

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
            acted_by=(
                alert.acknowledged_by
                if alert.state == AlertState.ACKNOWLEDGED
                else alert.resolved_by
            ),
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


def _gathers(group_key: str) -> str:
    """Why a group's mentions fold, as render_group names it."""
    if gathers_any_rule(group_key):
        return "chat"
    return gathers_same_content(group_key) or "rule"


def _mention_view(found: AlertContext, progress: Progress, maybe_repeat: bool) -> AlertView:
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


def _worked_line(members: Sequence[AlertRow]) -> str:
    """What agents did with this group's mentions one by one (the web console works them)."""
    if not members:
        return ""
    answered = sum(1 for m in members if m.answered_at is not None)
    closed = sum(1 for m in members if m.state in FINAL_STATES)
    names = sorted({m.acknowledged_by for m in members if m.acknowledged_by})
    shown = ", ".join(safe_text(name, 64) for name in names[:5]) + (" …" if len(names) > 5 else "")
    parts = [f"{len(members)} claimed" + (f" by {shown}" if shown else "")]
    if answered:
        parts.append(f"{answered} answered")
    if closed:
        parts.append(f"{closed} closed")
    return "\n👤 One by one: " + ", ".join(parts)
