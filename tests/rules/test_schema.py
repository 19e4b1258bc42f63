"""The rule models: shorthands, parsing of times and templates, and cross-references."""

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from rules.loader import load_rules
from rules.schema import (
    Condition,
    Rule,
    RulesConfig,
    reference_problems,
)
from rules.templates import render_template, template_fields
from rules.time_window import TimeWindow
from service.config import AppConfig

REPO = Path(__file__).resolve().parents[2]


def rule(**fields: Any) -> Rule:
    return Rule.model_validate({"name": "r", "actions": ["alert"], **fields})


def test_action_and_condition_shorthands() -> None:
    parsed = rule(actions="alert", when={"platform": "x", "regex": "a+", "author_in": "vip"})
    assert [a.kind for a in parsed.actions] == ["alert"]
    assert parsed.when.platform == ["x"]
    assert parsed.when.regex == ["a+"]
    assert parsed.when.author_in == ["vip"]


def test_keywords_take_a_list_a_mapping_or_both() -> None:
    assert Condition.model_validate({"keywords": ["refund", "broken"]}).keywords == {
        "refund": None,
        "broken": None,
    }
    assert Condition.model_validate({"keywords": {"refund": 25}}).keywords == {"refund": 25}
    mixed = Condition.model_validate({"keywords": ["refund", {"lawsuit": 40}, "  on   hold "]})
    assert mixed.keywords == {"refund": None, "lawsuit": 40, "on hold": None}


def test_hours_and_days_parse_to_minutes_and_weekday_numbers() -> None:
    window = TimeWindow.model_validate({"hours": ["22:00-06:00", "12:30-13:00"], "days": "fri-mon"})
    assert window.hours == [(1320, 360), (750, 780)]
    assert window.days == [0, 4, 5, 6]
    assert TimeWindow.model_validate({"days": ["weekdays"]}).days == [0, 1, 2, 3, 4]
    assert TimeWindow.model_validate({"days": ["saturday", "sun"]}).days == [5, 6]
    assert TimeWindow.model_validate({"hours": "00:00-24:00"}).hours == [(0, 1440)]


@pytest.mark.parametrize(
    ("template", "fields"),
    [
        ("Hi {author}, sorry!", ["author"]),
        ("{author} on {platform} ({rule})", ["author", "platform", "rule"]),
        ("Use {{braces}} freely", []),
    ],
)
def test_templates_name_only_known_placeholders(template: str, fields: list[str]) -> None:
    assert template_fields(template) == fields


@pytest.mark.parametrize("template", ["{name}", "{author!r}", "{author:>10}", "{0}", "{}", "{a"])
def test_other_template_syntax_is_refused(template: str) -> None:
    with pytest.raises(ValueError):
        template_fields(template)


def test_rendering_inserts_values_verbatim() -> None:
    assert render_template("Hi {author} {{ok}}", {"author": "{rule}"}) == "Hi {rule} {ok}"


def test_escalation_delay_is_a_duration_and_dry_run_defaults_off() -> None:
    parsed = rule(
        actions=[
            "alert",
            {"kind": "escalate", "route": "managers", "after": "1h30m"},
            {"kind": "reply", "template": "Hi"},
        ]
    )
    assert parsed.actions[1].after == timedelta(minutes=90)  # type: ignore[union-attr]
    assert parsed.actions[2].dry_run is False  # type: ignore[union-attr]


def test_references_are_checked_when_built_in_code() -> None:
    with pytest.raises(ValidationError, match="no list named 'vip'"):
        RulesConfig.model_validate(
            {"rules": [{"name": "r", "when": {"author_in": "vip"}, "actions": ["alert"]}]}
        )


def test_reference_problems_name_the_path_that_uses_the_name() -> None:
    config = RulesConfig.model_validate(
        {
            "lists": {"vip": []},
            "rules": [
                {"name": "a", "when": {"any": [{"author_in": "vipp"}]}, "actions": ["alert"]},
                {"name": "a", "actions": ["alert"]},
            ],
            "windows": [{"name": "w", "kind": "spike", "when": {"rules": ["b"]}}],
        },
        context={"located_references": True},
    )
    assert reference_problems(config) == [
        (("rules", 1, "name"), "rule name 'a' is used twice; names are ids"),
        (("rules", 0, "when", "any", 0, "author_in"), "no list named 'vipp' (did you mean 'vip'?)"),
        (("windows", 0, "when", "rules"), "no rule named 'b'; known: a"),
    ]


def test_handles_in_lists_are_folded() -> None:
    config = RulesConfig.model_validate({"lists": {"vip": ["@BigFan", 12345]}})
    assert config.lists == {"vip": ["bigfan", "12345"]}


@pytest.mark.parametrize("path", ["config.yaml", "rules/examples.yaml"])
def test_shipped_files_are_valid(path: str) -> None:
    loaded = load_rules(REPO / path, AppConfig, env={})
    assert loaded.config.rules
