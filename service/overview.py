"""The dashboard's figures and the agents' table for a period, and the mentions behind each.

The figures come from what the database counts for the report (`service.report.period_figures`)
and the report is built from the same read: the dashboard's totals are `main.py report`'s.
`Drill` names one figure (a bar, a point, a row); `select_mentions` gives exactly the mentions
that figure counts, for the list it opens: the database selects them (`Store.figure_mentions`)
by the same expressions that counted the figure, so it reads only the listed rows.
"""

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from core.reasons import Reason
from core.store import Store
from core.store.figure_selection import Selection
from core.store.figures import Outcome, PeriodFigures
from service.report import CUT, TOP, Percentiles, Report, period_figures, report_of

SENTIMENTS = ("negative", "neutral", "positive")
LONGEST_DAILY = 45  # days; longer periods get a bar a week
# First-response buckets: (key, label, upper bound in seconds, inclusive).
BUCKETS = (
    ("0-15", "0–15 min", 15 * 60),
    ("15-30", "15–30 min", 30 * 60),
    ("30-60", "30–60 min", 60 * 60),
    ("gt60", "over 60 min", math.inf),
)
RESPONDERS = ("human", "bot")
AGENT_ROLES = ("claimed", "replied", "resolved", "responded")
_TERM = re.compile(r'^"(.+)"$')  # the learned model's reasons quote the text's own phrase


def terms_of(reasons: tuple[Reason, ...]) -> set[str]:
    names = {reason.counted_as for reason in reasons}
    return {found.group(1) for name in names if (found := _TERM.match(name))}


def wait_bounds(bucket: str) -> tuple[int | None, int | None]:
    """A first-response bucket's bounds in microseconds: (above, up to); none: unbounded."""
    above = None
    for key, _label, upper in BUCKETS:
        up_to = None if math.isinf(upper) else int(upper * 1_000_000)
        if key == bucket:
            return above, up_to
        above = up_to
    return None, None  # no bucket: every wait


# The buckets' upper bounds, inclusive, for the database to count waits in (the last is open).
_BOUNDS_US = tuple(wait_bounds(key)[1] or 0 for key, _label, _upper in BUCKETS[:-1])


def bar_days(since: datetime, until: datetime, zone: tzinfo) -> tuple[date, date, int]:
    """The period's first and last local day, and the days a bar stands for: 1, or 7 when
    the period is too long for a bar a day."""
    first = since.astimezone(zone).date()
    last = (until - timedelta(microseconds=1)).astimezone(zone).date()
    return first, last, 1 if (last - first).days < LONGEST_DAILY else 7


@dataclass(frozen=True, slots=True)
class Drill:
    """One figure of the dashboard or the agents' table, as the link to its mentions says it.

    Empty fields do not narrow; the period itself comes with the link (`from`, `to`).
    """

    day: str = ""  # YYYY-MM-DD in the brand's time zone: the first day of the bar's days
    platform: str = ""
    sentiment: str = ""  # negative | neutral | positive
    lang: str = ""
    rule: str = ""
    reason: str = ""
    term: str = ""
    repeat: str = ""  # "1": authors who wrote more than once in the period
    sla: str = ""  # within | missed | pending | not_relevant
    responder: str = ""  # human | bot (with `bucket`)
    bucket: str = ""  # 0-15 | 15-30 | 30-60 | gt60
    agent: str = ""
    role: str = ""  # claimed | replied | resolved | responded (with `agent`)

    @classmethod
    def from_params(cls, params: Any) -> "Drill":
        """From query parameters; values that name no figure are dropped, never trusted."""
        values = {f.name: str(params.get(f.name, ""))[:200] for f in fields(cls)}
        allowed = {
            "sentiment": SENTIMENTS,
            "sla": tuple(Outcome),
            "responder": RESPONDERS,
            "bucket": tuple(key for key, _l, _u in BUCKETS),
            "role": AGENT_ROLES,
            "repeat": ("1",),
        }
        for name, choices in allowed.items():
            if values[name] not in choices:
                values[name] = ""
        if values["day"] and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", values["day"]):
            values["day"] = ""
        return cls(**values)

    def params(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}

    @property
    def empty(self) -> bool:
        return not self.params()

    @property
    def by_alert(self) -> bool:
        """Whether the figure counts alerts (SLA, first response, agents) not mentions."""
        return bool(self.sla or self.responder == "human" or self.agent)

    def selection(self, first: date, width: int) -> Selection | None:
        """What the store selects for this figure, bars of `width` days from `first`; None
        when `day` is no bar's first day (so no mention is behind it)."""
        days = None
        if self.day:
            try:
                start = date.fromisoformat(self.day)
            except ValueError:  # shaped like a date, but none (2026-02-30)
                return None
            if (start - first).days % width:
                return None
            days = (start, start + timedelta(days=width - 1))
        reason, term = self.reason, self.term

        def reasons(labels: tuple[Reason, ...]) -> bool:
            return (not reason or reason in {r.counted_as for r in labels}) and (
                not term or term in terms_of(labels)
            )

        rule = self.rule
        return Selection(
            days=days,
            platform=self.platform,
            sentiment=self.sentiment,
            lang=self.lang,
            reasons=reasons if reason or term else None,
            rules=(lambda names: rule in names) if rule else None,
            repeat=bool(self.repeat),
            by_alert=self.by_alert,
            outcome=self.sla,
            human=self.responder == "human",
            bot=self.responder == "bot",
            wait_us=wait_bounds(self.bucket),
            agent=self.agent,
            role=self.role,
        )


@dataclass(frozen=True, slots=True)
class SentimentDay:
    negative: int
    neutral: int
    positive: int
    mean: float | None

    @property
    def scored(self) -> int:
        return self.negative + self.neutral + self.positive

    def share(self, name: str) -> float | None:
        return round(getattr(self, name) / self.scored, 3) if self.scored else None


