# Turkish letters (ı, İ) are the point of this module, not look-alike typos.
# ruff: noqa: RUF001, RUF002, RUF003
"""Text folding shared by keyword matching and triage.

Brand managers write `iade` or `refund`; customers type `İADE`, `ıade`, `Refund`, `réfund` or
ASCII-only `iade`. Folding both sides to one form makes all of those match without regexes.
"""

import re
import unicodedata

# Turkish has four i's. str.casefold() maps "İ" to "i̇" (i + combining dot) and leaves "ı" alone,
# so "İADE".casefold() never equals "iade". Map all four to plain "i" first.
_TURKISH_I = str.maketrans({"İ": "i", "I": "i", "ı": "i"})
# Letters NFKD does not decompose but customers replace by ASCII when typing fast.
_EXTRA_ASCII = str.maketrans({"ß": "ss", "ø": "o", "ł": "l", "đ": "d", "æ": "ae", "œ": "oe"})
_WORD = re.compile(r"\w+", re.UNICODE)


def fold(text: str) -> str:
    """Lower-case, accent-free form of `text` with the same word boundaries.

    The result never has more words than the input and keeps their order, so a phrase folded
    on its own matches the same phrase folded inside a sentence.
    """
    if text.isascii():
        # Most mentions are plain ASCII; for them the steps below reduce to lower(), and
        # skipping NFKD makes folding several times faster on the triage hot path.
        return text.lower()
    lowered = text.translate(_TURKISH_I).casefold().translate(_EXTRA_ASCII)
    decomposed = unicodedata.normalize("NFKD", lowered)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def words(text: str) -> list[str]:
    """The folded words of `text`, punctuation dropped."""
    return _WORD.findall(fold(text))
