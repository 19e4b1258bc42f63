"""The learned part of triage: a linear model over hashed word and character n-grams.

`bench/train_triage.py` fits it (scikit-learn, at training time only) and writes
`rules/models/<lang>.json`; here it is read and applied in plain Python, so the running service
needs neither scikit-learn nor numpy. Training and scoring share `features()`, so what the model
learned and what it sees are built by the same code.

Features are hashed (`zlib.crc32`, stable across runs and machines) into `2**bits` buckets: the
weights file holds numbers only, no text of the data it was trained on. The reasons shown to
staff come from the mention's own words: each word gets the weight of itself and of its character
n-grams, each pair of words the weight of the pair.
"""

from __future__ import annotations

import base64
import json
import math
import re
import threading
import zlib
from array import array
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import cache, reduce
from itertools import pairwise
from operator import add, itemgetter
from pathlib import Path
from typing import NamedTuple

from rules.text import fold

MODEL_DIR = Path(__file__).with_name("models")
FORMAT = 1

_URL = re.compile(r"https?://\S+|www\.\S+")
_HANDLE = re.compile(r"@\w+")
_DIGITS = re.compile(r"\d+")
# The same on ASCII text: Unicode's \d asks the Unicode database about every character.
_ASCII_DIGITS = re.compile(r"\d+", re.ASCII)
# Words, plus the punctuation and symbols that carry tone ("!!", "?", "🙄", "…"). An apostrophe
# between letters is part of the word ("it's", "don’t"): `tokens` deletes those first.
_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)
# The same on ASCII text, where sre's ASCII classes are cheaper; Unicode's \s also has the
# ASCII separators \x1c-\x1f, which ASCII's lacks.
_ASCII_TOKEN = re.compile(r"\w+|[^\w\s\x1c-\x1f]", re.ASCII)
# Starts with the apostrophe so that sre looks for it before trying the lookarounds.
_INNER_APOSTROPHE = re.compile(r"['’](?<=\w['’])(?=\w)")
_CHAR_SIZES = (3, 4)
_CACHE = 40_000  # words whose weight is kept
_PAIR_SEED = zlib.crc32(b"b ")  # crc32(b"b " + x) == crc32(x, _PAIR_SEED)


def tokens(text: str) -> list[str]:
    """The words and tone symbols of `text`, folded; links, handles and numbers normalised."""
    if "://" in text or "www." in text:
        text = _URL.sub(" url ", text)
    if "@" in text:
        text = _HANDLE.sub(" @user ", text)
    folded = fold(text)
    ascii = folded.isascii()  # and stays so: what follows only puts ASCII or deletes
    folded = (_ASCII_DIGITS if ascii else _DIGITS).sub("0", folded)
    if "'" in folded or "’" in folded:
        # "it's", "don’t": one word each, "its" and "dont", not "it" + "'" + "s". Deleting the
        # apostrophes between two word characters leaves none with a word character on both
        # sides (its neighbours are not deleted ones), so a quote mark elsewhere stays a token.
        folded = _INNER_APOSTROPHE.sub("", folded)
    return (_ASCII_TOKEN if ascii else _TOKEN).findall(folded)


# A feature: its bucket and the phrase it belongs to (index into `Features.phrases`).
@dataclass(frozen=True, slots=True)
class Features:
    phrases: list[str]  # readable words and word pairs, for reasons
    buckets: list[int]
    owners: list[int]  # for each bucket, the phrase it is credited to


def word_buckets(word: str, mask: int) -> list[int]:
    """Buckets of one word: the word itself and, for a real word, its character 3- and 4-grams
    (so "crashed" shares evidence with "crashes" and "crash")."""
    buckets = [zlib.crc32(b"w " + _bytes(word)) & mask]
    if word.isalpha() and len(word) > 2:
        padded = _bytes(f" {word} ")
        for size in _CHAR_SIZES:
            for start in range(len(padded) - size + 1):
                buckets.append(zlib.crc32(padded[start : start + size]) & mask)
    return buckets


