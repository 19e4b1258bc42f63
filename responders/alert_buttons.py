"""The buttons under an alert message, and reading a tap back.

Button data carries `verb:id` (≤ 64 bytes: Telegram's limit). The id is only a claim: whoever
handles the tap looks it up and checks it against the message the tap came from.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from core.models import AlertRow, ReplyDraftRow
from core.states import FINAL_STATES, AlertKind, AlertState

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
    "each": "📋 Show each",
}
SNOOZES = {"s15": timedelta(minutes=15), "s60": timedelta(hours=1)}
# Verbs whose id is a reply draft's, not an alert's.
DRAFT_VERBS = ("send", "cancel")

Buttons = tuple[tuple[tuple[str, str], ...], ...]  # rows of (verb, callback data)


@dataclass(frozen=True, slots=True)
class Tap:
    """A button press as its data reads: `verb`, the alert (or draft) id, and a saved reply."""

    verb: str
    target: int
    saved: int = -1  # the saved reply's index, for `saved:<alert>:<n>`

    @classmethod
    def parse(cls, data: str) -> "Tap | None":
        """None for data no button of ours carries (old, forged or mangled)."""
        verb, _, rest = data.partition(":")
        parts = rest.split(":")
        arity = 2 if verb == "saved" else 1 if verb in LABELS else 0
        if len(parts) != arity or not all(part.isdigit() for part in parts):
            return None
        return cls(verb, int(parts[0]), int(parts[1]) if arity == 2 else -1)


def keyboard(alert: AlertRow, draft: ReplyDraftRow | None = None, saved: int = 0) -> Buttons:
    """The buttons for an alert in its current state; `verb:alert_id`, looked up on a tap."""
    if alert.state in FINAL_STATES:
        return ()
    aid = alert.id
    if draft is not None:
        return ((("send", f"send:{draft.id}"), ("cancel", f"cancel:{draft.id}")),)
    if alert.kind == AlertKind.MENTION and alert.replying_id:
        rows: list[tuple[tuple[str, str], ...]] = [
            ((f"saved:{n}", f"saved:{aid}:{n}"),) for n in range(saved)
        ]
        rows.append((("noreply", f"noreply:{aid}"),))
        return tuple(rows)
    first = [v for v in ("claim", "reply", "esc") if _offers(v, alert)]
    # A group's mentions are each a customer: one tap posts them as alerts of their own.
    each = ((("each", f"each:{aid}"),),) if alert.kind == AlertKind.GROUP else ()
    return (
        tuple((v, f"{v}:{aid}") for v in first),
        *each,
        (("s15", f"s15:{aid}"), ("s60", f"s60:{aid}")),
        (("resolve", f"resolve:{aid}"), ("nr", f"nr:{aid}")),
    )


def markup(rows: Buttons, saved_names: Sequence[str]) -> InlineKeyboardMarkup | None:
    """Telegram's keyboard for `rows`; saved replies are labelled with their names."""
    if not rows:
        return None

    def label(verb: str) -> str:
        if verb.startswith("saved:"):
            return f"💬 {saved_names[int(verb.split(':')[1])]}"
        return LABELS[verb]

    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(label(verb), callback_data=data) for verb, data in row]
            for row in rows
            if row
        ]
    )


def _offers(verb: str, alert: AlertRow) -> bool:
    if verb == "claim":
        return alert.state == AlertState.OPEN
    if verb == "reply":
        return alert.kind == AlertKind.MENTION and alert.mention_id is not None
    return not alert.escalated_by  # esc
