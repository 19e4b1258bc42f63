"""A rule's conditions compiled into checks: plain functions of one mention's `Context`.

A new condition is a field on `rules.schema.Condition` and a check here; the engine combines
them (`all_of`), cheapest first, and computes the `Context` once per mention.
"""

import fnmatch
import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from core.mention import Mention
from rules.schema import Condition
from rules.time_window import TimeWindow
from rules.triage import Assessment


@dataclass(slots=True)
class Context:
    """One mention and everything computed once for it, read by the compiled checks."""

    mention: Mention
    assessment: Assessment
    matched: dict[int, list["Term"]]  # keyword slot → its terms found in the text
    urgency: int  # before keyword weights, which depend on the rules that match
    now: datetime
    language: str
    handle: str
    is_question: bool
    local_times: dict[tzinfo, datetime] = field(default_factory=dict)

    def local(self, zone: tzinfo) -> datetime:
        if zone not in self.local_times:
            self.local_times[zone] = self.now.astimezone(zone)
        return self.local_times[zone]


Check = Callable[[Context], bool]


@dataclass(frozen=True, slots=True)
class Term:
    slot: int
    stem: bool  # "refund*": the word may go on (refunds, refunded)
    written: str  # as the rule author wrote it, shown in reasons
    folded: str  # compared with the triage's labels, so no term counts twice
    weight: int | None  # None: the default keyword weight


def time_check(window: TimeWindow, default_zone: tzinfo) -> Check:
    """`time:`: the mention was written within the window's hours and days, in its zone."""
    zone = zoneinfo.ZoneInfo(window.timezone) if window.timezone else default_zone
    hours, days = tuple(window.hours), frozenset(window.days)

    def check(ctx: Context) -> bool:
        local = ctx.local(zone)
        if days and local.weekday() not in days:
            return False
        minute = local.hour * 60 + local.minute
        return not hours or any(_in_range(minute, start, end) for start, end in hours)

    return check


def mention_checks(condition: Condition) -> list[Check]:
    """Checks on the mention's own fields."""
    checks: list[Check] = []
    if condition.platform:
        platforms = frozenset(condition.platform)
        checks.append(lambda ctx: ctx.mention.platform in platforms)
    if condition.source:
        sources = _glob(condition.source)
        checks.append(lambda ctx: sources(ctx.mention.source))
    if condition.language:
        languages = frozenset(condition.language)
        checks.append(lambda ctx: ctx.language in languages)
    if (least := condition.followers_at_least) is not None:
        checks.append(lambda ctx: ctx.mention.author_followers >= least)
    if (below := condition.followers_below) is not None:
        checks.append(lambda ctx: ctx.mention.author_followers < below)
    if (verified := condition.verified) is not None:
        checks.append(lambda ctx: ctx.mention.author_verified == verified)
    if (is_reply := condition.is_reply) is not None:
        checks.append(lambda ctx: bool(ctx.mention.in_reply_to_id) == is_reply)
    return checks


def triage_checks(condition: Condition) -> list[Check]:
    """Checks on what the triage made of the mention."""
    checks: list[Check] = []
    if (below := condition.sentiment_below) is not None:
        checks.append(lambda ctx: ctx.assessment.sentiment < below)
    if (above := condition.sentiment_above) is not None:
        checks.append(lambda ctx: ctx.assessment.sentiment > above)
    if (question := condition.is_question) is not None:
        checks.append(lambda ctx: ctx.is_question == question)
    if (needs := condition.needs_response) is not None:
        checks.append(lambda ctx: ctx.assessment.needs_response == needs)
    if (urgency := condition.urgency_at_least) is not None:
        checks.append(lambda ctx: ctx.urgency >= urgency)
    return checks


def all_of(checks: list[Check]) -> Check:
    if not checks:
        return lambda _ctx: True
    if len(checks) == 1:
        return checks[0]

    def all_hold(ctx: Context) -> bool:
        for check in checks:  # noqa: SIM110  (a loop beats all(generator) on this hot path)
            if not check(ctx):
                return False
        return True

    return all_hold


def _glob(patterns: list[str]) -> Callable[[str], bool]:
    if not any(ch in pattern for pattern in patterns for ch in "*?["):
        names = frozenset(patterns)
        return names.__contains__
    regex = re.compile("|".join(fnmatch.translate(pattern) for pattern in patterns))
    return lambda name: regex.match(name) is not None


def _in_range(minute: int, start: int, end: int) -> bool:
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end  # 22:00-06:00 wraps past midnight
