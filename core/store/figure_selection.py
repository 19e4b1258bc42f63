"""The mentions one figure of the overview counts: the list a bar, a point or a row opens.

Chosen by the same SQL expressions that count the figure (core/store/figure_sql.py,
core/store/figures.py), over the same period, so the list holds exactly the mentions counted,
and reads no other rows. `Store.figure_mentions` is the door.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any

from sqlalchemy import Text, and_, bindparam, cast, func, select, tuple_
from sqlalchemy.engine import Connection, Engine

from core.models import MentionRow
from core.reasons import Reason
from core.store.figure_sql import Dialect, Outcome, author_of, standing
from core.store.figures import Sentiment, day_number, reasons_of, rules_of


@dataclass(frozen=True, slots=True)
class Selection:
    """The mentions of a period one figure counts (service/overview.py's `Drill`, resolved).

    Empty fields do not narrow. Mention fields narrow the mentions written in the period; with
    `by_alert` the figure counts alerts opened in it (SLA, first response, agents), and `days`
    is the alert's own.
    """

    days: tuple[date, date] | None = None  # first and last local day, inclusive
    platform: str = ""
    sentiment: str = ""  # negative | neutral | positive
    lang: str = ""  # "?": not detected
    reasons: Callable[[tuple[Reason, ...]], bool] | None = None  # a list of reasons counts
    rules: Callable[[tuple[str, ...]], bool] | None = None
    repeat: bool = False  # by authors who wrote 2+ times in the period
    by_alert: bool = False
    outcome: str = ""
    human: bool = False  # alerts with a human first response
    bot: bool = False  # mentions with a bot first touch
    wait_us: tuple[int | None, int | None] = (None, None)  # of that response: (above, up to)
    agent: str = ""
    role: str = ""  # claimed | replied | resolved | responded

    @property
    def narrows_mentions(self) -> bool:
        fields = (self.platform, self.sentiment, self.lang, self.reasons, self.rules)
        return any(fields) or self.repeat


def select_mentions(
    engine: Engine,
    since: datetime,
    until: datetime,
    zone: tzinfo,
    cut: Sentiment,
    chosen: Selection,
) -> list[int]:
    """The ids of the mentions `chosen` names, in order."""
    sql = Dialect(engine.dialect.name, zone, since, until)
    written = MentionRow.created_at
    in_period = and_(written >= since, written < until)
    with engine.connect() as connection, connection.begin():
        mentions = [in_period, *_mention_conditions(connection, chosen, cut, in_period)]
        if chosen.days and not chosen.by_alert:
            mentions.append(sql.day(written).between(*map(day_number, chosen.days)))
        if chosen.by_alert:
            query = _alert_query(sql, chosen, since, until)
            if chosen.narrows_mentions:
                query = query.where(
                    query.selected_columns[0].in_(select(MentionRow.id).where(*mentions))
                )
        else:
            query = select(MentionRow.id).where(*mentions)
            if chosen.bot:
                touches = sql.bot_touches(in_period).subquery()
                query = query.where(
                    MentionRow.id.in_(
                        select(touches.c.mention_id).where(*_within(touches.c[1], chosen.wait_us))
                    )
                )
        return sorted({n for n in connection.scalars(query) if n is not None})


def _alert_query(sql: Dialect, chosen: Selection, since: datetime, until: datetime) -> Any:
    figures = sql.alerts(standing(since, until), until).order_by(None).subquery()
    conditions = [figures.c.mention_id.is_not(None)]
    if chosen.days:
        conditions.append(figures.c.day.between(*map(day_number, chosen.days)))
    if chosen.outcome:
        conditions.append(figures.c.outcome == chosen.outcome)
    if chosen.human:
        response = figures.c.response_us
        conditions += [response.is_not(None), *_within(response, chosen.wait_us)]
    if chosen.agent:
        column = {"claimed": "claimed_by", "replied": "replied_by", "resolved": "resolved_by"}
        conditions.append(figures.c[column.get(chosen.role, "responder")] == chosen.agent)
        if chosen.role not in column:  # the first response's: an SLA figure
            conditions.append(figures.c.outcome != Outcome.NOT_RELEVANT.value)
    return select(figures.c.mention_id).where(*conditions)


def _mention_conditions(
    connection: Connection, chosen: Selection, cut: Sentiment, in_period: Any
) -> list[Any]:
    found: list[Any] = []
    if chosen.platform:
        found.append(MentionRow.platform == chosen.platform)
    sentiment = MentionRow.sentiment
    classes = {
        "negative": sentiment <= cut.negative,
        "positive": sentiment >= cut.positive,
        "neutral": and_(sentiment > cut.negative, sentiment < cut.positive),
    }
    if chosen.sentiment:
        found.append(classes[chosen.sentiment])
    if chosen.lang:
        found.append(func.coalesce(func.nullif(MentionRow.lang, ""), "?") == chosen.lang)
    if chosen.reasons or chosen.rules:
        # As text: few different lists in a period; each decoded once, matched here.
        reasons_text, rules_text = cast(MentionRow.reasons, Text), cast(MentionRow.rules, Text)
        pairs = connection.execute(select(reasons_text, rules_text).where(in_period).distinct())
        wanted_reasons, wanted_rules = set(), set()
        for reasons, rules in pairs:
            if chosen.reasons and chosen.reasons(reasons_of(reasons)):
                wanted_reasons.add(reasons)
            if chosen.rules and chosen.rules(rules_of(rules)):
                wanted_rules.add(rules)
        if chosen.reasons:
            found.append(reasons_text.in_(_inline("reasons", wanted_reasons)))
        if chosen.rules:
            found.append(rules_text.in_(_inline("rules", wanted_rules)))
    if chosen.repeat:
        author = author_of()
        repeated = (
            select(MentionRow.platform, author)
            .where(in_period)
            .group_by(MentionRow.platform, author)
            .having(func.count() >= 2)
        )
        found.append(tuple_(MentionRow.platform, author).in_(repeated))
    return found


def _inline(name: str, texts: set[str]) -> Any:
    """Texts written into the statement: a year's different lists of reasons (they carry the
    sentiment's score) may outnumber the parameters SQLite and PostgreSQL accept."""
    return bindparam(name, sorted(texts), type_=Text, expanding=True, literal_execute=True)


def _within(micros: Any, bounds: tuple[int | None, int | None]) -> list[Any]:
    above, up_to = bounds
    return [
        *(() if above is None else (micros > above,)),
        *(() if up_to is None else (micros <= up_to,)),
    ]
