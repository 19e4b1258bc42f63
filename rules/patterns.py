"""Rule regexes (`when.regex`), matched by RE2 in time linear in the mention's length.

Python's `re` backtracks: a brand manager's `(a+)+$` against a long mention runs for ages and
blocks the node's event loop. RE2 (google-re2) never backtracks, so it refuses the constructs
that need it (backreferences, lookaround, possessive quantifiers); `rules check` says which
and why. Matching ignores case, as it did with `re.IGNORECASE`.

`\\w` and `\\d` keep the Unicode meaning they have in Python (RE2's own are ASCII-only, which
would make `\\w+` stop at the "ş" of "şikayet"); `\\b` and `\\s` are RE2's ASCII ones.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import re2

# Python's Unicode classes spelled in RE2, outside a [class] and inside one.
_OUTSIDE = {"w": r"[\p{L}\p{N}_]", "W": r"[^\p{L}\p{N}_]", "d": r"\p{Nd}"}
_INSIDE = {"w": r"\p{L}\p{N}_", "d": r"\p{Nd}"}

_REFUSED = [
    ("invalid escape sequence: \\1", "backreferences such as \\1"),
    ("invalid escape sequence: \\2", "backreferences such as \\2"),
    ("invalid named capture group", "this named group"),
    ("invalid perl operator: (?=", "lookahead (?=…)"),
    ("invalid perl operator: (?!", "negative lookahead (?!…)"),
    ("invalid perl operator: (?<=", "lookbehind (?<=…)"),
    ("invalid perl operator: (?<!", "negative lookbehind (?<!…)"),
    ("invalid perl operator: (?>", "atomic groups (?>…)"),
    ("bad repetition operator: ++", "possessive quantifiers such as ++"),
    ("bad repetition operator: *+", "possessive quantifiers such as *+"),
    ("bad repetition operator: ?+", "possessive quantifiers such as ?+"),
]


def _options() -> "re2.Options":
    import re2

    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False  # the error is raised and explained; no stray stderr lines
    return options


def _unicode_classes(pattern: str) -> str:
    """`\\w`/`\\W`/`\\d` rewritten to RE2's Unicode properties; everything else as written."""
    out, in_class, index = [], False, 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            letter = pattern[index + 1]
            table = _INSIDE if in_class else _OUTSIDE
            out.append(table.get(letter, char + letter))
            index += 2
            continue
        if char == "[" and not in_class:
            in_class = True
            out.append(char)
            # A `]` (or `^]`) right after the opening bracket is a literal, not the end.
            for literal in ("^]", "]", "^"):
                if pattern.startswith(literal, index + 1):
                    out.append(literal)
                    index += len(literal)
                    break
        elif char == "]" and in_class:
            in_class = False
            out.append(char)
        else:
            out.append(char)
        index += 1
    return "".join(out)


def compile_pattern(pattern: str) -> Callable[[str], bool]:
    """A case-insensitive linear-time search for `pattern`; ValueError saying what RE2 refuses.

    RE2 is imported here, by the first rule with a regex: a config without one never loads it
    (2.3 MB; issue 19).
    """
    import re2

    try:
        compiled = re2.compile(_unicode_classes(pattern), _options())
    except re2.error as exc:
        raise ValueError(_refusal(pattern, exc)) from None
    return lambda text: compiled.search(text) is not None


def _refusal(pattern: str, exc: Exception) -> str:
    reason = exc.args[0] if exc.args else str(exc)
    reason = reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)
    for marker, construct in _REFUSED:
        if marker in reason:
            return (
                f"regex {pattern!r} uses {construct}, which rules do not support: patterns are "
                "matched in linear time (RE2) so that no mention can stall the node; rewrite "
                "it without them, or use keywords:/exclude:"
            )
    return f"regex {pattern!r} is not valid: {reason}"
