"""How an alert reads in the staff chat (Telegram HTML), with every piece of user text made safe.

User text can hold `<b>`, `&`, Markdown, bidi overrides that flip the rest of the message,
zero-width characters and 5,000 characters of noise. It is cut first (so no entity is split),
stripped of control and bidi-override characters, then HTML-escaped.
"""

import html
import re
import unicodedata
from dataclasses import dataclass

from core.models import Mention

MAX_TEXT = 900  # characters of the mention shown; the link leads to the rest
MAX_NAME = 64
PLATFORM_NAMES = {"x": "X", "reddit": "Reddit", "telegram": "Telegram"}
# Bidi embeddings/overrides/isolates and other invisible format characters could reorder or
# hide the parts of the alert that follow the user's text.
_UNSAFE = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]")


@dataclass(frozen=True, slots=True)
class AlertView:
    mention: Mention
    urgency: int
    sentiment: float
    reasons: tuple[str, ...]
    rules: tuple[str, ...]
    state: str = "open"  # open | acknowledged | resolved
    acted_by: str = ""
    maybe_repeat: bool = False


def safe_text(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, without control or bidi characters, HTML-escaped."""
    cleaned = _UNSAFE.sub("", text)
    cleaned = "".join(
        ch for ch in cleaned if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs", "Co")
    )
    cleaned = re.sub(r"\n{3,}", "\n\n", cleaned.strip())
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 1].rstrip() + "…"
    return html.escape(cleaned, quote=False)


def safe_url(url: str) -> str:
    """An href value, or "" for anything but http(s) (no `javascript:` or `tg:` links)."""
    if not re.match(r"^https?://[^\s\"'<>]+$", url):
        return ""
    return html.escape(url, quote=True)


def render(view: AlertView) -> str:
    mention = view.mention
    platform = PLATFORM_NAMES.get(mention.platform, mention.platform)
    handle = safe_text(mention.author_handle or mention.author_id or "unknown", MAX_NAME)
    author = f"@{handle}" if mention.platform == "x" else handle
    reach = f" · {mention.author_followers:,} followers" if mention.author_followers else ""
    verified = " ✔" if mention.author_verified else ""
    icon = "🔴" if view.urgency >= 70 else "🟠" if view.urgency >= 40 else "🟡"
    lines = [
        f"{icon} <b>Urgency {view.urgency}/100</b> · {platform} · {author}{verified}{reach}",
        f"<blockquote>{safe_text(mention.text, MAX_TEXT) or '(no text)'}</blockquote>",
        f"Sentiment {view.sentiment:+.2f}"
        + (f" · Rules: {safe_text(', '.join(view.rules), 200)}" if view.rules else ""),
    ]
    if view.reasons:
        lines.append(f"Why: {safe_text(', '.join(view.reasons), 400)}")
    url = safe_url(mention.url)
    if url:
        lines.append(f'<a href="{url}">Open on {platform}</a>')
    if view.maybe_repeat:
        lines.append("<i>Sent again after a restart: this may repeat an earlier alert.</i>")
    if view.state == "acknowledged":
        lines.append(f"👀 Acknowledged by {safe_text(view.acted_by, MAX_NAME)}")
    elif view.state == "resolved":
        lines.append(f"✅ Resolved by {safe_text(view.acted_by, MAX_NAME)}")
    return "\n".join(lines)
