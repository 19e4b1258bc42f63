"""The fake X's data and query language: users, tweets, and the search/stream rule subset.

Recent search (`sandbox/x_api.py`) and filtered-stream rules (`sandbox/x_stream.py`) share one
operator language on X, so they share one parser here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass


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
