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


def test_from_and_to_are_whole_days_in_the_brands_zone() -> None:
    span = period_of(QueryParams("from=2026-01-02&to=2026-01-03"), NOW, ISTANBUL)
    assert isinstance(span, Period)
    assert span.since == datetime(2026, 1, 1, 21, 0, tzinfo=UTC)
    assert span.until == datetime(2026, 1, 3, 21, 0, tzinfo=UTC)
    assert span.query() == {"from": "2026-01-02", "to": "2026-01-03"}
    assert "is before" in str(period_of(QueryParams("from=2026-01-03&to=2026-01-02"), NOW, UTC))
    assert "in the future" in str(period_of(QueryParams("from=2026-02-01"), NOW, UTC))
    assert "use one of" in str(period_of(QueryParams("period=year"), NOW, UTC))
