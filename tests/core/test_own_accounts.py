"""The brand's own accounts: how they are written in config and recognised on a mention."""

from datetime import UTC, datetime

import pytest

from core.mention import Mention
from core.own_accounts import OwnAccounts, parse_own_accounts


def by(platform: str, handle: str, author_id: str = "") -> Mention:
    return Mention(
        platform=platform,
        external_id="1",
        text="Sorry about that!",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        author_handle=handle,
        author_id=author_id,
    )


def test_the_environment_form_and_the_yaml_form_mean_the_same() -> None:
    assert parse_own_accounts("x:acme, reddit:acme_help,x:AcmeSupport") == {
        "x": ["acme", "AcmeSupport"],
        "reddit": ["acme_help"],
    }
    assert parse_own_accounts({"x": ["acme", "AcmeSupport"], "reddit": "acme_help"}) == {
        "x": ["acme", "AcmeSupport"],
        "reddit": ["acme_help"],
    }
    assert parse_own_accounts("") == parse_own_accounts(None) == {}


@pytest.mark.parametrize("text", ["acme", "x:", ":acme", "x:acme,reddit"])
def test_an_entry_without_its_platform_is_named(text: str) -> None:
    with pytest.raises(ValueError, match="is not platform:account"):
        parse_own_accounts(text)


def test_a_mention_is_ours_by_handle_or_id_on_its_own_platform_only() -> None:
    own = OwnAccounts.of(
        [("x", "@AcmeSupport"), ("reddit", "u/acme_help"), ("telegram", "5501"), ("x", "")]
    )
    assert own.wrote(by("x", "acmesupport"))
    assert own.wrote(by("reddit", "Acme_Help"))
    assert own.wrote(by("telegram", "Support desk", author_id="5501"))
    assert not own.wrote(by("reddit", "acmesupport"))  # another platform's name
    assert not own.wrote(by("x", "maria"))
    assert not own.wrote(by("x", ""))
    assert (own.known_on("x"), own.known_on("telegram"), OwnAccounts().known_on("x")) == (
        True,
        True,
        False,
    )
    assert own.everywhere() == ["5501", "acme_help", "acmesupport"]
