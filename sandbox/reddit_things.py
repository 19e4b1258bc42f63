"""Reddit's things as the praw recordings show them: the fields of a fresh self post (t3), a
comment (t1) and an inbox item, built from what the fake knows about them."""

from __future__ import annotations

import html
import re
from typing import Any


def submission(
    sub: dict[str, str],
    post_id: str,
    title: str,
    selftext: str,
    author: str,
    author_fullname: str,
    created: float,
) -> dict[str, Any]:
    """A self post in subreddit `sub` ({name, id})."""
    permalink = f"/r/{sub['name']}/comments/{post_id}/{_slug(title)}/"
    return {
        **_SUBMISSION_DEFAULTS,
        "domain": f"self.{sub['name']}",
        "subreddit": sub["name"],
        "subreddit_id": sub["id"],
        "subreddit_name_prefixed": f"r/{sub['name']}",
        "selftext": selftext,
        "selftext_html": _md_html(selftext) if selftext else None,
        "title": title,
        "author": author,
        "author_fullname": author_fullname,
        "id": post_id,
        "name": f"t3_{post_id}",
        "created": created,
        "created_utc": created,
        "permalink": permalink,
        "url": f"https://www.reddit.com{permalink}",
    }


def new_comment(
    link: dict[str, Any],
    parent_fullname: str,
    comment_id: str,
    body: str,
    author: str,
    author_fullname: str,
    now: float,
) -> dict[str, Any]:
    """A comment under submission `link`, answering `parent_fullname` (the link or a comment)."""
    return {
        **_COMMENT_DEFAULTS,
        "subreddit": link["subreddit"],
        "subreddit_id": link["subreddit_id"],
        "subreddit_name_prefixed": link["subreddit_name_prefixed"],
        "link_id": link["name"],
        "link_title": link["title"],
        "link_author": link["author"],
        "link_url": link["url"],
        "link_permalink": link["url"],
        "parent_id": parent_fullname,
        "id": comment_id,
        "name": f"t1_{comment_id}",
        "author": author,
        "author_fullname": author_fullname,
        "body": body,
        "body_html": _md_html(body),
        "created": now,
        "created_utc": now,
        "permalink": f"{link['permalink']}{comment_id}/",
    }


def inbox_item(
    comment: dict[str, Any], link: dict[str, Any], kind: str, dest: str
) -> dict[str, Any]:
    """The brand's inbox entry for `comment` under `link`: a mention or a reply to the brand."""
    return {
        "first_message": None,
        "first_message_name": None,
        "associated_awarding_id": None,
        **{key: comment[key] for key in _INBOX_KEYS},
        "subject": kind.replace("_", " "),
        "num_comments": link["num_comments"],
        "new": True,
        "type": kind,
        "link_title": link["title"],
        "dest": dest,
        "was_comment": True,
        "context": f"{comment['permalink']}?context=3",
    }


def _slug(title: str) -> str:
    return "_".join(re.findall(r"\w+", title.lower()))[:50] or "post"


def _md_html(text: str) -> str:
    return f'<!-- SC_OFF --><div class="md"><p>{html.escape(text)}</p>\n</div><!-- SC_ON -->'


# Comment fields an inbox item repeats (TestInbox.test_mentions).
_INBOX_KEYS = (
    "subreddit",
    "author_fullname",
    "id",
    "score",
    "author",
    "parent_id",
    "subreddit_name_prefixed",
    "body",
    "body_html",
    "name",
    "created",
    "created_utc",
    "distinguished",
    "likes",
    "replies",
)

# Fields every recorded submission carries, at the values a fresh self post has.
_SUBMISSION_DEFAULTS: dict[str, Any] = {
    "approved_by": None,
    "archived": False,
    "author_flair_css_class": None,
    "author_flair_text": None,
    "banned_by": None,
    "clicked": False,
    "distinguished": None,
    "downs": 0,
    "edited": False,
    "gilded": 0,
    "hidden": False,
    "hide_score": True,
    "is_self": True,
    "likes": None,
    "link_flair_css_class": None,
    "link_flair_text": None,
    "locked": False,
    "media": None,
    "media_embed": {},
    "mod_reports": [],
    "num_comments": 0,
    "num_reports": None,
    "over_18": False,
    "quarantine": False,
    "removal_reason": None,
    "report_reasons": None,
    "saved": False,
    "score": 1,
    "secure_media": None,
    "secure_media_embed": {},
    "stickied": False,
    "thumbnail": "self",
    "ups": 1,
    "user_reports": [],
    "visited": False,
}

# Fields every recorded comment carries, at the values a fresh comment has.
_COMMENT_DEFAULTS: dict[str, Any] = {
    "approved_by": None,
    "archived": False,
    "author_flair_css_class": None,
    "author_flair_text": None,
    "banned_by": None,
    "controversiality": 0,
    "distinguished": None,
    "downs": 0,
    "edited": False,
    "gilded": 0,
    "likes": None,
    "mod_reports": [],
    "num_reports": None,
    "over_18": False,
    "quarantine": False,
    "removal_reason": None,
    "replies": "",
    "report_reasons": None,
    "saved": False,
    "score": 1,
    "score_hidden": True,
    "stickied": False,
    "ups": 1,
    "user_reports": [],
}