def pair_buckets(pairs: list[str], mask: int) -> list[int]:
    """Buckets of word pairs ("barely works"), one a pair: a list, not a call a pair."""
    crc32 = zlib.crc32
    # crc32 continued from the prefix's value: the hash of b"b " + pair without building it.
    return [crc32(pair.encode("utf-8", "surrogatepass"), _PAIR_SEED) & mask for pair in pairs]


def _bytes(text: str) -> bytes:
    # A lone surrogate (a broken emoji from a platform) must hash, not raise: hostile input.
    return text.encode("utf-8", "surrogatepass")


def features(text: str, bits: int) -> Features:
    """Hashed word unigrams, word bigrams and character 3- and 4-grams inside each word."""
    mask = (1 << bits) - 1
    words = tokens(text)
    pairs = list(map(" ".join, pairwise(words)))
    pair_ids = pair_buckets(pairs, mask)
    phrases: list[str] = []
    buckets: list[int] = []
    owners: list[int] = []
    index: dict[str, int] = {}
    for position, word in enumerate(words):
        owner = index.setdefault(word, len(phrases))
        if owner == len(phrases):
            phrases.append(word)
        own = word_buckets(word, mask)
        buckets.extend(own)
        owners.extend([owner] * len(own))
        if position:
            pair = pairs[position - 1]
            owner = index.setdefault(pair, len(phrases))
            if owner == len(phrases):
                phrases.append(pair)
            buckets.append(pair_ids[position - 1])
            owners.append(owner)
    return Features(phrases, buckets, owners)


# NamedTuples, not frozen dataclasses: four are built for every mention scored, and a frozen
# dataclass's __init__ sets each field through object.__setattr__ (about three times the cost).
class Contribution(NamedTuple):
    phrase: str  # "down", "barely works"
    logit: float  # what it adds to the model's log-odds


class ModelScore(NamedTuple):
    probability: float  # that the mention needs a response
    contributions: tuple[Contribution, ...]  # strongest first, of the sign of the verdict
    evidence: float  # the sum of all contributions of that sign, shown or not (their share)


class _Reading(NamedTuple):
    """What the model sees of a text: its phrases (words, then word pairs, each once in order
    of first appearance) with their summed weight, and the buckets they took."""

    words: list[str]
    pairs: list[str]  # "barely works": each pair of neighbouring words, as written
    sizes: list[int]  # each word's bucket count, as written
    values: dict[str, float]  # each phrase's weight, summed over its occurrences
    count: int  # buckets of all occurrences of all phrases


