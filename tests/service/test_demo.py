"""`main.py demo` accounts for every number it prints (issue 14, point 6)."""

import re

import pytest

from sandbox.seed import GROUP_MESSAGES, MENTIONS, REDDIT_POSTS
from service.demo import run_demo


def test_the_demo_says_why_it_fetched_more_than_it_planted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run_demo() == 0
    out = " ".join(capsys.readouterr().out.split())  # the explanation is wrapped
    found = re.search(r"fetched (\d+), stored (\d+) new", out)
    assert found is not None, out
    fetched, stored = int(found[1]), int(found[2])
    assert stored == len(MENTIONS) + len(REDDIT_POSTS) + len(GROUP_MESSAGES)
    # Each Reddit post is in the subreddit's new posts and matches the brand search.
    assert fetched - stored == len(REDDIT_POSTS)
    assert f"{len(REDDIT_POSTS)} mentions found by two sources" in out
    assert "count twice in 'fetched' and are stored once" in out
