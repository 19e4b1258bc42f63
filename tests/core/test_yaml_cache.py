"""The YAML cache gives back exactly what ruamel parses, lines included, and never a stale file."""

from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from core import yaml_cache
from core.yaml_cache import MAX_ENTRIES, MIN_CACHED_CHARS, parse_yaml

REPO = Path(__file__).resolve().parents[2]
SHIPPED = [REPO / "config.yaml", REPO / "rules/lexicons/en.yaml", REPO / "rules/lexicons/tr.yaml"]


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "brandpulse" / "yaml"


def shape(node: Any) -> Any:
    """Everything a reader of the document sees: values, their types, every line and column
    (merged keys have none)."""
    if isinstance(node, CommentedMap):
        items = [(k, type(k), node.lc.data.get(k), shape(v)) for k, v in node.items()]
        return ("map", node.lc.line, node.lc.col, items)
    if isinstance(node, CommentedSeq):
        items = [(node.lc.data[i], shape(v)) for i, v in enumerate(node)]
        return ("seq", node.lc.line, node.lc.col, items)
    # ruamel's ScalarFloat and friends come back as the plain type they extend.
    kinds = (bool, str, int, float, type(None))
    plain = next((kind for kind in kinds if isinstance(node, kind)), type(node))
    return (plain, node)


def ruamel(text: str) -> Any:
    return YAML(typ="rt", pure=True).load(text)


def long_text(body: str) -> str:
    return body + "#" * MIN_CACHED_CHARS + "\n"


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: path.name)
def test_a_cached_shipped_file_reads_as_ruamel_parses_it(
    path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = path.read_text(encoding="utf-8")
    expected = shape(ruamel(text))
    assert shape(parse_yaml(text)) == expected
    assert len(list(cache.glob("*.json"))) == 1

    def no_parse(**_: Any) -> None:
        raise AssertionError("parsed again instead of read from the cache")

    monkeypatch.setattr(yaml_cache, "YAML", no_parse)
    assert shape(parse_yaml(text)) == expected


def test_an_edited_text_is_parsed_again(cache: Path) -> None:
    assert parse_yaml(long_text("threshold: 30\n"))["threshold"] == 30
    assert parse_yaml(long_text("threshold: 40\n"))["threshold"] == 40
    assert parse_yaml(long_text("threshold: 30\n"))["threshold"] == 30
    assert len(list(cache.glob("*.json"))) == 2


def test_what_json_cannot_hold_is_parsed_every_time(cache: Path) -> None:
    for body in ("since: 2024-01-01\n", "base: &b {points: 1}\nother:\n  <<: *b\n  label: x\n"):
        text = long_text(body)
        assert shape(parse_yaml(text)) == shape(ruamel(text))
    assert not cache.exists() or not list(cache.glob("*.json"))


def test_a_lone_surrogate_from_an_escape_is_cached_too(cache: Path) -> None:
    text = long_text('label: "\\ud83d broken"\n')
    assert parse_yaml(text)["label"] == "\ud83d broken"
    assert parse_yaml(text)["label"] == "\ud83d broken"
    assert len(list(cache.glob("*.json"))) == 1


def test_a_small_file_is_not_cached(cache: Path) -> None:
    assert parse_yaml("a: 1\n") == {"a": 1}
    assert not cache.exists()


def test_a_corrupt_entry_is_parsed_again_and_rewritten(cache: Path) -> None:
    text = long_text("words: [late, slow]\n")
    parse_yaml(text)
    (entry,) = cache.glob("*.json")
    entry.write_text('{"m": [["words"', encoding="utf-8")
    assert shape(parse_yaml(text)) == shape(ruamel(text))
    assert shape(parse_yaml(text)) == shape(ruamel(text))
    assert entry.read_text(encoding="utf-8").endswith("}")


def test_an_unwritable_cache_directory_only_costs_the_parse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "not-a-directory").write_text("", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "not-a-directory"))
    assert parse_yaml(long_text("a: [1, 2]\n"))["a"] == [1, 2]


def test_without_a_home_nothing_is_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_CACHE_HOME")

    def no_home() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(Path, "home", no_home)
    assert parse_yaml(long_text("a: 1\n")) == {"a": 1}


def test_the_cache_keeps_only_the_newest_entries(cache: Path) -> None:
    for number in range(MAX_ENTRIES + 3):
        parse_yaml(long_text(f"n: {number}\n"))
    assert len(list(cache.glob("*.json"))) == MAX_ENTRIES
    assert not list(cache.glob("*.tmp"))
