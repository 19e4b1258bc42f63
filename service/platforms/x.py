"""X: the brand account's mentions and searches (listeners/x.py), replies as the account."""

import logging
from typing import Any, ClassVar

from pydantic import BaseModel, SecretStr

from core.platforms import PlatformInfo
from listeners.x import XConfig, XListener, make_client
from responders.replies import Poster, XPoster
from service.platforms import SourceSpec, Wiring

log = logging.getLogger("service.app")


class XPlatform:
    info: ClassVar[PlatformInfo] = PlatformInfo("x", "X", reply_limit=280, handle_prefix="@")
    config_models: ClassVar[dict[str, type[BaseModel]]] = {"x": XConfig}
    position: ClassVar[int] = 10

    def sources(self, platforms: Any, wiring: Wiring) -> list[SourceSpec]:
        x: XConfig = platforms.x
        if not x.enabled:
            log.info("X listener disabled: X_BEARER_TOKEN is not set")
            return []
        client = make_client(x)
        now = wiring.clock.now
        listeners = [XListener("x:mentions", x, client, clock=now)] if x.mentions else []
        listeners += [
            XListener(f"x:search:{s.name}", x, client, query=s.query, clock=now) for s in x.searches
        ]
        return [SourceSpec(listener, x.poll_every, x.backfill) for listener in listeners]

    def poster(self, platforms: Any, wiring: Wiring) -> Poster | None:
        x: XConfig = platforms.x
        return XPoster(make_client(x), x.account, wiring.clock) if x.can_post else None

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


DESCRIPTOR = XPlatform()
