from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from core.mention import Mention
from responders.alert_format import (
    MAX_TEXT,
    AlertView,
    GroupView,
    Progress,
    Sample,
    WindowView,
    message_link,
    render,
    render_escalation,
    render_group,
    render_window,
)
from responders.safe_html import safe_text, safe_url


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


def test_progress_shows_who_did_what_and_when_in_the_brand_time_zone() -> None:
    base = view("x")
    due = datetime(2026, 1, 5, 9, 15, tzinfo=UTC)
    progress = Progress(
        state="acknowledged",
        acted_by="@ana",
        escalated_by="SLA watcher",
        due_at=due,
        suppressed=3,
        replying="@ana",
        draft="Sorry <b>",
        zone=ZoneInfo("Europe/Istanbul"),
    )
    shown = render(AlertView(base.mention, 80, -0.5, (), (), more_from_author=2, progress=progress))
    assert "➕ 2 more mentions by this author since, counted here" in shown
    assert "🔕 3 suppressed since the last alert" in shown
    assert "🙋 Claimed by @ana" in shown
    assert "⬆️ Escalated by SLA watcher" in shown
    assert "⏱ First response due 12:15 +03" in shown
    assert "📝 Reply by @ana, not posted yet:\n<blockquote>Sorry &lt;b&gt;</blockquote>" in shown
    overdue = render(
        AlertView(base.mention, 80, -0.5, (), (), progress=Progress(due_at=due, overdue=True))
    )
    assert "⏰ First response overdue (was due 09:15 UTC)" in overdue


def test_group_and_window_alerts_count_and_sample_safely() -> None:
    first = view("<i>broken</i> again").mention
    second = view("also broken", author_handle="bob", url="javascript:alert(1)").mention
    at = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    group = render_group(
        GroupView("refunds", 1234, at, at, (Sample(first, 90), Sample(second, 40)))
    )
    assert group.startswith("🔥 <b>1,234 mentions</b> matched refunds (09:00 UTC–09:00 UTC)")
    assert (
        '• 90 · @maria: &lt;i&gt;broken&lt;/i&gt; again <a href="https://x.com/maria/status/1">open</a>'
        in group
    )
    assert "• 40 · @bob: also broken" in group and "javascript" not in group
    chat = render_group(GroupView("", 2, at, at, (), gathers="chat"))
    assert "came faster than this chat can take" in chat
    assert "matched" not in chat
    assert "in one thread" in render_group(GroupView("r", 2, at, at, (), gathers="thread"))
    assert "saying the same thing" in render_group(GroupView("r", 2, at, at, (), gathers="text"))
    hostile = view("<b>" + "long words " * 50, author_handle="<script>").mention
    [line] = [
        line
        for line in render_group(GroupView("r", 1, at, at, (Sample(hostile, 7),))).splitlines()
        if line.startswith("• ")
    ]
    assert line.startswith("• 7 · @&lt;script&gt;: &lt;b&gt;long words long words")
    assert "…" in line and len(line) < 200  # first words only
    progress = render_group(GroupView("r", 9, at, at, (), shown_each=3, each_left=6))
    assert "📋 Posting them one by one, most urgent first: 3 posted, 6 to go" in progress
    window = render_window(WindowView("surge", "Spike: 40 <mentions>", 7))
    assert window.startswith("🚨 <b>surge</b>: Spike: 40 &lt;mentions&gt;")
    assert "7 per-mention alerts of its rules were held back" in window


def test_links_to_supergroup_messages_only() -> None:
    assert message_link(-1001234567890, 42) == "https://t.me/c/1234567890/42"
    assert message_link("-100999", 0) == ""
    assert message_link(12345, 42) == ""  # a private chat has no public link
    assert "Go to the alert" in render_escalation("Overdue", "text", "https://t.me/c/1/2")
