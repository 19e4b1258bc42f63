"""Reddit: subreddits, searches and inbox mentions (listeners/reddit.py), replies as the account."""

import logging
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, SecretStr

from core.platforms import PlatformInfo
from listeners.reddit_config import RedditConfig
from service.platforms import SourceSpec, Wiring

if TYPE_CHECKING:
    from responders.replies import Poster

log = logging.getLogger("service.app")


class RedditPlatform:
    info: ClassVar[PlatformInfo] = PlatformInfo("reddit", "Reddit", reply_limit=10_000)
    config_models: ClassVar[dict[str, type[BaseModel]]] = {"reddit": RedditConfig}
    position: ClassVar[int] = 20

    def sources(self, platforms: Any, wiring: Wiring) -> list[SourceSpec]:
        reddit: RedditConfig = platforms.reddit
        if not reddit.enabled:
            log.info("Reddit listener disabled: REDDIT_CLIENT_ID is not set")
            return []
        # praw (and requests) only when Reddit is set up: imported here, not at start-up.
        from listeners.reddit import RedditClient, reddit_sources

        client = RedditClient(reddit, wiring.clock.now)
        listeners = reddit_sources(reddit, client, wiring.clock.now)
        return [SourceSpec(listener, reddit.poll_every, reddit.backfill) for listener in listeners]

    def poster(self, platforms: Any, wiring: Wiring) -> "Poster | None":
        reddit: RedditConfig = platforms.reddit
        if not (reddit.enabled and reddit.has_account):
            return None
        from listeners.reddit import make_reddit
        from responders.reddit_poster import RedditPoster

        return RedditPoster(make_reddit(reddit), reddit.username, wiring.clock)

    def secrets(self, platforms: Any) -> list[SecretStr]:
        reddit: RedditConfig = platforms.reddit
        return [reddit.client_secret, reddit.password]

    def listening(self, platforms: Any) -> bool:
        return bool(platforms.reddit.enabled)

    def own_accounts(self, platforms: Any) -> list[str]:
        """The script app's account; app-only credentials (no username) belong to nobody."""
        return [platforms.reddit.username]


DESCRIPTOR = RedditPlatform()
