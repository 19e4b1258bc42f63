"""VADER's compound as triage uses it, computed faster than vaderSentiment does.

Sentiment is one signal of every mention's score, so VADER runs on every mention; its own code
spends most of its time on work whose result triage throws away (the pos/neu/neg shares, the
text lower-cased again for every check of every sentiment word, a per-character emoji pass on
text without emoji). `Vader.compound` gives the identical compound (tests compare them) with
that work skipped. The rules below are vaderSentiment 3.3.2's own (MIT, C.J. Hutto), read on
the words lower-cased once.
"""

from __future__ import annotations

import string

from vaderSentiment.vaderSentiment import (
    BOOSTER_DICT,
    C_INCR,
    N_SCALAR,
    NEGATE,
    SPECIAL_CASES,
    SentimentIntensityAnalyzer,
    normalize,
)

_NEGATE = frozenset(NEGATE)
# Words of VADER's multi-word idioms and boosters ("kiss of death", "kind of"): a window of
# words with none of them matches none, so the idiom check can skip building its phrases.
_IDIOM_WORDS = frozenset(
    word for key in (*SPECIAL_CASES, *BOOSTER_DICT) if " " in key for word in key.split()
)
_SO_THIS = ("so", "this")


class Vader:
    """VADER's lexicon and rules; `compound(text)` equals `polarity_scores(text)["compound"]`."""

    def __init__(self) -> None:
        analyzer = SentimentIntensityAnalyzer()
        self._lexicon: dict[str, float] = analyzer.lexicon
        self._emojis: dict[str, str] = analyzer.emojis
        self._emoji_chars = frozenset(key for key in self._emojis if len(key) == 1)
        # Words VADER scores 0 without looking around: not in its lexicon, or a booster (VADER
        # skips those first). Most words of a mention are such words.
        self._scored = frozenset(self._lexicon) - frozenset(BOOSTER_DICT)

    def compound(self, text: str) -> float:
        # VADER's emoji are all outside ASCII: an ASCII text (most English mentions) has none,
        # known from a flag of the string instead of a pass over its characters.
        if not text.isascii() and not self._emoji_chars.isdisjoint(text):
            text = self._spell_emoji(text)
        text = text.strip()
        punctuation = string.punctuation
        # VADER's `_strip_punc_if_word`: a token left with two characters or fewer was an
        # emoticon (":)"), kept whole.
        words = [s if len(s := w.strip(punctuation)) > 2 else w for w in text.split()]
        # Lowering never makes a space, so one call for all words splits back into the same
        # words, each as `word.lower()`.
        lowers = " ".join(words).lower().split(" ") if words else []
        scored = self._scored
        if scored.isdisjoint(lowers):
            return 0.0  # every word scores 0, so does their sum, whatever the punctuation
        count = len(words)
        capitals = sum(map(str.isupper, words))
        cap_diff = 0 < count - capitals < count  # VADER's `allcap_differential`
        sentiments: list[float] = [0] * count  # ints where VADER appends 0, as `_but_check` sees
        for i, lower in enumerate(lowers):
            if lower not in scored or (lower == "kind" and i < count - 1 and lowers[i + 1] == "of"):
                continue
            sentiments[i] = self._valence(words, lowers, i, cap_diff)
        if "but" in lowers:
            # Rare; its list surgery (by value, not by position) is kept as VADER wrote it.
            sentiments = SentimentIntensityAnalyzer._but_check(words, sentiments)
        total = float(sum(sentiments))
        emphasis = SentimentIntensityAnalyzer._amplify_ep(
            text
        ) + SentimentIntensityAnalyzer._amplify_qm(text)
        if total > 0:
            total += emphasis
        elif total < 0:
            total -= emphasis
        return round(normalize(total), 4)

    def _spell_emoji(self, text: str) -> str:
        """VADER's emoji pass: each emoji becomes its description, set off by a space."""
        out: list[str] = []
        prev_space = True
        emojis = self._emojis
        for char in text:
            description = emojis.get(char)
            if description is not None:
                if not prev_space:
                    out.append(" ")
                out.append(description)
                prev_space = False
            else:
                out.append(char)
                prev_space = char == " "
        return "".join(out)

    def _valence(self, words: list[str], lowers: list[str], i: int, cap_diff: bool) -> float:
        """VADER's `sentiment_valence` for the lexicon word at `i`."""
        lexicon = self._lexicon
        lower = lowers[i]
        valence = lexicon[lower]
        if lower == "no" and i != len(lowers) - 1 and lowers[i + 1] in lexicon:
            valence = 0.0  # "no" negates the next word instead of scoring itself
        if (
            (i > 0 and lowers[i - 1] == "no")
            or (i > 1 and lowers[i - 2] == "no")
            or (i > 2 and lowers[i - 3] == "no" and lowers[i - 1] in ("or", "nor"))
        ):
            valence = lexicon[lower] * N_SCALAR
        if cap_diff and words[i].isupper():
            valence = valence + C_INCR if valence > 0 else valence - C_INCR
        for start_i in range(min(3, i)):
            before = i - start_i - 1
            if lowers[before] in lexicon:
                continue
            scalar = _scalar(words[before], lowers[before], valence, cap_diff)
            if start_i == 1 and scalar != 0:
                scalar = scalar * 0.95
            if start_i == 2 and scalar != 0:
                scalar = scalar * 0.9
            valence = valence + scalar  # even + 0.0: it turns a -0.0 into 0.0, as VADER does
            valence = _negation_check(valence, lowers, start_i, i)
            if start_i == 2:
                valence = _special_idioms_check(valence, lowers, i)
        return self._least_check(valence, lowers, i)

    def _least_check(self, valence: float, lowers: list[str], i: int) -> float:
        lexicon = self._lexicon
        if i > 1 and lowers[i - 1] not in lexicon and lowers[i - 1] == "least":
            if lowers[i - 2] != "at" and lowers[i - 2] != "very":
                valence = valence * N_SCALAR
        elif i > 0 and lowers[i - 1] not in lexicon and lowers[i - 1] == "least":
            valence = valence * N_SCALAR
        return valence


