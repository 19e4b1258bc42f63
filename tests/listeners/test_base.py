"""The gap cursor every newest-first source stores (X's ids, Reddit's fullnames)."""

import json

from listeners.base import GapCursor
from listeners.x import XCursor


def test_a_complete_fetch_closes_the_gap_at_the_newest_item_ever_reached() -> None:
    assert GapCursor(since="10").advanced("15", "11", complete=True) == '{"since": "15"}'
    # A gap from an earlier poll is closed at its top, not at this poll's newest.
    gap = GapCursor(since="10", until="40", high="50")
    assert gap.advanced("39", "11", complete=True) == '{"since": "50"}'


def test_nothing_fetched_on_first_start_stores_no_cursor() -> None:
    assert GapCursor().advanced(None, None, complete=True) is None
    assert GapCursor(since="10").advanced(None, None, complete=True) == '{"since": "10"}'


def test_a_page_cap_continues_below_the_oldest_item_reached() -> None:
    cursor = GapCursor(since="10").advanced("90", "60", complete=False)
    assert cursor is not None
    assert json.loads(cursor) == {"since": "10", "until": "60", "high": "90"}


def test_a_capped_poll_that_reached_nothing_keeps_its_place_in_the_gap() -> None:
    """Dropping `until` would send the next poll back to the top, to fetch it all again."""
    gap = GapCursor(since="10", until="60", high="90")
    assert json.loads(gap.advanced(None, None, complete=False) or "") == {
        "since": "10",
        "until": "60",
        "high": "90",
    }


def test_a_source_keeps_its_own_key_names() -> None:
    cursor = XCursor(since="1").advanced("9", "5", complete=False)
    assert json.loads(cursor or "") == {"since_id": "1", "until_id": "5", "high": "9"}
    assert XCursor.parse(cursor) == XCursor(since="1", until="5", high="9")
