"""Who is looking: sessions from one-time login links, roles, and the CSRF token.

The session lives in a signed cookie (Starlette's SessionMiddleware: itsdangerous, HttpOnly,
SameSite=Strict, Secure behind https). It holds the role, the agent's Telegram user id and name,
and a random CSRF token that every form posts back. An agent's id is checked against
`TELEGRAM_AGENT_IDS` on every action, so taking someone off the list takes effect at once.
"""

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from core.states import Origin, WebRole
from core.web_logins import Login
from service.workflow import Agent

Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class Visitor:
    role: WebRole
    user_id: str
    name: str
    csrf: str

    @property
    def agent(self) -> Agent:
        return Agent(self.user_id, self.name, Origin.WEB)


def start_session(request: Request, login: Login) -> None:
    request.session.clear()
    request.session.update(
        role=login.role, user_id=login.user_id, name=login.name, csrf=secrets.token_urlsafe(24)
    )


def visitor(request: Request) -> Visitor | None:
    data: dict[str, Any] = request.session
    try:
        return Visitor(WebRole(data["role"]), str(data["user_id"]), str(data["name"]), data["csrf"])
    except (KeyError, ValueError):
        return None


def login_required(handler: Handler) -> Handler:
    """Pages: no session, no page (a redirect to the login page)."""

    async def guarded(request: Request) -> Response:
        if visitor(request) is None:
            return RedirectResponse("/login", status_code=303)
        return await handler(request)

    return guarded


def agent_action(is_agent: Callable[[str], bool]) -> Callable[[Handler], Handler]:
    """State-changing requests: an agent's session and the session's CSRF token, or 403."""

    def wrap(handler: Handler) -> Handler:
        async def guarded(request: Request) -> Response:
            who = visitor(request)
            if who is None:
                return PlainTextResponse("Log in first.", status_code=401)
            if who.role != WebRole.AGENT or not is_agent(who.user_id):
                return PlainTextResponse("Viewers may look, not act.", status_code=403)
            return await stale_form(request, who) or await handler(request)

        return guarded

    return wrap


def form_checked(handler: Handler) -> Handler:
    """Forms any session may post (an agent's or a viewer's): the session's CSRF token, or 403."""

    async def guarded(request: Request) -> Response:
        who = visitor(request)
        if who is None:
            return PlainTextResponse("Log in first.", status_code=401)
        return await stale_form(request, who) or await handler(request)

    return guarded


async def stale_form(request: Request, who: Visitor) -> Response | None:
    """The refusal of a form whose CSRF token is not the session's, None for a good one."""
    sent = (await request.form()).get("csrf")
    if isinstance(sent, str) and secrets.compare_digest(sent, who.csrf):
        return None
    return PlainTextResponse(
        "This form is stale or came from elsewhere (CSRF token missing or wrong); "
        "reload the page and try again.",
        status_code=403,
    )
