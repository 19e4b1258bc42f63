"""Replies on Reddit: a comment under the mention, as the script app's account (praw)."""

import asyncio
from collections.abc import Callable
from typing import Any, ClassVar

import praw
import prawcore
from praw.exceptions import PRAWException, RedditAPIException

from core.clock import Clock
from core.mention import Mention
from core.retry import backoff
from responders.replies import AUTH_RETRY, Posted, PostFailed


class RedditPoster:
    """A comment under the submission or comment, via praw (`POST /api/comment`)."""

    platform: ClassVar[str] = "reddit"

    def __init__(self, reddit: praw.Reddit, account: str, clock: Clock):
        self.reddit = reddit
        self.account = account
        self.clock = clock

    async def post(self, mention: Mention, text: str) -> Posted:
        return await asyncio.to_thread(self._post, mention, text)

    def _post(self, mention: Mention, text: str) -> Posted:
        kind, _, thing_id = mention.external_id.partition("_")
        parent = self.reddit.submission(thing_id) if kind == "t3" else self.reddit.comment(thing_id)
        comment = self._call(lambda: parent.reply(body=text))
        if comment is None:
            raise PostFailed("Reddit accepted the comment but returned none", None, unknown=True)
        return Posted(comment.fullname, f"https://www.reddit.com{comment.permalink}")

    async def find(self, mention: Mention, text: str) -> Posted | None:
        return await asyncio.to_thread(self._find, mention, text)

    def _find(self, mention: Mention, text: str) -> Posted | None:
        path = f"user/{self.account}/comments"
        body = self._call(
            lambda: self.reddit.request(
                method="GET", path=path, params={"limit": 100, "sort": "new"}
            )
        )
        for child in (body.get("data") or {}).get("children") or []:
            data = child.get("data") or {}
            if data.get("parent_id") == mention.external_id and data.get("body") == text:
                return Posted(
                    str(data["name"]), f"https://www.reddit.com{data.get('permalink', '')}"
                )
        return None

    def _call(self, request: Callable[[], Any]) -> Any:
        now = self.clock.now()
        try:
            return request()
        except RedditAPIException as exc:
            if any(item.error_type == "RATELIMIT" for item in exc.items):
                raise PostFailed(f"Reddit: {exc}", now + AUTH_RETRY) from None
            raise PostFailed(f"Reddit refused the reply: {exc}", None) from None
        except prawcore.TooManyRequests:
            raise PostFailed("Reddit rate limit reached (429)", now + AUTH_RETRY) from None
        except (prawcore.InvalidToken, prawcore.OAuthException):
            raise PostFailed("Reddit refused the credentials", now + AUTH_RETRY) from None
        except prawcore.ServerError as exc:
            status = exc.response.status_code
            raise PostFailed(f"Reddit server error ({status})", now + backoff(1)) from None
        except prawcore.RequestException as exc:
            message = f"Reddit unreachable ({type(exc.original_exception).__name__})"
            raise PostFailed(message, now + backoff(1), unknown=True) from None
        except prawcore.ResponseException as exc:
            status = exc.response.status_code
            # The token endpoint's answers, which prawcore does not map to its own classes.
            if status == 429:
                raise PostFailed("Reddit rate limit reached (429)", now + AUTH_RETRY) from None
            if status >= 500:
                raise PostFailed(f"Reddit server error ({status})", now + backoff(1)) from None
            raise PostFailed(f"Reddit refused the reply ({status})", None) from None
        except PRAWException as exc:
            raise PostFailed(f"Reddit: {exc}", None) from None
