"""The keys alerts are found by again, built in one place because they are stored.

- A group key says which burst a mention can be folded into: a route and a rule, a route and
  any rule (the chat is near Telegram's limit, so one message gathers every rule), or a route
  and what many mentions say (one thread, near-identical text).
- A re-alert key says whose repeat of which rule is counted in the alert before it.
"""

import hashlib
import re

from core.mention import Mention

_ANY_RULE = "*"


def group_key(route: str, rule: str) -> str:
    return f"{route}|{rule}"


def any_rule_group_key(route: str) -> str:
    return group_key(route, _ANY_RULE)


def gathers_any_rule(key: str) -> bool:
    """True for the group of every rule on a route (its message names no single rule)."""
    return key.endswith(f"|{_ANY_RULE}")


def author_of(mention: Mention) -> str:
    """Who wrote it, as re-alerts count it: the platform's id, else the handle."""
    return mention.author_id or mention.author_handle


def realert_key(rule: str, mention: Mention) -> str:
    return f"{rule}|{mention.platform}:{author_of(mention)}"


# Links, handles and hashtags differ between copies of one message; words and numbers (an order
# number, "#10432" too, tells two customers apart) do not.
_NOISE = re.compile(r"https?://\S+|(?<!\w)@\w+|(?<!\w)#\w*[^\W\d]\w*|(?<!\w)/?u/\w+", re.IGNORECASE)
_SAME_TEXT_WORDS = 4  # shorter texts ("help!", "refund?") say too little to be the same thing
_SAME_CONTENT = "~"


def saying(mention: Mention) -> str:
    """What a mention says, as grouping by content compares it; "" when it is its own thing.

    Replies in one thread or conversation (one viral post's replies) say the same thing as
    each other; so do near-identical texts (equal once case, punctuation, links and handles
    are set aside).
    """
    thread = mention.conversation_id
    if thread and thread != mention.external_id:
        return f"thread:{mention.platform}:{thread}"
    words = re.findall(r"\w+", _NOISE.sub(" ", mention.text).casefold())
    if len(words) < _SAME_TEXT_WORDS:
        return ""
    return "text:" + hashlib.sha1(" ".join(words).encode()).hexdigest()[:16]


def content_group_key(route: str, said: str) -> str:
    """The group of the mentions on `route` that say `said` (see `saying`)."""
    return group_key(route, f"{_SAME_CONTENT}{said}")


def gathers_same_content(key: str) -> str:
    """For a content group's key, what it gathers: "thread" or "text"; "" for other groups."""
    _route, _, rest = key.rpartition("|")
    if not rest.startswith(_SAME_CONTENT):
        return ""
    return rest[len(_SAME_CONTENT) :].split(":", 1)[0]
