"""The dashboard's figures and the agents' table for a period, and the mentions behind each.

Everything is computed from one read of the period (`Store.period_rows`) through the report's
own classification (service/report_facts.py), and the report is built from the same rows: the
dashboard's totals are `main.py report`'s. `Drill` names one figure (a bar, a point, a row);
`Overview.select` gives exactly the mentions that figure counts, for the list it opens.
"""

import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from core.store import Store
from core.store.reporting import PeriodRows, ReportMention
from service.report import (
    NEGATIVE,
    POSITIVE,
    TOP,
    Percentiles,
    Report,
    author_key,
    day_finder,
    reason_names,
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


def terms_of(mention: ReportMention) -> set[str]:
    return {found.group(1) for name in reason_names(mention) if (found := _TERM.match(name))}


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
class Overview:
    report: Report
    zone: tzinfo
    rows: PeriodRows
    facts: list[AlertFact]
    bot_touch: dict[int, float]
    days: list[date] = field(default_factory=list)  # the first day of each bar
    width: int = 1  # days a bar stands for: 1, or 7 when the period is too long for a bar a day
    _bars: dict[date, date] = field(default_factory=dict)
    _local_day: Callable[[datetime], date] | None = None
    platforms: list[str] = field(default_factory=list)
    mentions_by_day: dict[date, Counter[str]] = field(default_factory=dict)
    sentiment_by_day: dict[date, SentimentDay] = field(default_factory=dict)
    human_buckets: Counter[str] = field(default_factory=Counter)
    bot_buckets: Counter[str] = field(default_factory=Counter)
    target_by_day: dict[date, Counter[Outcome]] = field(default_factory=dict)
    top_terms: list[tuple[str, int]] = field(default_factory=list)
    languages: list[tuple[str, int]] = field(default_factory=list)
    repeat_authors: set[tuple[str, str]] = field(default_factory=set)

    def day(self, moment: datetime) -> date:
        """The bar `moment` falls in (its first day, in the brand's time zone)."""
        if self._local_day is None:
            self._local_day = day_finder(self.zone)
        local = self._local_day(moment)
        found = self._bars.get(local)
        if found is None:
            start = self.days[0]
            found = start + timedelta(days=(local - start).days // self.width * self.width)
            self._bars[local] = found
        return found

    def agents(self) -> list[AgentFigures]:
        """Per agent who claimed, replied to, resolved or first answered an alert."""
        claimed: Counter[str] = Counter()
        replied: Counter[str] = Counter()
        resolved: Counter[str] = Counter()
        waits: dict[str, list[float]] = defaultdict(list)
        outcomes: dict[str, Counter[Outcome]] = defaultdict(Counter)
        for fact in self.facts:
            alert = fact.alert
            if alert.acknowledged_by:
                claimed[alert.acknowledged_by] += 1
            if alert.answered_at is not None and alert.answered_by:
                replied[alert.answered_by] += 1
            if alert.state == "resolved" and alert.resolved_by:
                resolved[alert.resolved_by] += 1
            who, seconds = fact.responder, fact.response_seconds
            if who and seconds is not None and fact.outcome != Outcome.NOT_RELEVANT:
                waits[who].append(seconds)
                outcomes[who][fact.outcome] += 1
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
        if drill.by_alert:
            # SLA figures count alerts opened in the period, by the alert's own day.
            wanted = {
                fact.alert.mention_id
                for fact in self.facts
                if fact.alert.mention_id is not None and self._fact_matches(fact, drill)
            }
            if drill.narrows_mentions:
                wanted &= {m.id for m in self.rows.mentions if self._mention_matches(m, drill)}
            return sorted(wanted)
        wanted = {m.id for m in self.rows.mentions if self._mention_matches(m, drill)}
        if drill.responder == "bot":
            wanted &= {
                mention_id
                for mention_id, seconds in self.bot_touch.items()
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
        if drill.reason and drill.reason not in reason_names(mention):
            return False
        if drill.term and drill.term not in terms_of(mention):
            return False
        return not drill.repeat or author_key(mention) in self.repeat_authors

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
    rows = store.period_rows(since, until)
    report = report_of(rows, since, until, zone)
    classified = classify_alerts(rows.alerts, until)
    overview = Overview(
        report, zone, rows, classified.facts, bot_first_touches(rows.automatic_replies)
    )
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
    feelings: dict[date, list[float]] = defaultdict(list)
    terms: Counter[str] = Counter()
    languages: Counter[str] = Counter()
    for mention in overview.rows.mentions:
        day = overview.day(mention.created_at)
        by_day[day][mention.platform] += 1
        if mention.sentiment is not None:
            feelings[day].append(mention.sentiment)
        terms.update(terms_of(mention))
        languages[mention.lang or "?"] += 1
    overview.mentions_by_day = {day: by_day[day] for day in overview.days}
    for day in overview.days:
        values = feelings[day]
        classes = Counter(sentiment_class(v) for v in values)
        mean = round(sum(values) / len(values), 3) if values else None
        overview.sentiment_by_day[day] = SentimentDay(
            classes["negative"], classes["neutral"], classes["positive"], mean
        )
    overview.top_terms = sorted(terms.items(), key=lambda pair: (-pair[1], pair[0]))[:TOP]
    overview.languages = sorted(languages.items(), key=lambda pair: (-pair[1], pair[0]))
    authors = Counter(author_key(m) for m in overview.rows.mentions)
    overview.repeat_authors = {author for author, n in authors.items() if n >= 2}


def _response_series(overview: Overview) -> None:
    target: dict[date, Counter[Outcome]] = defaultdict(Counter)
    for fact in overview.facts:
        seconds = fact.response_seconds
        if seconds is not None:
            overview.human_buckets[bucket_of(seconds)] += 1
        target[overview.day(fact.alert.created_at)][fact.outcome] += 1
    for seconds in overview.bot_touch.values():
        overview.bot_buckets[bucket_of(seconds)] += 1
    overview.target_by_day = {day: target[day] for day in overview.days}
