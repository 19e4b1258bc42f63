"""Rule files: includes, every problem with its file:line, and hot reload without sleeping."""

import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from core.config_file import Problem
from rules.engine import Engine
from rules.loader import RulesError, RulesWatcher, load_rules
from rules.schema import RulesConfig
from rules.triage import Triage
from service.config import AppConfig
from service.rules_cli import cmd_check

BROKEN = Path(__file__).with_name("broken")

# file → (file:line the problem is reported at, words the message must contain). Problems in an
# included file are reported in that file: the first column names it when it differs.
CASES: dict[str, tuple[str, str]] = {
    "attribute_placeholder.yaml": (":6", "placeholder {author.__class__} is unknown"),
    "bad_day.yaml": (":6", "'funday' is not a day"),
    "bad_duration.yaml": (":6", "'an hour' is not a duration"),
    "bad_hours.yaml": (":5", "'9-17' is not a time range"),
    "bad_language.yaml": (":5", "'english' is not a language code"),
    "bad_name.yaml": (":3", "no spaces"),
    "bad_regex.yaml": (":5", "regex '(unclosed' is not valid"),
    "bad_tag.yaml": (":5", "tag 'has space'"),
    "bad_timezone.yaml": (":7", "did you mean 'Europe/Istanbul'?"),
    "duplicate_names.yaml": (":5", "rule name 'refunds' is used twice"),
    "empty_keyword.yaml": (":5", "keywords must not be empty"),
    "empty_time.yaml": (":5", "give hours"),
    "escalate_no_route.yaml": (":6", "'route' is required"),
    "escalate_without_alert.yaml": (":3", "escalate follows up an alert"),
    "flatline_with_rules.yaml": (":6", "filter it by platform or source, not rules"),
    "followers_negative.yaml": (":5", "must be at least 0, got -5"),
    "followers_range.yaml": (":4", "followers_at_least (1000) must be lower"),
    "frequency_count_one.yaml": (":5", "must be at least 2, got 1"),
    "ignore_with_alert.yaml": (":3", "ignore drops the mention"),
    "include_broken_part.yaml": (
        "parts/bad_part.yaml:5",
        "unknown key 'sentimnt_below' (did you mean 'sentiment_below'?)",
    ),
    "include_cycle.yaml": ("parts/cycle_b.yaml:2", "includes itself"),
    "include_duplicate_list.yaml": ("parts/lists_dup.yaml:3", "list 'vip' is already defined"),
    "include_missing.yaml": (":2", "file not found"),
    "include_root_only_key.yaml": ("parts/with_urgency.yaml:2", "only be set in the main file"),
    "missing_actions.yaml": (":3", "'actions' is required"),
    "missing_env_var.yaml": (":4", "environment variable BRANDPULSE_TEST_SURELY_UNSET"),
    "missing_name.yaml": (":3", "'name' is required"),
    "negative_priority_too_low.yaml": (":4", "must be at least -1000"),
    "no_actions.yaml": (":5", "must not be empty"),
    "rules_not_list.yaml": (":2", "rules must be a list"),
    "sentiment_out_of_range.yaml": (":5", "must be at least -1"),
    "sentiment_range_inverted.yaml": (":4", "no mention can match both"),
    "spike_baseline_short.yaml": (":3", "baseline must be at least as long as last"),
    "star_inside.yaml": (":5", "'*' may only end a word stem"),
    "tag_without_tags.yaml": (":4", "'tags' is required"),
    "unbalanced_brace.yaml": (":6", "write {{ and }} for literal braces"),
    "unknown_action_kind.yaml": (":4", "unknown action 'alret' (did you mean 'alert'?"),
    "unknown_condition_key.yaml": (":5", "unknown key 'keyword' (did you mean 'keywords'?)"),
    "unknown_list.yaml": (":7", "no list named 'vipz' (did you mean 'vip'?)"),
    "unknown_placeholder.yaml": (":6", "placeholder {name} is unknown"),
    "unknown_platform.yaml": (":5", "unknown platform 'facebook'"),
    "unknown_route.yaml": (":9", "no route 'vipp' under platforms.telegram.routes"),
    "unknown_rule_key.yaml": (":5", "unknown key 'action' (did you mean 'actions'?)"),
    "unknown_top_key.yaml": (":2", "unknown key 'rule' (did you mean 'rules'?)"),
    "unknown_window_kind.yaml": (":3", "unknown window kind 'spikes' (did you mean 'spike'?"),
    "urgency_out_of_range.yaml": (":3", "urgency.reach: must be at most 100"),
    "weight_not_number.yaml": (":6", "expected a whole number, got 'high'"),
    "weight_too_big.yaml": (":6", "must be at most 100, got 500"),
    "window_unknown_rule.yaml": (":9", "no rule named 'refundz' (did you mean 'refunds'?)"),
    "yaml_syntax.yaml": (":4", "a '{' is not closed"),
}


