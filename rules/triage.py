"""Default triage: does a mention need a response, how urgently, and why.

Sentiment alone is not "needs a response": "flight cancelled, 3 hours on hold" has no sentiment
words, so VADER scores it near 0 while the customer is furious. On top of the sentiment score this
layer adds a complaint and intent lexicon (delays, refunds, billing, no answer, legal or churn
threats...) kept in plain YAML files (`rules/lexicons/<lang>.yaml`) that brand managers can read
and extend. Every term that fires becomes a `Signal`, so staff always see why a mention scored.

Matching is one Aho-Corasick pass over the folded text, so a thousand terms cost what ten do.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ahocorasick
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from vaderSentiment.vaderSentiment import BOOSTER_DICT, SentimentIntensityAnalyzer, SentiText

from rules.text import fold

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
    category: str
    points: int
    negatable: bool  # a negator just before it cancels it ("not delayed")
    # The reasons it gives, built once: as the first term of its category, and as a later one.
    signal: Signal
    repeat_signal: Signal


@dataclass(slots=True)
class _Category:
    points: int | None = None
    negation: str = "keep"
    terms: dict[str, int | None] = field(default_factory=dict)  # term -> own points or None


@dataclass(slots=True)
class _Settings:
    """One language's lexicon as read from one or more files, later files overriding."""

    threshold: int = 50
    negative_points: int = 60
    positive_points: int = 40
    neutral_band: float = 0.05
    question_points: int = 0
    question_label: str = "question"
    question_starters: list[str] = field(default_factory=list)
    negation_window: int = 3
    negators: list[str] = field(default_factory=list)
    repeat_factor: float = 0.5
    categories: dict[str, _Category] = field(default_factory=dict)


_NEGATION_MODES = ("keep", "cancel")


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
            "sentiment",
            "question",
            "negation",
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
        self.sentiment(doc.get("sentiment"), settings)
        self.question(doc.get("question"), settings)
        self.negation(doc.get("negation"), settings)
        categories = doc.get("categories")
        if categories is None:
            return
        if not isinstance(categories, dict):
            self.error(doc, "categories", "categories: must map a category name to its settings")
            return
        for name, body in categories.items():
            self.category(categories, str(name), body, settings)

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
            elif key not in ("negative_points", "positive_points", "neutral_band"):
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
            elif key not in ("points", "label", "starters"):
                self.error(node, key, f"question.{key}: unknown setting")

    def negation(self, node: Any, settings: _Settings) -> None:
        if node is None:
            return
        for key in node:
            if key == "window" and (v := self.number(node, key, int, 1, 10)) is not None:
                settings.negation_window = v
            elif key == "words" and (v := self.words(node, key)) is not None:
                settings.negators = v
            elif key not in ("window", "words"):
                self.error(node, key, f"negation.{key}: unknown setting")

    def category(self, parent: Any, name: str, body: Any, settings: _Settings) -> None:
        if not isinstance(body, dict):
            self.error(parent, name, f"categories.{name}: must have points: and terms:")
            return
        category = settings.categories.setdefault(name, _Category())
        for key in body:
            if key not in ("points", "negation", "terms"):
                self.error(body, key, f"categories.{name}.{key}: unknown setting")
        if "points" in body:
            category.points = self.number(body, "points", int, -100, 100)
        elif category.points is None:
            self.error(parent, name, f"categories.{name}: points: is required for a new category")
        if "negation" in body:
            if body["negation"] in _NEGATION_MODES:
                category.negation = body["negation"]
            else:
                self.error(body, "negation", f"categories.{name}.negation: must be keep or cancel")
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
            if not isinstance(item, str) or not _term_words(item):
                self.error(
                    terms,
                    index,
                    f"categories.{name}.terms: {item!r} is not a word or "
                    "phrase (write a stem as refund*)",
                )
                continue
            category.terms[str(item)] = own


def _term_words(term: str) -> tuple[str, ...]:
    return tuple(_TOKEN.findall(_CONTRACTION.sub(" not", fold(term.rstrip("*")))))


