"""What operators look at: `/sources` (what `main.py health` knows, as a page), and `/livez`,
`/health` and `/metrics` for monitors (open without a session, like any health endpoint; the
console listens on 127.0.0.1 unless `web.listen` says otherwise)."""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from listeners.base import RateBudget
from service.health import SourceHealth
from service.metrics import CONTENT_TYPE
from web.auth import login_required
from web.context import ConsoleContext


@dataclass(frozen=True, slots=True)
class SourceLine:
    health: SourceHealth
    cursor: str
    rate: RateBudget | None  # known only on the node polling it
    next_poll: datetime | None


class Ops:
    def __init__(self, context: ConsoleContext, render: Callable[..., HTMLResponse]):
        self.context = context
        self.render = render

    def routes(self) -> list[Route]:
        return [
            Route("/sources", login_required(self.sources)),
            Route("/livez", self.livez),
            Route("/health", self.health),
            Route("/metrics", self.metrics),
        ]

    async def sources(self, request: Request) -> Response:
        report = await self.context.health()
        store = self.context.store
        here = {poller.source: poller for poller in self.context.pollers}
        lines = []
        for source in report.sources:
            cursor = await asyncio.to_thread(store.cursor, source.source) or ""
            poller = here.get(source.source)
            lines.append(
                SourceLine(
                    source,
                    cursor,
                    poller.rate if poller else None,
                    poller.next_at if poller else None,
                )
            )
        return self.render(request, "sources.html", report=report, lines=lines)

    async def livez(self, _request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def health(self, _request: Request) -> Response:
        try:
            report = await self.context.health()
        except Exception as exc:  # the database is down: that is the answer, not a crash
            return JSONResponse({"healthy": False, "problems": [f"database: {exc}"]}, 503)
        return JSONResponse(report.as_json(), 200 if report.healthy else 503)

    async def metrics(self, _request: Request) -> Response:
        try:
            body = await asyncio.to_thread(self.context.metrics.render)
        except Exception as exc:  # the outbox gauges need the database
            return PlainTextResponse(f"database: {exc}\n", status_code=503)
        return Response(body, media_type=CONTENT_TYPE)
