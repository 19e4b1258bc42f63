"""When to try again: one backoff for every retried call, and Telegram's flood-control wait."""

import random
from datetime import timedelta

MAX_BACKOFF = timedelta(minutes=10)
FIRST_BACKOFF = timedelta(seconds=5)


def backoff(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s … capped at 10 minutes, with jitter so retries do not arrive in step."""
    # The exponent stops growing long past the cap, so an outage of days cannot overflow it.
    base = min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** min(max(0, attempts - 1), 20))
    return base * random.uniform(0.8, 1.2)


def retry_after_seconds(value: float | timedelta) -> float:
    """Telegram's `RetryAfter.retry_after` in seconds (an int, or a timedelta in newer PTB)."""
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
