"""Realistic mentions for the fakes, and the environment that points BrandPulse at them.

The demos (`main.py demo`, `demo --web`) and `python -m sandbox --seed` plant the same day of a
support team: complaints, praise, a question, a legal threat, spam, Turkish, and a hostile name.
"""

from __future__ import annotations

from sandbox.reddit_api import FakeReddit
from sandbox.telegram_api import FakeTelegram
from sandbox.x_api import FakeXApi

STAFF_CHAT = -1001987654321
BRAND = "AcmeSupport"
SUBREDDIT = "AcmeHelp"
COMMUNITY_CHAT = -1001555000111  # a customer group the bot is a member of
# (subreddit post title, body, author) and (group message, sender): the other two platforms.
REDDIT_POSTS = [
    (
        "Acme kettle arrived broken",
        "Box was fine, kettle cracked. Really disappointed.",
        "tea_time",
    ),
    ("Acme vs the rest for espresso?", "Thinking of buying one, any opinions?", "bean_there"),
]
GROUP_MESSAGES = [
    ("My Acme blender arrived damaged and support is silent. Awful.", "deniz_k"),
    ("Has anyone tried the new Acme grinder?", "lena_m"),
]

# (author, followers, language X gives the tweet, text): the kinds of mention a support team
# sees in a day.
MENTIONS = [
    (
        "maria_travels",
        48_200,
        "en",
        f"@{BRAND} my order arrived broken and nobody answers my emails. "
        "I want a refund, not another apology.",
    ),
    (
        "dev_dan",
        310,
        "en",
        f"@{BRAND} the new app update is fantastic, checkout takes seconds now 🎉",
    ),
    ("curious_cat", 95, "en", f"@{BRAND} do you ship to Norway?"),
    (
        "j_kowalski",
        1_200,
        "en",
        f"@{BRAND} charged twice for the same subscription, been on hold "
        "for 2 hours. Cancelling if this isn't fixed today",
    ),
    (
        "lawfirm_watch",
        152_000,
        "en",
        f"@{BRAND} customers report the heater catching fire. "
        "We are preparing a class action lawsuit.",
    ),
    (
        "ayse_k",
        2_300,
        "tr",
        f"@{BRAND} siparişim 2 haftadır gelmedi, müşteri hizmetlerine "
        "ulaşamıyorum. Paramı iade edin!",
    ),
    ("promo_bot_77", 12, "en", f"@{BRAND} GIVEAWAY!!! follow back for free crypto airdrop"),
    (
        "<b>sneaky</b>",
        5,
        "en",
        f"@{BRAND} <i>why</i> is my package still lost?? &amp; nobody replies \u202eevil",
    ),
]


def plant(x: FakeXApi, reddit: FakeReddit, telegram: FakeTelegram) -> int:
    """Every seed mention on its platform; how many were planted."""
    for author, followers, lang, text in MENTIONS:
        x.post_tweet(text, author, followers=followers, lang=lang)
    for title, body, author in REDDIT_POSTS:
        reddit.post_submission(SUBREDDIT, title, body, author=author)
    for number, (text, sender) in enumerate(GROUP_MESSAGES):
        telegram.push_group_message(
            COMMUNITY_CHAT, text, _person(7700 + number, sender), chat_title="Acme owners"
        )
    return len(MENTIONS) + len(REDDIT_POSTS) + len(GROUP_MESSAGES)


def _person(user_id: int, name: str) -> dict[str, object]:
    return {"id": user_id, "first_name": name, "username": name}


def service_env(x: FakeXApi, reddit: FakeReddit, telegram: FakeTelegram) -> dict[str, str]:
    """The environment variables that point the shipped config.yaml at these fakes."""
    return {
        "X_API_BASE": x.base_url,
        "X_BEARER_TOKEN": x.bearer_token,
        "X_ACCOUNT": BRAND,
        # User-context keys, so the service may reply on X.
        "X_CONSUMER_KEY": x.consumer_key,
        "X_CONSUMER_SECRET": "demo",
        "X_ACCESS_TOKEN": x.access_token,
        "X_ACCESS_TOKEN_SECRET": "demo",
        "REDDIT_API_BASE": reddit.base_url,
        "REDDIT_CLIENT_ID": reddit.client_id,
        "REDDIT_CLIENT_SECRET": reddit.client_secret,
        "REDDIT_USERNAME": reddit.username,
        "REDDIT_PASSWORD": reddit.password,
        "REDDIT_SUBREDDITS": SUBREDDIT,
        "TELEGRAM_API_BASE": telegram.base_url,
        "TELEGRAM_BOT_TOKEN": telegram.token,
        "TELEGRAM_ALERT_CHAT_ID": str(STAFF_CHAT),
    }
