"""Default triage: does a mention need a response, how urgently, and why.

Sentiment alone is not "needs a response": "flight cancelled, 3 hours on hold" has no sentiment
words, so VADER scores it near 0 while the customer is furious. On top of the sentiment score this
layer adds a complaint and intent lexicon (delays, refunds, billing, no answer, legal or churn
threats...) kept in plain YAML files (`rules/lexicons/<lang>.yaml`) that brand managers can read
and extend, and a small learned model (`rules/triage_model.py`) reads what no term names ("it's
poop and barely works"). Every term that fires, and the model's strongest phrases, become
`Signal`s, so staff always see why a mention scored. The lexicon files are read in
`rules/lexicon_file.py` and compiled in `rules/lexicon.py`.

Matching is one Aho-Corasick pass over the folded text, so a thousand terms cost what ten do.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path

import ahocorasick

from rules.language import LanguageDetector
from rules.lexicon import Lexicon, Signal, Term, load_lexicons, require_languages, shared_signal
from rules.lexicon_file import words_of
from rules.text import Speller, fold
from rules.triage_model import TriageModel, has_letter, model_at, shipped_model
from rules.triage_model import tokens as model_tokens
from rules.triage_points import calibrated, model_signals, points_of
from rules.triage_vader import Vader

LEXICON_DIR = Path(__file__).with_name("lexicons")
# A text that opens with a handle is written to that account, which on a platform's mentions
# is the brand: "@acme is the app down?" asks the brand even without "you" or "my".
_ADDRESSED = re.compile(r"\s*@\w")


@dataclass(frozen=True, slots=True)
class Assessment:
    language: str  # ISO 639-1, e.g. "en", "tr"
    sentiment: float  # VADER compound (or the language's equivalent), -1..1
    needs_response: bool
    score: int  # 0..100, the triage part of urgency (sum of the calibrated signals, clamped)
    signals: tuple[Signal, ...]


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
        # A text with none of the symbols' first characters has none of them: most texts, and
        # one C-level set test instead of walking the automaton.
        self._symbol_starts = frozenset(symbol[0] for symbol in by_symbol)

    @staticmethod
    def tokens(text: str) -> list[str]:
        return words_of(fold(text))

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
        if self._symbol_starts.isdisjoint(text):
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


class Triage:
    """Scores mentions with VADER plus the complaint lexicons of the configured languages.

    `assess` is pure and keeps no state between calls, so one instance serves all threads.
    """

    def __init__(
        self,
        lexicons: dict[str, Lexicon],
        languages: Sequence[str],
        models: dict[str, TriageModel | None] | None = None,
        brand: Sequence[str] = (),
    ) -> None:
        """`brand`: the brand's own names and handles, which the learned model reads as if they
        were not there (see `_brand_words`).

        `models` replaces the shipped learned models (`rules/models/`) per language; a
        language given None scores with its lexicon only."""
        if not languages:
            raise ValueError("Triage needs at least one language")
        require_languages(lexicons, languages)
        self.languages = tuple(languages)
        self._matchers = {lang: _Matcher(lexicons[lang]) for lang in self.languages}
        self._detector = LanguageDetector(
            self.languages, {lang: lexicons[lang].markers for lang in self.languages}
        )
        self._models = models
        self._models_read: dict[str, TriageModel | None] = {}
        # A model the brand trained on its own mentions (`model:` in its lexicon) learnt its
        # name from them, where it is in every text alike: only a shipped model is corrected.
        self._neutral = {
            lang: _brand_words(brand, lexicons[lang].unshown)
            if lexicons[lang].model_file is None
            else frozenset()
            for lang in self.languages
        }

    @functools.cached_property
    def _vader(self) -> Vader:
        """VADER's lexicon (~3 MB, ~8 ms to read), read for the first text a VADER language
        scores: a node that scores none (a pass with nothing to poll) never reads it."""
        return Vader()

    def _model(self, lexicon: Lexicon, language: str) -> TriageModel | None:
        """The language's model, looked up for its first text and then kept."""
        if language not in self._models_read:
            self._models_read[language] = self._find_model(lexicon, language)
        return self._models_read[language]

    def _find_model(self, lexicon: Lexicon, language: str) -> TriageModel | None:
        if not lexicon.model_points:
            return None
        if self._models is not None:
            return self._models.get(language)
        if lexicon.model_file is not None:
            return model_at(lexicon.model_file)
        return shipped_model(language)  # read on first use, then shared

    def language(self, text: str, lang: str | None = None) -> str:
        """The configured language `assess` scores `text` in (`lang`: the platform's)."""
        if lang in self._matchers:
            return lang
        return self._detector.detect(text, _Matcher.tokens(text))

    @classmethod
    def default(
        cls,
        languages: Sequence[str] = ("en",),
        models: dict[str, TriageModel | None] | None = None,
        brand: Sequence[str] = (),
    ) -> Triage:
        """Triage with the lexicons shipped in `rules/lexicons/` (`models`, `brand`: __init__)."""
        return cls(load_lexicons(default_paths(languages)), languages, models, brand)

    @classmethod
    def from_files(
        cls,
        paths: Sequence[Path],
        languages: Sequence[str] = ("en",),
        *,
        defaults: bool = True,
        brand: Sequence[str] = (),
    ) -> Triage:
        """Triage with user lexicon files layered over the shipped ones.

        With `defaults=True` each file extends the shipped lexicon of its language: its terms
        are added and the settings it gives override. With `defaults=False` only the given files
        count. Raises `LexiconError` naming every bad `file:line`.
        """
        lexicons = load_lexicons(lexicon_paths(paths, languages, defaults=defaults))
        return cls(lexicons, languages, brand=brand)

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
            compound = self._vader.compound(text)
            total = lexicon.sentiment_points(compound)
            if total:
                signals.append(_sentiment_signal(compound, total))

        seen: set[str] = set()
        categories: set[str] = set()
        found: list[tuple[Signal, Term, int]] = []  # and the index of its first word
        covered: set[str] = set()  # words of the complaint terms found, as the text has them
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
                found.append((signal, term, first))
                if signal.points > 0:
                    covered.update(tokens[first : last + 1])
        for term in matcher.symbols(text):
            if term.label not in seen:
                seen.add(term.label)
                signal = term.repeat_signal if term.category in categories else term.signal
                categories.add(term.category)
                found.append((signal, term, -1))  # a symbol: no place, never a conclusion
        # Mixed signals: praise beside a complaint is sarcasm ("Oh great… nothing works") or
        # politeness around it; either way the complaint stands, so the praise lowers nothing,
        # neither here nor in the model.
        # Praise after the last "but" is the writer's conclusion ("late, but the product is
        # great") and stays, as the contrast rule weighs it.
        praise: set[str] = set()
        if found and any(signal.points > 0 for signal, _, _ in found):
            praise = {
                w
                for signal, term, at in found
                if signal.points < 0 and not 0 <= pivot < at
                for w in term.words
            }
            found = [f for f in found if f[0].points >= 0 or 0 <= pivot < f[2]]
        for signal, _, _ in found:
            signals.append(signal)
            total += signal.points

        if not vader:
            # The language has no VADER: its sentiment follows the terms found, squashed to
            # -1..1 the way VADER squashes its sum (60 points ~ -0.71).
            compound = round(-total / math.sqrt(total * total + 3600), 4)
        asked = False  # a question to the brand: it needs an answer however polite
        if lexicon.is_question(text, tokens):
            if lexicon.question_points:
                signals.append(lexicon.question_signal)
            if lexicon.intent_signal is not None and (
                _ADDRESSED.match(text) or not lexicon.intent_words.isdisjoint(tokens)
            ):
                signals.append(lexicon.intent_signal)
                asked = True
        if lexicon.base_signal is not None:
            signals.append(lexicon.base_signal)
        model = self._model(lexicon, language) if tokens else None
        if model is not None:
            verdict = model.score(
                text,
                lexicon.model_reasons,
                ignore=praise | self._neutral[language],
                complaints=covered,
                unshown=lexicon.unshown,
            )
            others = sum(map(points_of, signals))
            signals.extend(model_signals(verdict, lexicon, 0 if asked else None, others))
            if compound == 0:
                # VADER (or the lexicon) knew no word of it: the model's view is the sentiment.
                compound = round(1 - 2 * verdict.probability, 4)

        signals = calibrated(signals, lexicon.calibration_knee)
        score = max(0, min(100, sum(map(points_of, signals))))
        return Assessment(
            language=language,
            sentiment=compound,
            needs_response=score >= lexicon.threshold,
            score=score,
            signals=tuple(signals),
        )


