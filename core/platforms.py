"""What the lower layers know of each platform: its name, reply limit and handle style.

Each descriptor in service/platforms/ carries one `PlatformInfo`, registered here when that
package is discovered (service/config.py does so on import), so a platform is described once;
rules, alerts and replies look it up here by its key.
"""

from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PlatformInfo:
    key: str  # as stored in `mention.platform` and written in rules: "x", "reddit", "telegram"
    display_name: str  # as staff read it: "X"
    reply_limit: int  # the longest reply text the platform takes, in characters
    handle_prefix: str = ""  # "@" where people write a handle with it (X)

    def address(self, handle: str) -> str:
        """How a handle is written on this platform: "@acme" on X, "acme" elsewhere."""
        return f"{self.handle_prefix}{handle}" if handle else handle


_REGISTRY: dict[str, PlatformInfo] = {}


def register(info: PlatformInfo) -> PlatformInfo:
    """Add `info` (a platform's descriptor does this at import); a key is registered once."""
    known = _REGISTRY.setdefault(info.key, info)
    if known != info:
        raise ValueError(f"platform {info.key!r} is registered twice, differently")
    return info


def platform(key: str) -> PlatformInfo | None:
    return _REGISTRY.get(key)


def platforms() -> Iterator[PlatformInfo]:
    """The registered platforms, in the order they were registered."""
    return iter(list(_REGISTRY.values()))


def display_name(key: str) -> str:
    """How staff read `key` ("X"); an unknown key as it is (rows of a platform now unset)."""
    info = _REGISTRY.get(key)
    return info.display_name if info else key


def address(key: str, handle: str) -> str:
    """`handle` as written on platform `key` ("@acme" on X)."""
    info = _REGISTRY.get(key)
    return info.address(handle) if info else handle


def author_values(key: str, author_handle: str, author_id: str) -> dict[str, str]:
    """The `{author}` and `{platform}` of a reply template for a mention on `key`."""
    return {
        "author": address(key, author_handle or author_id),
        "platform": display_name(key),
    }
