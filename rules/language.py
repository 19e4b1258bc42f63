"""Which configured language a mention is in, when the platform does not say.

X gives every tweet a `lang`; Reddit and Telegram give none. Triage only needs to choose among
the languages it has lexicons for, so detection is a vote, cheapest evidence first:

1. letters only one configured language uses (ğ, ş, ı, İ for Turkish);
2. common function words of each language (`markers:` in its lexicon file), counted on the
   folded words triage computes anyway;
3. only when those tie, `lingua-language-detector` (models ship inside the wheel, no download),
   restricted to the configured languages, if it is installed.

Steps 1-2 settle ~97% of tweets in a few microseconds; lingua costs ~40-140 µs a text. So lingua
(its native library and its models, ~2.5 MB of a node's memory) is loaded at the first tie, not
at start-up: a node whose mentions all carry a language or settle on steps 1-2 never loads it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Collection, Mapping, Sequence
from typing import Any

# Letters that, among the languages we ship lexicons for, only Turkish uses. (Ç, Ö, Ü also
# occur in German or French, so they are not evidence on their own.)
_OWN_LETTERS: dict[str, frozenset[str]] = {"tr": frozenset("ğĞşŞıİ")}
_NOT_LANGUAGE = re.compile(r"https?://\S+|www\.\S+|[@#]\w+|\d+")
MIN_CONFIDENCE = 0.8
# One word may be a name ("Acme": Turkish at 0.96); a real one-word text is rarely in doubt.
MIN_CONFIDENCE_ONE_WORD = 0.98


class LanguageDetector:
    """Chooses one of `languages` (ISO 639-1) for a text; the first one is the fallback."""

    def __init__(
        self,
        languages: Sequence[str],
        markers: Mapping[str, Collection[str]],
        *,
        use_lingua: bool = True,
    ) -> None:
        if not languages:
            raise ValueError("LanguageDetector needs at least one language")
        self.languages = tuple(languages)
        self._markers = {lang: frozenset(markers.get(lang, ())) for lang in self.languages}
        self._letters = [
            (lang, _OWN_LETTERS[lang]) for lang in self.languages if lang in _OWN_LETTERS
        ]
        self._use_lingua = use_lingua and len(self.languages) > 1
        self._lingua: Any | None = None  # built by `_lingua_detector` at the first tie
        self._lingua_lock = threading.Lock()  # triage runs in worker threads too

    def detect(self, text: str, words: Sequence[str]) -> str:
        """The language of `text`; `words` are its folded words (`rules.text.words`)."""
        if len(self.languages) == 1:
            return self.languages[0]
        for lang, letters in self._letters:
            if not letters.isdisjoint(text):
                return lang
        # Distinct marker words per language; set intersection runs in C.
        counts = sorted(
            ((len(marks.intersection(words)), lang) for lang, marks in self._markers.items()),
            reverse=True,
        )
        if counts[0][0] > counts[1][0]:
            return counts[0][1]
        lingua = self._lingua_detector()
        if lingua is not None:
            # Handles, links, tags and numbers are no language ("@united thnx", "Acme reddit
            # 429"), and on one or two words left lingua's guess is close to a coin toss: below
            # MIN_CONFIDENCE the brand's first language is the better bet.
            left = _NOT_LANGUAGE.sub(" ", text)
            if not left.isascii():
                # lingua (Rust) cannot take what UTF-8 cannot encode: a lone surrogate from a
                # broken emoji escape in a JSON payload becomes U+FFFD, as in the store.
                left = left.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
            words = sum(any(c.isalpha() for c in word) for word in left.split())
            if words:
                best = lingua.compute_language_confidence_values(left)[0]
                if best.value >= (MIN_CONFIDENCE if words > 1 else MIN_CONFIDENCE_ONE_WORD):
                    return best.language.iso_code_639_1.name.lower()
        return self.languages[0]

    def _lingua_detector(self) -> Any | None:
        """lingua for these languages, built once on first use; None when it cannot help."""
        if self._use_lingua and self._lingua is None:
            with self._lingua_lock:
                if self._use_lingua and self._lingua is None:
                    self._lingua = _build_lingua(self.languages)
                    # Not installed, or fewer than two languages it knows: never ask again.
                    self._use_lingua = self._lingua is not None
        return self._lingua


def _build_lingua(languages: Sequence[str]) -> Any | None:
    """A lingua detector for these languages, or None if lingua is not installed."""
    try:
        from lingua import IsoCode639_1, LanguageDetectorBuilder
    except ImportError:
        return None
    codes = [getattr(IsoCode639_1, lang.upper(), None) for lang in languages]
    known = [code for code in codes if code is not None]
    if len(known) < 2:
        return None
    # Low-accuracy mode (trigrams only) keeps ~95 MB of n-gram models out of memory; lingua is
    # asked only when letters and marker words tie, so its accuracy on those few texts decides
    # little (measured: the same F1 on every labeled file).
    return LanguageDetectorBuilder.from_iso_codes_639_1(*known).with_low_accuracy_mode().build()