class TriageModel:
    """Weights of one language: `score(text)` is pure, so one instance serves all threads."""

    def __init__(self, bits: int, bias: float, weights: array) -> None:
        if len(weights) != 1 << bits:
            raise ValueError(f"triage model: {len(weights)} weights, expected {1 << bits}")
        self.bits = bits
        self.bias = bias
        self._weights = weights
        self._mask = (1 << bits) - 1
        self._known: dict[str, tuple[float, int]] = {}
        # Per set of unshown words (one per lexicon): whether a phrase may be named as a reason.
        self._readable: dict[frozenset[str], dict[str, bool]] = {}

    @classmethod
    def read(cls, path: Path) -> TriageModel:
        """Load a weights file written by `bench/train_triage.py`; ValueError names the file."""
        try:
            doc = _document(path)
            scale = float(doc["scale"])
            raw = array("h", zlib.decompress(base64.b64decode(doc["weights"])))
        except (OSError, ValueError, KeyError, TypeError, zlib.error) as exc:
            raise ValueError(f"{path}: not a triage model: {exc}") from exc
        # Stored as 16-bit integers; one float per bucket in memory (1 MB for 2**18 buckets
        # as doubles would be wasted: float32 is plenty for summing a few hundred weights).
        weights = array("f", (value * scale for value in raw))
        return cls(int(doc["bits"]), float(doc["bias"]), weights)

    def logit(self, text: str) -> float:
        reading = self._read(tokens(text))
        return self.bias + (
            sum(reading.values.values()) / math.sqrt(reading.count) if reading.count else 0.0
        )

    def _learn(self, word: str) -> tuple[float, int]:
        """A word's summed weight and bucket count, kept for the next mention: most words of a
        mention were seen in earlier ones, and hashing their character n-grams is most of the
        model's cost. A word pair is one hash, cheaper to redo than to cache: pairs are mostly
        new, and caching them flushed the words."""
        buckets = word_buckets(word, self._mask)
        known = (sum(map(self._weights.__getitem__, buckets)), len(buckets))
        if len(self._known) >= _CACHE:
            # Simpler than LRU, and a refill costs a few mentions' worth.
            self._known.clear()
            self._readable.clear()
        self._known[word] = known
        return known

    def _learn_missing(self, words: list[str], known: list[tuple[float, int] | None]) -> None:
        """Fill the words `known` lacks (None), each new word learnt once."""
        learnt: dict[str, tuple[float, int]] = {}
        for i, found in enumerate(known):
            if found is None:
                word = words[i]
                found = learnt.get(word)
                if found is None:
                    found = learnt[word] = self._learn(word)
                known[i] = found

    def _read(self, words: list[str]) -> _Reading:
        """Each word's and word pair's summed weight.

        Built from whole lists by dict(zip(map(...))), which run in C, rather than by a loop
        over the words: the few phrases written more than once are summed afterwards.
        """
        known = list(map(self._known.get, words))
        if None in known:
            self._learn_missing(words, known)
        pairs = list(map(" ".join, pairwise(words)))
        values = dict(zip(words, map(_VALUE, known), strict=True))
        if len(values) < len(words):
            _repeat(values, words)
        pair_values = dict(
            zip(pairs, map(self._weights.__getitem__, pair_buckets(pairs, self._mask)), strict=True)
        )
        if len(pair_values) < len(pairs):
            _repeat(pair_values, pairs)
        values.update(pair_values)
        sizes = list(map(_SIZE, known))
        return _Reading(words, pairs, sizes, values, sum(sizes) + len(pairs))

    def score(
        self,
        text: str,
        top: int = 3,
        *,
        ignore: AbstractSet[str] = frozenset(),
        complaints: AbstractSet[str] = frozenset(),
        unshown: frozenset[str] = frozenset(),
    ) -> ModelScore:
        """The model's verdict on `text` and the `top` phrases that made it.

        Phrases with a word of `ignore` count for nothing (praise beside a complaint). Phrases
        with a word of `complaints` (words of complaint terms the lexicon found) cannot speak
        against it: the lexicon read the whole phrase ("oh great" is sarcasm, not "great").
        Phrases made only of `unshown` words (the, your) or symbols still count but are not
        named as reasons: staff learn nothing from `"the" +3`.
        """
        words, pairs, sizes, values, count = self._read(tokens(text))
        if ignore or complaints:
            # Read the text as if those phrases were not there: each such word, and the pairs
            # it is part of. Deleting is all this does, so the order the words are visited in
            # changes nothing: only those words are visited, found by searches that run in C.
            last = len(words) - 1
            for word in (ignore | complaints).intersection(words):
                dropped = word in ignore
                written = words.count(word)
                found = values[word]  # summed over its occurrences, as are its buckets
                if dropped or found < 0.0:
                    del values[word]
                    count -= sizes[words.index(word)] * written
                i = -1
                for _ in range(written):
                    i = words.index(word, i + 1)
                    around = []
                    if i:
                        around.append(f"{words[i - 1]} {word}")
                    if i < last:
                        around.append(f"{word} {words[i + 1]}")
                    for pair in around:
                        found = values.get(pair)
                        if found is not None and (dropped or found < 0.0):
                            del values[pair]
                            count -= pairs.count(pair)
        if not values:
            return ModelScore(0.5, (), 0.0)
        # Added left to right, as a loop would (sum() may compensate, on newer Pythons).
        total = reduce(add, values.values(), 0.0)
        if not count:
            return ModelScore(0.5, (), 0.0)
        norm = 1 / math.sqrt(count)
        logit = self.bias + norm * total
        probability = 1 / (1 + math.exp(-max(-30.0, min(30.0, logit))))
        # (evidence for the verdict, phrase), strongest first. Compared with 0.0, not 0: the
        # interpreter specialises a float-float comparison, not a float-int one.
        if logit >= 0:
            agreeing = [(v, phrase) for phrase, v in values.items() if v > 0.0]
        else:
            agreeing = [(-v, phrase) for phrase, v in values.items() if v < 0.0]
        agreeing.sort(reverse=True)
        shown: list[Contribution] = []
        readable = self._readable.setdefault(unshown, {})
        if len(readable) >= _CACHE:
            # Mostly word pairs, which keep coming after the words are all known: bounded
            # apart from the words' cache, or a node running for months would keep them all.
            readable.clear()
        for value, phrase in agreeing[: 4 * top]:
            if len(shown) == top:
                break
            fit = readable.get(phrase)
            if fit is None:
                fit = readable[phrase] = _readable(phrase, unshown)
            if fit:
                shown.append(Contribution(phrase, norm * value))
        return ModelScore(probability, tuple(shown), norm * sum([v for v, _ in agreeing]))


