"""The shared base of every fake platform: a threaded JSON server on 127.0.0.1 with fault knobs.

Standard library only, served from a daemon thread, so a fake works the same whether the client
is sync `requests` (tweepy, praw) or async httpx (python-telegram-bot) on any event loop.
A subclass implements `handle()` (routing) and `error_reply()` / `rate_limited_reply()` (the
platform's own error shapes); the knobs and the request log live here, once.
"""

from __future__ import annotations

import json
import select
import socket
import struct
import threading
import time
import traceback
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import parse_qsl, urlsplit

Clock = Callable[[], float]
JsonBody = dict[str, Any] | list[Any] | str | None


@dataclass(frozen=True)
class Request:
    """One request as the fake saw it: what tests count and assert on."""

    method: str
    path: str
    query: dict[str, str]
    body: JsonBody
    headers: dict[str, str]

    @property
    def params(self) -> dict[str, Any]:
        """Query and body merged, the way form-style APIs (Telegram, Reddit) read them."""
        merged: dict[str, Any] = dict(self.query)
        if isinstance(self.body, dict):
            merged.update(self.body)
        return merged

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


@dataclass(frozen=True)
class Served:
    """A request together with the status it was answered with (0: connection dropped)."""

    request: Request
    status: int

    # Shortcuts so tests can write `fake.requests[0].path`.
    @property
    def method(self) -> str:
        return self.request.method

    @property
    def path(self) -> str:
        return self.request.path

    @property
    def query(self) -> dict[str, str]:
        return self.request.query

    @property
    def body(self) -> JsonBody:
        return self.request.body


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    # Pre-encoded bytes win over `body`; used for the malformed-JSON knob.
    raw: bytes | None = None
    # A streamed body (X's filtered stream), sent chunked as the iterator yields. An empty
    # chunk writes nothing but checks the client is still there; ConnectionAbortedError from
    # the iterator cuts the connection without the closing chunk, as a network drop does.
    stream: Iterator[bytes] | None = None


FaultKind = Literal["status", "rate_limit", "drop", "reset", "malformed", "slow", "raw", "call"]


@dataclass(frozen=True)
class _Fault:
    kind: FaultKind
    status: int = 0
    headers: Mapping[str, str] | None = None
    body: Any = None
    seconds: float = 0.0
    raw: bytes = b""
    path: str = ""  # "call" faults: only requests whose path starts with this
    call: Callable[[Request], None] | None = None


