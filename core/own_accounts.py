"""The brand's own accounts on each platform: what they post is ours, never work for the staff.

A brand has several (support, main handle, staff); each is known by its handle or its
platform id, as the platform shows it on a mention (`author_handle`, `author_id`). They come
from `brand.own_accounts` (env `BRAND_OWN_ACCOUNTS=x:acme,reddit:acme_help`) and from the
account each platform's credentials belong to.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from core.mention import Mention


def account_name(text: str) -> str:
    """How an account is compared: without `@` or `u/`, case-folded ("@AcmeHelp" → "acmehelp")."""
    name = text.strip().lstrip("@")
    if name.lower().startswith(("u/", "/u/")):
        name = name.split("u/", 1)[1]
    return name.casefold()


def parse_own_accounts(value: object) -> dict[str, list[str]]:
    """`"x:acme, reddit:acme_help"` or `{x: [acme], reddit: acme_help}` → per platform.

    Raises ValueError naming the entry that is not `platform:account`.
    """
    if value is None or value == "":
        return {}
    pairs: list[tuple[str, str]] = []
    if isinstance(value, str):
        for entry in (part.strip() for part in value.split(",")):
            if not entry:
                continue
            platform, colon, account = entry.partition(":")
            if not colon or not platform.strip() or not account.strip():
                raise ValueError(
                    f"{entry!r} is not platform:account; write it like x:acme,reddit:acme_help"
                )
            pairs.append((platform.strip().lower(), account.strip()))
    elif isinstance(value, Mapping):
        for platform, accounts in value.items():
            names = accounts.split(",") if isinstance(accounts, str) else accounts
            if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
                raise ValueError(f"{platform}: expected a list of account names")
            pairs += [(str(platform).lower(), name.strip()) for name in names if name.strip()]
    else:
        raise ValueError("expected platform:account pairs, e.g. x:acme,reddit:acme_help")
    out: dict[str, list[str]] = {}
    for platform, account in pairs:
        out.setdefault(platform, []).append(account)
    return out


@dataclass(frozen=True, slots=True)
class OwnAccounts:
    """Per platform key, the brand's account names and ids (compared by `account_name`)."""

    names: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, pairs: Iterable[tuple[str, str]]) -> "OwnAccounts":
        """From (platform key, handle or id) pairs; empty names are left out."""
        names: dict[str, set[str]] = {}
        for platform, account in pairs:
            if account_name(account):
                names.setdefault(platform, set()).add(account_name(account))
        return cls({platform: frozenset(found) for platform, found in names.items()})

    def known_on(self, platform: str) -> bool:
        return bool(self.names.get(platform))

    def wrote(self, mention: Mention) -> bool:
        """True when one of the brand's accounts wrote `mention`."""
        ours = self.names.get(mention.platform, frozenset())
        return bool(ours) and any(
            account_name(who) in ours for who in (mention.author_handle, mention.author_id) if who
        )

    def everywhere(self) -> list[str]:
        """Every name on every platform (what the reply guardrails compare authors with)."""
        return sorted({name for found in self.names.values() for name in found})
