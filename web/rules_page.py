"""The rules workbench, `/rules`: the rules in force with their file:line and how often each fired
in the period, the hot reload's last result, a box to try a text (`main.py rules test`), and a
backtest of a candidate rule file (`main.py rules backtest`) over the period's stored mentions.

Nothing here writes a rule file: the rules stay in git, where brand managers review them. So the
two forms are open to viewers as well as agents (they compute, they change nothing); they still
carry the session's CSRF token, so another site cannot make a logged-in browser run them.
"""

import asyncio
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from core.config_file import Location
from rules.engine import Engine
from rules.loader import LoadedRules, RulesError
from rules.schema import Rule, RulesConfig
from service.backtest import (
    BacktestReport,
    Change,
    ChangeKind,
    TooManyMentions,
    replay_stored,
)
from service.candidates import MAX_PASTE, candidate_files, load_candidate_file, load_pasted
from service.platforms import descriptors
from service.rules_cli import sample_mention, verdict_text
from web.auth import form_checked, login_required
from web.context import ConsoleContext
from web.rules_period import PERIODS, Period, period_of

# Mentions a backtest from the page replays: ~15 s on 2 shared cores (bench/rules_backtest.py).
# The CLI has no cap; the page says to use it for more.
MAX_REPLAY = 5_000
SHOW_CHANGES = 100  # mentions listed per kind of change
MAX_TEXT = 4000


@dataclass(frozen=True, slots=True)
class RuleLine:
    rule: Rule
    place: str  # file:line, or "" when the node follows no rule file
    conditions: str
    actions: str
    fired: int


@dataclass(frozen=True, slots=True)
class Tried:
    output: str  # what `rules test` prints for the text


@dataclass(frozen=True, slots=True)
class Backtested:
    candidate: str  # the file's name, or "pasted"
    report: BacktestReport

    def rows(self, counter: str) -> list[tuple[str, int, int]]:
        """(name, in force, candidate) per rule or route, as `rules backtest` lists them."""
        before: Counter[str] = getattr(self.report.current, counter)
        after: Counter[str] = getattr(self.report.candidate, counter)
        names = list(before) + [name for name in after if name not in before]
        return [(name, before[name], after[name]) for name in names]

    def changes(self) -> list[tuple[ChangeKind, list[Change]]]:
        return [(kind, self.report.of_kind(kind)) for kind in ChangeKind]


