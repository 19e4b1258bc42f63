"""The web console as one Starlette app: pages, login links, sessions, security headers.

`/login?token=…` shows a button that logs in (a POST), so a link preview or a prefetching
browser cannot spend the one-time link. Every page sets a Content-Security-Policy without inline
script: the only script is our own `static/console.js`.
"""

import asyncio
import secrets
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from core.web_logins import Login
from web.added_headers import AddedHeaders
from web.auth import start_session, visitor
from web.context import HERE, ConsoleContext, templates
from web.dashboard import Dashboard
from web.inbox import Inbox
from web.ops import Ops
from web.rules_page import RulesPage

SESSION_COOKIE = "brandpulse_session"
SESSION_HOURS = 12
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),  # login tokens never leak in a Referer
    (b"x-frame-options", b"DENY"),
]


def session_key(context: ConsoleContext) -> str:
    secret = context.config.web.session_secret
    return secret.get_secret_value() if secret else secrets.token_hex(32)


def build_console(context: ConsoleContext, key: str | None = None) -> Starlette:
    env = templates(context.zone, context.clock.now)

    def render(request: Request, name: str, status_code: int = 200, **values: Any) -> HTMLResponse:
        values.update(me=visitor(request), brand=context.config.brand.name)
        return HTMLResponse(env.get_template(name).render(**values), status_code=status_code)

    login = LoginPages(context, render)
    inbox = Inbox(context, render)
    ops = Ops(context, render)
    rules = RulesPage(context, render)
    dashboard = Dashboard(context, render)
    routes = [
        Route("/", lambda _request: RedirectResponse("/queue", status_code=303)),
        Route("/login", login.page, methods=["GET"]),
        Route("/login", login.redeem, methods=["POST"]),
        Route("/logout", login.logout, methods=["POST"]),
        *inbox.routes(),
        *ops.routes(),
        *rules.routes(),
        *dashboard.routes(),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    middleware = [
        Middleware(AddedHeaders, headers=lambda: HEADERS),
        Middleware(
            SessionMiddleware,
            secret_key=key or session_key(context),
            session_cookie=SESSION_COOKIE,
            max_age=SESSION_HOURS * 3600,
            same_site="strict",
            https_only=context.config.web.public_url.startswith("https://"),
        ),
    ]
    app = Starlette(routes=routes, middleware=middleware)
    app.state.templates = env
    return app


class LoginPages:
    def __init__(self, context: ConsoleContext, render: Any):
        self.context = context
        self.render = render

    async def page(self, request: Request) -> Response:
        token = request.query_params.get("token", "")
        return self.render(request, "login.html", token=token[:100])

    async def redeem(self, request: Request) -> Response:
        form = await request.form()
        token = form.get("token")
        if not isinstance(token, str) or not token:
            return self.render(request, "login.html", token="", refused="No login link given.")
        found = await asyncio.to_thread(
            self.context.logins.redeem, token[:100], self.context.clock.now()
        )
        if not isinstance(found, Login):
            return self.render(request, "login.html", token="", refused=found, status_code=403)
        start_session(request, found)
        return RedirectResponse("/queue", status_code=303)

    async def logout(self, request: Request) -> Response:
        form = await request.form()
        who = visitor(request)
        if who is not None and secrets.compare_digest(str(form.get("csrf", "")), who.csrf):
            request.session.clear()
        return RedirectResponse("/login", status_code=303)
