"""The hand-run sandbox's control port: add a mention to a running fake from another shell.

`python -m sandbox` serves it on 127.0.0.1 (default :8700); `python -m sandbox post x "text"`
talks to it. `POST /post` with `{"platform": "x" | "reddit" | "telegram", "text": …,
"author": …}` plants the mention as a customer would write it and answers `{"id": …}`.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sandbox.reddit_api import FakeReddit
from sandbox.seed import COMMUNITY_CHAT, SUBREDDIT
from sandbox.telegram_api import FakeTelegram
from sandbox.x_api import FakeXApi

PLATFORMS = ("x", "reddit", "telegram")
_MAX_BODY = 64 * 1024


class ControlServer:
    def __init__(
        self, x: FakeXApi, reddit: FakeReddit, telegram: FakeTelegram, port: int = 8700
    ) -> None:
        self.x, self.reddit, self.telegram = x, reddit, telegram
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def __enter__(self) -> ControlServer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def post(self, platform: str, text: str, author: str) -> str:
        """Plant `text` by `author` on `platform`; the new post's id."""
        if platform == "x":
            return self.x.post_tweet(text, author)
        if platform == "reddit":
            title, _, body = text.partition("\n")
            return self.reddit.post_submission(SUBREDDIT, title, body, author=author)
        if platform == "telegram":
            person = {"id": 7800 + sum(map(ord, author)) % 1000, "first_name": author}
            update = self.telegram.push_group_message(
                COMMUNITY_CHAT, text, person | {"username": author}, chat_title="Acme owners"
            )
            return str(update)
        raise ValueError(f"unknown platform {platform!r}: one of {', '.join(PLATFORMS)}")


def _handler(control: ControlServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path != "/post":
                self._answer(404, {"error": "POST /post only"})
                return
            try:
                length = min(int(self.headers.get("Content-Length") or 0), _MAX_BODY)
                body = json.loads(self.rfile.read(length) or b"{}")
                platform, text = str(body["platform"]), str(body["text"])
                author = str(body.get("author") or "sandbox_customer")
                self._answer(200, {"id": control.post(platform, text, author)})
            except (KeyError, TypeError, ValueError) as exc:  # a bad request, not a crash
                self._answer(400, {"error": f"{type(exc).__name__}: {exc}"})

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_args: object) -> None:
            pass  # the sandbox's terminal shows what was planted, not every request

    return Handler