def _brand_words(names: Sequence[str], common: AbstractSet[str]) -> frozenset[str]:
    """The words of the brand's names and handles that the model must not weigh.

    The brand's own name is in nearly every one of its mentions, so it tells them apart no more
    than a space does; but the model learnt a weight for it from other texts (as a logit,
    "microsoft" −2.2, "amazon" −1.8, Turkish "turkcell" +1.6, "hepsiburada" +1.7), which would
    tilt every mention of that brand alike. Common words of the language (its markers, "you",
    "our") are left to count.
    """
    words = (w for name in names for w in model_tokens(name) if len(w) > 1 and has_letter(w))
    return frozenset(words) - common


@functools.lru_cache(maxsize=4096)
def _sentiment_signal(compound: float, points: int) -> Signal:
    """The VADER reason: most mentions share a compound, so its label is formatted once."""
    return shared_signal(f"VADER {compound:+.2f}", "sentiment", points)


def lexicon_paths(
    paths: Sequence[Path], languages: Sequence[str], *, defaults: bool = True
) -> list[Path]:
    """The lexicon files to read in order: the shipped ones of `languages` (with `defaults`),
    then the user's `paths`, each extending the one before of its language."""
    return [*(default_paths(languages) if defaults else []), *map(Path, paths)]


def default_paths(languages: Sequence[str]) -> list[Path]:
    """The shipped lexicon file of each language, e.g. `rules/lexicons/en.yaml`."""
    return [LEXICON_DIR / f"{lang}.yaml" for lang in languages]


def shipped_languages() -> list[str]:
    """Languages with a lexicon in `rules/lexicons/`, e.g. ["en", "tr"]."""
    return sorted(path.stem for path in LEXICON_DIR.glob("*.yaml"))
