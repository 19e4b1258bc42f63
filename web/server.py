"""The console served on the node's own event loop: uvicorn's `Server.serve()` beside the
scheduler and the Telegram application (so `/livez` answering proves the loop runs).

The console's pages (Starlette's routing, Jinja2, pygal and our page modules, ~7 MB of a node's
memory) are imported at the first request, not at start-up: the port is bound and answering
from the start, and a node nobody visits never pays for them. `/livez`, which the Docker
HEALTHCHECK asks every 30 s, is answered here, so health probes alone never build the pages.
"""

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator
from email.utils import formatdate
from typing import TYPE_CHECKING

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from service.app import BrandPulse
from service.config import DEFAULT_CONFIG
from web.added_headers import AddedHeaders, Headers

if TYPE_CHECKING:
    from web.context import ConsoleContext

log = logging.getLogger(__name__)


class WebListenError(Exception):
    """`web.listen` names an address this node cannot serve on."""


class _OwnSignals(uvicorn.Server):
    """We own the event loop and its signals (main.py stops the whole node on SIGTERM)."""

    def __init__(self, config: uvicorn.Config):
        super().__init__(config)
        self.exit_now = asyncio.Event()  # set with `should_exit`: what the serving loop waits for

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def main_loop(self) -> None:
        """uvicorn's own loop wakes ten times a second to notice `should_exit` and refresh its
        Date header: a third of an idle node's CPU (issue 19). Once a second, it was still 114
        of an idle node's 292 event-loop wakeups a minute (strace). Each response is dated as
        it starts instead (`_date`), so nothing here wakes until `exit_now`."""
        await self.on_tick(0)  # the default headers once (the server's, no Date)
        await self.exit_now.wait()


def _date() -> Headers:
    """The Date an origin server with a clock must send (RFC 9110), as the response starts."""
    return [(b"date", formatdate(usegmt=True).encode())]


def console_context(app: BrandPulse) -> "ConsoleContext":
    from web.context import ConsoleContext

    return ConsoleContext(
        config=app.config,
        store=app.store,
        clock=app.clock,
        zone=app.zone,
        workflow=app.workflow,
        saved_replies=app.config.alerts.saved_replies,
        pollers=app.pollers,
        health=app.health,
        metrics=app.metrics,
        rules=lambda: app.pipeline.engine.config,
        engine=lambda: app.pipeline.engine,
        rule_places=lambda: app.rules_watcher.places if app.rules_watcher else {},
        last_reload=lambda: app.rules_reload,
        rules_dir=(app.rules_watcher.path if app.rules_watcher else DEFAULT_CONFIG).parent
        / "rules",
    )


def _build(app: BrandPulse) -> ASGIApp:
    from web.console import build_console

    return build_console(console_context(app))


# The same answer as the console's own `/livez` route (web/ops.py): the loop runs.
_LIVEZ_HEADERS = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"3")]


def _is_livez(scope: Scope) -> bool:
    return (
        scope["type"] == "http" and scope["path"] == "/livez" and scope["method"] in ("GET", "HEAD")
    )


async def _livez(scope: Scope, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": _LIVEZ_HEADERS})
    body = b"" if scope["method"] == "HEAD" else b"ok\n"
    await send({"type": "http.response.body", "body": body})


class ConsoleOnFirstRequest:
    """The console's ASGI app, built once, when the first request other than `/livez` arrives."""

    def __init__(self, app: BrandPulse):
        self._app = app
        self.console: ASGIApp | None = None
        self._building = asyncio.Lock()  # concurrent first requests wait for one build

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if _is_livez(scope):
            await _livez(scope, send)
            return
        if self.console is None:
            async with self._building:
                if self.console is None:
                    # Importing the pages takes ~0.3 s: off the loop, so polls and buttons go on.
                    self.console = await asyncio.to_thread(_build, self._app)
        await self.console(scope, receive, send)


class ConsoleServer:
    """Binds `web.listen` at once (a taken port stops the start with a clear error), serves
    until the node stops."""

    def __init__(self, app: BrandPulse):
        host, port = app.config.web.address
        try:
            self.socket = socket.create_server((host, port), reuse_port=False)
        except OSError as exc:
            raise WebListenError(f"web.listen {host}:{port}: {exc.strerror or exc}") from None
        self.port = self.socket.getsockname()[1]
        self.app = ConsoleOnFirstRequest(app)
        config = uvicorn.Config(
            AddedHeaders(self.app, _date),
            date_header=False,
            interface="asgi3",
            log_level="warning",
            access_log=False,
            lifespan="off",
            proxy_headers=False,
        )
        self.server = _OwnSignals(config)
        if app.config.web.session_secret is None:
            log.warning(
                "web.session_secret is not set (BRANDPULSE_WEB_SECRET): console sessions use a "
                "random key and end when this node stops"
            )
        log.info("web console on http://%s:%d", host, self.port)

    async def serve(self, stop: asyncio.Event) -> None:
        watcher = asyncio.create_task(self._stop_on(stop))
        try:
            await self.server.serve(sockets=[self.socket])
        finally:
            watcher.cancel()
            self.socket.close()

    async def _stop_on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self.server.should_exit = True
        self.server.exit_now.set()