class RulesPage:
    def __init__(self, context: ConsoleContext, render: Callable[..., HTMLResponse]):
        self.context = context
        self.render = render
        self._replaying = asyncio.Lock()  # one backtest at a time on this node

    def routes(self) -> list[Route]:
        return [
            Route("/rules", login_required(self.page)),
            Route("/rules.json", login_required(self.as_json)),
            Route("/rules/try", form_checked(self.try_text), methods=["POST"]),
            Route("/rules/backtest", form_checked(self.backtest), methods=["POST"]),
        ]

    async def page(self, request: Request) -> Response:
        return await self._show(request)

    async def try_text(self, request: Request) -> Response:
        form = await request.form()
        tried = self._try(form)
        if isinstance(tried, str):
            return await self._show(request, form=form, try_error=tried, status_code=400)
        return await self._show(request, form=form, tried=tried)

    async def backtest(self, request: Request) -> Response:
        form = await request.form()
        period = self._period(request)
        if isinstance(period, str):
            return await self._show(request, form=form, backtest_error=[period], status_code=400)
        if self._replaying.locked():
            busy = "Another backtest is running on this node; try again when it is done."
            return await self._show(request, form=form, backtest_error=[busy], status_code=429)
        async with self._replaying:
            outcome = await asyncio.to_thread(self._replay, form, period)
        if isinstance(outcome, list):
            return await self._show(request, form=form, backtest_error=outcome, status_code=400)
        return await self._show(request, form=form, backtested=outcome)

    # --- the page -------------------------------------------------------------------------

    async def _show(
        self, request: Request, form: FormData | None = None, status_code: int = 200, **shown: Any
    ) -> Response:
        period = self._period(request)
        lines, gone = await self._lines(period)
        return self.render(
            request,
            "rules.html",
            status_code=status_code,
            lines=lines,
            gone=gone,
            period=period if isinstance(period, Period) else None,
            period_error=period if isinstance(period, str) else "",
            periods=PERIODS,
            reload=self.context.last_reload(),
            follows_file=bool(self.context.rule_places()) or not lines,
            files=candidate_files(self.context.rules_dir),
            rules_dir=self.context.rules_dir,
            platforms=[platform.info.key for platform in descriptors()],
            languages=self.context.config.brand.languages,
            form=form or {},
            max_replay=MAX_REPLAY,
            max_paste=MAX_PASTE,
            show_changes=SHOW_CHANGES,
            **shown,
        )

    async def as_json(self, request: Request) -> Response:
        """The page's rules and reload as data (the forms are the page's alone)."""
        period = self._period(request)
        if isinstance(period, str):
            return JSONResponse({"error": period}, status_code=400)
        lines, gone = await self._lines(period)
        reload = self.context.last_reload()
        return JSONResponse(
            {
                "since": period.since.isoformat(),
                "until": period.until.isoformat(),
                "rules": [
                    {
                        "name": line.rule.name,
                        "enabled": line.rule.enabled,
                        "place": line.place,
                        "when": line.rule.when.model_dump(mode="json", exclude_defaults=True),
                        "actions": [
                            {"kind": action.kind, **action.model_dump(mode="json")}
                            for action in line.rule.actions
                        ],
                        "fired": line.fired,
                    }
                    for line in lines
                ],
                "fired_not_in_force": gone,
                "last_reload": None
                if reload is None
                else {
                    "at": reload.at.isoformat(),
                    "refused": bool(reload.problems),
                    "problems": [str(problem) for problem in reload.problems],
                },
            }
        )

    async def _lines(self, period: Period | str) -> tuple[list[RuleLine], dict[str, int]]:
        """Each rule in force with its place and fire count; and the rules no longer in force
        that fired in the period."""
        config = self.context.rules()
        fired: Counter[str] = Counter()
        if isinstance(period, Period):
            fired = await asyncio.to_thread(
                self.context.store.rule_fires, period.since, period.until
            )
        places = self.context.rule_places()
        folder = self.context.rules_dir.parent
        lines = [
            RuleLine(
                rule,
                _place(places[rule.name], folder) if rule.name in places else "",
                _conditions(rule),
                _actions(rule),
                fired[rule.name],
            )
            for rule in config.rules
        ]
        in_force = {rule.name for rule in config.rules}
        return lines, {name: n for name, n in fired.items() if name not in in_force}

    def _period(self, request: Request) -> Period | str:
        return period_of(request.query_params, self.context.clock.now(), self.context.zone)

    # --- try a text -----------------------------------------------------------------------

    def _try(self, form: FormData) -> Tried | str:
        text, platform = str(form.get("text", "")), str(form.get("platform", "x"))
        lang, followers = str(form.get("lang", "")).strip().lower(), str(form.get("followers", ""))
        if not text.strip():
            return "Write the text to try."
        if len(text) > MAX_TEXT:
            return f"The text has {len(text)} characters; at most {MAX_TEXT}."
        if platform not in [p.info.key for p in descriptors()]:
            return f"platform {platform[:20]!r}: not a platform BrandPulse reads"
        if lang and lang not in self.context.config.brand.languages:
            languages = ", ".join(self.context.config.brand.languages)
            return f"language {lang[:16]!r}: not a language of this brand ({languages})"
        count = followers.strip() or "0"
        if not count.isdigit() or int(count) > 10**10:
            return f"followers {followers[:20]!r}: a whole number, 0 or more"
        mention = sample_mention(
            text,
            platform=platform,
            at=self.context.clock.now(),
            followers=int(count),
            lang=lang,
            verified=form.get("verified") == "1",
            is_reply=form.get("is_reply") == "1",
        )
        verdict = self.context.engine().evaluate(mention, author_recent_count=0)
        return Tried(verdict_text(verdict))

    # --- backtest (in a worker thread) ----------------------------------------------------

    def _replay(self, form: FormData, period: Period) -> Backtested | list[str]:
        """The backtest's result, or the problems to show (each with its file:line)."""
        pasted, name = str(form.get("candidate", "")), str(form.get("file", ""))
        if not pasted.strip() and not name:
            return ["Paste a rule file or pick one from rules/."]
        try:
            loaded: LoadedRules[RulesConfig] = (
                load_pasted(pasted)
                if pasted.strip()
                else load_candidate_file(self.context.rules_dir, name)
            )
        except RulesError as exc:
            return [str(problem) for problem in exc.problems]
        current = self.context.engine()
        candidate = Engine(loaded.config, current.triage)
        try:
            report = replay_stored(
                self.context.store,
                current,
                candidate,
                period.since,
                period.until,
                limit=MAX_REPLAY,
            )
        except TooManyMentions as exc:
            return [
                f"{exc}: pick a shorter period, or run `main.py rules backtest --since "
                f"{_days(period.until - period.since)}d --rules FILE` on a server shell"
            ]
        return Backtested("pasted" if pasted.strip() else name, report)


def _place(location: Location, folder: Path) -> str:
    """file:line, the file named from the config's folder when it is in it (as people
    write `include:`)."""
    path = Path(location.file)
    shown = path.relative_to(folder) if path.is_relative_to(folder) else path
    return f"{shown}:{location.line}"


def _days(span: timedelta) -> int:
    return max(1, math.ceil(span.total_seconds() / 86400))


def _conditions(rule: Rule) -> str:
    shown = rule.when.model_dump(mode="json", exclude_defaults=True)
    return _flow(shown) if shown else "every mention"


def _actions(rule: Rule) -> str:
    return ", ".join(
        _flow({"kind": action.kind, **action.model_dump(mode="json", exclude_defaults=True)})
        for action in rule.actions
    )


def _flow(value: Any) -> str:
    """A value as YAML's flow style reads it (`keywords: [refund*, iade]`); the page escapes."""
    if isinstance(value, dict):
        inner = ", ".join(f"{key}: {_nested(item)}" for key, item in value.items())
        return inner
    return _nested(value)


def _nested(value: Any) -> str:
    if isinstance(value, dict) and value and all(item is None for item in value.values()):
        return _nested(list(value))  # keywords without weights, as they are written
    if isinstance(value, dict):
        return "{" + _flow(value) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_nested(item) for item in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
