"""X: the brand account's mentions and searches, polled (listeners/x.py) or streamed
(listeners/x_stream.py, `mode: stream`); replies as the account."""

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, SecretStr

from core.config_file import ConfigError, PathKey, load_yaml
from core.platforms import PlatformInfo
from listeners.x_config import XConfig
from service.platforms import PushHook, SourceSpec, Wiring

if TYPE_CHECKING:
    import tweepy

    from listeners.x_rules import Locate, StreamRule
    from responders.replies import Poster

log = logging.getLogger("service.app")

STREAM_SOURCE = "x:stream"
# Streamed posts are saved as they arrive; the poll job only retries a failed save (or gap fill).
RETRY_SAVE_EVERY = timedelta(seconds=30)


class XPlatform:
    info: ClassVar[PlatformInfo] = PlatformInfo("x", "X", reply_limit=280, handle_prefix="@")
    config_models: ClassVar[dict[str, type[BaseModel]]] = {"x": XConfig}
    position: ClassVar[int] = 10

    def sources(self, platforms: Any, wiring: Wiring) -> list[SourceSpec]:
        x: XConfig = platforms.x
        if not x.enabled:
            log.info("X listener disabled: X_BEARER_TOKEN is not set")
            return []
        # tweepy (and requests) only when X is set up: imported here, not at start-up.
        from listeners.x import XListener, make_client

        client = make_client(x)
        now = wiring.clock.now
        if x.mode == "stream":
            return [self._stream(x, client, wiring)]
        listeners = [XListener("x:mentions", x, client, clock=now)] if x.mentions else []
        listeners += [
            XListener(f"x:search:{s.name}", x, client, query=s.query, clock=now) for s in x.searches
        ]
        return [SourceSpec(listener, x.poll_every, x.backfill) for listener in listeners]

    def _stream(self, x: XConfig, client: "tweepy.Client", wiring: Wiring) -> SourceSpec:
        """One stream source for the handle, the searches and the keywords together."""
        from listeners.x_stream import XStreamListener

        rules = _stream_rules(x)
        if x.mentions and not x.account:
            # A stream rule needs the handle itself; the poller could ask X for it instead.
            log.warning("X stream mode: set X_ACCOUNT, or the brand's mentions are not streamed")
        now, locate = wiring.clock.now, _locator(wiring)
        listener = XStreamListener(STREAM_SOURCE, x, rules, client, clock=now, locate=locate)

        def connect(pushed: Callable[[], Awaitable[None]]) -> None:
            listener.on_buffered = pushed

        async def reconfigure(platforms: Any) -> None:
            await listener.replace_rules(_stream_rules(platforms.x))

        push = PushHook(
            connect=connect,
            live=lambda: listener.running,
            run=listener.run,
            reconfigure=reconfigure,
        )
        return SourceSpec(listener, RETRY_SAVE_EVERY, x.backfill, push)

    def poster(self, platforms: Any, wiring: Wiring) -> "Poster | None":
        x: XConfig = platforms.x
        if not x.can_post:
            return None
        from listeners.x import make_client
        from responders.x_poster import XPoster

        return XPoster(make_client(x), x.account, wiring.clock)

    def secrets(self, platforms: Any) -> list[SecretStr]:
        x: XConfig = platforms.x
        return [
            x.bearer_token,
            x.consumer_key,
            x.consumer_secret,
            x.access_token,
            x.access_token_secret,
        ]

    def listening(self, platforms: Any) -> bool:
        x: XConfig = platforms.x
        return x.enabled and (x.mentions or bool(x.searches))

    def own_accounts(self, platforms: Any) -> list[str]:
        """The handle read (`account`) and the user of the user-context keys.

        An OAuth 1.0a access token starts with its user's id ("1570…-Ab3…"), so the keys'
        account is known without asking X.
        """
        x: XConfig = platforms.x
        user_id, dash, _ = x.access_token.get_secret_value().partition("-")
        return [x.account] + ([user_id] if dash and user_id.isdigit() else [])


def _stream_rules(x: XConfig) -> list["StreamRule"]:
    from listeners.x_rules import rules_from_config  # httpx: only in stream mode

    searches = [(search.name, search.query) for search in x.searches]
    return rules_from_config(x.account, x.mentions, searches, x.keywords)


def _locator(wiring: Wiring) -> "Locate | None":
    """Names the config.yaml line of a stream rule X refused (None: no file to point into)."""
    path: Path | None = wiring.config_path
    if path is None:
        return None
    try:
        document = load_yaml(path)
    except (ConfigError, OSError):
        return None  # the config loaded a moment ago; without its lines, paths still help

    def locate(where: PathKey) -> str:
        return str(document.locate(where))

    return locate


DESCRIPTOR = XPlatform()
