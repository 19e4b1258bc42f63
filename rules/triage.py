"""Default triage: does a mention need a response, how urgently, and why.

Sentiment alone is not "needs a response": "flight cancelled, 3 hours on hold" has no sentiment
words, so VADER scores it near 0 while the customer is furious. On top of the sentiment score this
layer adds a complaint and intent lexicon (delays, refunds, billing, no answer, legal or churn
threats...) kept in plain YAML files (`rules/lexicons/<lang>.yaml`) that brand managers can read
and extend. Every term that fires becomes a `Signal`, so staff always see why a mention scored.

Matching is one Aho-Corasick pass over the folded text, so a thousand terms cost what ten do.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ahocorasick
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from vaderSentiment.vaderSentiment import BOOSTER_DICT, SentimentIntensityAnalyzer, SentiText

from rules.language import LanguageDetector
from rules.text import Speller, fold

LEXICON_DIR = Path(__file__).with_name("lexicons")

_TOKEN = re.compile(r"\w+", re.UNICODE)
# "didn't" -> "did not", "can’t" -> "ca not": one negator token instead of a stray "t".
_CONTRACTION = re.compile(r"n['’]t\b")


@dataclass(frozen=True, slots=True)
class Signal:
    """One reason shown to staff."""

    label: str  # human text, e.g. "refund", "VADER -0.71", "question", "iade"
    category: str  # lexicon category, e.g. "refund", "sentiment", "question", "churn"
    points: int  # contribution to urgency on a 0-100 scale (may be negative)


@dataclass(frozen=True, slots=True)
class Assessment:
    language: str  # ISO 639-1, e.g. "en", "tr"
    sentiment: float  # VADER compound (or the language's equivalent), -1..1
    needs_response: bool
    score: int  # 0..100, the triage part of urgency (sum of signal points, clamped)
    signals: tuple[Signal, ...]


class LexiconError(ValueError):
    """A lexicon file is unreadable or invalid; the message lists every problem as file:line."""


# --------------------------------------------------------------------------------------------
# Lexicon files


@dataclass(frozen=True, slots=True)
class Term:
    label: str  # as the lexicon author wrote it, without the stem marker "*"
    words: tuple[str, ...]  # folded words
    prefix: bool  # "refund*": the last word may continue (refunds, refunded)
    suffix: bool  # "*madı": any word ending so (geLMEDİ, olMADI): Turkish negative verbs
    spelled: tuple[str, ...] | None  # its stem as written (`letters:` check); None: unchecked
    category: str
    points: int
    negation: str  # keep | cancel | flip, when a negation word applies to it
    # The reasons it gives, built once: as the first term of its category, and as a later one.
    signal: Signal
    repeat_signal: Signal


@dataclass(slots=True)
class _Category:
    points: int | None = None
    negation: str = "keep"
    raw: bool = False  # terms are symbols (emoticons, emoji) found anywhere in the raw text
    terms: dict[str, int | None] = field(default_factory=dict)  # term -> own points or None


@dataclass(slots=True)
class _Settings:
    """One language's lexicon as read from one or more files, later files overriding."""

    threshold: int = 50
    base_points: int = 0
    base_label: str = "message"
    negative_points: int = 60
    positive_points: int = 40
    neutral_band: float = 0.05
    question_points: int = 0
    question_label: str = "question"
    question_starters: list[str] = field(default_factory=list)
    question_particles: list[str] = field(default_factory=list)
    engine: str = "vader"
    negation_window: int = 3
    negation_position: str = "before"
    negation_label: str = "not"
    negators: list[str] = field(default_factory=list)
    negating_suffixes: list[str] = field(default_factory=list)  # suffix groups
    intensifiers: list[str] = field(default_factory=list)
    intensifier_factor: float = 1.5
    contrast_words: list[str] = field(default_factory=list)
    contrast_factor: float = 0.5
    suffixes: dict[str, list[str]] = field(default_factory=dict)
    markers: list[str] = field(default_factory=list)
    letters: str = ""
    repeat_factor: float = 0.5
    categories: dict[str, _Category] = field(default_factory=dict)


_NEGATION_MODES = ("keep", "cancel", "flip")
_ENGINES = ("vader", "lexicon")
# "{neg}" in a term stands for every suffix of the group `neg` (see `suffixes:` in tr.yaml).
_SUFFIX_SLOT = re.compile(r"\{(\w+)\}")