def test_every_broken_file_has_an_expectation() -> None:
    files = sorted(path.name for path in BROKEN.glob("*.yaml"))
    assert files == sorted(CASES)
    assert len(files) >= 30


@pytest.mark.parametrize("name", sorted(CASES))
def test_rules_check_reports_the_broken_file_at_its_line(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    where, words = CASES[name]
    place = f"{BROKEN / name}{where}" if where.startswith(":") else f"{BROKEN / where}"
    args = _args(BROKEN / name)
    assert cmd_check(args) == 1
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith(place + " ") and words in line for line in lines), lines


def _args(config: Path) -> object:
    return type("Args", (), {"config": config})()


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "rules:\n"
        "  - name: a\n"
        "    when: {keyword: [x]}\n"
        "    actions: [alret]\n"
        "  - name: b\n"
        "    when: {platform: myspace}\n"
        "    actions: [alert]\n"
    )
    with pytest.raises(RulesError) as caught:
        load_rules(path)
    messages = [str(problem) for problem in caught.value.problems]
    assert len(messages) == 3
    assert messages[0].startswith(f'{path}:3 rule "a" when.keyword: unknown key')
    assert messages[1].startswith(f'{path}:4 rule "a" actions[0]: unknown action')
    assert messages[2].startswith(f'{path}:6 rule "b" when.platform: unknown platform')


def test_includes_are_relative_to_the_including_file_and_keep_order(tmp_path: Path) -> None:
    (tmp_path / "teams").mkdir()
    (tmp_path / "main.yaml").write_text(
        "include: [teams/billing.yaml]\nrules:\n  - name: first\n    actions: [alert]\n"
    )
    (tmp_path / "teams" / "billing.yaml").write_text(
        "include: [more/vip.yaml]\n"
        "lists:\n  payers: [a]\n"
        "rules:\n  - name: second\n    when: {author_in: payers}\n    actions: [alert]\n"
    )
    (tmp_path / "teams" / "more").mkdir()
    (tmp_path / "teams" / "more" / "vip.yaml").write_text(
        "rules:\n  - name: third\n    actions: [alert]\n"
        "windows:\n  - {name: quiet, kind: flatline, quiet_for: 1h}\n"
    )
    loaded = load_rules(tmp_path / "main.yaml")
    assert [rule.name for rule in loaded.config.rules] == ["first", "second", "third"]
    assert [window.name for window in loaded.config.windows] == ["quiet"]
    assert loaded.config.lists == {"payers": ["a"]}
    assert [path.name for path in loaded.files] == ["main.yaml", "billing.yaml", "vip.yaml"]


def test_a_problem_in_an_included_file_names_that_file_and_its_own_index(tmp_path: Path) -> None:
    (tmp_path / "main.yaml").write_text(
        "include: [part.yaml]\nrules:\n  - name: a\n    actions: [alert]\n"
    )
    (tmp_path / "part.yaml").write_text(
        "rules:\n  - name: b\n    actions: [alert]\n  - actions: [alert]\n"
    )
    with pytest.raises(RulesError) as caught:
        load_rules(tmp_path / "main.yaml")
    [problem] = caught.value.problems
    assert str(problem) == f"{tmp_path / 'part.yaml'}:4 rules[1].name: 'name' is required"


