"""The brand's dashboard (`/dashboard`), the agents' figures (`/agents`), their CSV twins
(`/dashboard.csv?series=…`) and the one-row-per-mention export (`/export.csv`).

Every figure comes from `service.overview.build_overview`, which builds `main.py report`'s
report from the same rows; every bar, point and row links to `/queue` listing exactly the
mentions it counts (web/history.py). Viewers may read all of it.
"""

import asyncio
import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from core.store.figures import Outcome
from service.overview import BUCKETS, SENTIMENTS, AgentFigures, Overview, agent_figures
from service.report import as_csv, csv_cell
from web import charts
from web.auth import login_required
from web.charts import Point
from web.context import ConsoleContext
from web.history import export_csv, figure_overview, selection
from web.period import CHOICES, Period

SERIES = (
    *("report", "mentions", "sentiment", "response", "target", "reasons", "rules", "terms"),
    *("languages", "agents"),
)


@dataclass(frozen=True, slots=True)
class Links:
    """Links from a figure to its mentions, all over the dashboard's period."""

    period: Period

    def __call__(self, **drill: str) -> str:
        args = {"state": "all", **self.period.params(), **{k: v for k, v in drill.items() if v}}
        return "/queue?" + urlencode(args)


class Dashboard:
    def __init__(self, context: ConsoleContext, render: Callable[..., HTMLResponse]):
        self.context = context
        self.render = render

    def routes(self) -> list[Route]:
        return [
            Route("/dashboard", login_required(self.dashboard)),
            Route("/dashboard.csv", login_required(self.dashboard_csv)),
            Route("/dashboard/charts.css", self.charts_css),
            Route("/agents", login_required(self.agents)),
            Route("/export.csv", login_required(self.export)),
        ]

    async def dashboard(self, request: Request) -> Response:
        overview, period, _drill, problem = await figure_overview(
            self.context, request.query_params
        )
        if overview is None or period is None:
            return self._refused(request, "dashboard.html", problem)
        links = Links(period)
        return self.render(
            request,
            "dashboard.html",
            **self._picker(request, period),
            o=overview,
            r=overview.report,
            links=links,
            charts=_charts(overview, links),
            buckets=BUCKETS,
            sentiments=SENTIMENTS,
        )

    async def agents(self, request: Request) -> Response:
        period, _drill, problem = selection(self.context, request.query_params)
        if period is None:
            return self._refused(request, "agents.html", problem)
        return self.render(
            request,
            "agents.html",
            **self._picker(request, period),
            agents=await self._agents(period),
            links=Links(period),
        )

    async def dashboard_csv(self, request: Request) -> Response:
        series = request.query_params.get("series", "report")
        if series not in SERIES:
            return Response(
                f"series: {series[:40]!r} is not one of {', '.join(SERIES)}\n",
                status_code=400,
                media_type="text/plain; charset=utf-8",
            )
        if series == "agents":  # the alerts' figures per agent only, not the whole overview
            period, _drill, problem = selection(self.context, request.query_params)
            if period is None:
                return Response(problem + "\n", status_code=400, media_type="text/plain")
            return _csv_response(_csv(*_agent_rows(await self._agents(period))), series)
        overview, _period, _drill, problem = await figure_overview(
            self.context, request.query_params
        )
        if overview is None:
            return Response(problem + "\n", status_code=400, media_type="text/plain")
        if series == "report":
            return _csv_response(as_csv(overview.report), "report")  # `main.py report`'s own
        header, rows = _series_rows(overview, series)
        return _csv_response(_csv(header, rows), series)

    async def export(self, request: Request) -> Response:
        text, problem = await export_csv(self.context, request.query_params)
        if problem:
            return Response(problem + "\n", status_code=400, media_type="text/plain")
        return _csv_response(text, "mentions")

    async def charts_css(self, _request: Request) -> Response:
        return Response(charts.stylesheet(), media_type="text/css")

    async def _agents(self, period: Period) -> list[AgentFigures]:
        store, zone = self.context.store, self.context.zone
        return await asyncio.to_thread(agent_figures, store, period.since, period.until, zone)

    def _picker(self, request: Request, period: Period) -> dict[str, Any]:
        zone = self.context.zone
        return {
            "period": period,
            "choices": CHOICES,
            "from_day": period.since.astimezone(zone).date().isoformat(),
            "to_day": _last_day(period, zone).isoformat(),
            "query": urlencode(period.params()),
            "zone_name": str(zone),
        }

    def _refused(self, request: Request, template: str, problem: str) -> Response:
        return self.render(request, template, problem=problem, choices=CHOICES, status_code=400)


def _last_day(period: Period, zone: Any) -> date:
    return (period.until - timedelta(microseconds=1)).astimezone(zone).date()


