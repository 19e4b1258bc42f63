from datetime import timedelta

import pytest

from core.duration import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("5m", 300),
        ("1h", 3600),
        ("7d", 604800),
        ("1h30m", 5400),
        ("0", 0),
        (" 2 m ", 120),
        ("250ms", 0.25),
    ],
)
def test_parses_what_operators_write(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "soon", "5 minutes", "1x", "m5", "-5s", True])
def test_rejects_anything_else_with_the_accepted_forms(text: object) -> None:
    with pytest.raises(ValueError, match="30s, 5m, 1h"):
        parse_duration(text)  # type: ignore[arg-type]


@pytest.mark.parametrize("bare", ["7", "10", 10, 2.5, "90"])
def test_a_number_without_its_unit_is_refused_with_the_forms_it_may_mean(bare: object) -> None:
    with pytest.raises(ValueError, match=rf"has no unit; write a duration with its unit: {bare}s"):
        parse_duration(bare)  # type: ignore[arg-type]


def test_formats_back_to_the_shortest_spelling() -> None:
    assert format_duration(timedelta(seconds=5400)) == "1h30m"
    assert format_duration(timedelta(0)) == "0s"
