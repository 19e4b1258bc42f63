"""`main.py report` and the daily digest: what came in, how fast we answered, how people feel.

Definitions (docs/agents.md repeats them for readers of the report):
- An *alert* is a message in a staff chat (a single mention or a group); mentions counted inside
  other alerts or muted are listed separately. Alerts marked "not relevant" leave the SLA figures.
- *Human first response*: the first agent reply posted through the Reply button, or the
  resolution if that came first. Measured from when the customer wrote (or when we saw it, if
  earlier). *Within target*: at or before the alert's deadline (business hours aware).
  Alerts with no response whose deadline is still ahead are *pending* and not counted either way.
- *Bot first touch*: the first automated reply (a rule's auto-reply or the SLA holding reply)
  posted to the customer, from when they wrote; reported apart from humans, never mixed in.
- Percentiles are nearest-rank: p50 of 4 values is the 2nd smallest, p90 the 4th.
- Sentiment is VADER compound: negative ≤ -0.05, positive ≥ 0.05. Shares and means are
  rounded to 3 decimals. Reasons are counted once per mention, without their points.
- Value: repeat authors (2+ mentions) and reach (followers of distinct authors; "reached": of
  authors an agent answered). Voice: sentiment and the top reasons. Valence: net sentiment
  (share positive − share negative) in the first and second half of the period.
"""

import csv
import io
import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from core.duration import human_duration
from core.store import Store
from core.store.reporting import PeriodRows, ReportMention
from service.report_facts import AlertFacts, Outcome, bot_first_touches, classify_alerts

NEGATIVE, POSITIVE = -0.05, 0.05
TOP = 5


