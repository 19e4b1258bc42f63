"""The dashboard's figures and the agents' table for a period, and the mentions behind each.

The figures come from what the database counts for the report (`service.report.period_figures`)
and the report is built from the same read: the dashboard's totals are `main.py report`'s.
`Drill` names one figure (a bar, a point, a row); `Overview.select` gives exactly the mentions
that figure counts, for the list it opens: it reads the period's rows (`Store.period_rows`), on
the first drill only, and classifies them by service/report_facts.py, the same definitions.
"""

import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from core.reasons import Reason
from core.store import Store
from core.store.figures import PeriodFigures
from core.store.reporting import PeriodRows, ReportMention
from service.report import (
    NEGATIVE,
    POSITIVE,
    TOP,
    Percentiles,
    Report,
    period_figures,
    report_of,
)
from service.report_facts import AlertFact, Outcome, bot_first_touches, classify_alerts

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


def sentiment_class(value: float | None) -> str:
    if value is None:
        return ""
    return "negative" if value <= NEGATIVE else "positive" if value >= POSITIVE else "neutral"


def bucket_of(seconds: float) -> str:
    return next(key for key, _label, upper in BUCKETS if seconds <= upper)


def terms_of(reasons: tuple[Reason, ...]) -> set[str]:
    names = {reason.counted_as for reason in reasons}
    return {found.group(1) for name in names if (found := _TERM.match(name))}


def author_key(mention: ReportMention) -> tuple[str, str]:
    return (mention.platform, mention.author_id or mention.author_handle)


def day_finder(zone: tzinfo) -> Callable[[datetime], date]:
    """`moment` → its date in `zone`, remembered per quarter hour: every zone's offset is a
    multiple of 15 minutes, and a year is 35,040 quarters against 100,000 mentions."""
    known: dict[datetime, date] = {}

    def local_day(moment: datetime) -> date:
        quarter = moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)
        found = known.get(quarter)
        if found is None:
            found = known[quarter] = quarter.astimezone(zone).date()
        return found

    return local_day


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

    @property
    def narrows_mentions(self) -> bool:
        return any(
            (self.platform, self.sentiment, self.lang, self.rule, self.reason, self.term)
        ) or bool(self.repeat)


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
class Drilled:
    """The period's rows and their classification, which the lists behind figures read."""

    rows: PeriodRows
    facts: list[AlertFact]
    bot_touch: dict[int, float]
    repeat_authors: set[tuple[str, str]]


