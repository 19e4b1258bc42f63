"""A language's compiled triage lexicon: its terms, each with the reason it gives staff."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rules.lexicon_file import SUFFIX_SLOT, FileReader, LexiconError, Settings, term_words
from rules.text import Speller, fold


@dataclass(frozen=True, slots=True)
class Signal:
    """One reason shown to staff."""

    label: str  # human text, e.g. "refund", "VADER -0.71", "question", "iade"
    category: str  # lexicon category, e.g. "refund", "sentiment", "question", "churn"
    points: int  # contribution to urgency on a 0-100 scale (may be negative)


# Building a frozen dataclass costs ~1 µs (its __init__ sets each field via object.__setattr__),
# a tenth of what scoring a word costs; the reasons of mentions repeat ("VADER -0.71", a term's
# points scaled by `calibrated`, "model 91%"), so triage's hot path takes equal ones from here.
# A Signal is immutable: sharing one is safe. `typed`: points 1 and True stay apart.
shared_signal = lru_cache(maxsize=4096, typed=True)(Signal)


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


def _spelled(speller: Speller, term: str, words: tuple[str, ...]) -> tuple[str, ...] | None:
    """The stem of a term as written, whose letters a carefully typed text must spell alike.

    Endings and suffix groups are left out: "*mıyor" and "çalış{neg}" stand for every vowel
    of the harmony ("gelmiyor", "görmüyor"). None when there is no stem to check or it does not
    line up with the folded words.
    """
    if term.startswith("*"):
        return None
    slot = SUFFIX_SLOT.search(term)
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
    match = SUFFIX_SLOT.search(text)
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
    intent_signal: Signal | None  # a question with one of `intent_words`: asked of the brand
    intent_words: frozenset[str]
    model_points: int  # the learned model adds this at probability 1, takes it at 0
    model_reasons: int  # how many of its phrases are shown
    model_file: Path | None  # the brand's own weights (`model.file`), else the shipped ones
    calibration_knee: int  # totals above it are compressed towards 100 instead of clamped
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
    unshown: frozenset[str]  # words the model's reasons never name alone: markers, addressees
    speller: Speller | None  # the alphabet's own letters (`letters:`), if it has any
    terms: tuple[Term, ...]  # matched on words
    symbols: tuple[tuple[str, Term], ...]  # matched anywhere in the raw text

    @classmethod
    def compile(cls, s: Settings) -> Lexicon:
        terms: list[Term] = []
        symbols: list[tuple[str, Term]] = []
        speller = Speller(s.letters) if s.letters else None
        for name, category in s.categories.items():
            for text, own in category.terms.items():
                points = own if own is not None else (category.points or 0)
                label, patterns = (text, [text]) if category.raw else _expand(text, s.suffixes)
                for pattern in patterns:
                    words = term_words(pattern)
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
            question_starters=frozenset(w for t in s.question_starters for w in term_words(t)),
            question_particles=frozenset(w for t in s.question_particles for w in term_words(t)),
            intent_signal=(
                Signal(s.intent_label, "intent", s.intent_points) if s.intent_points else None
            ),
            intent_words=frozenset(w for t in s.intent_words for w in term_words(t)),
            model_points=s.model_points,
            model_reasons=s.model_reasons,
            model_file=s.model_file,
            calibration_knee=s.calibration_knee,
            negation_window=s.negation_window,
            negation_after=s.negation_position == "after",
            negation_label=s.negation_label,
            negators=frozenset(w for t in s.negators for w in term_words(t)),
            negating_suffixes=tuple(
                {fold(form): None for g in s.negating_suffixes for form in s.suffixes[g]}
            ),
            intensifiers={" ".join(term_words(t)): t for t in s.intensifiers},
            intensifier_factor=s.intensifier_factor,
            contrast_words=frozenset(w for t in s.contrast_words for w in term_words(t)),
            contrast_factor=s.contrast_factor,
            markers=frozenset(w for t in s.markers for w in term_words(t)),
            unshown=frozenset(w for t in (*s.markers, *s.intent_words) for w in term_words(t)),
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


def read_lexicon_files(paths: Sequence[Path]) -> dict[str, Settings]:
    """Read and check lexicon files in order (later ones extend earlier ones of the same
    language). Raises `LexiconError` naming every bad `file:line`."""
    errors: list[str] = []
    settings: dict[str, Settings] = {}
    for path in paths:
        FileReader(Path(path), errors).read(settings)
    if errors:
        raise LexiconError("invalid triage lexicon:\n" + "\n".join(errors))
    return settings


def compile_lexicons(settings: Mapping[str, Settings]) -> dict[str, Lexicon]:
    """Each language's read lexicon files compiled into its terms."""
    return {lang: Lexicon.compile(given) for lang, given in settings.items()}


def load_lexicons(paths: Sequence[Path]) -> dict[str, Lexicon]:
    """Read lexicon files in order and compile each language's terms."""
    return compile_lexicons(read_lexicon_files(paths))


def require_languages(available: Collection[str], languages: Sequence[str]) -> None:
    """Raises `LexiconError` naming each configured language no lexicon file gives."""
    missing = [lang for lang in languages if lang not in available]
    if missing:
        raise LexiconError(f"no triage lexicon for language(s): {', '.join(missing)}")
