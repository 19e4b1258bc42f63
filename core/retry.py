"""Waiting before trying again: one backoff formula and one reading of "retry after"."""

import random
from datetime import timedelta

MAX_BACKOFF_SECONDS = 600.0


def backoff(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s … with jitter so retries do not arrive in step, never over 10 minutes
    (the cap holds after the jitter: an outage's end is noticed within ten minutes)."""
    jittered = 5.0 * 2 ** min(max(0, attempts - 1), 16) * random.uniform(0.8, 1.2)
    return timedelta(seconds=min(MAX_BACKOFF_SECONDS, jittered))


def retry_after_seconds(value: float | timedelta) -> float:
    """Telegram's `retry_after` in seconds (python-telegram-bot moves from int to timedelta)."""
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