class ReportsConfig(BaseModel):
    """`reports:` in config.yaml: the daily digest."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    digest_at: str = "09:00"  # local time (top-level `timezone`); "" turns the digest off
    digest_route: str = "staff"

    @field_validator("digest_at")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        if value and not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", value.strip()):
            raise ValueError(f"{value!r} is not a time of day; write it like 09:00")
        return value.strip()


@dataclass(frozen=True, slots=True)
class Percentiles:
    count: int = 0
    p50: int | None = None  # whole seconds
    p90: int | None = None

    @classmethod
    def of(cls, seconds: list[float]) -> "Percentiles":
        if not seconds:
            return cls()
        ordered = sorted(seconds)
        return cls(len(ordered), _rank(ordered, 0.5), _rank(ordered, 0.9))


@dataclass(frozen=True, slots=True)
class Day:
    day: date
    mentions: int
    mean_sentiment: float
    share_negative: float


@dataclass(slots=True)
class Report:
    since: datetime
    until: datetime
    mentions: int = 0
    by_platform: dict[str, int] = field(default_factory=dict)
    by_source: dict[str, int] = field(default_factory=dict)
    alerts: int = 0
    counted_in_alerts: dict[str, int] = field(default_factory=dict)  # grouped, repeat, …
    not_relevant: int = 0
    within_target: int = 0
    missed_target: int = 0
    pending: int = 0
    bot_first_touch: Percentiles = Percentiles()
    human_first_response: Percentiles = Percentiles()
    resolution: Percentiles = Percentiles()
    daily: list[Day] = field(default_factory=list)
    top_reasons: list[tuple[str, int]] = field(default_factory=list)
    top_rules: list[tuple[str, int]] = field(default_factory=list)
    authors: int = 0
    repeat_authors: int = 0
    reach: int = 0
    reach_answered: int = 0
    mean_sentiment: float | None = None
    share_negative: float | None = None
    share_positive: float | None = None
    net_first_half: float | None = None
    net_second_half: float | None = None

    @property
    def share_within_target(self) -> float | None:
        decided = self.within_target + self.missed_target
        return self.within_target / decided if decided else None

    @property
    def valence_trend(self) -> str:
        if self.net_first_half is None or self.net_second_half is None:
            return "not enough data"
        change = self.net_second_half - self.net_first_half
        return "improving" if change > 0.05 else "worsening" if change < -0.05 else "steady"


def build_report(store: Store, since: datetime, until: datetime, zone: tzinfo) -> Report:
    return report_of(store.period_rows(since, until), since, until, zone)


def report_of(rows: PeriodRows, since: datetime, until: datetime, zone: tzinfo) -> Report:
    """The report of rows already read (the dashboard reads them once for all its figures)."""
    report = Report(since=since, until=until)
    _volume(report, rows.mentions)
    _alerts(report, classify_alerts(rows.alerts, until), rows.mentions)
    report.bot_first_touch = Percentiles.of(
        list(bot_first_touches(rows.automatic_replies).values())
    )
    _sentiment(report, rows.mentions, zone)
    return report


def _volume(report: Report, mentions: list[ReportMention]) -> None:
    report.mentions = len(mentions)
    report.by_platform = dict(Counter(m.platform for m in mentions).most_common())
    report.by_source = dict(Counter(m.source or "(none)" for m in mentions).most_common())
    # A year holds few different lists of reasons and rules: count each list, then its names.
    reason_lists = Counter(m.reasons for m in mentions)
    rule_lists = Counter(m.rules for m in mentions)
    reasons: Counter[str] = Counter()
    rules: Counter[str] = Counter()
    for labels, times in reason_lists.items():
        for name in {reason.counted_as for reason in labels}:
            reasons[name] += times
    for names, times in rule_lists.items():
        for name in set(names):
            rules[name] += times
    report.top_reasons = _top(reasons)
    report.top_rules = _top(rules)
    followers: dict[tuple[str, str], int] = {}
    counts: Counter[tuple[str, str]] = Counter()
    for mention in mentions:
        author = author_key(mention)
        counts[author] += 1
        followers[author] = max(followers.get(author, 0), mention.author_followers)
    report.authors = len(counts)
    report.repeat_authors = sum(1 for n in counts.values() if n >= 2)
    report.reach = sum(followers.values())


def _alerts(report: Report, classified: AlertFacts, mentions: list[ReportMention]) -> None:
    human: list[float] = []
    resolution: list[float] = []
    answered_mentions: set[int] = set()
    outcomes: Counter[Outcome] = Counter()
    for fact in classified.facts:
        report.alerts += 1
        outcomes[fact.outcome] += 1
        if fact.outcome == Outcome.NOT_RELEVANT:
            continue
        if fact.resolution is not None:
            resolution.append(fact.resolution)
        if fact.alert.answered_at is not None and fact.alert.mention_id is not None:
            answered_mentions.add(fact.alert.mention_id)
        if fact.response_seconds is not None:
            human.append(fact.response_seconds)
    report.not_relevant = outcomes[Outcome.NOT_RELEVANT]
    report.within_target = outcomes[Outcome.WITHIN]
    report.missed_target = outcomes[Outcome.MISSED]
    report.pending = outcomes[Outcome.PENDING]
    report.counted_in_alerts = dict(classified.counted.most_common())
    report.human_first_response = Percentiles.of(human)
    report.resolution = Percentiles.of(resolution)
    reached: dict[tuple[str, str], int] = {}
    for mention in mentions:
        if mention.id in answered_mentions:
            author = author_key(mention)
            reached[author] = max(reached.get(author, 0), mention.author_followers)
    report.reach_answered = sum(reached.values())


def author_key(mention: ReportMention) -> tuple[str, str]:
    return (mention.platform, mention.author_id or mention.author_handle)


def reason_names(mention: ReportMention) -> set[str]:
    """The mention's reasons without their points, each counted once."""
    return {reason.counted_as for reason in mention.reasons}


