"""Headers an ASGI app's HTTP responses get beside their own: the console's security headers,
the server's Date. Light (no Starlette app), as the server loads it at start-up."""

from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

Headers = list[tuple[bytes, bytes]]


class AddedHeaders:
    """`app`, each HTTP response of which gets `headers()` as it starts."""

    def __init__(self, app: ASGIApp, headers: Callable[[], Headers]):
        self.app = app
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *self.headers()]}
            await send(message)

        await self.app(scope, receive, with_headers)
