from datetime import UTC, datetime

import pytest

from core.models import Mention
from responders.alert_format import MAX_TEXT, AlertView, render, safe_text, safe_url


def view(text: str, **mention: object) -> AlertView:
    fields = {"author_handle": "maria", "url": "https://x.com/maria/status/1", **mention}
    return AlertView(
        mention=Mention(
            platform="x",
            external_id="1",
            text=text,
            created_at=datetime(2026, 1, 1, tzinfo=UTC),
            **fields,
        ),  # type: ignore[arg-type]
        urgency=82,
        sentiment=-0.71,
        reasons=("refund +25", "followers 48k +15"),
        rules=("refunds-and-legal",),
    )


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("<b>bold</b> & co", "&lt;b&gt;bold&lt;/b&gt; &amp; co"),
        ("*not bold* _nor italic_ [link](http://x)", "*not bold* _nor italic_ [link](http://x)"),
        ("abc\u202edcba\u202c xyz", "abcdcba xyz"),  # a bidi override cannot flip what follows
        ("zero\u200bwidth\ufeff", "zerowidth"),
        ("bell\x07 and\x00 nul", "bell and nul"),
        ("مرحبا שלום emoji 😡👎🏽", "مرحبا שלום emoji 😡👎🏽"),
    ],
)
def test_user_text_is_made_safe(text: str, shown: str) -> None:
    assert safe_text(text, 200) == shown


def test_long_text_is_cut_before_escaping_so_no_entity_is_split() -> None:
    text = "&" * 5000
    shown = safe_text(text, MAX_TEXT)
    assert shown.endswith("…")
    assert shown.count("&amp;") == MAX_TEXT - 1
    assert "&am…" not in shown


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "tg://resolve?domain=x", 'https://x.com/a"onclick="x', ""]
)
def test_only_plain_http_links_are_shown(url: str) -> None:
    assert safe_url(url) == ""


def test_alert_shows_who_reach_text_score_and_why() -> None:
    html = render(view("My order is <broken>", author_followers=48_000, author_verified=True))
    assert html.startswith("🔴 <b>Urgency 82/100</b> · X · @maria ✔ · 48,000 followers")
    assert "<blockquote>My order is &lt;broken&gt;</blockquote>" in html
    assert "Sentiment -0.71 · Rules: refunds-and-legal" in html
    assert "Why: refund +25, followers 48k +15" in html
    assert '<a href="https://x.com/maria/status/1">Open on X</a>' in html


def test_state_and_repeat_warning_are_shown() -> None:
    base = view("x")
    shown = render(AlertView(base.mention, 10, 0.0, (), (), "resolved", "@ana<x>", True))
    assert "✅ Resolved by @ana&lt;x&gt;" in shown
    assert "may repeat an earlier alert" in shown
    assert "🟡" in shown
