"""Rule regexes run in linear time (RE2): no pattern can stall the node on a long mention."""

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.mention import Mention
from rules.engine import Engine
from rules.loader import RulesError, load_rules
from rules.patterns import compile_pattern
from rules.schema import RulesConfig
from rules.triage import Triage

CATASTROPHIC = "(a+)+$"  # exponential for a backtracking engine on "aaaa…b"


def test_a_catastrophic_pattern_on_a_5000_character_mention_finishes(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  - name: stall\n    when: {regex: '(a+)+$'}\n    actions: [alert]\n"
        "  - name: refund\n    when: {regex: 'refund'}\n    actions: [alert]\n"
    )
    engine = Engine(load_rules(rules, RulesConfig).config, Triage.default(["en"]))
    text = "refund " + "a" * 5000 + "!"
    mention = Mention(platform="x", external_id="1", text=text, created_at=datetime.now(UTC))
    verdicts = []
    worker = threading.Thread(target=lambda: verdicts.append(engine.evaluate(mention)))
    worker.daemon = True  # with a backtracking engine it would never end: do not wait on exit
    worker.start()
    # Python's re needs ~2^5000 steps here; any linear engine is done long before this.
    worker.join(timeout=60)
    assert not worker.is_alive(), "rule evaluation stalled on a catastrophic regex"
    assert verdicts[0].rules == ("refund",)


@pytest.mark.parametrize(
    ("pattern", "construct"),
    [
        (r"(\w)\1", "backreferences"),
        (r"refund(?= now)", "lookahead"),
        (r"(?<!no )refund", "negative lookbehind"),
        (r"a++", "possessive quantifiers"),
    ],
)
def test_rules_check_explains_the_constructs_it_refuses(
    tmp_path: Path, pattern: str, construct: str
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        f"rules:\n  - name: r\n    when:\n      regex: '{pattern}'\n    actions: [alert]\n"
    )
    with pytest.raises(RulesError) as failed:
        load_rules(rules, RulesConfig)
    [problem] = failed.value.problems
    assert f"{rules}:4" in str(problem)
    assert f"uses {construct}" in problem.message
    assert "matched in linear time (RE2) so that no mention can stall the node" in problem.message


def test_patterns_ignore_case_and_keep_unicode_word_classes() -> None:
    assert compile_pattern("REFUND")("please refund me")
    assert compile_pattern(r"^\w+$")("şikayet")  # RE2's own \w would stop at ş
    assert compile_pattern(r"[\w-]+ iade")("müşteri-hizmetleri iade")
    assert compile_pattern(r"\d+ gün")("٣ gün")  # Unicode digits, as Python's \d
    assert not compile_pattern(r"^\W+$")("ğ")
    assert compile_pattern(r"[]a]")("]")  # a leading ] is a literal, as in Python
    assert compile_pattern(r"\\w")("\\w")  # an escaped backslash stays one
