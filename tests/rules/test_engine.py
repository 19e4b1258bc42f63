"""The engine: every condition, the urgency formula with its reasons, actions, windows."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.mention import Mention
from core.reasons import ReasonKind
from rules.engine import Engine, Verdict
from rules.schema import RulesConfig
from rules.triage import Assessment, Signal, Triage
from rules.windows import WindowCounts, evaluate_windows
from service.plan import plan_actions

MONDAY_NOON = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


class FixedTriage:
    """A triage that always says the same, and counts how often it was asked."""

    def __init__(self, assessment: Assessment):
        self.assessment = assessment
        self.calls = 0

    def assess(self, text: str, lang: str | None = None) -> Assessment:
        self.calls += 1
        return self.assessment


NEUTRAL = Assessment("en", 0.0, False, 0, ())


def mention(text: str = "hello", **fields: Any) -> Mention:
    base = Mention(
        platform="x",
        external_id="1",
        text=text,
        created_at=MONDAY_NOON,
        source="x:mentions",
        author_id="42",
        author_handle="Customer",
    )
    return replace(base, **fields)


def engine(rules: list[dict[str, Any]], assessment: Assessment = NEUTRAL, **extra: Any) -> Engine:
    config = RulesConfig.model_validate({"rules": rules, **extra})
    return Engine(config, FixedTriage(assessment))  # type: ignore[arg-type]


def fires(when: dict[str, Any], m: Mention, assessment: Assessment = NEUTRAL, **extra: Any) -> bool:
    e = engine([{"name": "r", "when": when, "actions": ["alert"]}], assessment, **extra)
    return e.evaluate(m).rules == ("r",)


# --- keywords -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keyword", "text", "expected"),
    [
        ("refund", "I want a REFUND now", True),
        ("refund", "réfund please", True),
        ("late", "chocolate cake", False),
        ("late", "late again!", True),
        ("iade", "İADE istiyorum", True),
        ("iade", "IADE istiyorum", True),
        ("iade", "ıade istiyorum", True),
        ("ıade", "iade istiyorum", True),
        ("follow back", "pls Follow   back", True),
        ("follow back", "follow\nback", True),
        ("follow back", "follow, back", False),  # punctuation splits a phrase
        ("refund*", "still no refunds", True),
        ("refund*", "unrefundable", False),
        ("refund", "refunds", False),
        ("#acmefail", "total #AcmeFail today", True),
        ("😡", "so angry 😡😡", True),
        ("c++", "the c++ sdk", True),
    ],
)
def test_keywords_match_whole_words_in_any_case_accent_and_i(
    keyword: str, text: str, expected: bool
) -> None:
    assert fires({"keywords": [keyword]}, mention(text)) is expected


def test_exclude_vetoes_and_regex_reads_the_original_text() -> None:
    when = {"keywords": ["refund"], "exclude": ["refund policy"]}
    assert fires(when, mention("refund please"))
    assert not fires(when, mention("what is your refund policy"))
    assert fires({"regex": r"order #\d{6}"}, mention("ORDER #123456 missing"))
    assert not fires({"regex": r"order #\d{6}"}, mention("order #12"))


# --- mention fields -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "fields", "expected"),
    [
        ({"platform": "reddit"}, {"platform": "reddit"}, True),
        ({"platform": ["reddit", "telegram"]}, {}, False),
        ({"source": "x:search:*"}, {"source": "x:search:brand"}, True),
        ({"source": "x:search:*"}, {"source": "x:mentions"}, False),
        ({"source": ["x:mentions"]}, {}, True),
        ({"language": "tr"}, {"lang": "tr"}, True),
        ({"language": "tr"}, {"lang": "en"}, False),
        ({"language": "en"}, {"lang": ""}, True),  # unknown: the triage's language
        ({"followers_at_least": 1000}, {"author_followers": 1000}, True),
        ({"followers_at_least": 1000}, {"author_followers": 999}, False),
        ({"followers_below": 1000}, {"author_followers": 999}, True),
        ({"verified": True}, {"author_verified": True}, True),
        ({"verified": True}, {}, False),
        ({"is_reply": True}, {"in_reply_to_id": "7"}, True),
        ({"is_reply": True}, {}, False),
        ({"is_reply": False}, {}, True),
        ({"author_in": "vip"}, {"author_handle": "@BigFan"}, True),
        ({"author_in": "vip"}, {"author_handle": "other", "author_id": "777"}, True),
        ({"author_in": "vip"}, {}, False),
    ],
)
def test_mention_conditions(when: dict[str, Any], fields: dict[str, Any], expected: bool) -> None:
    lists = {"vip": ["bigfan", "777"]}
    assert fires(when, mention(**fields), lists=lists) is expected


def assessment(sentiment: float = 0.0, needs: bool = False, *signals: Signal) -> Assessment:
    return Assessment("en", sentiment, needs, 0, signals)


@pytest.mark.parametrize(
    ("when", "text", "judged", "expected"),
    [
        ({"sentiment_below": -0.5}, "x", assessment(-0.7), True),
        ({"sentiment_below": -0.5}, "x", assessment(-0.5), False),
        ({"sentiment_above": 0.2, "sentiment_below": 0.6}, "x", assessment(0.4), True),
        ({"needs_response": True}, "x", assessment(needs=True), True),
        ({"needs_response": False}, "x", assessment(needs=True), False),
        ({"is_question": True}, "where is it?", assessment(), True),
        ({"is_question": True}, "where is it", assessment(), False),
        ({"is_question": True}, "how do I", assessment(0, False, Signal("q", "question", 5)), True),
        ({"is_question": False}, "fine.", assessment(), True),
        (
            {"urgency_at_least": 40},
            "x",
            assessment(-1.0, False, Signal("V", "sentiment", 45)),
            True,
        ),
        (
            {"urgency_at_least": 50},
            "x",
            assessment(-1.0, False, Signal("V", "sentiment", 45)),
            False,
        ),
    ],
)
def test_triage_conditions(
    when: dict[str, Any], text: str, judged: Assessment, expected: bool
) -> None:
    assert fires(when, mention(text), judged) is expected


@pytest.mark.parametrize(
    ("time", "moment", "expected"),
    [
        # Monday 12:00 UTC is 15:00 in Istanbul.
        ({"hours": "09:00-17:00", "timezone": "Europe/Istanbul"}, MONDAY_NOON, True),
        ({"hours": "09:00-15:00", "timezone": "Europe/Istanbul"}, MONDAY_NOON, False),
        ({"hours": "22:00-06:00"}, MONDAY_NOON.replace(hour=23), True),
        ({"hours": "22:00-06:00"}, MONDAY_NOON.replace(hour=5, minute=59), True),
        ({"hours": "22:00-06:00"}, MONDAY_NOON.replace(hour=6), False),
        ({"days": "mon-fri"}, MONDAY_NOON, True),
        ({"days": "weekend"}, MONDAY_NOON, False),
        ({"days": "fri-mon"}, MONDAY_NOON, True),
        # Sunday 23:00 UTC is already Monday 02:00 in Istanbul.
        (
            {"days": "mon", "timezone": "Europe/Istanbul"},
            datetime(2026, 1, 4, 23, tzinfo=UTC),
            True,
        ),
        (
            {"days": ["sat", "sun"], "hours": ["08:00-10:00"]},
            MONDAY_NOON,
            False,
        ),
    ],
)
def test_time_windows_use_the_mentions_time_in_the_zone(
    time: dict[str, Any], moment: datetime, expected: bool
) -> None:
    assert fires({"time": time}, mention(created_at=moment)) is expected


def test_the_evaluation_time_can_be_injected_and_the_file_zone_applies() -> None:
    e = engine(
        [{"name": "night", "when": {"time": {"hours": "22:00-06:00"}}, "actions": ["alert"]}],
        timezone="Asia/Tokyo",
    )
    noon_in_tokyo = datetime(2026, 1, 5, 3, tzinfo=UTC)
    midnight_in_tokyo = datetime(2026, 1, 5, 15, tzinfo=UTC)
    m = mention(created_at=noon_in_tokyo)
    assert e.evaluate(m).rules == ()
    assert e.evaluate(m, now=midnight_in_tokyo).rules == ("night",)


def test_any_all_and_not_combine() -> None:
    when = {
        "any": [{"keywords": ["refund"]}, {"regex": "money back"}],
        "all": [{"platform": "x"}, {"not": {"keywords": ["thanks"]}}],
    }
    assert fires(when, mention("money back now"))
    assert fires(when, mention("refund"))
    assert not fires(when, mention("refund, thanks"))
    assert not fires(when, mention("refund", platform="reddit"))
    assert not fires(when, mention("hello"))


# --- urgency ------------------------------------------------------------------------------

VADER = Signal("VADER -0.71", "sentiment", 30)
REFUND_SIGNAL = Signal("refund", "refund", 35)


def said(verdict: Verdict) -> tuple[str, ...]:
    """The reasons as staff read them."""
    return tuple(str(reason) for reason in verdict.reasons)


def test_urgency_adds_weighted_parts_and_says_why() -> None:
    e = engine([{"name": "r", "when": {"keywords": {"lawsuit": 25}}, "actions": ["alert"]}])
    judged = assessment(-0.71, True, VADER)
    verdict = e.evaluate(mention("lawsuit coming", author_followers=48_000), judged)
    assert said(verdict) == ("VADER -0.71 +30", "lawsuit +25", "followers 48k +11")
    assert verdict.urgency == 66
    assert [(r.kind, r.points, r.counted_as) for r in verdict.reasons] == [
        (ReasonKind.TRIAGE, 30, "VADER"),
        (ReasonKind.KEYWORD, 25, "lawsuit"),
        (ReasonKind.REACH, 11, "followers"),
    ]


def test_an_explicit_weight_replaces_the_triage_points_of_the_same_word() -> None:
    judged = assessment(0, True, REFUND_SIGNAL)
    weighted = engine([{"name": "r", "when": {"keywords": {"refund": 25}}, "actions": ["alert"]}])
    listed = engine([{"name": "r", "when": {"keywords": ["refund"]}, "actions": ["alert"]}])
    assert said(weighted.evaluate(mention("refund!"), judged)) == ("refund +25",)
    assert said(listed.evaluate(mention("refund!"), judged)) == ("refund +35",)


def test_keywords_count_once_only_for_rules_that_fire() -> None:
    e = engine(
        [
            {"name": "a", "when": {"keywords": ["refund"]}, "actions": ["alert"]},
            {"name": "b", "when": {"keywords": ["refund", "broken"]}, "actions": ["alert"]},
            {
                "name": "c",
                "when": {"keywords": ["late"], "platform": "reddit"},
                "actions": ["alert"],
            },
        ],
        urgency={"keyword": 7},
    )
    verdict = e.evaluate(mention("refund late, broken"))
    assert said(verdict) == ("refund +7", "broken +7")
    assert verdict.rules == ("a", "b")


def test_weights_scale_sentiment_triage_reach_repeat_and_question() -> None:
    e = engine(
        [],
        urgency={
            "sentiment": 2.0,
            "triage": 0.5,
            "reach": 30,
            "verified": 8,
            "repeat": 15,
            "repeat_max": 40,
            "question": 12,
        },
    )
    judged = assessment(-0.71, True, VADER, REFUND_SIGNAL, Signal("question", "question", 10))
    m = mention("refund?", author_followers=1_000_000, author_verified=True)
    verdict = e.evaluate(m, judged, author_recent_count=3)
    assert said(verdict) == (
        "VADER -0.71 +60",
        "refund +18",
        "followers 1M +30",
        "verified +8",
        "repeat: 3 earlier in 1d +40",
        "question +12",
    )
    assert verdict.urgency == 100  # clamped
    assert verdict.is_question


def test_urgency_never_goes_below_zero() -> None:
    praise = assessment(0.9, False, Signal("VADER +0.90", "sentiment", -36))
    assert engine([]).evaluate(mention("love it"), praise).urgency == 0


# --- actions ------------------------------------------------------------------------------


def test_actions_are_collected_across_rules_in_priority_order() -> None:
    e = engine(
        [
            {
                "name": "general",
                "when": {"keywords": ["refund"]},
                "actions": ["alert", {"kind": "tag", "tags": ["billing"]}],
            },
            {
                "name": "vip",
                "priority": 10,
                "owner": "@maria",
                "when": {"followers_at_least": 10_000},
                "actions": [
                    {"kind": "alert", "route": "vip"},
                    {"kind": "escalate", "route": "managers", "after": "30m"},
                    {"kind": "tag", "tags": ["vip", "billing"]},
                ],
            },
            {"name": "off", "enabled": False, "actions": ["alert"]},
        ]
    )
    verdict = e.evaluate(mention("refund", author_followers=50_000))
    assert verdict.rules == ("vip", "general")
    assert [(a.rule, a.route, a.owner, a.priority) for a in verdict.alerts] == [
        ("vip", "vip", "@maria", 10),
        ("general", "staff", "", 0),
    ]
    assert verdict.tags == ("vip", "billing")
    assert [(x.route, x.after) for x in verdict.escalations] == [
        ("managers", timedelta(minutes=30))
    ]


def test_one_alert_per_route_and_one_reply_per_mention() -> None:
    e = engine(
        [
            {
                "name": "first",
                "when": {"keywords": ["refund"]},
                "actions": ["alert", {"kind": "reply", "template": "Hi {author} ({platform})"}],
            },
            {
                "name": "second",
                "when": {"keywords": ["refund"]},
                "actions": ["alert", {"kind": "reply", "template": "Second", "dry_run": True}],
            },
        ]
    )
    verdict = e.evaluate(mention("refund"))
    assert [a.rule for a in verdict.alerts] == ["first"]
    [reply] = verdict.replies
    assert (reply.rule, reply.text, reply.dry_run) == ("first", "Hi @Customer (X)", False)


def test_user_text_is_never_evaluated_as_a_template() -> None:
    e = engine([{"name": "r", "actions": [{"kind": "reply", "template": "Hi {author}!"}]}])
    verdict = e.evaluate(mention(author_handle="{rule}{0.__class__}", platform="reddit"))
    assert verdict.replies[0].text == "Hi {rule}{0.__class__}!"


def test_ignore_drops_everything_and_stop_ends_matching() -> None:
    rules = [
        {"name": "stopper", "when": {"keywords": ["stop"]}, "actions": ["alert", "stop"]},
        {"name": "spam", "when": {"keywords": ["giveaway"]}, "actions": ["ignore"]},
        {"name": "all", "actions": ["alert", {"kind": "tag", "tags": ["seen"]}]},
    ]
    e = engine(rules)
    stopped = e.evaluate(mention("stop giveaway"))
    assert stopped.rules == ("stopper",) and not stopped.ignored_by
    ignored = e.evaluate(mention("giveaway"))
    assert ignored.ignored_by == "spam" and ignored.alerts == () and ignored.tags == ()
    assert e.evaluate(mention("hi")).rules == ("all",)


def test_sentiment_is_computed_once_per_mention_whatever_the_number_of_rules() -> None:
    rules = [
        {"name": f"r{i}", "when": {"keywords": [f"w{i}", "common"]}, "actions": ["alert"]}
        for i in range(200)
    ]
    e = engine(rules)
    e.evaluate(mention("common words w1 w2"))
    assert e.triage.calls == 1  # type: ignore[attr-defined]
    e.evaluate(mention("common"), NEUTRAL)
    assert e.triage.calls == 1  # type: ignore[attr-defined]


def test_the_shipped_triage_and_rules_work_together() -> None:
    e = Engine(
        RulesConfig.model_validate(
            {"rules": [{"name": "r", "when": {"keywords": ["refund"]}, "actions": ["alert"]}]}
        ),
        Triage.default(),
    )
    verdict = e.evaluate(mention("I want a refund, this is awful"))
    assert verdict.sentiment < 0 and verdict.rules == ("r",)
    assert any(reason.startswith("refund +") for reason in said(verdict))


# --- planned actions ----------------------------------------------------------------------


def test_planned_actions_carry_tags_escalations_and_reply_text() -> None:
    e = engine(
        [
            {
                "name": "vip",
                "owner": "@maria",
                "actions": [
                    {"kind": "alert", "route": "vip"},
                    {"kind": "escalate", "route": "managers", "after": "1h"},
                    {"kind": "tag", "tags": ["vip"]},
                    {"kind": "reply", "template": "Hi {author}", "dry_run": True},
                ],
            }
        ]
    )
    alert, reply = plan_actions(e.evaluate(mention()))
    assert (alert.kind, alert.rule, alert.target) == ("alert", "vip", "vip")
    assert alert.payload == {
        "tags": ["vip"],
        "escalate": [{"rule": "vip", "route": "managers", "after_seconds": 3600}],
        "owner": "@maria",
    }
    assert (reply.kind, reply.rule) == ("reply", "vip")
    assert reply.payload["text"] == "Hi @Customer" and reply.payload["dry_run"] is True
    assert reply.payload["template"] == "Hi {author}"


def test_a_verdict_keeps_the_original_fields() -> None:
    verdict = engine([]).evaluate(mention())
    assert isinstance(verdict, Verdict)
    for name in ("sentiment", "urgency", "reasons", "rules", "alerts", "needs_response"):
        assert hasattr(verdict, name)
    assert verdict.ignored_by == ""


# --- window rules -------------------------------------------------------------------------


def windows(*items: dict[str, Any]) -> RulesConfig:
    return RulesConfig.model_validate({"windows": list(items)})


def test_spike_fires_against_the_baseline_rate_once_per_period() -> None:
    config = windows({"name": "s", "kind": "spike", "last": "1h", "baseline": "12h", "at_least": 5})
    quiet = WindowCounts(recent=9, baseline=36)  # 3/h usual, 9 now: exactly 3×
    assert [a.rule for a in evaluate_windows(config.windows, {"s": quiet}, MONDAY_NOON)] == ["s"]
    assert not evaluate_windows(config.windows, {"s": WindowCounts(8, 36)}, MONDAY_NOON)
    assert not evaluate_windows(config.windows, {"s": WindowCounts(4, 0)}, MONDAY_NOON)
    [alert] = evaluate_windows(config.windows, {"s": WindowCounts(5, 0)}, MONDAY_NOON)
    assert "none in the 12 h before" in alert.message
    later = evaluate_windows(config.windows, {"s": quiet}, MONDAY_NOON + timedelta(minutes=30))
    next_hour = evaluate_windows(config.windows, {"s": quiet}, MONDAY_NOON + timedelta(hours=1))
    [first] = evaluate_windows(config.windows, {"s": quiet}, MONDAY_NOON)
    assert later[0].key == first.key != next_hour[0].key


def test_frequency_fires_once_per_author_over_the_count() -> None:
    config = windows({"name": "f", "kind": "frequency", "count": 3, "within": "1h"})
    counts = {"f": WindowCounts(recent=7, by_key={"x:ann": 3, "x:bob": 2, "x:cem": 4})}
    alerts = evaluate_windows(config.windows, counts, MONDAY_NOON)
    assert [(a.count, a.key.split("@")[0]) for a in alerts] == [(3, "f:x:ann"), (4, "f:x:cem")]
    assert "from author x:ann" in alerts[0].message


def test_flatline_fires_once_per_quiet_spell() -> None:
    config = windows(
        {"name": "q", "kind": "flatline", "quiet_for": "2h", "when": {"platform": "x"}}
    )
    seen = MONDAY_NOON - timedelta(hours=3)
    [alert] = evaluate_windows(config.windows, {"q": WindowCounts(last_seen=seen)}, MONDAY_NOON)
    assert alert.kind == "flatline" and "no mention from x" in alert.message
    again = evaluate_windows(
        config.windows, {"q": WindowCounts(last_seen=seen)}, MONDAY_NOON + timedelta(hours=1)
    )
    assert again[0].key == alert.key
    fresh = WindowCounts(last_seen=MONDAY_NOON - timedelta(minutes=5))
    assert not evaluate_windows(config.windows, {"q": fresh}, MONDAY_NOON)


def test_disabled_windows_never_fire() -> None:
    config = windows({"name": "q", "kind": "flatline", "quiet_for": "1m", "enabled": False})
    assert evaluate_windows(config.windows, {}, MONDAY_NOON) == []
