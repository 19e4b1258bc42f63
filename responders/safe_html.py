"""User text and links made safe for Telegram HTML: the one piece of alert formatting that
replies and the node's own messages need too, so they import no alert views (issue 19).

User text can hold `<b>`, `&`, Markdown, bidi overrides that flip the rest of the message,
zero-width characters and 5,000 characters of noise. It is cut first (so no entity is split),
stripped of control and bidi-override characters, then HTML-escaped.
"""

import re
import unicodedata

# Bidi embeddings/overrides/isolates and other invisible format characters could reorder or
# hide the parts of the alert that follow the user's text.
_UNSAFE = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]")


def safe_text(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, without control or bidi characters, HTML-escaped."""
    cleaned = _UNSAFE.sub("", text)
    cleaned = "".join(
        ch for ch in cleaned if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs", "Co")
    )
    cleaned = re.sub(r"\n{3,}", "\n\n", cleaned.strip())
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 1].rstrip() + "…"
    # Imported here: the html package loads its 2,231 named entities, which escaping never reads,
    # and most passes render nothing.
    import html

    return html.escape(cleaned, quote=False)


def safe_url(url: str) -> str:
    """An href value, or "" for anything but http(s) (no `javascript:` or `tg:` links)."""
    if not re.match(r"^https?://[^\s\"'<>]+$", url):
        return ""
    import html

    return html.escape(url, quote=True)