class _FileReader:
    """Validates one YAML file into `_Settings`, collecting every problem with its line."""

    def __init__(self, path: Path, errors: list[str]) -> None:
        self.path = path
        self.errors = errors

    def error(self, node: Any, key: Any, message: str) -> None:
        line = 0
        try:
            line = (node.lc.key(key) if isinstance(key, str) else node.lc.item(key))[0] + 1
        except (AttributeError, KeyError, IndexError, TypeError):
            line = getattr(getattr(node, "lc", None), "line", -1) + 1
        self.errors.append(f"{self.path}:{line}: {message}")

    def number(self, node: Any, key: str, kind: type, lo: float, hi: float) -> Any:
        value = node[key]
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if kind is int:
            ok = ok and float(value).is_integer()
        if not ok or not lo <= value <= hi:
            self.error(
                node,
                key,
                f"{key}: must be a{'n integer' if kind is int else ' number'} "
                f"from {lo:g} to {hi:g}, got {value!r}",
            )
            return None
        return kind(value)

    def words(self, node: Any, key: str) -> list[str] | None:
        value = node[key]
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            self.error(node, key, f"{key}: must be a list of words")
            return None
        return [str(v) for v in value]

    def read(self, into: dict[str, _Settings]) -> None:
        try:
            with self.path.open(encoding="utf-8") as handle:
                doc = YAML(typ="rt").load(handle)
        except OSError as exc:
            self.errors.append(f"{self.path}:0: cannot read: {exc.strerror or exc}")
            return
        except YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else 0
            self.errors.append(
                f"{self.path}:{line}: not valid YAML: {getattr(exc, 'problem', exc)}"
            )
            return
        if not isinstance(doc, dict):
            self.errors.append(f"{self.path}:1: must be a mapping with language: and categories:")
            return
        language = doc.get("language")
        if not isinstance(language, str) or not re.fullmatch(r"[a-z]{2}", language):
            self.error(doc, "language", "language: must be an ISO 639-1 code such as en or tr")
            return
        settings = into.setdefault(language, _Settings())
        known = {
            "language",
            "threshold",
            "base",
            "sentiment",
            "question",
            "negation",
            "intensifiers",
            "contrast",
            "suffixes",
            "markers",
            "letters",
            "repeat_factor",
            "categories",
        }
        for key in doc:
            if key not in known:
                self.error(doc, key, f"{key}: unknown setting (expected one of {sorted(known)})")
        if "threshold" in doc and (v := self.number(doc, "threshold", int, 1, 100)) is not None:
            settings.threshold = v
        if (
            "repeat_factor" in doc
            and (v := self.number(doc, "repeat_factor", float, 0, 1)) is not None
        ):
            settings.repeat_factor = v
        self.base(doc.get("base"), settings)
        self.sentiment(doc.get("sentiment"), settings)
        self.question(doc.get("question"), settings)
        suffixes = doc.get("suffixes")
        if suffixes is not None:
            if isinstance(suffixes, dict):
                for group in suffixes:
                    if (v := self.words(suffixes, group)) is not None:
                        settings.suffixes[str(group)] = v
            else:
                self.error(doc, "suffixes", "suffixes: must map a group name to its suffixes")
        self.negation(doc.get("negation"), settings)
        settings.intensifiers, settings.intensifier_factor = self.words_and_factor(
            doc.get("intensifiers"),
            "intensifiers",
            settings.intensifiers,
            settings.intensifier_factor,
        )
        settings.contrast_words, settings.contrast_factor = self.words_and_factor(
            doc.get("contrast"), "contrast", settings.contrast_words, settings.contrast_factor
        )
        if "markers" in doc and (v := self.words(doc, "markers")) is not None:
            settings.markers = v
        if "letters" in doc and (v := self.words(doc, "letters")) is not None:
            if all(len(letter) == 1 and letter.isalpha() for letter in v):
                settings.letters = "".join(v)
            else:
                self.error(doc, "letters", "letters: must be a list of single letters")
        categories = doc.get("categories")
        if categories is None:
            return
        if not isinstance(categories, dict):
            self.error(doc, "categories", "categories: must map a category name to its settings")
            return
        for name, body in categories.items():
            self.category(categories, str(name), body, settings)

    def base(self, node: Any, settings: _Settings) -> None:
        if node is None:
            return
        for key in node:
            if key == "points" and (v := self.number(node, key, int, -100, 100)) is not None:
                settings.base_points = v
            elif key == "label":
                settings.base_label = str(node[key])
            else:
                self.error(node, key, f"base.{key}: unknown setting")

    def sentiment(self, node: Any, settings: _Settings) -> None:
        if node is None:
            return
        for key in node:
            if key == "negative_points" and (v := self.number(node, key, int, 0, 200)) is not None:
                settings.negative_points = v
            elif (
                key == "positive_points" and (v := self.number(node, key, int, 0, 200)) is not None
            ):
                settings.positive_points = v
            elif key == "neutral_band" and (v := self.number(node, key, float, 0, 1)) is not None:
                settings.neutral_band = v
            elif key == "engine":
                if node[key] in _ENGINES:
                    settings.engine = node[key]
                else:
                    self.error(node, key, "sentiment.engine: must be vader or lexicon")
            elif key not in ("negative_points", "positive_points", "neutral_band", "engine"):
                self.error(node, key, f"sentiment.{key}: unknown setting")

    def question(self, node: Any, settings: _Settings) -> None:
        if node is None:
            return
        for key in node:
            if key == "points" and (v := self.number(node, key, int, -100, 100)) is not None:
                settings.question_points = v
            elif key == "label":
                settings.question_label = str(node[key])
            elif key == "starters" and (v := self.words(node, key)) is not None:
                settings.question_starters = v
            elif key == "particles" and (v := self.words(node, key)) is not None:
                settings.question_particles = v
            elif key not in ("points", "label", "starters", "particles"):
                self.error(node, key, f"question.{key}: unknown setting")

    def negation(self, node: Any, settings: _Settings) -> None:
        if node is None:
            return
        for key in node:
            if key == "window" and (v := self.number(node, key, int, 1, 10)) is not None:
                settings.negation_window = v
            elif key == "words" and (v := self.words(node, key)) is not None:
                settings.negators = v
            elif key == "label":
                settings.negation_label = str(node[key])
            elif key == "suffixes" and (v := self.words(node, key)) is not None:
                unknown = [g for g in v if g not in settings.suffixes]
                if unknown:
                    self.error(
                        node, key, f"negation.suffixes: no suffix group {unknown[0]!r} in suffixes:"
                    )
                else:
                    settings.negating_suffixes = v
            elif key == "position":
                if node[key] in ("before", "after"):
                    settings.negation_position = node[key]
                else:
                    self.error(node, key, "negation.position: must be before or after")
            elif key not in ("window", "words", "label", "position", "suffixes"):
                self.error(node, key, f"negation.{key}: unknown setting")

    def words_and_factor(
        self, node: Any, section: str, words: list[str], factor: float
    ) -> tuple[list[str], float]:
        """A section of `words:` that scale points by `factor:` (intensifiers, contrast)."""
        if node is None:
            return words, factor
        for key in node:
            if key == "words" and (v := self.words(node, key)) is not None:
                words = v
            elif key == "factor" and (v := self.number(node, key, float, 0, 5)) is not None:
                factor = v
            elif key not in ("words", "factor"):
                self.error(node, key, f"{section}.{key}: unknown setting")
        return words, factor

    def category(self, parent: Any, name: str, body: Any, settings: _Settings) -> None:
        if not isinstance(body, dict):
            self.error(parent, name, f"categories.{name}: must have points: and terms:")
            return
        category = settings.categories.setdefault(name, _Category())
        for key in body:
            if key not in ("points", "negation", "raw", "terms"):
                self.error(body, key, f"categories.{name}.{key}: unknown setting")
        if "points" in body:
            category.points = self.number(body, "points", int, -100, 100)
        elif category.points is None:
            self.error(parent, name, f"categories.{name}: points: is required for a new category")
        if "negation" in body:
            if body["negation"] in _NEGATION_MODES:
                category.negation = body["negation"]
            else:
                self.error(
                    body, "negation", f"categories.{name}.negation: must be keep, cancel or flip"
                )
        if "raw" in body:
            category.raw = bool(body["raw"])
        terms = body.get("terms")
        if not isinstance(terms, list):
            self.error(
                body,
                "terms" if "terms" in body else "points",
                f"categories.{name}.terms: must be a list of words or phrases",
            )
            return
        for index, item in enumerate(terms):
            own: int | None = None
            if isinstance(item, dict) and len(item) == 1:
                # "- lawyer: 40" gives one term its own weight.
                ((item, own),) = item.items()
                if not isinstance(own, int) or isinstance(own, bool) or not -100 <= own <= 100:
                    self.error(
                        terms,
                        index,
                        f"categories.{name}.terms: points of {item!r} must "
                        "be an integer from -100 to 100",
                    )
                    continue
            slots = _SUFFIX_SLOT.findall(item) if isinstance(item, str) else []
            unknown = [g for g in slots if g not in settings.suffixes]
            if unknown:
                self.error(
                    terms,
                    index,
                    f"categories.{name}.terms: {item!r} uses {{{unknown[0]}}} but suffixes: "
                    f"has no group {unknown[0]!r}",
                )
                continue
            if not isinstance(item, str) or not (category.raw or _term_words(item)):
                self.error(
                    terms,
                    index,
                    f"categories.{name}.terms: {item!r} is not a word or "
                    "phrase (write a stem as refund*)",
                )
                continue
            category.terms[str(item)] = own


