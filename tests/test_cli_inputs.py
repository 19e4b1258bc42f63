"""Inputs that could mean something else are refused with the format expected, never guessed."""

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from main import main
from tests.conftest import SHIPPED_CONFIG

CONFIG = ["--config", str(SHIPPED_CONFIG)]


def usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [["report", "--since", "7"], ["rules", "backtest", "--since", "7"]],
    ids=["report", "backtest"],
)
def test_a_duration_without_a_unit_is_refused_with_the_forms_it_may_mean(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    err = usage_error(argv, capsys)
    assert "argument --since: '7' has no unit; write a duration with its unit: 7s, 7m" in err
    assert "parse_duration" not in err and "invalid" not in err


def test_a_moment_error_says_the_format_not_a_function_name(
    capsys: pytest.CaptureFixture[str],
) -> None:
    err = usage_error(["rules", "test", "hello", "--at", "yesterday"], capsys)
    assert "argument --at: 'yesterday' is not a date and time; write it in ISO 8601" in err
    assert "_moment" not in err and "invalid" not in err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("main.py 0.")


RulesCheck = Callable[[str, int], tuple[Path, str]]


@pytest.fixture
def rules_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> RulesCheck:
    """`rules check` on a config.yaml of the given text, expecting an exit code: (its path,
    what the command printed)."""

    def run(text: str, exit_code: int) -> tuple[Path, str]:
        config = tmp_path / "config.yaml"
        config.write_text(text, encoding="utf-8")
        assert main(["rules", "check", "--config", str(config)]) == exit_code
        return config, capsys.readouterr().out

    return run


def test_a_rule_duration_without_a_unit_fails_rules_check(rules_check: RulesCheck) -> None:
    config, out = rules_check("alerts:\n  group_after: 3\n  realert: 10\n", 1)
    assert f"{config}:3 alerts.realert: 10 has no unit; write a duration with its unit: 10s" in out


def test_a_bad_value_from_an_environment_variable_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SLA_FIRST_RESPONSE", "10")
    assert main(["rules", "check", *CONFIG]) == 1
    out = capsys.readouterr().out
    line = next(
        n
        for n, text in enumerate(SHIPPED_CONFIG.read_text().splitlines(), 1)
        if "${SLA_FIRST_RESPONSE" in text
    )
    assert f"config.yaml:{line} sla.first_response: '10' has no unit" in out
    assert "(the value comes from environment variable SLA_FIRST_RESPONSE)" in out


def test_an_empty_config_file_warns(rules_check: RulesCheck) -> None:
    config, out = rules_check("# nothing here yet\n", 0)
    assert f"warning: {config} is empty: every setting is its default and there are no rules" in out


def test_a_key_without_its_colon_is_blamed_on_its_own_line(rules_check: RulesCheck) -> None:
    config, out = rules_check("alerts:\n  group_after: 3\nrealert\nsla: {}\n", 1)
    assert f"{config}:3 YAML syntax error: could not find expected ':'" in out
    assert "(noticed on line 4); a 'key: value' line lacks its ':' or is indented wrong" in out


def test_a_mis_indented_line_is_blamed_with_a_hint(rules_check: RulesCheck) -> None:
    config, out = rules_check("alerts:\n  group_after: 3\n realert: 10m\n", 1)
    assert f"{config}:3 YAML syntax error:" in out
    assert "this line is indented differently from the lines above it" in out


def test_rules_test_dash_scores_each_line_of_stdin_as_jsonl(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    texts = ["my order arrived broken, I want a refund", "", "thanks, all good now"]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(texts) + "\n"))
    assert main(["rules", "test", "-", "--jsonl", *CONFIG]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["text"] for line in lines] == [texts[0], texts[2]]
    assert lines[0]["needs_response"] and not lines[1]["needs_response"]
    assert lines[0]["urgency"] > lines[1]["urgency"]


def test_rules_test_lang_must_be_a_brand_language(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "test", "merhaba", "--lang", "xx", *CONFIG]) == 2
    err = capsys.readouterr().err
    assert "error: --lang xx: not a language of this brand; brand.languages is en, tr" in err
    assert main(["rules", "test", "merhaba", "--lang", "TR", "--json", *CONFIG]) == 0
