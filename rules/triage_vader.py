"""VADER's compound as triage uses it, computed faster than vaderSentiment does.

Sentiment is one signal of every mention's score, so VADER runs on every mention; its own code
spends most of its time on work whose result it throws away. `Vader` gives identical scores
(tests compare them) with that work skipped.
"""

from __future__ import annotations

from vaderSentiment.vaderSentiment import (
    BOOSTER_DICT,
    N_SCALAR,
    NEGATE,
    SentimentIntensityAnalyzer,
    SentiText,
)


class Vader(SentimentIntensityAnalyzer):
    """VADER with identical scores, minus its per-character emoji pass on text without emoji.

    `polarity_scores` first rebuilds the text one character at a time to spell out emoji, about
    a seventh of its time; most mentions have none. The rest below is vaderSentiment 3.3.2's
    own code (MIT, C.J. Hutto); the tests compare both on many texts.
    """

    def __init__(self) -> None:
        super().__init__()
        self._emoji_chars = frozenset(key for key in self.emojis if len(key) == 1)
        # Words `sentiment_valence` scores 0 without looking around: not in VADER's lexicon, or
        # a booster (VADER skips those first). Most words of a mention are such words, and
        # skipping the call for them is a third of VADER's time.
        self._scored = frozenset(self.lexicon) - frozenset(BOOSTER_DICT)

    def polarity_scores(self, text: str) -> dict[str, float]:
        if not self._emoji_chars.isdisjoint(text):
            return super().polarity_scores(text)
        text = text.strip()
        sentitext = SentiText(text)
        sentiments: list[float] = []
        words = sentitext.words_and_emoticons
        scored = self._scored
        for i, item in enumerate(words):
            lower = item.lower()
            if lower not in scored or (
                i < len(words) - 1 and lower == "kind" and words[i + 1].lower() == "of"
            ):
                sentiments.append(0)
                continue
            sentiments = self.sentiment_valence(0, sentitext, item, i, sentiments)
        sentiments = self._but_check(words, sentiments)
        return self.score_valence(sentiments, text)

    # VADER lower-cases the whole text for each of these checks, three times per sentiment word,
    # though they read only the words around `i` (never before i - 3, as `sentiment_valence`
    # calls them with i > start_i), and tests one word for negation against a list of 59.
    # Below: the same checks, on that window and with a set (vaderSentiment 3.3.2, MIT).
    @staticmethod
    def _negation_check(valence: float, words: list[str], start_i: int, i: int) -> float:
        before = [w.lower() for w in words[max(0, i - 3) : i]][::-1]  # before[k]: word i - 1 - k
        if start_i == 0:
            if _negated(before[0]):
                valence = valence * N_SCALAR
        elif start_i == 1:
            if before[1] == "never" and before[0] in ("so", "this"):
                valence = valence * 1.25
            elif before[1] == "without" and before[0] == "doubt":
                pass
            elif _negated(before[1]):
                valence = valence * N_SCALAR
        elif start_i == 2:
            if (before[2] == "never" and before[1] in ("so", "this")) or before[0] in (
                "so",
                "this",
            ):
                valence = valence * 1.25
            elif before[2] == "without" and "doubt" in (before[1], before[0]):
                pass
            elif _negated(before[2]):
                valence = valence * N_SCALAR
        return valence

    @staticmethod
    def _special_idioms_check(valence: float, words: list[str], i: int) -> float:
        # Called for i > 2 only; it also reads two words after `i` and the text's length beyond.
        return SentimentIntensityAnalyzer._special_idioms_check(valence, words[i - 3 : i + 3], 3)


_NEGATE = frozenset(NEGATE)


def _negated(word: str) -> bool:
    """vaderSentiment's `negated([word])` for one lower-cased word."""
    return word in _NEGATE or "n't" in word