def _term_words(term: str) -> tuple[str, ...]:
    return tuple(_words(fold(term.strip("*"))))


def _words(folded: str) -> list[str]:
    """Words of folded text as matching sees them, contractions spelled out."""
    if "'" in folded or "’" in folded:
        folded = _CONTRACTION.sub(" not", folded)
    return _TOKEN.findall(folded)


def _spelled(speller: Speller, term: str, words: tuple[str, ...]) -> tuple[str, ...] | None:
    """The stem of a term as written, whose letters a carefully typed text must spell alike.

    Endings and suffix groups are left out: "*mıyor" and "çalış{neg}" stand for every vowel
    of the harmony ("gelmiyor", "görmüyor"). None when there is no stem to check or it does not
    line up with the folded words.
    """
    if term.startswith("*"):
        return None
    slot = _SUFFIX_SLOT.search(term)
    spelled = tuple(speller.words(term[: slot.start()] if slot else term.rstrip("*")))
    if len(spelled) != len(words) or not all(map(str.startswith, words, map(fold, spelled))):
        return None
    return spelled


_BACK_VOWELS = frozenset("aıou")
_FRONT_VOWELS = frozenset("eiöü")
_ROUNDED_VOWELS = frozenset("ouöü")


def _harmonises(stem: str, suffix: str) -> bool:
    """Whether `suffix` follows Turkish vowel harmony after `stem` ("gel" + "miyor", not "mıyor").

    Used only to pick a readable label ("çalışmıyor") among the expanded forms; matching uses
    all forms, since folded text no longer tells ı from i.
    """
    stem_vowels = [c for c in stem.lower() if c in _BACK_VOWELS or c in _FRONT_VOWELS]
    suffix_vowels = [c for c in suffix.lower() if c in _BACK_VOWELS or c in _FRONT_VOWELS]
    if not stem_vowels or not suffix_vowels:
        return True
    last, first = stem_vowels[-1], suffix_vowels[0]
    if (last in _BACK_VOWELS) != (first in _BACK_VOWELS):
        return False
    return first in "ae" or (last in _ROUNDED_VOWELS) == (first in _ROUNDED_VOWELS)


