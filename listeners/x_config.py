"""`platforms.x` in config.yaml: X's keys, handle, searches and mode.

Apart from listeners/x.py so that loading the config never imports tweepy.
"""

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from core.config_types import comma_separated, http_url
from core.duration import Duration

TWEEPY_HOST = "https://api.twitter.com"


class XSearch(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, pattern=r"^[\w.-]+$")
    query: str = Field(min_length=1, max_length=512)


class XConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    api_base: str = TWEEPY_HOST
    bearer_token: SecretStr = SecretStr("")
    consumer_key: SecretStr = SecretStr("")
    consumer_secret: SecretStr = SecretStr("")
    access_token: SecretStr = SecretStr("")
    access_token_secret: SecretStr = SecretStr("")
    # The brand's own handle: its mentions are read, and it is never replied to.
    account: str = ""
    mentions: bool = True
    searches: list[XSearch] = Field(default_factory=list)
    # poll: mentions and searches read every `poll_every`; stream: X's filtered stream pushes
    # them as they are published (listeners/x_stream.py), brand keywords included.
    mode: Literal["poll", "stream"] = "poll"
    keywords: list[str] = Field(default_factory=list)  # stream mode: one stream rule each
    poll_every: Duration = timedelta(seconds=60)
    backfill: Duration = timedelta(hours=1)
    max_pages_per_poll: int = Field(default=10, ge=1, le=100)
    timeout: Duration = timedelta(seconds=15)

    _urls = field_validator("api_base")(http_url)
    _lists = field_validator("keywords", mode="before")(comma_separated)

    @field_validator("account")
    @classmethod
    def _handle(cls, value: str) -> str:
        return value.strip().removeprefix("@")

    @property
    def enabled(self) -> bool:
        return bool(self.bearer_token.get_secret_value())

    @property
    def can_post(self) -> bool:
        keys = (
            self.consumer_key,
            self.consumer_secret,
            self.access_token,
            self.access_token_secret,
        )
        return all(key.get_secret_value() for key in keys)
