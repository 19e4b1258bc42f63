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
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from core.duration import human_duration
from core.store import Store
from core.store.figures import MentionGroup, Outcome, PeriodFigures, Sentiment, Waits

NEGATIVE, POSITIVE = -0.05, 0.05
CUT = Sentiment(NEGATIVE, POSITIVE)
TOP = 5


@dataclass(frozen=True, slots=True)
class Percentiles:
    count: int = 0
    p50: int | None = None  # whole seconds
    p90: int | None = None

    @classmethod
    def of(cls, waits: Waits) -> "Percentiles":
        """Of the waits the database ranked, in whole seconds."""
        if not waits.count:
            return cls()
        return cls(waits.count, _seconds(waits.p50_us), _seconds(waits.p90_us))


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
    return report_of(period_figures(store, since, until, zone), since, until)


def period_figures(
    store: Store, since: datetime, until: datetime, zone: tzinfo, bounds_us: tuple[int, ...] = ()
) -> PeriodFigures:
    """What the database counts for the report (and the dashboard, with its first-response
    buckets `bounds_us`) of [since, until)."""
    middle = since + (until - since) / 2
    return store.period_figures(since, until, zone, middle, CUT, bounds_us)


def report_of(figures: PeriodFigures, since: datetime, until: datetime) -> Report:
    """The report of figures already read (the dashboard reads them once for all its own)."""
    report = Report(since=since, until=until)
    _volume(report, figures)
    _alerts(report, figures)
    report.bot_first_touch = Percentiles.of(figures.bot_touch)
    _sentiment(report, figures)
    return report


def _volume(report: Report, figures: PeriodFigures) -> None:
    report.mentions = sum(tally.count for tally in figures.platforms)
    report.by_platform = {tally.name: tally.count for tally in figures.platforms}
    report.by_source = {tally.name or "(none)": tally.count for tally in figures.sources}
    reasons: Counter[str] = Counter()
    rules: Counter[str] = Counter()
    for labels, times in figures.reason_lists:
        for name in {reason.counted_as for reason in labels}:
            reasons[name] += times
    for names, times in figures.rule_lists:
        for name in set(names):
            rules[name] += times
    report.top_reasons = _top(reasons)
    report.top_rules = _top(rules)
    report.authors = figures.authors
    report.repeat_authors = figures.repeat_authors
    report.reach = figures.reach
    report.reach_answered = figures.reach_answered


def _alerts(report: Report, figures: PeriodFigures) -> None:
    outcomes: Counter[Outcome] = Counter()
    for count in figures.alerts:
        outcomes[count.outcome] += count.count
    report.alerts = outcomes.total()
    report.not_relevant = outcomes[Outcome.NOT_RELEVANT]
    report.within_target = outcomes[Outcome.WITHIN]
    report.missed_target = outcomes[Outcome.MISSED]
    report.pending = outcomes[Outcome.PENDING]
    report.counted_in_alerts = {tally.name: tally.count for tally in figures.counted}
    report.human_first_response = Percentiles.of(figures.human_response)
    report.resolution = Percentiles.of(figures.resolution)


def _sentiment(report: Report, figures: PeriodFigures) -> None:
    overall = _Feeling.of(figures.groups)
    if not overall.scored:
        return
    report.mean_sentiment = overall.mean
    report.share_negative = overall.share(overall.negative)
    report.share_positive = overall.share(overall.positive)
    by_day: dict[date, list[MentionGroup]] = defaultdict(list)
    for group in figures.groups:
        by_day[group.day].append(group)
    report.daily = [
        Day(day, feeling.scored, feeling.mean, feeling.share(feeling.negative))
        for day, feeling in sorted((day, _Feeling.of(groups)) for day, groups in by_day.items())
        if feeling.scored
    ]
    first = _Feeling.of([g for g in figures.groups if g.first_half])
    second = _Feeling.of([g for g in figures.groups if not g.first_half])
    if first.scored and second.scored:
        report.net_first_half = first.net
        report.net_second_half = second.net


@dataclass(frozen=True, slots=True)
class _Feeling:
    """The sentiment of some groups of mentions together."""

    scored: int
    total: float
    negative: int
    positive: int

    @classmethod
    def of(cls, groups: list[MentionGroup]) -> "_Feeling":
        return cls(
            sum(g.scored for g in groups),
            sum(g.sentiment_sum for g in groups),
            sum(g.negative for g in groups),
            sum(g.positive for g in groups),
        )

    @property
    def mean(self) -> float:
        return round(self.total / self.scored, 3)

    def share(self, count: int) -> float:
        return round(count / self.scored, 3)

    @property
    def net(self) -> float:
        return round((self.positive - self.negative) / self.scored, 3)


def _seconds(micros: int | None) -> int | None:
    """As the report always rounded: the wait in seconds as a float, to the nearest whole."""
    return None if micros is None else round(micros / 1_000_000)


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