def _expand(text: str, suffixes: dict[str, list[str]]) -> tuple[str, list[str]]:
    """A term with a "{group}" slot -> its label and one stem pattern per suffix of the group."""
    match = _SUFFIX_SLOT.search(text)
    if match is None:
        label = text.strip("*").strip()
        return ("-" + label if text.startswith("*") else label), [text]
    stem, rest = text[: match.start()], text[match.end() :].rstrip("*")
    forms = suffixes[match.group(1)]
    readable = next((f for f in forms if _harmonises(stem, f)), forms[0])
    return (stem + readable + rest).strip(), [stem + form + rest + "*" for form in forms]


@dataclass(frozen=True, slots=True)
class Lexicon:
    """One language's compiled lexicon."""

    threshold: int
    base_signal: Signal | None  # points every mention starts with, if any
    engine: str  # vader: sentiment from VADER; lexicon: from the points of the terms found
    negative_points: int
    positive_points: int
    neutral_band: float
    question_points: int
    question_signal: Signal
    question_starters: frozenset[str]
    question_particles: frozenset[str]  # words marking a question anywhere: "mı", "misiniz"
    negation_window: int
    negation_after: bool  # Turkish negates after the word: "memnun değilim"
    negation_label: str
    negators: frozenset[str]
    # Endings that negate the stem they follow: "gecikmedi" (not delayed), "başarısız".
    negating_suffixes: tuple[str, ...]
    intensifiers: dict[str, str]  # folded word -> as written, for the reason's label
    intensifier_factor: float
    # "kargo geç geldi ama ürün güzel": what comes before the last "ama" (but) counts less.
    contrast_words: frozenset[str]
    contrast_factor: float
    markers: frozenset[str]  # common words that tell this language apart (detection)
    speller: Speller | None  # the alphabet's own letters (`letters:`), if it has any
    terms: tuple[Term, ...]  # matched on words
    symbols: tuple[tuple[str, Term], ...]  # matched anywhere in the raw text

    @classmethod
    def compile(cls, s: _Settings) -> Lexicon:
        terms: list[Term] = []
        symbols: list[tuple[str, Term]] = []
        speller = Speller(s.letters) if s.letters else None
        for name, category in s.categories.items():
            for text, own in category.terms.items():
                points = own if own is not None else (category.points or 0)
                label, patterns = (text, [text]) if category.raw else _expand(text, s.suffixes)
                for pattern in patterns:
                    words = _term_words(pattern)
                    term = Term(
                        label=label,
                        words=words,
                        prefix=pattern.endswith("*"),
                        suffix=pattern.startswith("*"),
                        spelled=(
                            _spelled(speller, text, words) if speller and not category.raw else None
                        ),
                        category=name,
                        points=points,
                        negation=category.negation,
                        signal=Signal(label, name, points),
                        # A second "late" in a category adds less than a new kind of problem.
                        repeat_signal=Signal(label, name, round(points * s.repeat_factor)),
                    )
                    if category.raw:
                        symbols.append((text, term))
                    else:
                        terms.append(term)
        return cls(
            threshold=s.threshold,
            base_signal=Signal(s.base_label, "base", s.base_points) if s.base_points else None,
            engine=s.engine,
            negative_points=s.negative_points,
            positive_points=s.positive_points,
            neutral_band=s.neutral_band,
            question_points=s.question_points,
            question_signal=Signal(s.question_label, "question", s.question_points),
            question_starters=frozenset(w for t in s.question_starters for w in _term_words(t)),
            question_particles=frozenset(w for t in s.question_particles for w in _term_words(t)),
            negation_window=s.negation_window,
            negation_after=s.negation_position == "after",
            negation_label=s.negation_label,
            negators=frozenset(w for t in s.negators for w in _term_words(t)),
            negating_suffixes=tuple(
                {fold(form): None for g in s.negating_suffixes for form in s.suffixes[g]}
            ),
            intensifiers={" ".join(_term_words(t)): t for t in s.intensifiers},
            intensifier_factor=s.intensifier_factor,
            contrast_words=frozenset(w for t in s.contrast_words for w in _term_words(t)),
            contrast_factor=s.contrast_factor,
            markers=frozenset(w for t in s.markers for w in _term_words(t)),
            speller=speller,
            terms=tuple(terms),
            symbols=tuple(symbols),
        )

    def sentiment_points(self, compound: float) -> int:
        if compound <= -self.neutral_band:
            return round(-compound * self.negative_points)
        if compound >= self.neutral_band:
            return -round(compound * self.positive_points)
        return 0

    def negator(self, tokens: list[str], first: int, last: int, term: Term) -> int | None:
        """Index of the word that negates the term at `first..last`, or None.

        That is the term's own last word when a negating suffix follows its stem.
        """
        if term.prefix and self.negating_suffixes:
            rest = tokens[last][len(term.words[-1]) :]
            if rest.startswith(self.negating_suffixes):
                return last
        if self.negation_after:
            start = last + 1
            window = tokens[start : start + self.negation_window]
        else:
            start = max(0, first - self.negation_window)
            window = tokens[start:first]
        if self.negators.isdisjoint(window):
            return None
        index = start + next(i for i, word in enumerate(window) if word in self.negators)
        if index + 1 < len(tokens) and tokens[index + 1] in self.question_particles:
            return None  # a tag question: "güzel değil mi?" (nice, isn't it?) is praise
        return index

    def flipped(self, signal: Signal) -> Signal:
        """A negated term's signal: "güzel değil" (not nice) is a complaint, not praise."""
        label = (
            f"{signal.label} {self.negation_label}"
            if self.negation_after
            else f"{self.negation_label} {signal.label}"
        )
        return Signal(label, signal.category, -signal.points)

    def weighed(
        self, signal: Signal, tokens: list[str], first: int, last: int, pivot: int
    ) -> Signal:
        """The signal of the term at `first..last` as its neighbours weigh it: an intensifier
        just before ("çok kötü"), or a contrast word after it (`pivot`, `contrast_pivot`)."""
        if first and tokens[first - 1] in self.intensifiers:
            signal = Signal(
                f"{self.intensifiers[tokens[first - 1]]} {signal.label}",
                signal.category,
                round(signal.points * self.intensifier_factor),
            )
        if last < pivot:
            signal = Signal(
                signal.label, signal.category, round(signal.points * self.contrast_factor)
            )
        return signal

    def contrast_pivot(self, tokens: list[str]) -> int:
        """Index of the last contrast word ("ama", "but") in `tokens`, or -1."""
        if self.contrast_words.isdisjoint(tokens):
            return -1
        return max(i for i, word in enumerate(tokens) if word in self.contrast_words)

    def is_question(self, text: str, tokens: list[str]) -> bool:
        return (
            "?" in text
            or (bool(tokens) and tokens[0] in self.question_starters)
            or not self.question_particles.isdisjoint(tokens)
        )


