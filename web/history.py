"""The mentions behind a figure: `/queue?state=all&from=…&to=…&<figure>` lists them, open and
closed, and `/export.csv` with the same parameters gives one row per mention.

The database selects the list by the same expressions that counted the figure
(service/overview.py's `select_mentions`), over the same period, so a bar and the list it opens
always agree, and the list reads only its own rows.
"""

import asyncio
import csv
import io
from dataclasses import dataclass
from typing import Any

from core.store import InboxRow
from core.store.figures import AlertFigure
from core.store.reporting import HistoryRow
from service.overview import Drill, Overview, build_overview, select_mentions
from service.report import csv_cell
from web.context import ConsoleContext, as_json
from web.period import Period, PeriodError, period_of

CHUNK = 5000  # ids per query: far below SQLite's and PostgreSQL's limits on parameters
EXPORT_FIELDS = [
    *("mention_id", "alert_id", "group_id", "platform", "author", "followers", "text", "lang"),
    *("sentiment", "urgency", "reasons", "rules", "state", "claimed_by", "due_at"),
    *("snoozed_until", "url", "created_at", "sla", "first_response_s", "first_response_by"),
    *("bot_first_touch_s", "resolution_s", "resolved_by"),
]


@dataclass(frozen=True, slots=True)
class HistoryPage:
    rows: list[HistoryRow]
    total: int
    period: Period | None
    drill: Drill
    problem: str = ""  # a parameter the page could not use, named


def history_params(params: Any) -> dict[str, str]:
    """The parameters of a figure's list, for links that keep them (paging, CSV)."""
    kept = {"state": "all", "from": params.get("from", ""), "to": params.get("to", "")}
    kept.update(Drill.from_params(params).params())
    return {k: str(v)[:200] for k, v in kept.items() if v}


def selection(context: ConsoleContext, params: Any) -> tuple[Period | None, Drill, str]:
    """The period and the figure the parameters name, or the problem with the period."""
    drill = Drill.from_params(params)
    try:
        return period_of(params, context.clock.now(), context.zone), drill, ""
    except PeriodError as problem:
        return None, drill, str(problem)


async def figure_overview(
    context: ConsoleContext, params: Any
) -> tuple[Overview | None, Period | None, Drill, str]:
    period, drill, problem = selection(context, params)
    if period is None:
        return None, None, drill, problem
    overview = await asyncio.to_thread(
        build_overview, context.store, period.since, period.until, context.zone
    )
    return overview, period, drill, ""


async def history_page(
    context: ConsoleContext, params: Any, offset: int, limit: int
) -> HistoryPage:
    period, drill, problem = selection(context, params)
    if period is None:
        return HistoryPage([], 0, None, drill, problem)
    ids = await asyncio.to_thread(
        select_mentions, context.store, period.since, period.until, context.zone, drill
    )
    rows = await asyncio.to_thread(context.store.history, ids, offset, limit)
    return HistoryPage(rows, len(ids), period, drill)


async def export_csv(context: ConsoleContext, params: Any) -> tuple[str, str]:
    """(CSV text, problem): one row per mention the parameters select, newest first; the
    SLA columns from the alerts of those mentions only."""
    period, drill, problem = selection(context, params)
    if period is None:
        return "", problem
    store, since, until, zone = context.store, period.since, period.until, context.zone
    ids = await asyncio.to_thread(select_mentions, store, since, until, zone, drill)
    ids.reverse()  # newest first
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS, lineterminator="\n")
    writer.writeheader()
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        rows = await asyncio.to_thread(store.history, chunk, 0, len(chunk))
        alerts, touches = await asyncio.to_thread(store.alert_facts, since, until, zone, chunk)
        for row in rows:
            data = export_row(row, alerts, touches)
            writer.writerow({k: csv_cell(v) for k, v in data.items()})
    return out.getvalue(), ""


def queue_row(row: InboxRow | HistoryRow) -> dict[str, Any]:
    """What a row of the queue shows, as /queue.json and /queue.csv give it."""
    mention, alert = row.mention, row.alert
    return {
        "mention_id": mention.id,
        "alert_id": alert.id if alert else None,
        "group_id": alert.group_id if alert else None,
        "platform": mention.platform,
        "author": mention.author_handle,
        "followers": mention.author_followers,
        "text": mention.text,
        "lang": mention.lang,
        "sentiment": mention.sentiment,
        "urgency": mention.urgency,
        "reasons": [str(reason) for reason in mention.reasons or []],
        "rules": list(mention.rules or []),
        "state": alert.state if alert else "not alerted",
        "claimed_by": row.claimed_by,
        "due_at": as_json(row.due_at),
        "snoozed_until": as_json(row.snoozed_until),
        "url": mention.url,
        "created_at": as_json(mention.created_at),
    }


def export_row(
    row: HistoryRow, alerts: dict[int, AlertFigure], touches: dict[int, int]
) -> dict[str, Any]:
    """`alerts`: the first alert of each mention in the period; `touches`: its bot first
    touch in microseconds."""
    mention, alert = row.mention, row.alert
    fact = alerts.get(mention.id or 0)
    return {
        **queue_row(row),
        "sla": fact.outcome.value if fact else "",
        "first_response_s": _seconds(fact.response_us if fact else None),
        "first_response_by": fact.responder if fact else "",
        "bot_first_touch_s": _seconds(touches.get(mention.id or 0)),
        "resolution_s": _seconds(fact.resolution_us if fact else None),
        "resolved_by": alert.resolved_by if alert else "",
    }


def _seconds(micros: int | None) -> int | None:
    return None if micros is None else round(micros / 1_000_000)
