"""What a mention says, as grouping by content compares it."""

from datetime import UTC, datetime

from core.alert_keys import content_group_key, gathers_same_content, saying
from core.mention import Mention


def said(text: str, external_id: str = "1", conversation: str = "") -> str:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return saying(Mention("x", external_id, text, at, conversation_id=conversation))


def test_copies_of_one_message_say_the_same_thing() -> None:
    first = said("@AcmeSupport BOYCOTT Acme #boycott https://t.co/a they sold my data")
    second = said("@acme boycott ACME #Boycott2 https://t.co/b they sold my data!!!")
    assert first == second != ""


def test_numbers_keep_customers_apart() -> None:
    assert said("@AcmeSupport order #10000 arrived broken, refund please") != said(
        "@AcmeSupport order #10001 arrived broken, refund please"
    )


def test_replies_in_one_thread_say_the_same_thing_and_short_texts_nothing() -> None:
    assert said("first reply", "2", "1") == said("another one entirely", "3", "1")
    assert said("a post of its own here", "1", "1").startswith("text:")  # the root itself
    assert said("help!") == ""


def test_content_group_keys_say_what_they_gather() -> None:
    assert gathers_same_content(content_group_key("staff", said("x", "2", "1"))) == "thread"
    assert gathers_same_content(content_group_key("staff", said("a b c d e"))) == "text"
    assert gathers_same_content("staff|refunds") == ""
