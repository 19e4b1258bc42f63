"""Value forms shared by every part's config model.

Environment variables hold flat strings: a list arrives as `a,b,c`, an unset optional number as
"". These before-validators turn them into what the models declare, in one place.
"""


def comma_separated(value: object) -> object:
    """`"a, b,,c"` → `["a", "b", "c"]`; lists and other values pass unchanged."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def blank_is_none(value: object) -> object:
    """An empty environment variable means "not set"."""
    return None if value == "" else value


def http_url(value: str) -> str:
    """An http(s) base URL without its trailing slash; "" stays "" (meaning: the default)."""
    if value and not value.startswith(("http://", "https://")):
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value.rstrip("/")