def _charts(o: Overview, links: Links) -> dict[str, Markup]:
    labels = [day.strftime("%m-%d") if len(o.days) > 1 else day.isoformat() for day in o.days]
    per = "day" if o.width == 1 else "week"
    by_platform = {
        platform: [
            Point(
                o.mentions_by_day[day][platform] or None,
                links(day=day.isoformat(), platform=platform),
                f"{platform} {day}",
            )
            for day in o.days
        ]
        for platform in o.platforms
    }
    feelings = {
        name: [
            Point(
                o.sentiment_by_day[day].share(name) or None,
                links(day=day.isoformat(), sentiment=name),
            )
            for day in o.days
        ]
        for name in SENTIMENTS
    }
    means = [Point(o.sentiment_by_day[day].mean, links(day=day.isoformat())) for day in o.days]
    responses = {
        "human first response": [
            Point(o.human_buckets[key] or None, links(responder="human", bucket=key))
            for key, _label, _upper in BUCKETS
        ],
        "bot first touch": [
            Point(o.bot_buckets[key] or None, links(responder="bot", bucket=key))
            for key, _label, _upper in BUCKETS
        ],
    }
    within = [
        Point(_share_within(o.target_by_day[day]), links(day=day.isoformat(), sla="within"))
        for day in o.days
    ]
    breaches = [
        Point(
            o.target_by_day[day][Outcome.MISSED] or None, links(day=day.isoformat(), sla="missed")
        )
        for day in o.days
    ]
    return {
        "mentions": charts.bars(f"Mentions by {per} and platform", labels, by_platform, True),
        "sentiment": charts.bars(f"Sentiment: share of the {per}", labels, feelings, True, True),
        "mean": charts.line("Mean sentiment (VADER compound)", labels, "mean", means),
        "response": charts.bars(
            "First response (alerts) and bot first touch (mentions)",
            [label for _key, label, _upper in BUCKETS],
            responses,
        ),
        "target": charts.bars(
            f"Share answered within target, by {per}",
            labels,
            {"within target": within},
            percent=True,
        ),
        "breaches": charts.bars("SLA breaches (missed target)", labels, {"breaches": breaches}),
    }


def _share_within(outcomes: Any) -> float | None:
    decided = outcomes[Outcome.WITHIN] + outcomes[Outcome.MISSED]
    return round(outcomes[Outcome.WITHIN] / decided, 3) if decided else None


def _series_rows(o: Overview, series: str) -> tuple[list[str], Iterable[list[Any]]]:
    if series == "mentions":
        return ["day", "platform", "mentions"], (
            [day.isoformat(), platform, o.mentions_by_day[day][platform]]
            for day in o.days
            for platform in o.platforms
        )
    if series == "sentiment":
        return ["day", "scored", *SENTIMENTS, *(f"share_{n}" for n in SENTIMENTS), "mean"], (
            [
                day.isoformat(),
                feel.scored,
                *(getattr(feel, n) for n in SENTIMENTS),
                *(feel.share(n) for n in SENTIMENTS),
                feel.mean,
            ]
            for day, feel in o.sentiment_by_day.items()
        )
    if series == "response":
        return ["responder", "bucket", "count"], [
            *(["human", key, o.human_buckets[key]] for key, _l, _u in BUCKETS),
            *(["bot", key, o.bot_buckets[key]] for key, _l, _u in BUCKETS),
        ]
    if series == "target":
        return ["day", *(str(n) for n in Outcome), "share_within_target"], (
            [day.isoformat(), *(got[n] for n in Outcome), _share_within(got)]
            for day, got in o.target_by_day.items()
        )
    pairs = {
        "reasons": o.report.top_reasons,
        "rules": o.report.top_rules,
        "terms": o.top_terms,
        "languages": o.languages,
    }[series]
    return ["name", "count"], ([name, count] for name, count in pairs)


def _agent_rows(agents: list[AgentFigures]) -> tuple[list[str], Iterable[list[Any]]]:
    return [
        *("agent", "claimed", "replied", "resolved", "first_response_count"),
        *("first_response_p50_s", "first_response_p90_s", "within_target", "missed_target"),
        "share_within_target",
    ], (
        [
            *(a.agent, a.claimed, a.replied, a.resolved, a.first_response.count),
            *(a.first_response.p50, a.first_response.p90, a.within_target, a.missed_target),
            a.share_within_target,
        ]
        for a in agents
    )


def _csv(header: list[str], rows: Iterable[list[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else csv_cell(v) for v in row])
    return out.getvalue()


def _csv_response(text: str, name: str) -> Response:
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="brandpulse-{name}.csv"'},
    )
