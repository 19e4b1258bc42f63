"""Replies on X: a post answering the mention, as the user-context keys' account (tweepy)."""

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, ClassVar

import requests
import tweepy

from core.clock import Clock
from core.mention import Mention
from core.retry import backoff
from responders.replies import AUTH_RETRY, CannotCheck, Posted, PostFailed


class XPoster:
    """`create_tweet(in_reply_to_tweet_id=…)` with the user-context keys (tweepy client)."""

    platform: ClassVar[str] = "x"

    def __init__(self, client: tweepy.Client, account: str, clock: Clock):
        self.client = client
        self.account = account
        self.clock = clock

    async def post(self, mention: Mention, text: str) -> Posted:
        return await asyncio.to_thread(self._post, mention, text)

    def _post(self, mention: Mention, text: str) -> Posted:
        response = self._call(
            lambda: self.client.create_tweet(
                text=text, in_reply_to_tweet_id=mention.external_id, user_auth=True
            )
        )
        tweet_id = str(response["data"]["id"])
        return Posted(tweet_id, f"https://x.com/{self.account or 'i'}/status/{tweet_id}")

    async def find(self, mention: Mention, text: str) -> Posted | None:
        if not self.account:
            raise CannotCheck("the brand's X account (X_ACCOUNT) is not configured")
        return await asyncio.to_thread(self._find, mention, text)

    def _find(self, mention: Mention, text: str) -> Posted | None:
        # The brand's replies since the mention was written (recent search covers 7 days).
        start = max(mention.created_at, self.clock.now() - timedelta(days=6))
        params = {
            "query": f"from:{self.account} is:reply",
            "start_time": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "max_results": 100,
            "tweet.fields": "referenced_tweets",
        }
        body = self._call(
            lambda: self.client.request("GET", "/2/tweets/search/recent", params=params)
        )
        for tweet in body.get("data") or []:
            replied = {
                str(ref.get("id"))
                for ref in tweet.get("referenced_tweets") or []
                if ref.get("type") == "replied_to"
            }
            if mention.external_id in replied and tweet.get("text", "").strip() == text.strip():
                tweet_id = str(tweet["id"])
                return Posted(tweet_id, f"https://x.com/{self.account}/status/{tweet_id}")
        return None

    def _call(self, request: Callable[[], Any]) -> dict[str, Any]:
        now = self.clock.now()
        try:
            response = request()
        except tweepy.TooManyRequests as exc:
            reset = getattr(exc.response, "headers", {}).get("x-rate-limit-reset")
            at = datetime.fromtimestamp(int(reset), now.tzinfo) if reset else now + AUTH_RETRY
            raise PostFailed("X rate limit reached (429)", at) from None
        except tweepy.Unauthorized:
            raise PostFailed("X refused the user-context keys (401)", now + AUTH_RETRY) from None
        except tweepy.Forbidden as exc:
            raise PostFailed(f"X refused the reply: {_x_detail(exc)}", None) from None
        except tweepy.TwitterServerError as exc:
            raise PostFailed(f"X server error ({_status(exc)})", now + backoff(1)) from None
        except tweepy.HTTPException as exc:
            raise PostFailed(f"X refused the reply: {_x_detail(exc)}", None) from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            message = f"X unreachable ({type(exc).__name__})"
            raise PostFailed(message, now + backoff(1), unknown=True) from None
        try:
            body = response.json()
        except ValueError:
            raise PostFailed("X sent a malformed answer", now + backoff(1), unknown=True) from None
        return body if isinstance(body, dict) else {}


def _status(exc: tweepy.HTTPException) -> int:
    return getattr(exc.response, "status_code", 0)


def _x_detail(exc: tweepy.HTTPException) -> str:
    return "; ".join(exc.api_messages) or str(_status(exc))
