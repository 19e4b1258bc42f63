"""How a chat's minute budget is shared between the kinds of message the service sends.

`FloodBudget` counts every send and edit into a chat by every node sharing the database (at
most `alerts.max_per_minute`, 18 of Telegram's 20 a minute into a group). Each constant is what
must still be left for that kind of call to go now. A per-mention alert (or one posted by Show
each) leaves room for the group message a storm needs, for edits and for the SLA watcher's
escalations; an edit leaves one for those; a group message may take the last.
"""

SINGLE_NEEDS = 7  # so at most 12 per-mention alerts a minute into one chat
EDIT_NEEDS = 2
GROUP_NEEDS = 1


def singles_per_minute(max_per_minute: int) -> int:
    """Per-mention alerts a route may have in a minute before its mentions fold (12 of 18)."""
    return max_per_minute - SINGLE_NEEDS + 1