@dataclass(frozen=True, slots=True)
class Lexicon:
    """One language's compiled lexicon."""

    threshold: int
    negative_points: int
    positive_points: int
    neutral_band: float
    question_points: int
    question_label: str
    question_signal: Signal
    question_starters: frozenset[str]
    negation_window: int
    negators: frozenset[str]
    repeat_factor: float
    terms: tuple[Term, ...]

    @classmethod
    def compile(cls, s: _Settings) -> Lexicon:
        terms = []
        for name, category in s.categories.items():
            for text, own in category.terms.items():
                label = text.rstrip("*").strip()
                points = own if own is not None else (category.points or 0)
                terms.append(
                    Term(
                        label=label,
                        words=_term_words(text),
                        prefix=text.endswith("*"),
                        category=name,
                        points=points,
                        negatable=category.negation == "cancel",
                        signal=Signal(label, name, points),
                        # A second "late" in a category adds less than a new kind of problem.
                        repeat_signal=Signal(label, name, round(points * s.repeat_factor)),
                    )
                )
        return cls(
            threshold=s.threshold,
            negative_points=s.negative_points,
            positive_points=s.positive_points,
            neutral_band=s.neutral_band,
            question_points=s.question_points,
            question_label=s.question_label,
            question_signal=Signal(s.question_label, "question", s.question_points),
            question_starters=frozenset(w for t in s.question_starters for w in _term_words(t)),
            negation_window=s.negation_window,
            negators=frozenset(w for t in s.negators for w in _term_words(t)),
            repeat_factor=s.repeat_factor,
            terms=tuple(terms),
        )

    def sentiment_points(self, compound: float) -> int:
        if compound <= -self.neutral_band:
            return round(-compound * self.negative_points)
        if compound >= self.neutral_band:
            return -round(compound * self.positive_points)
        return 0

    def negated(self, tokens: list[str], start: int) -> bool:
        window = tokens[max(0, start - self.negation_window) : start]
        return any(token in self.negators for token in window)

    def is_question(self, text: str, tokens: list[str]) -> bool:
        return "?" in text or (bool(tokens) and tokens[0] in self.question_starters)


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


# A match: first and last token index (inclusive) and the terms sharing that pattern.
_Hit = tuple[int, int, tuple[Term, ...]]


class _Matcher:
    """One language's lexicon as an automaton over " word word " strings."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        self._automaton = ahocorasick.Automaton()
        patterns: dict[str, list[Term]] = {}
        for term in lexicon.terms:
            # Words are joined by single spaces in the haystack, so a leading space anchors the
            # term at a word start and a trailing space (absent for stems) at a word end.
            key = " " + " ".join(term.words) + ("" if term.prefix else " ")
            patterns.setdefault(key, []).append(term)
        for key, terms in patterns.items():
            self._automaton.add_word(key, (len(key), len(terms[0].words), tuple(terms)))
        self._empty = not patterns
        if not self._empty:
            self._automaton.make_automaton()

    @staticmethod
    def tokens(text: str) -> list[str]:
        folded = fold(text)
        if "'" in folded or "’" in folded:
            folded = _CONTRACTION.sub(" not", folded)
        return _TOKEN.findall(folded)

    def hits(self, tokens: list[str]) -> list[_Hit]:
        """Matches in text order; a match inside a longer one is dropped."""
        if self._empty or not tokens:
            return []
        haystack = " " + " ".join(tokens) + " "
        found: list[_Hit] = []
        for end_index, (length, n_words, terms) in self._automaton.iter(haystack):
            # The pattern's leading space is the n-th space of the haystack for token n - 1;
            # str.count runs in C, cheaper than keeping a table of token offsets.
            first = haystack.count(" ", 0, end_index - length + 2) - 1
            found.append((first, first + n_words - 1, terms))
        return _drop_contained(found) if len(found) > 1 else found


def _drop_contained(hits: list[_Hit]) -> list[_Hit]:
    """Keep the longest reading: "no problem" (praise) hides the "problem" inside it.

    Returns the hits in text order. Sorted by start, longest first, a hit lies inside a longer
    one exactly when an earlier hit with another span reaches at least as far.
    """
    hits.sort(key=_start_then_longest)
    kept: list[_Hit] = []
    reach = -1  # furthest last token of the hits before the current span
    span_first, span_last = -1, -1
    for hit in hits:
        if hit[0] != span_first or hit[1] != span_last:
            reach = max(reach, span_last)
            span_first, span_last = hit[0], hit[1]
        if hit[1] > reach:
            kept.append(hit)
    return kept


def _start_then_longest(hit: _Hit) -> tuple[int, int]:
    return hit[0], -hit[1]


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
        language = lang if lang in self._matchers else self.languages[0]
        matcher = self._matchers[language]
        lexicon = matcher.lexicon
        compound = self._vader.polarity_scores(text)["compound"]
        signals: list[Signal] = []
        total = lexicon.sentiment_points(compound)
        if total:
            signals.append(Signal(f"VADER {compound:+.2f}", "sentiment", total))

        tokens = matcher.tokens(text)
        seen: set[str] = set()
        categories: set[str] = set()
        for first, _, terms in matcher.hits(tokens):
            for term in terms:
                if term.label in seen or (term.negatable and lexicon.negated(tokens, first)):
                    continue
                seen.add(term.label)
                if term.category in categories:
                    signal = term.repeat_signal
                else:
                    categories.add(term.category)
                    signal = term.signal
                signals.append(signal)
                total += signal.points

        if lexicon.question_points and lexicon.is_question(text, tokens):
            signals.append(lexicon.question_signal)
            total += lexicon.question_points

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
