"""`main.py rules check | test` as a brand manager or a CI job runs them."""

import json
from pathlib import Path

import pytest

from main import main

REPO = Path(__file__).resolve().parents[2]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["rules", *argv])
    return code, capsys.readouterr().out


def test_check_passes_the_shipped_config_with_a_one_line_summary(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = run(capsys, "check", "--config", str(REPO / "config.yaml"))
    assert code == 0
    [line] = out.splitlines()
    assert line.startswith(f"{REPO / 'config.yaml'}: OK, 7 rules")


def test_check_lists_every_problem_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "platforms:\n  telegram:\n    routes:\n      vip: {chat_id: -1001}\n"
        "rules:\n"
        "  - name: a\n    when: {keywrods: [refund]}\n    actions: [alert]\n"
        "  - name: b\n    actions: [{kind: alert, route: vpi}]\n"
    )
    code, out = run(capsys, "check", "--config", str(config))
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == (
        f"{config}:7 rule \"a\" when.keywrods: unknown key 'keywrods' (did you mean 'keywords'?)"
    )
    assert lines[-1] == f"1 problem(s) in {config}"
    config.write_text(config.read_text().replace("keywrods", "keywords"))
    code, out = run(capsys, "check", "--config", str(config))
    assert code == 1
    assert out.splitlines()[0] == (
        f"{config}:10 rule \"b\" actions[0].route: no route 'vpi' under "
        "platforms.telegram.routes; known: staff, vip"
    )


def test_test_prints_one_json_object_for_scripts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "rules:\n"
        "  - name: refunds\n    when: {keywords: {refund: 25}}\n"
        "    actions: [alert, {kind: reply, template: 'Sorry {author}!', dry_run: true}]\n"
        "  - name: big\n    when: {followers_at_least: 50000}\n"
        "    actions: [{kind: alert, route: vip}, {kind: tag, tags: [vip]}]\n"
    )
    argv = ["test", "I want a refund", "--platform", "x", "--followers", "50000"]
    code, out = run(capsys, *argv, "--author", "ann", "--config", str(config), "--json")
    assert code == 0
    verdict = json.loads(out)
    assert set(verdict) >= {"sentiment", "urgency", "reasons", "actions"}
    assert "refund +25" in verdict["reasons"]
    assert any(reason.startswith("followers 50k +") for reason in verdict["reasons"])
    kinds = [(a["kind"], a["rule"], a.get("target")) for a in verdict["actions"]]
    assert kinds == [
        ("alert", "refunds", "staff"),
        ("alert", "big", "vip"),
        ("reply", "refunds", ""),
    ]
    assert verdict["actions"][2]["text"] == "Sorry @ann!"
    assert verdict["actions"][0]["tags"] == ["vip"]


def test_test_in_plain_text_says_what_would_happen(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "rules:\n  - name: spam\n    when: {keywords: [giveaway]}\n    actions: [ignore]\n"
    )
    code, out = run(capsys, "test", "GIVEAWAY time", "--config", str(config))
    assert code == 0
    assert "ignore: dropped by rule spam" in out
    code, out = run(capsys, "test", "hello", "--config", str(config))
    assert "nothing would happen" in out


def test_test_with_broken_rules_reports_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("rules:\n  - name: a\n    actions: [shout]\n")
    code, out = run(capsys, "test", "hi", "--config", str(config), "--json")
    assert code == 2  # a broken configuration keeps the command from running
    assert f"{config}:3 rule \"a\" actions[0]: unknown action 'shout'" in out


@pytest.mark.parametrize(
    ("text", "rule", "opening"),
    [
        ("my order arrived broken, so disappointed", "sorry-broken-order", "Hi @ann,"),
        ("siparişim kırık geldi, rezalet", "sorry-broken-order-tr", "Merhaba @ann,"),
    ],
)
def test_shipped_auto_reply_answers_in_the_language_of_the_mention(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    text: str,
    rule: str,
    opening: str,
) -> None:
    monkeypatch.setenv("AUTO_REPLIES", "true")
    argv = ["test", text, "--author", "ann", "--config", str(REPO / "config.yaml"), "--json"]
    code, out = run(capsys, *argv)
    assert code == 0
    [reply] = [a for a in json.loads(out)["actions"] if a["kind"] == "reply"]
    assert reply["rule"] == rule
    assert reply["text"].startswith(opening)


def test_test_scores_as_the_service_does_with_the_brands_name_neutral(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """brand.name reaches triage: the shipped model's weight for "microsoft" no longer hides a
    Microsoft customer's crash report (it scored 18 with the name weighed)."""
    monkeypatch.setenv("BRAND_NAME", "Microsoft")
    code, out = run(
        capsys,
        "test",
        "--json",
        "Microsoft Teams keeps crashing",
        "--config",
        str(REPO / "config.yaml"),
    )
    assert code == 0
    result = json.loads(out)
    assert result["needs_response"] and "needs-response" in result["rules"]
    assert not any("microsoft" in reason for reason in result["reasons"])