def _scalar(word: str, lower: str, valence: float, cap_diff: bool) -> float:
    """VADER's `scalar_inc_dec`: what a booster before a sentiment word adds to it."""
    scalar = 0.0
    if lower in BOOSTER_DICT:
        scalar = BOOSTER_DICT[lower]
        if valence < 0:
            scalar *= -1
        if word.isupper() and cap_diff:
            if valence > 0:
                scalar += C_INCR
            else:
                scalar -= C_INCR
    return scalar


def _negated(word: str) -> bool:
    """vaderSentiment's `negated([word])` for one lower-cased word."""
    return word in _NEGATE or "n't" in word


def _negation_check(valence: float, lowers: list[str], start_i: int, i: int) -> float:
    """VADER's `_negation_check`, on the words lower-cased once."""
    if start_i == 0:
        if _negated(lowers[i - 1]):
            valence = valence * N_SCALAR
    elif start_i == 1:
        if lowers[i - 2] == "never" and lowers[i - 1] in _SO_THIS:
            valence = valence * 1.25
        elif lowers[i - 2] == "without" and lowers[i - 1] == "doubt":
            pass
        elif _negated(lowers[i - 2]):
            valence = valence * N_SCALAR
    elif start_i == 2:
        if (lowers[i - 3] == "never" and lowers[i - 2] in _SO_THIS) or lowers[i - 1] in _SO_THIS:
            valence = valence * 1.25
        elif lowers[i - 3] == "without" and "doubt" in (lowers[i - 2], lowers[i - 1]):
            pass
        elif _negated(lowers[i - 3]):
            valence = valence * N_SCALAR
    return valence


def _special_idioms_check(valence: float, lowers: list[str], i: int) -> float:
    """VADER's `_special_idioms_check` (called for i > 2: it reads three words back and two on)."""
    if _IDIOM_WORDS.isdisjoint(lowers[i - 3 : i + 3]):
        return valence
    three, two, one, zero = lowers[i - 3], lowers[i - 2], lowers[i - 1], lowers[i]
    threetwoone = f"{three} {two} {one}"
    threetwo = f"{three} {two}"
    twoone = f"{two} {one}"
    for seq in (f"{one} {zero}", f"{two} {one} {zero}", twoone, threetwoone, threetwo):
        if seq in SPECIAL_CASES:
            valence = SPECIAL_CASES[seq]
            break
    if len(lowers) - 1 > i:
        zeroone = f"{zero} {lowers[i + 1]}"
        if zeroone in SPECIAL_CASES:
            valence = SPECIAL_CASES[zeroone]
    if len(lowers) - 1 > i + 1:
        zeroonetwo = f"{zero} {lowers[i + 1]} {lowers[i + 2]}"
        if zeroonetwo in SPECIAL_CASES:
            valence = SPECIAL_CASES[zeroonetwo]
    for n_gram in (threetwoone, threetwo, twoone):
        if n_gram in BOOSTER_DICT:
            valence = valence + BOOSTER_DICT[n_gram]
    return valence
