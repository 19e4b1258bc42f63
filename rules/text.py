"""Text folding shared by keyword matching and triage.

Brand managers write `iade` or `refund`; customers type `İADE`, `ıade`, `Refund`, `réfund` or
ASCII-only `iade`. Folding both sides to one form makes all of those match without regexes.
"""

import re
import unicodedata

# Turkish has four i's. str.casefold() maps "İ" to "i̇" (i + combining dot) and leaves "ı" alone,
# so "İADE".casefold() never equals "iade". Map both to plain "i" first ("I" needs no help:
# casefold makes it "i").
_TURKISH_I = (("İ", "i"), ("ı", "i"))
# Letters NFKD does not decompose but customers replace by ASCII when typing fast ("ß" needs no
# entry: casefold makes it "ss").
_EXTRA_ASCII = (("ø", "o"), ("ł", "l"), ("đ", "d"), ("æ", "ae"), ("œ", "oe"))
# The combining marks of Latin scripts (U+0300-U+036F less U+034F, which NFKD never emits and
# `unicodedata.combining` says is not one). A regex strips them in C; per-character Python
# filtering cost ~30 µs per Turkish tweet, more than the rest of triage.
_LATIN_MARKS = re.compile("[\u0300-\u034e\u0350-\u036f]+")
_WORD = re.compile(r"\w+", re.UNICODE)


class _CombiningMarks(dict[int, int | None]):
    """`str.translate` table deleting the other combining marks, filled on first sight."""

    def __missing__(self, code: int) -> int | None:
        value = None if unicodedata.combining(chr(code)) else code
        self[code] = value
        return value


_OTHER_MARKS = _CombiningMarks()


def fold(text: str) -> str:
    """Lower-case, accent-free form of `text` with the same word boundaries.

    The result never has more words than the input and keeps their order, so a phrase folded
    on its own matches the same phrase folded inside a sentence.
    """
    if text.isascii():
        # Most English mentions are plain ASCII; for them every step below is lower().
        return text.lower()
    lowered = _lower(text)
    for letter, ascii_form in _EXTRA_ASCII:
        if letter in lowered:
            lowered = lowered.replace(letter, ascii_form)
    stripped = _LATIN_MARKS.sub("", unicodedata.normalize("NFKD", lowered))
    # Marks of other scripts (Hebrew points, Devanagari signs...) are rare: only then pay for
    # the per-character table.
    return stripped if stripped.isascii() else stripped.translate(_OTHER_MARKS)


def _lower(text: str) -> str:
    """Case-folded `text` with the Turkish i's made plain "i" (see `_TURKISH_I`)."""
    # str.replace scans in C; str.translate with a table costs ~6 µs per tweet.
    for letter, ascii_form in _TURKISH_I:
        if letter in text:
            text = text.replace(letter, ascii_form)
    return text.casefold()


def words(text: str) -> list[str]:
    """The folded words of `text`, punctuation dropped."""
    return _WORD.findall(fold(text))


class _UnmarkedLetters(dict[int, int | str | None]):
    """`str.translate` table folding every letter but `letters`, filled on first sight."""

    def __init__(self, letters: frozenset[str]) -> None:
        super().__init__()
        self.letters = letters

    def __missing__(self, code: int) -> int | str | None:
        char = chr(code)
        if char in self.letters or char.isascii():
            value: int | str | None = code
        else:
            folded = fold(char)  # "â" -> "a", "ı" -> "i", a stray combining mark -> ""
            # A letter that folds into two ("ß" -> "ss") is kept: one letter, one position.
            value = (folded or None) if len(folded) <= 1 else code
        self[code] = value
        return value


class Speller:
    """The words of a text as spelled, to tell apart words that fold alike.

    Folding makes "döndü" (turned) and "dondu" (froze) one word, which lets ASCII-typed Turkish
    match; but a letter typed with its mark is meant. `letters` are the alphabet's own letters
    that writers mark on purpose (Turkish: ç ğ ö ş ü); everything else is folded as usual.
    """

    def __init__(self, letters: str) -> None:
        self.letters = frozenset(letters.lower())
        self._table = _UnmarkedLetters(self.letters)
        # Any of these in a text may spell one of `letters`: the letter in either case, or the
        # combining mark of its decomposed form.
        self._signs = frozenset(
            sign
            for letter in self.letters
            for sign in (letter, letter.upper(), *unicodedata.normalize("NFD", letter)[1:])
        )

    def marks_any(self, text: str) -> bool:
        """Whether `text` may have one of `letters` in it (else it tells none apart)."""
        return not self._signs.isdisjoint(text)

    def words(self, text: str) -> list[str]:
        """Lower-cased words, `letters` kept, every other mark folded away."""
        return [self.spell(word) for word in self.raw_words(text)]

    def raw_words(self, text: str) -> list[str]:
        """Lower-cased words, not yet spelled: `spell` each one that is needed."""
        text = _lower(text)
        if not unicodedata.is_normalized("NFC", text):
            text = unicodedata.normalize("NFC", text)
        return _WORD.findall(text)

    def spell(self, word: str) -> str:
        """One lower-cased word with `letters` kept and every other mark folded away."""
        return word if word.isascii() else word.translate(self._table)