def test_the_whole_config_validates_with_its_includes(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(
        "brand: {name: Acme}\ninclude: rules.yaml\nurgency: {keyword: 7}\n"
    )
    (tmp_path / "rules.yaml").write_text("rules:\n  - name: a\n    actions: [alert]\n")
    loaded = load_rules(tmp_path / "config.yaml", AppConfig)
    assert isinstance(loaded.config, AppConfig)
    assert loaded.config.brand.name == "Acme"
    assert loaded.config.urgency.keyword == 7
    assert [rule.name for rule in loaded.config.rules] == ["a"]


# --- hot reload ---------------------------------------------------------------------------

GOOD = "rules:\n  - name: refunds\n    when: {keywords: [refund]}\n    actions: [alert]\n"
GOOD_TOO = "rules:\n  - name: refunds-v2\n    when: {keywords: [refund]}\n    actions: [alert]\n"
BROKEN_EDIT = "rules:\n  - name: refunds\n    when: {keywords: [refund]}\n    actions: [alret]\n"


@pytest.fixture(scope="module")
def triage() -> Triage:
    return Triage.default()


class Watching:
    """A rule file, a watcher on it, and the problems its callback received."""

    def __init__(self, tmp_path: Path, triage: Triage, text: str = GOOD):
        self.path = tmp_path / "rules.yaml"
        self.tick = 1_000_000_000
        self.write(text)
        self.reported: list[Sequence[Problem]] = []
        self.watcher = RulesWatcher(
            self.path, lambda config: Engine(config, triage), on_error=self.reported.append
        )

    def write(self, text: str, path: Path | None = None) -> None:
        """Write and move the mtime on by a second, as an editor saving later would."""
        target = path or self.path
        target.write_text(text)
        self.tick += 1
        os.utime(target, (self.tick, self.tick))

    def names(self) -> tuple[str, ...]:
        return self.watcher.engine.rule_names


def test_nothing_changes_while_the_files_do_not(tmp_path: Path, triage: Triage) -> None:
    watching = Watching(tmp_path, triage)
    first = watching.watcher.engine
    result = watching.watcher.check()
    assert not result.changed and result.engine is None and not result.problems
    assert watching.watcher.engine is first


def test_an_edit_swaps_in_new_rules(tmp_path: Path, triage: Triage) -> None:
    watching = Watching(tmp_path, triage)
    watching.write(GOOD_TOO)
    result = watching.watcher.check()
    assert result.changed and result.engine is watching.watcher.engine
    assert watching.names() == ("refunds-v2",)
    assert not watching.watcher.check().changed


def test_a_broken_edit_is_rejected_reported_once_and_old_rules_stay(
    tmp_path: Path, triage: Triage
) -> None:
    watching = Watching(tmp_path, triage)
    watching.write(BROKEN_EDIT)
    result = watching.watcher.check()
    assert result.changed and result.engine is None
    assert "unknown action 'alret'" in str(result.problems[0])
    assert f"{watching.path}:4" in str(result.problems[0])
    assert watching.names() == ("refunds",)
    assert len(watching.reported) == 1
    assert not watching.watcher.check().changed  # not reported again until the file changes
    assert len(watching.reported) == 1
    watching.write(GOOD_TOO)
    assert watching.watcher.check().engine is not None
    assert watching.names() == ("refunds-v2",)


def test_an_edit_to_an_included_file_is_picked_up(tmp_path: Path, triage: Triage) -> None:
    part = tmp_path / "part.yaml"
    part.write_text("rules: []\n")
    watching = Watching(tmp_path, triage, "include: [part.yaml]\n" + GOOD)
    watching.write("rules:\n  - name: extra\n    actions: [alert]\n", part)
    assert watching.watcher.check().engine is not None
    assert watching.names() == ("refunds", "extra")


def test_a_deleted_include_is_rejected_and_fixing_it_reloads(
    tmp_path: Path, triage: Triage
) -> None:
    part = tmp_path / "part.yaml"
    part.write_text("rules: []\n")
    watching = Watching(tmp_path, triage, "include: [part.yaml]\n" + GOOD)
    part.unlink()
    result = watching.watcher.check()
    assert "file not found" in str(result.problems[0])
    assert watching.names() == ("refunds",)
    watching.write("rules: []\n", part)
    assert watching.watcher.check().engine is not None


def test_a_broken_start_raises(tmp_path: Path, triage: Triage) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(BROKEN_EDIT)
    with pytest.raises(RulesError):
        RulesWatcher(path, lambda config: Engine(config, triage))


def test_load_rules_defaults_to_a_rules_only_model(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(GOOD)
    assert type(load_rules(path).config) is RulesConfig
