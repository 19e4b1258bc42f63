"""A progress bar for long commands, drawn only on a terminal: nothing when output is piped."""

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TextIO, TypeVar

Item = TypeVar("Item")

WIDTH = 30
REDRAW_EVERY = 0.1  # seconds: often enough to look alive, rarely enough to cost nothing


class Progress:
    def __init__(self, total: int, label: str, stream: TextIO | None = None):
        self.total = max(total, 0)
        self.label = label
        self.stream = stream or sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        self.shown = bool(isatty and isatty())
        self.done = 0
        self._drawn_at = 0.0

    def track(self, items: Iterable[Item]) -> Iterator[Item]:
        """`items`, counting each one as it is taken; the bar is finished at the end."""
        try:
            for item in items:
                yield item
                self.done += 1
                if self.shown and time.monotonic() - self._drawn_at >= REDRAW_EVERY:
                    self._draw()
        finally:
            if self.shown:
                self._draw()
                self.stream.write("\n")
                self.stream.flush()

    def _draw(self) -> None:
        self._drawn_at = time.monotonic()
        share = min(1.0, self.done / self.total) if self.total else 1.0
        filled = round(share * WIDTH)
        bar = "█" * filled + "·" * (WIDTH - filled)
        self.stream.write(f"\r{self.label} {bar} {share:4.0%} {self.done:,}/{self.total:,}")
        self.stream.flush()