@dataclass(slots=True)
class Overview:
    report: Report
    zone: tzinfo
    figures: PeriodFigures
    store: Store
    since: datetime
    until: datetime
    days: list[date] = field(default_factory=list)  # the first day of each bar
    width: int = 1  # days a bar stands for: 1, or 7 when the period is too long for a bar a day
    _bars: dict[date, date] = field(default_factory=dict)
    _local_day: Callable[[datetime], date] | None = None
    _drilled: Drilled | None = None
    platforms: list[str] = field(default_factory=list)
    mentions_by_day: dict[date, Counter[str]] = field(default_factory=dict)
    sentiment_by_day: dict[date, SentimentDay] = field(default_factory=dict)
    human_buckets: Counter[str] = field(default_factory=Counter)
    bot_buckets: Counter[str] = field(default_factory=Counter)
    target_by_day: dict[date, Counter[Outcome]] = field(default_factory=dict)
    top_terms: list[tuple[str, int]] = field(default_factory=list)
    languages: list[tuple[str, int]] = field(default_factory=list)

    def bar(self, local: date) -> date:
        """The bar the local day `local` falls in (its first day)."""
        found = self._bars.get(local)
        if found is None:
            start = self.days[0]
            found = start + timedelta(days=(local - start).days // self.width * self.width)
            self._bars[local] = found
        return found

    def day(self, moment: datetime) -> date:
        """The bar `moment` falls in (its first day, in the brand's time zone)."""
        if self._local_day is None:
            self._local_day = day_finder(self.zone)
        return self.bar(self._local_day(moment))

    @property
    def drilled(self) -> Drilled:
        """The rows behind the figures, read once, when a list of them is first asked for."""
        if self._drilled is None:
            rows = self.store.period_rows(self.since, self.until)
            authors = Counter(author_key(m) for m in rows.mentions)
            self._drilled = Drilled(
                rows,
                classify_alerts(rows.alerts, self.until).facts,
                bot_first_touches(rows.automatic_replies),
                {author for author, n in authors.items() if n >= 2},
            )
        return self._drilled

    @property
    def facts(self) -> list[AlertFact]:
        return self.drilled.facts

    @property
    def bot_touch(self) -> dict[int, float]:
        return self.drilled.bot_touch

    def agents(self) -> list[AgentFigures]:
        """Per agent who claimed, replied to, resolved or first answered an alert."""
        claimed: Counter[str] = Counter()
        replied: Counter[str] = Counter()
        resolved: Counter[str] = Counter()
        waits: dict[str, list[float]] = defaultdict(list)
        outcomes: dict[str, Counter[str]] = defaultdict(Counter)
        for alert in self.figures.alerts:
            claimed[alert.claimed_by] += 1
            replied[alert.replied_by] += 1
            resolved[alert.resolved_by] += 1
            who, micros = alert.responder, alert.response_us
            if who and micros is not None and alert.outcome != Outcome.NOT_RELEVANT:
                waits[who].append(micros / 1_000_000)
                outcomes[who][alert.outcome] += 1
        for counter in (claimed, replied, resolved):
            counter.pop("", None)  # nobody did it
        names = sorted({*claimed, *replied, *resolved, *waits}, key=str.casefold)
        return [
            AgentFigures(
                name,
                claimed[name],
                replied[name],
                resolved[name],
                Percentiles.of(waits[name]),
                outcomes[name][Outcome.WITHIN],
                outcomes[name][Outcome.MISSED],
            )
            for name in names
        ]

    def select(self, drill: Drill) -> list[int]:
        """The ids of exactly the mentions the figure `drill` names counts."""
        drilled = self.drilled
        if drill.by_alert:
            # SLA figures count alerts opened in the period, by the alert's own day.
            wanted = {
                fact.alert.mention_id
                for fact in drilled.facts
                if fact.alert.mention_id is not None and self._fact_matches(fact, drill)
            }
            if drill.narrows_mentions:
                wanted &= {m.id for m in drilled.rows.mentions if self._mention_matches(m, drill)}
            return sorted(wanted)
        wanted = {m.id for m in drilled.rows.mentions if self._mention_matches(m, drill)}
        if drill.responder == "bot":
            wanted &= {
                mention_id
                for mention_id, seconds in drilled.bot_touch.items()
                if not drill.bucket or bucket_of(seconds) == drill.bucket
            }
        return sorted(wanted)

    def _mention_matches(self, mention: ReportMention, drill: Drill) -> bool:
        dated = drill.day and not drill.by_alert
        if dated and self.day(mention.created_at).isoformat() != drill.day:
            return False
        if drill.platform and mention.platform != drill.platform:
            return False
        if drill.sentiment and sentiment_class(mention.sentiment) != drill.sentiment:
            return False
        if drill.lang and (mention.lang or "?") != drill.lang:
            return False
        if drill.rule and drill.rule not in mention.rules:
            return False
        if drill.reason and drill.reason not in {r.counted_as for r in mention.reasons}:
            return False
        if drill.term and drill.term not in terms_of(mention.reasons):
            return False
        return not drill.repeat or author_key(mention) in self.drilled.repeat_authors

    def _fact_matches(self, fact: AlertFact, drill: Drill) -> bool:
        alert = fact.alert
        if drill.day and self.day(alert.created_at).isoformat() != drill.day:
            return False
        if drill.sla and fact.outcome != drill.sla:
            return False
        if drill.responder == "human":
            seconds = fact.response_seconds
            if seconds is None or (drill.bucket and bucket_of(seconds) != drill.bucket):
                return False
        if drill.agent:
            return _agent_role(fact, drill.agent, drill.role)
        return True


def _agent_role(fact: AlertFact, agent: str, role: str) -> bool:
    alert = fact.alert
    if role == "claimed":
        return alert.acknowledged_by == agent
    if role == "replied":
        return alert.answered_at is not None and alert.answered_by == agent
    if role == "resolved":
        return alert.state == "resolved" and alert.resolved_by == agent
    return fact.responder == agent and fact.outcome != Outcome.NOT_RELEVANT


def build_overview(store: Store, since: datetime, until: datetime, zone: tzinfo) -> Overview:
    figures = period_figures(store, since, until, zone)
    report = report_of(figures, since, until)
    overview = Overview(report, zone, figures, store, since, until)
    first = since.astimezone(zone).date()
    last = (until - timedelta(microseconds=1)).astimezone(zone).date()
    overview.width = 1 if (last - first).days < LONGEST_DAILY else 7
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
    target: dict[date, Counter[Outcome]] = defaultdict(Counter)
    for alert in overview.figures.alerts:
        if alert.response_us is not None:
            overview.human_buckets[bucket_of(alert.response_us / 1_000_000)] += 1
        target[overview.bar(alert.day)][Outcome(alert.outcome)] += 1
    for micros in overview.figures.bot_touch_us:
        overview.bot_buckets[bucket_of(micros / 1_000_000)] += 1
    overview.target_by_day = {day: target[day] for day in overview.days}