class FakeServer(ABC):
    """Base of the fakes: lifecycle, request log, fault knobs; subclasses route requests."""

    def __init__(self, *, port: int = 0, clock: Clock = time.time) -> None:
        self._port = port
        self._clock = clock
        # Re-entrant because knobs called from handlers (e.g. a posted reply) take it again.
        self._lock = threading.RLock()
        self._faults: deque[_Fault] = deque()
        self._down = False
        self._served: list[Served] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._httpd = _Server(("127.0.0.1", self._port), handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"{type(self).__name__}:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._on_stop()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._httpd = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def set_clock(self, clock: Clock) -> None:
        """Replace the epoch-seconds clock used for timestamps and rate-limit windows."""
        with self._lock:
            self._clock = clock

    def now(self) -> float:
        return self._clock()

    # -- request log ---------------------------------------------------------------------------

    @property
    def requests(self) -> list[Served]:
        with self._lock:
            return list(self._served)

    def calls(self, path: str, method: str | None = None) -> list[Served]:
        """Requests whose path starts with `path` (and with `method`, if given)."""
        return [
            s
            for s in self.requests
            if s.path.startswith(path) and (method is None or s.method == method.upper())
        ]

    # -- fault knobs ---------------------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        times: int = 1,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> None:
        """Answer the next `times` requests with `status` (platform error body unless given)."""
        self._queue(_Fault("status", status=status, headers=headers, body=body), times)

    def rate_limit_next(self, reset_after_seconds: int) -> None:
        """Answer the next request with the platform's 429 and its real rate-limit headers."""
        self._queue(_Fault("rate_limit", seconds=reset_after_seconds), 1)

    def set_down(self, down: bool) -> None:
        """While down, every request gets a 502, as from a gateway in front of a dead backend."""
        with self._lock:
            self._down = down

    def drop_next_connection(self) -> None:
        """Close the socket of the next request without writing any response."""
        self._queue(_Fault("drop"), 1)

    def reset_next_connection(self) -> None:
        """Abort the next request's connection with a TCP reset (ECONNRESET), no response."""
        self._queue(_Fault("reset"), 1)

    def raw_next(self, body: bytes, status: int = 200) -> None:
        """Answer the next request with these exact bytes, e.g. invalid UTF-8 inside JSON."""
        self._queue(_Fault("raw", status=status, raw=body), 1)

    def call_on_next(self, path: str, call: Callable[[Request], None]) -> None:
        """Run `call` (in the server thread) when the next request for `path` arrives.

        The request is then answered as usual. Crash tests use it to kill a client at an
        exact point: while its request is in flight, or (with a short timer) just after.
        """
        self._queue(_Fault("call", path=path, call=call), 1)

    def malformed_next(self) -> None:
        """Answer the next request with 200 and truncated JSON."""
        self._queue(_Fault("malformed"), 1)

    def slow_next(self, seconds: float, times: int = 1) -> None:
        """Delay the next `times` responses, to exercise client timeouts."""
        self._queue(_Fault("slow", seconds=seconds), times)

    def _queue(self, fault: _Fault, times: int) -> None:
        with self._lock:
            self._faults.extend([fault] * times)

    def _take_fault(self, request: Request) -> _Fault | None:
        with self._lock:
            if self._down:
                return _Fault("status", status=502)
            if not self._faults:
                return None
            fault = self._faults[0]
            if fault.kind == "call" and not request.path.startswith(fault.path):
                return None  # waits for a request it is meant for
            return self._faults.popleft()

    # -- subclass hooks ------------------------------------------------------------------------

    @abstractmethod
    def handle(self, request: Request) -> Reply:
        """The platform's answer to one request (its routing)."""

    @abstractmethod
    def error_reply(self, status: int, request: Request) -> Reply:
        """The platform's own error body for `status`."""

    @abstractmethod
    def rate_limited_reply(self, request: Request, reset_after: float) -> Reply:
        """The platform's own 429, with headers saying when to come back."""

    def _on_stop(self) -> None:
        """Wake anything a handler is waiting on (long polls) so shutdown is immediate."""
        return  # nothing waits in a fake without long polls

    # -- serving -------------------------------------------------------------------------------

    def _serve(self, request: Request) -> Reply | None:
        """The reply for `request`, or None to drop the connection; records the request."""
        fault = self._take_fault(request)
        try:
            reply = self._apply(fault, request) if fault else self.handle(request)
        except Exception:
            # A bug in the fake must surface as a loud 500, not as a hung client.
            traceback.print_exc()
            reply = self.error_reply(500, request)
        with self._lock:
            self._served.append(Served(request, reply.status if reply else 0))
        return reply

    def _apply(self, fault: _Fault, request: Request) -> Reply | None:
        match fault.kind:
            case "drop":
                return None
            case "reset":
                return Reply(0)
            case "raw":
                return Reply(fault.status, raw=fault.raw)
            case "call":
                assert fault.call is not None
                fault.call(request)
                return self.handle(request)
            case "malformed":
                return Reply(200, raw=b'{"data": [{"id": "13')
            case "rate_limit":
                return self.rate_limited_reply(request, fault.seconds)
            case "slow":
                time.sleep(fault.seconds)
                return self.handle(request)
            case "status":
                reply = self.error_reply(fault.status, request)
                if fault.body is not None:
                    reply.body = fault.body
                reply.headers.update(fault.headers or {})
                return reply


class _Server(ThreadingHTTPServer):
    # Handler threads may sit in a long poll; never let them hold up shutdown or exit.
    daemon_threads = True
    block_on_close = False


class _Handler(BaseHTTPRequestHandler):
    fake: FakeServer
    # Keep-alive like the real APIs, so clients' connection reuse is exercised too.
    protocol_version = "HTTP/1.1"
    # Headers and body leave in two writes; with Nagle on, each reply waits ~40 ms for an ACK.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request logging; tests read `fake.requests` instead."""

    def _dispatch(self) -> None:
        request = self._read_request()
        reply = self.fake._serve(request)
        if reply is None:
            self.close_connection = True
            return
        if reply.status == 0:  # the reset knob: SO_LINGER 0 makes close() send an RST
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.rfile.close()  # it holds a reference that would delay the close below
            self.connection.close()  # now, before the server's shutdown() could send a FIN
            self.close_connection = True
            return
        self._write(reply)

    def _read_request(self) -> Request:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        return Request(
            method=self.command,
            path=split.path,
            query=dict(parse_qsl(split.query, keep_blank_values=True)),
            body=parse_body(raw, self.headers.get("Content-Type", "")),
            headers={k.lower(): v for k, v in self.headers.items()},
        )

    def _write(self, reply: Reply) -> None:
        if reply.stream is not None:
            self._write_stream(reply)
            return
        payload = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (e.g. a cancelled long poll); nothing left to tell it.
            self.close_connection = True

    def _write_stream(self, reply: Reply) -> None:
        assert reply.stream is not None
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Transfer-Encoding", "chunked")
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            for chunk in reply.stream:
                if not chunk:
                    if _peer_closed(self.connection):
                        break
                    continue
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                self.wfile.flush()
            else:
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
                return
        except ConnectionAbortedError:
            self.connection.shutdown(socket.SHUT_RDWR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client hung up: the stream ends here
        finally:
            close = getattr(reply.stream, "close", None)
            if close is not None:
                close()  # runs the iterator's clean-up (the fake forgets the connection)
        self.close_connection = True


def _peer_closed(connection: socket.socket) -> bool:
    """True when the client has closed its side (readable, and reading gives nothing)."""
    readable, _, _ = select.select([connection], [], [], 0)
    if not readable:
        return False
    try:
        return connection.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def parse_body(raw: bytes, content_type: str) -> JsonBody:
    """JSON, form-urlencoded or multipart bodies as a dict; anything else as text."""
    if not raw:
        return None
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/json":
        return json.loads(raw)
    if kind == "application/x-www-form-urlencoded":
        return dict(parse_qsl(raw.decode(), keep_blank_values=True))
    if kind == "multipart/form-data":
        return _parse_multipart(raw, content_type)
    return raw.decode(errors="replace")


def _parse_multipart(raw: bytes, content_type: str) -> dict[str, Any]:
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw
    )
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            # Plain fields come back as str, uploaded files as bytes.
            fields[name] = part.get_content()
    return fields


def base36(number: int) -> str:
    """Lower-case base36, the alphabet of Reddit ids and of opaque-looking page tokens."""
    digits = ""
    while number:
        number, rest = divmod(number, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[rest] + digits
    return digits or "0"