_VALUE = itemgetter(0)
_SIZE = itemgetter(1)


def _repeat(values: dict[str, float], written: list[str]) -> None:
    """A phrase written n times counts n times: each later occurrence adds its value once
    more, in the order a running sum over the text would add them (so the same float)."""
    once: dict[str, float] = {}
    for phrase in written:
        if phrase in once:
            values[phrase] += once[phrase]
        else:
            once[phrase] = values[phrase]


def _document(path: Path) -> dict:
    doc = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else None
        raise ValueError(f"format {found!r}, expected {FORMAT}")
    for key in ("bits", "bias", "scale", "weights"):
        if key not in doc:
            raise KeyError(key)
    return doc


def check_model_file(path: Path) -> None:
    """ValueError naming `path` unless it looks like a weights file (its weights unread)."""
    try:
        _document(path)
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(f"{path}: not a triage model: {exc}") from exc


# The placeholders `tokens()` puts for handles and links.
_PLACEHOLDERS = frozenset({"user", "url"})


def _readable(phrase: str, unshown: frozenset[str]) -> bool:
    words = phrase.split()
    if "@" in words or not _PLACEHOLDERS.isdisjoint(words):
        return False
    # Every word of it a word: a pair with a symbol in it (`"now !"`) reads as noise.
    return all(map(has_letter, words)) and not unshown.issuperset(w for w in words if w.isalpha())


def has_letter(token: str) -> bool:
    """Whether a token of `tokens()` is a word, not a symbol, an emoji or a number."""
    return _LETTER.search(token) is not None


_LETTER = re.compile(r"[^\W\d_]")


@cache
def shipped_model(lang: str) -> TriageModel | None:
    """The model shipped for `lang`, read on first use; None when the package has none."""
    path = MODEL_DIR / f"{lang}.json"
    return model_at(path) if path.exists() else None


def model_at(path: Path) -> TriageModel:
    """The weights file at `path`, read once however many lexicons and threads ask for it."""
    # Under a lock: the first mentions of a start are scored in two worker threads at once,
    # and each read its own copy of the weights (1.8 MB more for good).
    with _READING:
        return _read(path)


@cache
def _read(path: Path) -> TriageModel:
    return TriageModel.read(path)


_READING = threading.Lock()
