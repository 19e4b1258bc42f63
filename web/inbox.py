"""The team inbox: `/queue` (and its .json and .csv twins), `/mentions/<id>`, and the actions.

Every action goes through the agent workflow, on the mention's own alert: a mention counted in a
group is worked one by one, and the group's Telegram message is edited to show it.
"""

import asyncio
import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from core.store import InboxFilter, InboxPage
from responders.alert_buttons import SNOOZES
from service.report import csv_cell
from service.workflow import Agent
from web.auth import agent_action, login_required, visitor
from web.context import ConsoleContext
from web.history import HistoryPage, history_page, history_params, queue_row

PER_PAGE = 50
STATES = ("open", "claimed", "snoozed")
SNOOZE_CHOICES = {"s15": "15 minutes", "s60": "1 hour"}
VERBS = ("claim", "resolve", "not-relevant", "escalate", "snooze", "reply")
MAX_REPLY = 4000
ROW_FIELDS = [
    *("mention_id", "alert_id", "group_id", "platform", "author", "followers", "text", "lang"),
    *("sentiment", "urgency", "reasons", "rules", "state", "claimed_by", "due_at"),
    *("snoozed_until", "url", "created_at"),
]


@dataclass(frozen=True, slots=True)
class QueueQuery:
    """The inbox's filters as the URL carries them."""

    wanted: InboxFilter
    mine: bool
    page: int
    args: dict[str, str]  # the filters as given, for links that keep them
    history: bool = False  # `state=all` or a period: the mentions behind a figure, closed too

    def link(self, **changes: Any) -> str:
        args = {**self.args, **{k: str(v) for k, v in changes.items()}}
        return urlencode({k: v for k, v in args.items() if v and v != "0"})


def queue_query(request: Request, me: str) -> QueueQuery:
    params = request.query_params
    state = params.get("state", "")
    args = {
        "platform": params.get("platform", "")[:16],
        "rule": params.get("rule", "")[:128],
        "lang": params.get("lang", "")[:16],
        "state": state if state in STATES else "",
        "mine": "1" if params.get("mine") == "1" else "",
        "breached": "1" if params.get("breached") == "1" else "",
    }
    page = params.get("page", "1")
    wanted = InboxFilter(
        platform=args["platform"],
        rule=args["rule"],
        lang=args["lang"],
        state=args["state"],
        claimed_by=me if args["mine"] else "",
        breached=bool(args["breached"]),
    )
    number = int(page) if page.isdigit() and 0 < int(page) < 100_000 else 1
    if state == "all" or "from" in params:
        return QueueQuery(wanted, False, number, history_params(params), history=True)
    return QueueQuery(wanted, bool(args["mine"]), number, args)


