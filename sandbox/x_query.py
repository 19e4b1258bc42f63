"""What a request to the fake X asks for: users and tweets, timeline bounds, and the
search/stream-rule query language (the subset listeners use).

Recent search (`sandbox/x_api.py`) and filtered-stream rules (`sandbox/x_stream.py`) share one
operator language on X, so they share one parser here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sandbox.http import base36


@dataclass
class XUser:
    id: str
    username: str
    name: str
    followers: int
    verified: bool
    created_at: float


@dataclass
class XTweet:
    id: str
    text: str
    author_id: str
    created_at: float
    lang: str
    conversation_id: str
    in_reply_to_tweet_id: str | None = None
    in_reply_to_user_id: str | None = None
    retweet_of: str | None = None


class BadRequest(Exception):
    """A parameter X would refuse: answered as X's `invalid-request` problem."""

    def __init__(self, parameter: str, value: str, message: str) -> None:
        super().__init__(message)
        self.parameter, self.value, self.message = parameter, value, message


@dataclass(frozen=True)
class TimelineWindow:
    """The id/time bounds and page size of one timeline request."""

    max_results: int
    since_id: int | None
    until_id: int | None
    start_time: float | None
    end_time: float | None

    @classmethod
    def from_query(cls, query: dict[str, str]) -> TimelineWindow:
        raw_max = query.get("max_results", "10")
        if not raw_max.isdigit() or not 5 <= int(raw_max) <= 100:
            raise BadRequest(
                "max_results",
                raw_max,
                f"The `max_results` query parameter value [{raw_max}] is not between 5 and 100",
            )
        # Both bounds are exclusive: a page token continues below the previous page's oldest id.
        bounds = [_int_param(query, "until_id")]
        for token_name in ("pagination_token", "next_token"):
            if token_name in query:
                bounds.append(_decode_token(token_name, query[token_name]))
        present = [b for b in bounds if b is not None]
        return cls(
            max_results=int(raw_max),
            since_id=_int_param(query, "since_id"),
            until_id=min(present) if present else None,
            start_time=_time_param(query, "start_time"),
            end_time=_time_param(query, "end_time"),
        )

    def admits(self, tweet: XTweet) -> bool:
        tweet_id = int(tweet.id)
        return (
            (self.since_id is None or tweet_id > self.since_id)
            and (self.until_id is None or tweet_id < self.until_id)
            and (self.start_time is None or tweet.created_at >= self.start_time)
            and (self.end_time is None or tweet.created_at < self.end_time)
        )


def _int_param(query: dict[str, str], name: str) -> int | None:
    value = query.get(name)
    if value is None:
        return None
    if not value.isdigit():
        raise BadRequest(name, value, f"The `{name}` query parameter value [{value}] is not valid")
    return int(value)


def _time_param(query: dict[str, str], name: str) -> float | None:
    value = query.get(name)
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        message = f"Invalid '{name}':'{value}'. '{name}' must be a valid RFC 3339 date-time"
        raise BadRequest(name, value, message) from None


def encode_token(oldest_id: str) -> str:
    """An opaque-looking base36 page token (X's look like `b26v89c19zqg8o3f...`)."""
    return base36(int(oldest_id))


def _decode_token(name: str, token: str) -> int:
    try:
        return int(token, 36)
    except ValueError:
        message = f"The `{name}` query parameter value [{token}] is not valid"
        raise BadRequest(name, token, message) from None


# -- recent-search query language (the subset listeners use) ---------------------------------

TweetTest = Callable[[XTweet], bool]
_QUERY_TOKEN = re.compile(r'"[^"]*"|\(|\)|-(?=["(\w@#])|[^\s()"]+')


def compile_query(query: str, users: Mapping[str, XUser]) -> TweetTest:
    """Terms AND, `OR` (looser than AND), "phrases", -negation, (groups), @, #, operators."""
    tokens = _QUERY_TOKEN.findall(query)
    position, test = _parse_or(tokens, 0, users, query)
    if position != len(tokens):
        raise BadRequest("query", query, f"There were errors processing your request: {query}")
    return test


def _parse_or(
    tokens: list[str], at: int, users: Mapping[str, XUser], query: str
) -> tuple[int, TweetTest]:
    at, first = _parse_and(tokens, at, users, query)
    alternatives = [first]
    while at < len(tokens) and tokens[at] == "OR":
        at, test = _parse_and(tokens, at + 1, users, query)
        alternatives.append(test)
    return at, lambda t: any(a(t) for a in alternatives)


def _parse_and(
    tokens: list[str], at: int, users: Mapping[str, XUser], query: str
) -> tuple[int, TweetTest]:
    terms: list[TweetTest] = []
    while at < len(tokens) and tokens[at] not in (")", "OR"):
        negate = tokens[at] == "-"
        at += negate
        if at < len(tokens) and tokens[at] == "(":
            at, test = _parse_or(tokens, at + 1, users, query)
            at += 1  # the closing parenthesis
        else:
            test = _term(tokens[at], users, query)
            at += 1
        terms.append(_negated(test) if negate else test)
    if not terms:
        raise BadRequest("query", query, f"There were errors processing your request: {query}")
    return at, lambda t: all(term(t) for term in terms)


def _negated(test: TweetTest) -> TweetTest:
    return lambda t: not test(t)


def _term(token: str, users: Mapping[str, XUser], query: str) -> TweetTest:
    if token.startswith('"'):
        return _keyword(token.strip('"'))
    operator, _, value = token.partition(":")
    if not value or operator.startswith(("@", "#")) or "/" in operator:
        return _keyword(token)
    value = value.lower()
    operators: dict[str, TweetTest] = {
        "is": lambda t: _is(t, value),
        "lang": lambda t: t.lang.lower() == value,
        "from": lambda t: users[t.author_id].username.lower() == value,
        "has": lambda t: value == "links" and "http" in t.text,
    }
    if operator.lower() not in operators:
        message = f"Reference to invalid operator '{operator}'"
        raise BadRequest("query", query, f"There were errors processing your request: {message}")
    return operators[operator.lower()]


def _is(tweet: XTweet, value: str) -> bool:
    if value == "retweet":
        return tweet.retweet_of is not None
    return value == "reply" and tweet.in_reply_to_tweet_id is not None


def _keyword(term: str) -> TweetTest:
    # X matches whole tokens, case-insensitively; "acme" matches "Acme's" but not "acmex".
    pattern = re.compile(rf"(?<!\w){re.escape(term)}(?!\w)", re.IGNORECASE)
    return lambda t: bool(pattern.search(t.text))