def load_lexicons(paths: Sequence[Path]) -> dict[str, Lexicon]:
    """Read lexicon files in order (later ones extend earlier ones of the same language)."""
    errors: list[str] = []
    settings: dict[str, _Settings] = {}
    for path in paths:
        _FileReader(Path(path), errors).read(settings)
    if errors:
        raise LexiconError("invalid triage lexicon:\n" + "\n".join(errors))
    return {lang: Lexicon.compile(s) for lang, s in settings.items()}


# --------------------------------------------------------------------------------------------
# Matching


# A match: first and last token index (inclusive), its rank among matches of the same words
# (pattern length, less `_ENDING_RANK` for an ending), the terms sharing the pattern.
_Hit = tuple[int, int, int, tuple[Term, ...]]

# An ending ("*madı") ranks below any stem on the same word, whatever their lengths: the stem
# says which verb is negated ("korkmadım" is "kork*", not afraid), the ending only that one is.
_ENDING_RANK = -1000


class _Matcher:
    """One language's lexicon as an automaton over " word word " strings."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        self._automaton = ahocorasick.Automaton()
        patterns: dict[str, list[Term]] = {}
        for term in lexicon.terms:
            # Words are joined by single spaces in the haystack, so a leading space anchors the
            # term at a word start (absent for endings) and a trailing space (absent for stems)
            # at a word end.
            key = ("" if term.suffix else " ") + " ".join(term.words) + ("" if term.prefix else " ")
            patterns.setdefault(key, []).append(term)
        for key, terms in patterns.items():
            rank = len(key) + (_ENDING_RANK if terms[0].suffix else 0)
            self._automaton.add_word(key, (len(key), len(terms[0].words), rank, tuple(terms)))
        self._empty = not patterns
        if not self._empty:
            self._automaton.make_automaton()
        # Emoticons and emoji, found in the raw text in one pass too.
        self._symbols = ahocorasick.Automaton()
        by_symbol: dict[str, list[Term]] = {}
        for symbol, term in lexicon.symbols:
            by_symbol.setdefault(symbol, []).append(term)
        for symbol, terms in by_symbol.items():
            self._symbols.add_word(symbol, tuple(terms))
        if by_symbol:
            self._symbols.make_automaton()

    @staticmethod
    def tokens(text: str) -> list[str]:
        return _words(fold(text))

    def hits(self, text: str, tokens: list[str]) -> list[_Hit]:
        """Matches in text order; a match inside a longer one is dropped, and so is one whose
        letters the writer spelled otherwise (`Spelling`)."""
        if self._empty or not tokens:
            return []
        haystack = " " + " ".join(tokens) + " "
        found: list[_Hit] = []
        speller = self.lexicon.speller
        # A text with no marked letter tells no letters apart.
        spelling = Spelling(speller, text, tokens) if speller and speller.marks_any(text) else None
        for end_index, (length, n_words, rank, terms) in self._automaton.iter(haystack):
            # Token n is preceded by n + 1 spaces (the haystack opens with one), whether the
            # pattern starts at that space or inside the word (an ending); str.count runs in C,
            # cheaper than keeping a table of token offsets.
            first = haystack.count(" ", 0, end_index - length + 2) - 1
            if spelling is not None:
                terms = spelling.allowed(terms, first, n_words)
                if not terms:
                    continue
            found.append((first, first + n_words - 1, rank, terms))
        return _drop_contained(found) if len(found) > 1 else found

    def symbols(self, text: str) -> list[Term]:
        """Terms of the emoticons and emoji in `text`, in text order."""
        if self._symbols.kind == ahocorasick.EMPTY:
            return []
        return [term for _, terms in self._symbols.iter(text) for term in terms]


class Spelling:
    """How one text spells its words, to drop a match that folding alone made.

    A marked letter the writer typed (one of the lexicon's `letters:`) is meant: "döndü" does
    not match the stem "dondu". A plain letter may be a marked one typed in a hurry, so "dondu"
    still matches "döndü" the other way round, as ASCII-typed Turkish must.
    """

    def __init__(self, speller: Speller, text: str, folded: list[str]) -> None:
        self.speller = speller
        self.text = text
        self.folded = folded
        self._words: list[str] | None = None  # lower-cased, read on the first marked match

    def allowed(self, terms: tuple[Term, ...], first: int, count: int) -> tuple[Term, ...]:
        """The terms matched at `first` (over `count` words) that the spelling does not refuse.

        Only words with a marked letter can refuse, so a match without one costs a set test.
        """
        words = self._text_words()
        spelled: dict[int, str] = {}
        for index in range(first, first + count) if words else ():
            if self.speller.marks_any(words[index]):
                got = self.speller.spell(words[index])
                # A letter folded into two ("ß" -> "ss") leaves positions that do not line up.
                if len(got) == len(self.folded[index]):
                    spelled[index] = got
        if not spelled:
            return terms
        return tuple(t for t in terms if self._allows(t, first, spelled))

    def _text_words(self) -> list[str]:
        """The text's lower-cased words; none where they do not line up with the folded ones
        (a contraction or ligature moved a word boundary: matching stays folded)."""
        if self._words is None:
            words = self.speller.raw_words(self.text)
            self._words = words if len(words) == len(self.folded) else []
        return self._words

    @staticmethod
    def _allows(term: Term, first: int, spelled: dict[int, str]) -> bool:
        if term.spelled is None:
            return True
        for index, want in enumerate(term.spelled, first):
            got = spelled.get(index)
            if got is None:
                continue
            got = got[: len(want)]
            # A plain letter may be a marked one typed in a hurry ("guzel"); a marked letter
            # is meant ("döndü").
            pairs = zip(got, want, strict=True)
            if got != want and any(a != b and not a.isascii() for a, b in pairs):
                return False
        return True


def _drop_contained(hits: list[_Hit]) -> list[_Hit]:
    """Keep the longest reading: "no problem" (praise) hides the "problem" inside it, and on
    one word the longer stem wins: "sevmedim" is "sevme*" (did not like), not "sev*" (like);
    any stem wins over an ending (`_ENDING_RANK`).

    Returns the hits in text order. Sorted by start, longest first, a hit lies inside a longer
    one exactly when an earlier hit with another span reaches at least as far.
    """
    hits.sort(key=_start_then_longest)
    kept: list[_Hit] = []
    reach = -1  # furthest last token of the hits before the current span
    span_first, span_last, span_rank = -1, -1, 0
    for hit in hits:
        if hit[0] != span_first or hit[1] != span_last:
            reach = max(reach, span_last)
            span_first, span_last, span_rank = hit[0], hit[1], hit[2]
        if hit[1] > reach and hit[2] == span_rank:
            kept.append(hit)
    return kept


def _start_then_longest(hit: _Hit) -> tuple[int, int, int]:
    return hit[0], -hit[1], -hit[2]


# --------------------------------------------------------------------------------------------
# Triage


class _Vader(SentimentIntensityAnalyzer):
    """VADER with identical scores, minus its per-character emoji pass on text without emoji.

    `polarity_scores` first rebuilds the text one character at a time to spell out emoji, about
    a seventh of its time; most mentions have none. The rest below is vaderSentiment 3.3.2's
    own code (MIT, C.J. Hutto); the tests compare both on many texts.
    """

    def __init__(self) -> None:
        super().__init__()
        self._emoji_chars = frozenset(key for key in self.emojis if len(key) == 1)

    def polarity_scores(self, text: str) -> dict[str, float]:
        if not self._emoji_chars.isdisjoint(text):
            return super().polarity_scores(text)
        text = text.strip()
        sentitext = SentiText(text)
        sentiments: list[float] = []
        words = sentitext.words_and_emoticons
        for i, item in enumerate(words):
            if item.lower() in BOOSTER_DICT or (
                i < len(words) - 1 and item.lower() == "kind" and words[i + 1].lower() == "of"
            ):
                sentiments.append(0)
                continue
            sentiments = self.sentiment_valence(0, sentitext, item, i, sentiments)
        sentiments = self._but_check(words, sentiments)
        return self.score_valence(sentiments, text)


class Triage:
    """Scores mentions with VADER plus the complaint lexicons of the configured languages.

    `assess` is pure and keeps no state between calls, so one instance serves all threads.
    """

    def __init__(self, lexicons: dict[str, Lexicon], languages: Sequence[str]) -> None:
        if not languages:
            raise ValueError("Triage needs at least one language")
        missing = [lang for lang in languages if lang not in lexicons]
        if missing:
            raise LexiconError(f"no triage lexicon for language(s): {', '.join(missing)}")
        self.languages = tuple(languages)
        self._matchers = {lang: _Matcher(lexicons[lang]) for lang in self.languages}
        self._detector = LanguageDetector(
            self.languages, {lang: lexicons[lang].markers for lang in self.languages}
        )
        self._vader = _Vader()

    @classmethod
    def default(cls, languages: Sequence[str] = ("en",)) -> Triage:
        """Triage with the lexicons shipped in `rules/lexicons/`."""
        return cls(load_lexicons(default_paths(languages)), languages)

    @classmethod
    def from_files(
        cls, paths: Sequence[Path], languages: Sequence[str] = ("en",), *, defaults: bool = True
    ) -> Triage:
        """Triage with user lexicon files layered over the shipped ones.

        With `defaults=True` each file extends the shipped lexicon of its language: its terms
        are added and the settings it gives override. With `defaults=False` only the given files
        count. Raises `LexiconError` naming every bad `file:line`.
        """
        base = default_paths(languages) if defaults else []
        return cls(load_lexicons([*base, *map(Path, paths)]), languages)

    def assess(self, text: str, lang: str | None = None) -> Assessment:
        """Triage one mention; `lang` is the platform's language code if it gives one."""
        tokens = _Matcher.tokens(text)
        language = lang if lang in self._matchers else self._detector.detect(text, tokens)
        matcher = self._matchers[language]
        lexicon = matcher.lexicon
        signals: list[Signal] = []
        total = 0
        vader = lexicon.engine == "vader"
        if vader:
            compound = self._vader.polarity_scores(text)["compound"]
            total = lexicon.sentiment_points(compound)
            if total:
                signals.append(Signal(f"VADER {compound:+.2f}", "sentiment", total))

        seen: set[str] = set()
        categories: set[str] = set()
        pivot = lexicon.contrast_pivot(tokens)
        negators: set[int] = set()  # "sorun yok": the "yok" belongs to "sorun", no term itself
        for first, last, _, terms in matcher.hits(text, tokens):
            if first in negators:
                continue
            for term in terms:
                if term.label in seen:
                    continue
                if not term.points:
                    seen.add(term.label)
                    continue  # a neutral phrase: it only hides the terms inside it
                signal = term.repeat_signal if term.category in categories else term.signal
                negator = (
                    lexicon.negator(tokens, first, last, term) if term.negation != "keep" else None
                )
                if negator is not None:
                    negators.add(negator)
                    if term.negation == "cancel":
                        continue
                    signal = lexicon.flipped(signal)
                signal = lexicon.weighed(signal, tokens, first, last, pivot)
                seen.add(term.label)
                categories.add(term.category)
                signals.append(signal)
                total += signal.points
        for term in matcher.symbols(text):
            if term.label not in seen:
                seen.add(term.label)
                signal = term.repeat_signal if term.category in categories else term.signal
                categories.add(term.category)
                signals.append(signal)
                total += signal.points

        if not vader:
            # The language has no VADER: its sentiment follows the terms found, squashed to
            # -1..1 the way VADER squashes its sum (60 points ~ -0.71).
            compound = round(-total / math.sqrt(total * total + 3600), 4)
        if lexicon.question_points and lexicon.is_question(text, tokens):
            signals.append(lexicon.question_signal)
            total += lexicon.question_points
        if lexicon.base_signal is not None:
            signals.append(lexicon.base_signal)
            total += lexicon.base_signal.points

        score = max(0, min(100, total))
        return Assessment(
            language=language,
            sentiment=compound,
            needs_response=score >= lexicon.threshold,
            score=score,
            signals=tuple(signals),
        )


def default_paths(languages: Sequence[str]) -> list[Path]:
    """The shipped lexicon file of each language, e.g. `rules/lexicons/en.yaml`."""
    return [LEXICON_DIR / f"{lang}.yaml" for lang in languages]


def shipped_languages() -> list[str]:
    """Languages with a lexicon in `rules/lexicons/`, e.g. ["en", "tr"]."""
    return sorted(path.stem for path in LEXICON_DIR.glob("*.yaml"))
