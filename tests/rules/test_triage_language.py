"""Short texts are read in the right language: names, handles and numbers are no evidence."""

import pytest

from rules.triage import Triage


@pytest.fixture(scope="module")
def triage() -> Triage:
    return Triage.default(("en", "tr"))


@pytest.mark.parametrize(
    "text",
    [
        "Acme reddit 429",  # the case: Turkish at lingua's 0.53
        "Acme",  # a brand name alone: Turkish at 0.96
        "@united thnx",
        "@acme DM sent.",
        "Acme app 503 again",
        "https://acme.example/status 500",
    ],
)
def test_short_english_is_english(triage: Triage, text: str) -> None:
    assert triage.language(text) == "en"
    assert not any(s.category == "base" for s in triage.assess(text).signals)


@pytest.mark.parametrize(
    "text",
    [
        "siparis gelmedi",  # typed without its marks
        "iade istiyorum",
        "rezalet",
        "idare eder",
        "Berbat.",
        "kargom nerede @acme",
    ],
)
def test_short_turkish_stays_turkish(triage: Triage, text: str) -> None:
    assert triage.language(text) == "tr"


def test_the_platforms_language_wins(triage: Triage) -> None:
    assert triage.language("Acme reddit 429", "tr") == "tr"
    assert triage.language("iade istiyorum", "en") == "en"
