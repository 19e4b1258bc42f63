"""Local fakes of the outside world: X API v2, Telegram Bot API and Reddit, on 127.0.0.1.

Imports nothing from the product. Each fake is a context manager exposing `base_url`,
`requests` (what it served) and the fault knobs of `sandbox.http.FakeServer`.
"""

from sandbox.http import FakeServer, Request, Served
from sandbox.reddit_api import FakeReddit, PostedComment
from sandbox.telegram_api import AnsweredCallback, FakeTelegram, SentMessage, make_user
from sandbox.x_api import FakeXApi, PostedTweet

__all__ = [
    "AnsweredCallback",
    "FakeReddit",
    "FakeServer",
    "FakeTelegram",
    "FakeXApi",
    "PostedComment",
    "PostedTweet",
    "Request",
    "SentMessage",
    "Served",
    "make_user",
]
