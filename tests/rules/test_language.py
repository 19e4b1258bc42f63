"""Language detection among the configured languages."""

import pytest

from rules.language import LanguageDetector
from rules.text import words

MARKERS = {"en": {"the", "and", "is", "my", "you"}, "tr": {"bir", "bu", "cok", "ve", "degil"}}


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return LanguageDetector(("en", "tr"), MARKERS, use_lingua=False)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Kartım çalışmıyor", "tr"),  # Turkish letters settle it
        ("bu kart cok kotu", "tr"),  # ASCII-typed: marker words
        ("the card is broken", "en"),
        ("BU BİR ŞİKAYET", "tr"),
    ],
)
def test_detects_configured_languages(detector: LanguageDetector, text: str, language: str) -> None:
    assert detector.detect(text, words(text)) == language


def test_tie_without_lingua_falls_back_to_the_first_language(detector: LanguageDetector) -> None:
    assert detector.detect("ok", ["ok"]) == "en"


def test_single_language_needs_no_detection() -> None:
    detector = LanguageDetector(("tr",), {}, use_lingua=False)
    assert detector.detect("hello there my friend", ["hello", "there", "my", "friend"]) == "tr"


def test_lingua_breaks_ties_when_installed() -> None:
    pytest.importorskip("lingua")
    detector = LanguageDetector(("en", "tr"), {}, use_lingua=True)
    text = "Siparisim teslim edilmedi, kargo firmasi cevap vermiyor"
    assert detector.detect(text, words(text)) == "tr"


def test_a_lone_surrogate_reaches_lingua_as_a_replacement_character() -> None:
    """A broken emoji escape in a JSON payload ("\\ud83d") is hostile input, not a crash: lingua
    (Rust) cannot take a string UTF-8 cannot encode."""
    detector = LanguageDetector(("en", "tr"), {}, use_lingua=True)
    text = "\ud83d my order never arrived and nobody answers"
    assert detector.detect(text, words(text)) == "en"


def test_lingua_is_loaded_at_the_first_tie_not_before(monkeypatch: pytest.MonkeyPatch) -> None:
    # Its native library and models cost a node ~2.5 MB; most nodes never need them.
    built: list[tuple[str, ...]] = []
    monkeypatch.setattr("rules.language._build_lingua", lambda languages: built.append(languages))
    detector = LanguageDetector(("en", "tr"), MARKERS, use_lingua=True)
    for text in ("Kartım çalışmıyor", "the card is broken", "bu kart cok kotu"):
        detector.detect(text, words(text))
    assert built == []
    detector.detect("ok", ["ok"])
    detector.detect("fine", ["fine"])
    assert built == [("en", "tr")]  # once: "not installed" is remembered too
