"""Text folding used by keyword matching and triage."""

import pytest

from rules.text import Speller, fold, words


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("İADE", "iade"),
        ("ıade", "iade"),
        ("IADE", "iade"),
        ("Réfund", "refund"),
        ("ŞİKAYET", "sikayet"),
        ("şikâyet", "sikayet"),
        ("çalışmıyor", "calismiyor"),
        ("DEĞİL", "degil"),
        ("Straße", "strasse"),
    ],
)
def test_fold(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_ascii_fast_path_matches_the_full_fold() -> None:
    for text in ("Hello WORLD", "I can't LOG IN!!", "refund #123 @brand", ""):
        assert fold(text) == fold(text + "é")[:-1]


def test_words_drop_punctuation_and_keep_order() -> None:
    assert words("Still NO refund!!! İade?") == ["still", "no", "refund", "iade"]


def test_speller_keeps_the_alphabets_letters_and_folds_the_rest() -> None:
    speller = Speller("çğöşü")
    assert speller.words("DÖNDÜ, Şikâyet İADE ıade") == ["döndü", "şikayet", "iade", "iade"]


def test_speller_sees_marked_letters_in_any_case_or_decomposed() -> None:
    speller = Speller("çğöşü")
    assert speller.marks_any("ŞİKAYET")
    assert speller.marks_any("s\u0327ikayet")  # "ş" typed as s + combining cedilla
    assert not speller.marks_any("sikayet İADE ıade")