def _sentiment(report: Report, mentions: list[ReportMention], zone: tzinfo) -> None:
    scored = [(m.created_at, m.sentiment) for m in mentions if m.sentiment is not None]
    if not scored:
        return
    values = [s for _t, s in scored]
    report.mean_sentiment = round(sum(values) / len(values), 3)
    report.share_negative = _share(values, negative=True)
    report.share_positive = _share(values, negative=False)
    by_day: dict[date, list[float]] = defaultdict(list)
    local_day = day_finder(zone)
    for created, sentiment in scored:
        by_day[local_day(created)].append(sentiment)
    report.daily = [
        Day(day, len(v), round(sum(v) / len(v), 3), _share(v, negative=True))
        for day, v in sorted(by_day.items())
    ]
    middle = report.since + (report.until - report.since) / 2
    first = [s for t, s in scored if t < middle]
    second = [s for t, s in scored if t >= middle]
    if first and second:
        report.net_first_half = _net(first)
        report.net_second_half = _net(second)


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


def _share(values: list[float], negative: bool) -> float:
    hits = [v for v in values if (v <= NEGATIVE if negative else v >= POSITIVE)]
    return round(len(hits) / len(values), 3)


def _net(values: list[float]) -> float:
    positive = sum(1 for v in values if v >= POSITIVE)
    negative = sum(1 for v in values if v <= NEGATIVE)
    return round((positive - negative) / len(values), 3)


def _rank(ordered: list[float], share: float) -> int:
    return round(ordered[max(0, math.ceil(share * len(ordered)) - 1)])


def _top(counter: Counter[str]) -> list[tuple[str, int]]:
    return sorted(counter.items(), key=lambda pair: (-pair[1], pair[0]))[:TOP]


# --- output ---------------------------------------------------------------------------------


def as_json(report: Report) -> str:
    return json.dumps(_plain(report), indent=2, ensure_ascii=False)


def _plain(report: Report) -> dict[str, Any]:
    data = asdict(report)
    data["share_within_target"] = report.share_within_target
    data["valence_trend"] = report.valence_trend
    return json.loads(json.dumps(data, default=str))


