"""Backtest: replaying stored mentions through a rule file; store counts for windows and repeats."""

import argparse
import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.mention import Mention
from core.store import Decision, Store
from rules.engine import Engine
from rules.schema import RulesConfig
from rules.triage import Triage
from service.backtest import ChangeKind, backtest
from service.rules_cli import cmd_backtest
from service.windows import author_recent_counts, check_windows, window_counts

NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def triage() -> Triage:
    return Triage.default()


def mention(n: int, text: str, minutes_ago: float, **fields: object) -> Mention:
    base = Mention(
        platform="x",
        external_id=str(n),
        text=text,
        created_at=NOW - timedelta(minutes=minutes_ago),
        source="x:mentions",
        author_id=f"user{n}",
        author_handle=f"user{n}",
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def rules(*items: dict[str, object], **extra: object) -> RulesConfig:
    return RulesConfig.model_validate({"rules": list(items), **extra})


REFUNDS = {"name": "refunds", "when": {"keywords": ["refund"]}, "actions": ["alert"]}
VIP = {
    "name": "big",
    "when": {"followers_at_least": 10_000},
    "actions": [{"kind": "alert", "route": "vip"}],
}


def test_backtest_compares_rule_sets_per_rule_route_and_mention(triage: Triage) -> None:
    history = [
        mention(1, "where is my refund", 50),
        mention(2, "lovely service", 40, author_followers=20_000),
        mention(3, "refund please", 30, author_followers=50_000),
        mention(4, "hello", 20),
    ]
    current = Engine(rules(REFUNDS), triage)
    candidate = Engine(rules(REFUNDS, VIP), triage)
    report = backtest(enumerate(history, 1), current, candidate)
    assert report.mentions == 4
    assert report.current.rules == {"refunds": 2}
    assert report.candidate.rules == {"refunds": 2, "big": 2}
    assert report.current.routes == {"staff": 2}
    assert report.candidate.routes == {"staff": 2, "vip": 2}
    assert [(c.mention_id, c.before.alerts, c.after.alerts) for c in report.changes] == [
        (2, (), ("vip (big)",)),
        (3, ("staff (refunds)",), ("staff (refunds)", "vip (big)")),
    ]
    assert [c.kind for c in report.changes] == [ChangeKind.NEW, ChangeKind.CHANGED]


def test_backtest_counts_repeat_complainers_from_the_replayed_history() -> None:
    same_author = {"author_id": "ann", "author_handle": "ann"}
    history = [mention(n, "hello", 60 - n * 10, **same_author) for n in range(4)]
    # The lexicon alone scores "hello" 0 (the model's few points either way would blur the
    # repeat points this test counts).
    lexicon = Triage.default(models={"en": None})
    engine = Engine(rules(urgency={"repeat": 10, "repeat_window": "25m"}), lexicon)
    report = backtest(enumerate(history, 1), engine, engine)
    assert report.mentions == 4 and not report.changes
    verdicts = [engine.evaluate(m, author_recent_count=n) for n, m in enumerate([history[0]] * 3)]
    assert [v.urgency for v in verdicts] == [0, 10, 20]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened = Store.open(f"sqlite:///{tmp_path / 'bp.db'}")
    yield opened
    opened.close()


def save(store: Store, mentions: list[Mention], rules_fired: tuple[str, ...] = ()) -> None:
    decision = Decision(sentiment=0.0, urgency=0, rules=rules_fired)
    store.ingest("x:mentions", mentions, None, lambda _m: decision, NOW)


def test_rules_backtest_command_reads_the_database_and_shows_the_difference(
    tmp_path: Path, store: Store
) -> None:
    save(
        store,
        [
            mention(1, "refund now", 60),
            mention(2, "refund please", 30, author_followers=50_000),
            mention(3, "old refund", 60 * 24 * 9),
        ],
    )
    config = tmp_path / "config.yaml"
    config.write_text(
        f"database: {{url: 'sqlite:///{tmp_path / 'bp.db'}'}}\n"
        "rules:\n  - name: refunds\n    when: {keywords: [refund]}\n    actions: [alert]\n"
    )
    trial = tmp_path / "trial.yaml"
    trial.write_text(
        "rules:\n"
        "  - name: refunds\n    when: {keywords: [refund], followers_below: 10000}\n"
        "    actions: [alert]\n"
        "  - name: big\n    when: {followers_at_least: 10000}\n"
        "    actions: [{kind: alert, route: vip}]\n"
    )
    out = io.StringIO()
    args = argparse.Namespace(config=config, rules=trial, since=timedelta(days=7), examples=5)
    assert cmd_backtest(args, out, now=NOW) == 0
    text = out.getvalue()
    assert "2 mentions" in text  # the 9-day-old one is outside --since 7d
    lines = {
        line.split()[0]: line.split()[1:] for line in text.splitlines() if line.startswith("  ")
    }
    assert lines["refunds"] == ["2", "1", "-1"]
    assert lines["big"] == ["0", "1", "+1"]
    assert lines["staff"] == ["2", "1", "-1"]
    assert lines["vip"] == ["0", "1", "+1"]
    assert "1 mention(s) alert differently" in text
    assert "in force: staff (refunds)  →  trial: vip (big)" in text


def test_rules_backtest_without_a_trial_file_shows_what_fired(tmp_path: Path, store: Store) -> None:
    save(store, [mention(1, "refund now", 60)])
    config = tmp_path / "config.yaml"
    config.write_text(
        f"database: {{url: 'sqlite:///{tmp_path / 'bp.db'}'}}\n"
        "rules:\n  - name: refunds\n    when: {keywords: [refund]}\n    actions: [alert]\n"
    )
    out = io.StringIO()
    args = argparse.Namespace(config=config, rules=None, since=timedelta(days=7), examples=5)
    assert cmd_backtest(args, out, now=NOW) == 0
    assert "  refunds" in out.getvalue() and "differently" not in out.getvalue()


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("stream", [Terminal(), io.StringIO()], ids=["terminal", "piped"])
def test_rules_backtest_shows_a_progress_bar_on_a_terminal_only(
    tmp_path: Path, store: Store, stream: io.StringIO
) -> None:
    save(store, [mention(n, f"refund {n}", 60 + n) for n in range(3)])
    config = tmp_path / "config.yaml"
    config.write_text(
        f"database: {{url: 'sqlite:///{tmp_path / 'bp.db'}'}}\n"
        "rules:\n  - name: refunds\n    when: {keywords: [refund]}\n    actions: [alert]\n"
    )
    out = io.StringIO()
    args = argparse.Namespace(config=config, rules=None, since=timedelta(days=7), examples=5)
    assert cmd_backtest(args, out, now=NOW, progress_to=stream) == 0
    if isinstance(stream, Terminal):
        assert stream.getvalue().endswith("100% 3/3\n")
        assert stream.getvalue().startswith("\rreplaying ")
    else:
        assert stream.getvalue() == ""
    assert "replaying" not in out.getvalue()  # the report itself stays clean for scripts


# --- counts from the store ----------------------------------------------------------------


def test_window_counts_from_the_mention_table(store: Store) -> None:
    burst = [mention(n, "down?", 5 + n) for n in range(6)]
    earlier = [mention(100 + n, "hi", 90 + n * 60) for n in range(3)]
    same_author = [mention(200 + n, "again", 10 + n, author_id="ann") for n in range(3)]
    save(store, burst + earlier, ("outage",))
    save(store, same_author)
    config = RulesConfig.model_validate(
        {
            "rules": [{"name": "outage", "actions": ["alert"]}],
            "windows": [
                {
                    "name": "spike",
                    "kind": "spike",
                    "last": "1h",
                    "baseline": "12h",
                    "at_least": 5,
                    "when": {"rules": ["outage"]},
                },
                {"name": "freq", "kind": "frequency", "count": 3, "within": "1h"},
                {
                    "name": "x-quiet",
                    "kind": "flatline",
                    "quiet_for": "2h",
                    "when": {"source": "x:*"},
                },
                {
                    "name": "reddit-quiet",
                    "kind": "flatline",
                    "quiet_for": "2h",
                    "when": {"platform": "reddit"},
                },
            ],
        }
    )
    started = NOW - timedelta(days=1)
    counts = window_counts(store, config.windows, NOW, started)
    assert (counts["spike"].recent, counts["spike"].baseline) == (6, 3)
    assert counts["freq"].by_key["x:user200"] == 1 and counts["freq"].recent == 9
    assert counts["x-quiet"].last_seen == NOW - timedelta(minutes=5)
    assert counts["reddit-quiet"].last_seen == started
    fired = {alert.rule for alert in check_windows(store, config.windows, NOW, started)}
    assert fired == {"spike", "reddit-quiet"}


def test_frequency_per_author_counts_one_author_together(store: Store) -> None:
    save(store, [mention(n, "again", 10 + n, author_handle="ann") for n in range(3)])
    config = RulesConfig.model_validate(
        {"windows": [{"name": "freq", "kind": "frequency", "count": 3, "within": "1h"}]}
    )
    [alert] = check_windows(store, config.windows, NOW, NOW)
    assert alert.count == 3 and "x:ann" in alert.key


def test_author_recent_counts_see_the_store_and_the_batch(store: Store) -> None:
    save(
        store,
        [mention(1, "first", 120, author_id="ann"), mention(2, "old", 60 * 30, author_id="ann")],
    )
    batch = [
        mention(3, "second", 30, author_id="ann"),
        mention(4, "third", 10, author_id="ann"),
        mention(5, "other", 10, author_id="bob"),
        mention(1, "first again (re-polled)", 120, author_id="ann"),
    ]
    counts = author_recent_counts(store, batch, timedelta(hours=24))
    assert counts[("x", "3")] == 1
    assert counts[("x", "4")] == 2
    assert counts[("x", "5")] == 0
    assert counts[("x", "1")] == 0