class Inbox:
    def __init__(self, context: ConsoleContext, render: Callable[..., HTMLResponse]):
        self.context = context
        self.render = render

    def routes(self) -> list[Route]:
        act = agent_action(self.context.is_agent)
        return [
            Route("/queue", login_required(self.queue)),
            Route("/queue.json", login_required(self.queue_json)),
            Route("/queue.csv", login_required(self.queue_csv)),
            Route("/queue/rows", login_required(self.queue_rows)),
            Route("/mentions/{mention_id:int}", login_required(self.mention)),
            Route("/mentions/{mention_id:int}/{verb}", act(self.act), methods=["POST"]),
            Route("/drafts/{draft_id:int}/{verb}", act(self.draft), methods=["POST"]),
        ]

    async def _page(self, request: Request) -> tuple[QueueQuery, InboxPage | HistoryPage]:
        who = visitor(request)
        query = queue_query(request, who.user_id if who else "")
        store, now = self.context.store, self.context.clock.now()
        offset = (query.page - 1) * PER_PAGE
        if query.history:
            return query, await history_page(self.context, request.query_params, offset, PER_PAGE)
        page = await asyncio.to_thread(store.inbox, query.wanted, now, offset, PER_PAGE)
        return query, page

    async def queue(self, request: Request) -> Response:
        query, page = await self._page(request)
        choices = self.context.choices()
        pages = max(1, -(-page.total // PER_PAGE))
        return self.render(
            request,
            "queue.html",
            query=query,
            page=page,
            pages=pages,
            choices=choices,
            states=STATES,
        )

    async def queue_rows(self, request: Request) -> Response:
        """The table's rows alone: what the page's script polls to stay current."""
        query, page = await self._page(request)
        return self.render(request, "queue_rows.html", query=query, page=page)

    async def queue_json(self, request: Request) -> Response:
        query, page = await self._page(request)
        return JSONResponse(
            {"total": page.total, "page": query.page, "rows": [queue_row(r) for r in page.rows]}
        )

    async def queue_csv(self, request: Request) -> Response:
        _query, page = await self._page(request)
        out = io.StringIO()
        rows = [queue_row(r) for r in page.rows]
        writer = csv.DictWriter(out, fieldnames=ROW_FIELDS)
        writer.writeheader()
        writer.writerows({k: csv_cell(v) for k, v in row.items()} for row in rows)
        return Response(out.getvalue(), media_type="text/csv; charset=utf-8")

    async def mention(self, request: Request) -> Response:
        mention_id = request.path_params["mention_id"]
        store = self.context.store
        row = await asyncio.to_thread(store.mention_alert, mention_id)
        if row is None:  # never alerted (a backtest links to those too): the mention alone
            stored = await asyncio.to_thread(store.mention, mention_id)
            if stored is None:
                return self.render(request, "missing.html", status_code=404)
            return self.render(request, "mention_plain.html", m=stored)
        history = await asyncio.to_thread(store.mention_history, row.alert)
        earlier = await asyncio.to_thread(store.earlier_by_author, row.mention)
        draft = await asyncio.to_thread(store.pending_draft, row.alert.id or 0)
        replies = await asyncio.to_thread(store.replies, mention_id)
        return self.render(
            request,
            "mention.html",
            row=row,
            history=history,
            earlier=earlier,
            draft=draft,
            replies=replies,
            saved=self.context.saved_replies,
            snoozes=SNOOZE_CHOICES,
            flash=request.session.pop("flash", ""),
        )

    async def act(self, request: Request) -> Response:
        mention_id = request.path_params["mention_id"]
        verb = request.path_params["verb"]
        form = await request.form()
        flow = self.context.workflow
        if verb not in VERBS or (verb == "snooze" and form.get("for") not in SNOOZE_CHOICES):
            return self.render(request, "missing.html", status_code=404)
        own = await asyncio.to_thread(self.context.store.own_alert, mention_id)
        if own is None or flow is None:
            return self.render(request, "missing.html", status_code=404)
        agent = _visitor_agent(request)
        alert_id = own.id or 0
        if verb == "claim":
            answer = await flow.claim(alert_id, agent)
        elif verb == "resolve":
            answer = await flow.resolve(alert_id, agent)
        elif verb == "not-relevant":
            answer = await flow.not_relevant(alert_id, agent)
        elif verb == "escalate":
            answer = await flow.escalate(alert_id, agent)
        elif verb == "snooze":
            answer = await flow.snooze(alert_id, agent, SNOOZES[str(form.get("for"))])
        else:
            answer = await self._reply(alert_id, agent, form.get("saved"), form.get("text"))
        request.session["flash"] = answer
        return RedirectResponse(f"/mentions/{mention_id}", status_code=303)

    async def _reply(self, alert_id: int, agent: Agent, saved: Any, text: Any) -> str:
        """A saved reply (by its index) or the agent's own text becomes a draft to confirm."""
        flow = self.context.workflow
        assert flow is not None
        if isinstance(saved, str) and saved.isdigit():
            return await flow.pick_saved_reply(alert_id, agent, int(saved))
        if not isinstance(text, str) or len(text) > MAX_REPLY:
            return f"A reply is at most {MAX_REPLY} characters."
        return await flow.write_reply(alert_id, agent, text)

    async def draft(self, request: Request) -> Response:
        draft_id = request.path_params["draft_id"]
        verb = request.path_params["verb"]
        flow = self.context.workflow
        draft = await asyncio.to_thread(self.context.store.draft, draft_id)
        if draft is None or flow is None or verb not in ("send", "discard"):
            return self.render(request, "missing.html", status_code=404)
        alert = await asyncio.to_thread(self.context.store.alert, draft.alert_id)
        agent = _visitor_agent(request)
        if verb == "send":
            answer = await flow.send_draft(draft_id, agent)
        else:
            answer = await flow.discard_draft(draft_id, agent)
        request.session["flash"] = answer
        target = f"/mentions/{alert.mention_id}" if alert and alert.mention_id else "/queue"
        return RedirectResponse(target, status_code=303)


def _visitor_agent(request: Request) -> Agent:
    who = visitor(request)
    assert who is not None  # agent_action let the request in
    return who.agent