def as_csv(report: Report) -> str:
    """One `section,name,value` row per figure: easy to load in a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "name", "value"])
    for section, name, value in _rows(report):
        writer.writerow([section, csv_cell(name), "" if value is None else csv_cell(value)])
    return out.getvalue()


def csv_cell(value: Any) -> Any:
    """A cell a spreadsheet shows as text: one starting with = + - @ would be a formula."""
    text = "; ".join(value) if isinstance(value, list) else value
    if isinstance(text, str) and text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def _rows(report: Report) -> list[tuple[str, str, Any]]:
    rows: list[tuple[str, str, Any]] = [
        ("period", "since", report.since.isoformat()),
        ("period", "until", report.until.isoformat()),
        ("volume", "mentions", report.mentions),
    ]
    rows += [("platform", name, n) for name, n in report.by_platform.items()]
    rows += [("source", name, n) for name, n in report.by_source.items()]
    rows += [
        ("alerts", "alerts", report.alerts),
        *(("counted_in_alerts", name, n) for name, n in report.counted_in_alerts.items()),
        ("alerts", "not_relevant", report.not_relevant),
        ("sla", "within_target", report.within_target),
        ("sla", "missed_target", report.missed_target),
        ("sla", "pending", report.pending),
        ("sla", "share_within_target", report.share_within_target),
    ]
    for name, stat in (
        ("bot_first_touch", report.bot_first_touch),
        ("human_first_response", report.human_first_response),
        ("resolution", report.resolution),
    ):
        rows += [(name, "count", stat.count), (name, "p50_s", stat.p50), (name, "p90_s", stat.p90)]
    for day in report.daily:
        rows.append(("daily_mean_sentiment", day.day.isoformat(), day.mean_sentiment))
        rows.append(("daily_share_negative", day.day.isoformat(), day.share_negative))
    rows += [("top_reason", name, n) for name, n in report.top_reasons]
    rows += [("top_rule", name, n) for name, n in report.top_rules]
    rows += [
        ("value", "authors", report.authors),
        ("value", "repeat_authors", report.repeat_authors),
        ("value", "reach", report.reach),
        ("value", "reach_answered", report.reach_answered),
        ("voice", "mean_sentiment", report.mean_sentiment),
        ("voice", "share_negative", report.share_negative),
        ("voice", "share_positive", report.share_positive),
        ("valence", "net_first_half", report.net_first_half),
        ("valence", "net_second_half", report.net_second_half),
        ("valence", "trend", report.valence_trend),
    ]
    return rows


def as_text(report: Report, zone: tzinfo) -> str:
    since = report.since.astimezone(zone)
    until = report.until.astimezone(zone)
    lines = [
        f"BrandPulse report {since:%Y-%m-%d %H:%M} – {until:%Y-%m-%d %H:%M} {until.tzname()}",
        "",
        f"Volume: {report.mentions} mentions",
        "  by platform: " + _pairs(report.by_platform.items()),
        "  by source:   " + _pairs(report.by_source.items()),
        "",
        f"Alerts: {report.alerts} messages to staff"
        + (
            f"; also counted in them or muted: {_pairs(report.counted_in_alerts.items())}"
            if report.counted_in_alerts
            else ""
        ),
        f"  answered within target: {_percent(report.share_within_target)} "
        f"({report.within_target} of {report.within_target + report.missed_target}; "
        f"{report.pending} pending, {report.not_relevant} not relevant)",
        f"  human first response: {_stat(report.human_first_response)}",
        f"  bot first touch:      {_stat(report.bot_first_touch)}",
        f"  resolution:           {_stat(report.resolution)}",
        "",
        "Sentiment by day (mean, share negative):",
        *(
            f"  {day.day} {day.mean_sentiment:+.2f} {_percent(day.share_negative):>5} "
            f"({day.mentions} mentions)"
            for day in report.daily
        ),
        "",
        "Top reasons: " + (_pairs(report.top_reasons) or "none"),
        "Top rules:   " + (_pairs(report.top_rules) or "none"),
        "",
        f"Value:   {report.repeat_authors} of {report.authors} authors wrote more than once; "
        f"reach {report.reach:,} followers, {report.reach_answered:,} of them answered",
        f"Voice:   mean sentiment {_signed(report.mean_sentiment)}, "
        f"{_percent(report.share_negative)} negative, {_percent(report.share_positive)} positive",
        f"Valence: net {_signed(report.net_first_half)} → {_signed(report.net_second_half)} "
        f"({report.valence_trend})",
    ]
    return "\n".join(lines) + "\n"


def digest_text(report: Report, title: str) -> str:
    """The daily digest for the staff chat (HTML-safe: only numbers and our own words)."""
    return "\n".join(
        [
            f"📊 <b>{title}</b>",
            f"{report.mentions} mentions · {report.alerts} alerts · "
            f"{_percent(report.share_within_target)} answered within target",
            f"Human first response p50 {_duration(report.human_first_response.p50)}, "
            f"p90 {_duration(report.human_first_response.p90)} · bot first touch p50 "
            f"{_duration(report.bot_first_touch.p50)}",
            f"Sentiment {_signed(report.mean_sentiment)}, "
            f"{_percent(report.share_negative)} negative ({report.valence_trend})",
            "Top rules: " + (_pairs(report.top_rules[:3]) or "none"),
        ]
    )


def _pairs(pairs: Any) -> str:
    return ", ".join(f"{name} {count}" for name, count in pairs)


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _signed(value: float | None) -> str:
    return "–" if value is None else f"{value:+.2f}"


def _duration(seconds: float | None) -> str:
    return "–" if seconds is None else human_duration(timedelta(seconds=round(seconds)))


def _stat(stat: Percentiles) -> str:
    if not stat.count:
        return "none yet"
    return f"p50 {_duration(stat.p50)}, p90 {_duration(stat.p90)} (n={stat.count})"
