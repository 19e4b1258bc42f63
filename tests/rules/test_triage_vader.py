"""Triage's VADER (`rules/triage_vader.py`) gives vaderSentiment's compound, bit for bit."""

import csv
import random
from pathlib import Path

import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from rules.triage_vader import Vader

# The words VADER's rules look for around a sentiment word (negations, boosters, idioms, "but",
# "least", "kind of", capitals, emoticons, emoji, punctuation), so random texts of them exercise
# every branch it has.
WORDS = [
    "no",
    "not",
    "never",
    "so",
    "this",
    "without",
    "doubt",
    "least",
    "at",
    "very",
    "kind",
    "of",
    "sort",
    "the",
    "shit",
    "bomb",
    "kiss",
    "death",
    "yeah",
    "right",
    "but",
    "BUT",
    "GOOD",
    "good",
    "bad",
    "AWFUL",
    "great",
    "extremely",
    "barely",
    "hardly",
    "nor",
    "or",
    "isn't",
    "don't",
    "aint",
    "needn't",
    ":)",
    ":(",
    ":D",
    "😊",
    "😡",
    "💘",
    "!!!",
    "??",
    "?!?",
    "flight",
    "late",
    "love",
    "hate",
    "ok",
    "Okay",
]


def random_texts(count: int, seed: int = 20) -> list[str]:
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        words = [rng.choice(WORDS) for _ in range(rng.randint(0, 14))]
        glue = rng.choice((" ", "  ", ", ", " ... ", "\n"))
        texts.append(glue.join(words))
    return texts


@pytest.fixture(scope="module")
def vaders() -> tuple[Vader, SentimentIntensityAnalyzer]:
    return Vader(), SentimentIntensityAnalyzer()


def test_compound_equals_vaders_on_random_texts(
    vaders: tuple[Vader, SentimentIntensityAnalyzer],
) -> None:
    ours, theirs = vaders
    texts = random_texts(3000)
    # repr tells -0.0 from 0.0 ("VADER -0.00" is a reason label).
    got = [repr(ours.compound(t)) for t in texts]
    want = [repr(theirs.polarity_scores(t)["compound"]) for t in texts]
    assert got == want
    assert len(set(want)) > 100  # the texts do reach many different scores


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "!!!",
        "no no no",
        "Kind of",
        "kind of great",
        "not bad at all 😊😊",
        "😡",
        "GREAT service, NOT",
        "the flight was good but the crew was rude, but ok",
        "at least it is not the worst, the very least, least good",
        "🙄 oh great… nothing works. Thanks a lot",
    ],
)
def test_compound_equals_vaders_on_edge_cases(
    vaders: tuple[Vader, SentimentIntensityAnalyzer], text: str
) -> None:
    ours, theirs = vaders
    assert repr(ours.compound(text)) == repr(theirs.polarity_scores(text)["compound"])


LABELED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "labeled"


def labelled_english_texts() -> list[str]:
    """Every English text of the labelled files (`../shared/data/labeled/*`, Turkish aside)."""
    texts: list[str] = []
    for path in sorted(LABELED.glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            texts.extend(row["text"] for row in csv.DictReader(handle))
    for path in sorted(LABELED.glob("vader_tweets_*.txt")):
        with path.open(encoding="utf-8", newline="") as handle:
            texts.extend(p[2] for line in handle if len(p := line.rstrip("\r\n").split("\t")) > 2)
    return texts


def test_compound_equals_vaders_on_every_labelled_english_text(
    vaders: tuple[Vader, SentimentIntensityAnalyzer],
) -> None:
    """Random texts cover the rules; real ones the spellings nobody thought of (≈ 28,500)."""
    if not LABELED.exists():
        pytest.skip(f"no labelled data at {LABELED} (../shared/data is not part of the product)")
    ours, theirs = vaders
    texts = labelled_english_texts()
    assert len(texts) > 20_000  # all four files were read
    mismatched = [
        t for t in texts if repr(ours.compound(t)) != repr(theirs.polarity_scores(t)["compound"])
    ]
    assert mismatched == []


def test_no_vader_emoji_is_ascii() -> None:
    # `Vader.compound` skips the emoji pass on ASCII text on this premise.
    assert not any(key.isascii() for key in SentimentIntensityAnalyzer().emojis)
