"""The one formatter for durations people read, around zero, across days and below zero."""

from datetime import timedelta

import pytest

from core.duration import human_duration, time_left


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0, "0 s"),
        (0.4, "0 s"),
        (-0.4, "0 s"),
        (1, "1 s"),
        (59, "59 s"),
        (60, "1 min"),
        (61, "1 min 1 s"),
        (250, "4 min 10 s"),
        (3599.9, "59 min 59 s"),
        (3600, "1 h"),
        (3601, "1 h"),
        (5400, "1 h 30 min"),
        (86399, "23 h 59 min"),
        (86400, "1 d"),
        (86400 + 59, "1 d"),
        (86400 + 3600 * 3 + 60, "1 d 3 h"),
        (2 * 86400 + 3 * 3600, "2 d 3 h"),
        (400 * 86400, "400 d"),
        (-3, "-3 s"),
        (-(86400 * 2 - 3), "-1 d 23 h"),
    ],
)
def test_reads_like_a_person_writes_it(seconds: float, shown: str) -> None:
    assert human_duration(timedelta(seconds=seconds)) == shown


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (-3, "3 s overdue"),
        (-86400 * 2 + 3, "1 d 23 h overdue"),
        (0, "0 s overdue"),
        (0.4, "0 s left"),
        (720, "12 min left"),
        (90000, "1 d 1 h left"),
    ],
)
def test_time_left_is_never_a_negative_day(seconds: float, shown: str) -> None:
    assert time_left(timedelta(seconds=seconds)) == shown