@dataclass(frozen=True, slots=True)
class AgentFigures:
    agent: str
    claimed: int
    replied: int
    resolved: int
    first_response: Percentiles
    within_target: int
    missed_target: int

    @property
    def share_within_target(self) -> float | None:
        decided = self.within_target + self.missed_target
        return self.within_target / decided if decided else None


@dataclass(slots=True)
class Overview:
    report: Report
    zone: tzinfo
    figures: PeriodFigures
    days: list[date] = field(default_factory=list)  # the first day of each bar
    width: int = 1  # days a bar stands for: 1, or 7 when the period is too long for a bar a day
    platforms: list[str] = field(default_factory=list)
    mentions_by_day: dict[date, Counter[str]] = field(default_factory=dict)
    sentiment_by_day: dict[date, SentimentDay] = field(default_factory=dict)
    human_buckets: Counter[str] = field(default_factory=Counter)
    bot_buckets: Counter[str] = field(default_factory=Counter)
    target_by_day: dict[date, Counter[Outcome]] = field(default_factory=dict)
    top_terms: list[tuple[str, int]] = field(default_factory=list)
    languages: list[tuple[str, int]] = field(default_factory=list)
    _bars: dict[date, date] = field(default_factory=dict)

    def bar(self, local: date) -> date:
        """The bar the local day `local` falls in (its first day)."""
        found = self._bars.get(local)
        if found is None:
            start = self.days[0]
            found = start + timedelta(days=(local - start).days // self.width * self.width)
            self._bars[local] = found
        return found


def agent_figures(
    store: Store, since: datetime, until: datetime, zone: tzinfo
) -> list[AgentFigures]:
    """Per agent who claimed, replied to, resolved or first answered an alert of the period."""
    counts, waits = store.agent_figures(since, until, zone)
    claimed: Counter[str] = Counter()
    replied: Counter[str] = Counter()
    resolved: Counter[str] = Counter()
    outcomes: dict[str, Counter[str]] = defaultdict(Counter)
    for count in counts:
        claimed[count.claimed_by] += count.count
        replied[count.replied_by] += count.count
        resolved[count.resolved_by] += count.count
        if count.responder:
            outcomes[count.responder][count.outcome] += count.count
    for counter in (claimed, replied, resolved):
        counter.pop("", None)  # nobody did it
    names = sorted({*claimed, *replied, *resolved, *waits}, key=str.casefold)
    return [
        AgentFigures(
            name,
            claimed[name],
            replied[name],
            resolved[name],
            Percentiles.of(waits[name]) if name in waits else Percentiles(),
            outcomes[name][Outcome.WITHIN],
            outcomes[name][Outcome.MISSED],
        )
        for name in names
    ]


def select_mentions(
    store: Store, since: datetime, until: datetime, zone: tzinfo, drill: Drill
) -> list[int]:
    """The ids of exactly the mentions the figure `drill` counts, in [since, until)."""
    first, _last, width = bar_days(since, until, zone)
    chosen = drill.selection(first, width)
    return [] if chosen is None else store.figure_mentions(since, until, zone, CUT, chosen)


def build_overview(store: Store, since: datetime, until: datetime, zone: tzinfo) -> Overview:
    figures = period_figures(store, since, until, zone, _BOUNDS_US)
    report = report_of(figures, since, until)
    overview = Overview(report, zone, figures)
    first, last, overview.width = bar_days(since, until, zone)
    overview.days = [
        first + timedelta(days=n) for n in range(0, (last - first).days + 1, overview.width)
    ]
    overview.platforms = list(report.by_platform)
    _mention_series(overview)
    _response_series(overview)
    return overview


def _mention_series(overview: Overview) -> None:
    by_day: dict[date, Counter[str]] = defaultdict(Counter)
    feelings: dict[date, Counter[str]] = defaultdict(Counter)
    totals: dict[date, float] = defaultdict(float)
    for group in overview.figures.groups:
        day = overview.bar(group.day)
        by_day[day][group.platform] += group.mentions
        feeling = feelings[day]
        feeling["negative"] += group.negative
        feeling["positive"] += group.positive
        feeling["neutral"] += group.scored - group.negative - group.positive
        totals[day] += group.sentiment_sum
    overview.mentions_by_day = {day: by_day[day] for day in overview.days}
    for day in overview.days:
        classes = feelings[day]
        scored = sum(classes.values())
        mean = round(totals[day] / scored, 3) if scored else None
        overview.sentiment_by_day[day] = SentimentDay(
            classes["negative"], classes["neutral"], classes["positive"], mean
        )
    terms: Counter[str] = Counter()
    for reasons, times in overview.figures.reason_lists:
        for term in terms_of(reasons):
            terms[term] += times
    overview.top_terms = sorted(terms.items(), key=lambda pair: (-pair[1], pair[0]))[:TOP]
    languages = ((tally.name or "?", tally.count) for tally in overview.figures.languages)
    overview.languages = sorted(languages, key=lambda pair: (-pair[1], pair[0]))


def _response_series(overview: Overview) -> None:
    keys = [key for key, _label, _upper in BUCKETS]
    human: Counter[str] = Counter()
    target: dict[date, Counter[Outcome]] = defaultdict(Counter)
    for count in overview.figures.alerts:  # per local day: a year has 365 against its alerts
        if count.bucket is not None:
            human[keys[count.bucket]] += count.count
        target[overview.bar(count.day)][count.outcome] += count.count
    overview.human_buckets = human
    overview.bot_buckets = Counter(
        {keys[index]: n for index, n in overview.figures.bot_buckets.items() if index is not None}
    )
    overview.target_by_day = {day: target[day] for day in overview.days}
