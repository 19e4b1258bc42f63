"""`platforms.reddit` in config.yaml: the script app, the account, subreddits and searches.

Apart from listeners/reddit.py so that loading the config never imports praw.
"""

import re
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from core.config_types import comma_separated, http_url
from core.duration import Duration

REDDIT_OAUTH = "https://oauth.reddit.com"
REDDIT_WWW = "https://www.reddit.com"


class RedditSearch(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, pattern=r"^[\w.-]+$")
    query: str = Field(min_length=1, max_length=512)


class RedditConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    api_base: str = REDDIT_OAUTH  # praw's oauth_url
    # praw's reddit_url (the token endpoint). Empty: www.reddit.com for Reddit's own API host,
    # else `api_base` (the sandbox and most proxies serve both).
    auth_base: str = ""
    client_id: str = ""
    client_secret: SecretStr = SecretStr("")
    # The brand's account: its inbox mentions are read, its own posts are never mentions and it
    # posts the replies. Without it only subreddits and searches are read.
    username: str = ""
    password: SecretStr = SecretStr("")
    user_agent: str = ""
    subreddits: list[str] = Field(default_factory=list)
    # Words that make a subreddit post or comment a mention; empty: everything in `subreddits`.
    keywords: list[str] = Field(default_factory=list)
    submissions: bool = True
    comments: bool = True
    mentions: bool = True
    searches: list[RedditSearch] = Field(default_factory=list)
    poll_every: Duration = timedelta(seconds=60)
    backfill: Duration = timedelta(hours=1)
    max_pages_per_poll: int = Field(default=10, ge=1, le=100)

    _lists = field_validator("subreddits", "keywords", mode="before")(comma_separated)
    _urls = field_validator("api_base", "auth_base")(http_url)

    @field_validator("subreddits")
    @classmethod
    def _subreddit_names(cls, names: list[str]) -> list[str]:
        cleaned = [name.strip().removeprefix("/").removeprefix("r/") for name in names]
        for name in cleaned:
            if not re.fullmatch(r"\w{2,21}", name):
                raise ValueError(f"{name!r} is not a subreddit name (write AcmeHelp, not a URL)")
        return cleaned

    @field_validator("username")
    @classmethod
    def _bare_name(cls, value: str) -> str:
        return value.strip().removeprefix("/").removeprefix("u/")

    @property
    def enabled(self) -> bool:
        return bool(self.client_id)

    @property
    def has_account(self) -> bool:
        return bool(self.username and self.password.get_secret_value())

    @property
    def token_url(self) -> str:
        if self.auth_base:
            return self.auth_base
        return REDDIT_WWW if self.api_base == REDDIT_OAUTH else self.api_base

    @property
    def agent(self) -> str:
        # Reddit asks for a unique, descriptive user agent naming the account.
        return self.user_agent or f"brandpulse:v0.1 (by u/{self.username or 'unknown'})"
