"""Triage for a process that may score nothing: lexicons checked at start, compiled at first use.

A node's start still reads and checks every lexicon file, so a bad one fails the start naming
its `file:line`; compiling their terms into matchers (~40 ms for en + tr) waits for the first
text scored, which `run --once` with nothing to poll never has.
"""

import threading
from collections.abc import Sequence
from pathlib import Path

from rules.lexicon import compile_lexicons, read_lexicon_files, require_languages
from rules.triage import Triage, lexicon_paths


class DeferredTriage:
    """What `Triage.from_files(paths, languages, brand=brand)` builds, built by the first
    `get()`."""

    def __init__(
        self, paths: Sequence[Path], languages: Sequence[str], brand: Sequence[str] = ()
    ) -> None:
        """Raises `LexiconError` naming every bad `file:line`, as `Triage.from_files` does."""
        self._settings = read_lexicon_files(lexicon_paths(paths, languages))
        require_languages(self._settings, languages)
        self._languages = tuple(languages)
        self._brand = tuple(brand)
        self._triage: Triage | None = None
        self._lock = threading.Lock()  # pipeline threads may score their first texts at once

    def get(self) -> Triage:
        with self._lock:
            if self._triage is None:
                self._triage = Triage(
                    compile_lexicons(self._settings), self._languages, brand=self._brand
                )
            return self._triage
