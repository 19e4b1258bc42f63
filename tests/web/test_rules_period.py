"""The period of /rules from its query, in the brand's time zone."""

import zoneinfo
from datetime import UTC, datetime, timedelta

from starlette.datastructures import QueryParams

from web.rules_period import Period, period_of

ISTANBUL = zoneinfo.ZoneInfo("Europe/Istanbul")  # UTC+3 all year
NOW = datetime(2026, 1, 5, 21, 30, tzinfo=UTC)  # already 00:30 on the 6th in Istanbul


def test_today_starts_at_the_brands_midnight_and_7d_is_the_168_hours_to_now() -> None:
    today = period_of(QueryParams("period=today"), NOW, ISTANBUL)
    assert isinstance(today, Period)
    assert (today.since, today.until) == (datetime(2026, 1, 5, 21, 0, tzinfo=UTC), NOW)
    week = period_of(QueryParams(""), NOW, ISTANBUL)
    assert isinstance(week, Period) and week.key == "7d"
    assert week.since == NOW - timedelta(days=7)


def test_a_preset_period_fills_the_forms_dates_in_the_brands_zone() -> None:
    """The date boxes show what "7 days" covers, as /dashboard's do, not an empty mm/dd/yyyy."""
    today = period_of(QueryParams("period=today"), NOW, ISTANBUL)
    assert isinstance(today, Period)
    assert (today.first_day, today.last_day) == ("2026-01-06", "2026-01-06")
    week = period_of(QueryParams(""), NOW, ISTANBUL)
    assert isinstance(week, Period)
    assert (week.first_day, week.last_day) == ("2025-12-30", "2026-01-06")
    assert (week.label, week.query()) == ("7 days", {"period": "7d"})


def test_from_and_to_are_whole_days_in_the_brands_zone() -> None:
    span = period_of(QueryParams("from=2026-01-02&to=2026-01-03"), NOW, ISTANBUL)
    assert isinstance(span, Period)
    assert span.since == datetime(2026, 1, 1, 21, 0, tzinfo=UTC)
    assert span.until == datetime(2026, 1, 3, 21, 0, tzinfo=UTC)
    assert span.query() == {"from": "2026-01-02", "to": "2026-01-03"}
    assert "is before" in str(period_of(QueryParams("from=2026-01-03&to=2026-01-02"), NOW, UTC))
    assert "in the future" in str(period_of(QueryParams("from=2026-02-01"), NOW, UTC))
    assert "use one of" in str(period_of(QueryParams("period=year"), NOW, UTC))
