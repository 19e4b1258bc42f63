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
import zlib
from array import array
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from rules.text import fold

MODEL_DIR = Path(__file__).with_name("models")
FORMAT = 1

_URL = re.compile(r"https?://\S+|www\.\S+")
_HANDLE = re.compile(r"@\w+")
_DIGITS = re.compile(r"\d+")
# Words, plus the punctuation and symbols that carry tone ("!!", "?", "🙄", "…").
_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)
_CHAR_SIZES = (3, 4)


def tokens(text: str) -> list[str]:
    """The words and tone symbols of `text`, folded; links, handles and numbers normalised."""
    text = _URL.sub(" url ", text)
    text = _HANDLE.sub(" @user ", text)
    return _TOKEN.findall(_DIGITS.sub("0", fold(text)))


# A feature: its bucket and the phrase it belongs to (index into `Features.phrases`).
@dataclass(frozen=True, slots=True)
class Features:
    phrases: list[str]  # readable words and word pairs, for reasons
    buckets: list[int]
    owners: list[int]  # for each bucket, the phrase it is credited to


def features(text: str, bits: int) -> Features:
    """Hashed word unigrams, word bigrams and character 3- and 4-grams inside each word."""
    mask = (1 << bits) - 1
    words = tokens(text)
    phrases: list[str] = []
    buckets: list[int] = []
    owners: list[int] = []
    index: dict[str, int] = {}
    for position, word in enumerate(words):
        owner = index.setdefault(word, len(phrases))
        if owner == len(phrases):
            phrases.append(word)
        buckets.append(zlib.crc32(b"w " + word.encode()) & mask)
        owners.append(owner)
        if word.isalpha() and len(word) > 2:
            padded = f" {word} ".encode()
            for size in _CHAR_SIZES:
                for start in range(len(padded) - size + 1):
                    buckets.append(zlib.crc32(padded[start : start + size]) & mask)
                    owners.append(owner)
        if position:
            pair = f"{words[position - 1]} {word}"
            owner = index.setdefault(pair, len(phrases))
            if owner == len(phrases):
                phrases.append(pair)
            buckets.append(zlib.crc32(b"b " + pair.encode()) & mask)
            owners.append(owner)
    return Features(phrases, buckets, owners)


@dataclass(frozen=True, slots=True)
class Contribution:
    phrase: str  # "down", "barely works"
    logit: float  # what it adds to the model's log-odds


@dataclass(frozen=True, slots=True)
class ModelScore:
    probability: float  # that the mention needs a response
    contributions: tuple[Contribution, ...]  # strongest first, of the sign of the verdict


class TriageModel:
    """Weights of one language: `score(text)` is pure, so one instance serves all threads."""

    def __init__(self, bits: int, bias: float, weights: array) -> None:
        if len(weights) != 1 << bits:
            raise ValueError(f"triage model: {len(weights)} weights, expected {1 << bits}")
        self.bits = bits
        self.bias = bias
        self._weights = weights

    @classmethod
    def read(cls, path: Path) -> TriageModel:
        """Load a weights file written by `bench/train_triage.py`; ValueError names the file."""
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            if doc.get("format") != FORMAT:
                raise ValueError(f"format {doc.get('format')!r}, expected {FORMAT}")
            scale = float(doc["scale"])
            raw = array("h", zlib.decompress(base64.b64decode(doc["weights"])))
        except (OSError, ValueError, KeyError, TypeError, zlib.error) as exc:
            raise ValueError(f"{path}: not a triage model: {exc}") from exc
        # Stored as 16-bit integers; one float per bucket in memory (1 MB for 2**18 buckets
        # as doubles would be wasted: float32 is plenty for summing a few hundred weights).
        weights = array("f", (value * scale for value in raw))
        return cls(int(doc["bits"]), float(doc["bias"]), weights)

    def logit(self, text: str) -> float:
        found = features(text, self.bits)
        return self.bias + _norm(found) * sum(self._weights[b] for b in found.buckets)

    def score(self, text: str, top: int = 3) -> ModelScore:
        found = features(text, self.bits)
        norm = _norm(found)
        per_phrase = [0.0] * len(found.phrases)
        weights = self._weights
        for bucket, owner in zip(found.buckets, found.owners, strict=True):
            per_phrase[owner] += weights[bucket]
        logit = self.bias + norm * sum(per_phrase)
        probability = 1 / (1 + math.exp(-max(-30.0, min(30.0, logit))))
        sign = 1 if logit >= 0 else -1
        strongest = sorted(
            (
                Contribution(phrase, norm * value)
                for phrase, value in zip(found.phrases, per_phrase, strict=True)
                if value * sign > 0
            ),
            key=lambda c: -abs(c.logit),
        )
        return ModelScore(probability, tuple(strongest[:top]))


def _norm(found: Features) -> float:
    """Features count 1/sqrt(n) each, so a long text does not outvote a short one."""
    return 1 / math.sqrt(len(found.buckets)) if found.buckets else 0.0


@cache
def shipped_model(lang: str) -> TriageModel | None:
    """The model shipped for `lang`, read on first use; None when the package has none."""
    path = MODEL_DIR / f"{lang}.json"
    return TriageModel.read(path) if path.exists() else None
