"""The keys alerts are found by again, built in one place because they are stored.

- A group key says which burst a mention can be folded into: a route and a rule, or a route
  and any rule (the chat is near Telegram's limit, so one message gathers every rule).
- A re-alert key says whose repeat of which rule is counted in the alert before it.
"""

from core.models import Mention

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
