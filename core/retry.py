"""Waiting before trying again: one backoff formula and one reading of "retry after"."""

import random
from datetime import timedelta


def backoff(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s … capped at 10 minutes, with jitter so retries do not arrive in step."""
    base = min(600.0, 5.0 * 2 ** max(0, attempts - 1))
    return timedelta(seconds=base * random.uniform(0.8, 1.2))


def retry_after_seconds(value: float | timedelta) -> float:
    """Telegram's `retry_after` in seconds (python-telegram-bot moves from int to timedelta)."""
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
