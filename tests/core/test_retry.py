"""Backoff grows, jitters, and never waits longer than ten minutes; retry_after in seconds."""

from datetime import timedelta

from core.retry import backoff, retry_after_seconds


def test_backoff_doubles_with_jitter_and_is_capped_after_the_jitter() -> None:
    for attempts, base in ((1, 5), (2, 10), (3, 20), (7, 320)):
        for _ in range(50):
            wait = backoff(attempts).total_seconds()
            assert base * 0.8 <= wait <= base * 1.2
    assert all(backoff(n) <= timedelta(minutes=10) for n in range(1, 200) for _ in range(20))
    assert backoff(0).total_seconds() <= 6  # attempts start at 1; 0 reads as the first


def test_retry_after_reads_seconds_and_timedeltas() -> None:
    assert retry_after_seconds(7) == 7.0
    assert retry_after_seconds(timedelta(seconds=2.5)) == 2.5
