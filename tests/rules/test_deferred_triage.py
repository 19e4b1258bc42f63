"""A node checks its lexicons at start but compiles them for the first mention it scores."""

from pathlib import Path

import pytest

from rules.deferred_triage import DeferredTriage
from rules.lexicon_file import LexiconError
from rules.triage import Triage

TEXTS = [
    "@acme where is my refund?? 3 weeks late, never again",
    "thanks @acme, great help today :)",
    "siparişim hâlâ gelmedi, iade istiyorum",
]


def test_scores_as_the_eager_triage_and_builds_it_once(tmp_path: Path) -> None:
    extra = tmp_path / "brand.yaml"
    extra.write_text("language: en\ncategories:\n  safety:\n    terms: [gluten]\n")
    eager = Triage.from_files([extra], ["en", "tr"])
    deferred = DeferredTriage([extra], ["en", "tr"])
    assert deferred.get() is deferred.get()
    for text in [*TEXTS, "gluten in my gluten free meal"]:
        assert deferred.get().assess(text) == eager.assess(text)


def test_a_bad_file_fails_at_once_naming_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("language: en\nthreshold: 500\n", encoding="utf-8")
    with pytest.raises(LexiconError, match=rf"{bad}:2: threshold"):
        DeferredTriage([bad], ["en"])


def test_a_language_without_lexicon_fails_at_once() -> None:
    with pytest.raises(LexiconError, match="xx"):
        DeferredTriage([], ["xx"])
