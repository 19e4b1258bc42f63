"""Parsed YAML documents, with the line of every key and item, cached by their text.

ruamel's round-trip parser is pure Python: the shipped lexicons and config.yaml cost a third of
a second of CPU at every start-up, for files that rarely change. The document a parse gives
(mappings, sequences, scalars and where each key and item stands) is kept as JSON under the
user's cache directory, named by a hash of the text, so an edited file is simply a new entry
and a stale one is never read. JSON, not pickle: a cache file can hold data, never code.
Anything the cache cannot hold exactly (dates, tags, merge keys) is parsed every time.
"""

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import ruamel.yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

# Parsing a small file is cheaper than hashing, reading and rebuilding it, and test suites write
# many small files: only files at least this long are cached.
MIN_CACHED_CHARS = 4096
# Entries kept; the oldest are removed when a new one would exceed it.
MAX_ENTRIES = 64
# Part of every key, so a cache written by another format or another ruamel is never read.
_FORMAT = f"1/{ruamel.yaml.__version__}"


class _Uncacheable(Exception):
    """The document holds something JSON cannot give back as it was."""


def cache_dir() -> Path | None:
    """`$XDG_CACHE_HOME/brandpulse/yaml`, or `~/.cache/brandpulse/yaml`; None without a home
    (a container user with neither HOME nor a passwd entry)."""
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:
            return None
    return Path(base) / "brandpulse" / "yaml"


def parse_yaml(text: str) -> Any:
    """`YAML(typ="rt").load(text)`, from the cache when this text was parsed before.

    Raises what ruamel raises for invalid YAML (an invalid text is never cached).
    """
    folder = cache_dir()
    if len(text) < MIN_CACHED_CHARS or folder is None:
        return YAML(typ="rt", pure=True).load(text)
    digest = hashlib.sha256(f"{_FORMAT}\n{text}".encode()).hexdigest()
    entry = folder / f"{digest}.json"
    try:
        return _restore(json.loads(entry.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError, KeyError, IndexError):
        pass  # not cached yet, or unreadable: parse and (re)write it
    root = YAML(typ="rt", pure=True).load(text)
    try:
        # ASCII: a YAML escape may give a lone surrogate, which UTF-8 cannot write.
        encoded = json.dumps(_encode(root), separators=(",", ":"))
    except _Uncacheable:
        return root
    _write(entry, encoded)
    return root


def _write(entry: Path, encoded: str) -> None:
    """Write atomically (another process may read it meanwhile); a read-only home is no error."""
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=entry.parent, suffix=".tmp", delete=False
        ) as handle:
            handle.write(encoded)
        os.replace(handle.name, entry)
        entries = sorted(entry.parent.glob("*.json"), key=lambda path: path.stat().st_mtime)
        for old in entries[:-MAX_ENTRIES]:
            old.unlink(missing_ok=True)
    except OSError:
        return


# A mapping is {"m": [[key, key line, key column, value line, value column, value], ...]} and a
# sequence {"s": [[line, column, item], ...]}, each with its own "l"ine and "c"olumn; a scalar is
# itself (JSON has no mapping scalar, so a dict is always a node).


def _encode(node: Any) -> Any:
    if type(node) is CommentedMap:
        if node.merge:
            raise _Uncacheable  # merged keys have no line of their own
        items = [[_scalar(key), *node.lc.data[key], _encode(value)] for key, value in node.items()]
        return {"m": items, "l": node.lc.line, "c": node.lc.col}
    if type(node) is CommentedSeq:
        items = [[*node.lc.data[index], _encode(item)] for index, item in enumerate(node)]
        return {"s": items, "l": node.lc.line, "c": node.lc.col}
    return _scalar(node)


def _scalar(value: Any) -> Any:
    """Plain str, int, float, bool or None. ruamel's subclasses (ScalarFloat, HexInt,
    LiteralScalarString) only remember how the value was written, which nothing here reads."""
    if value is None or isinstance(value, bool):
        return value
    for kind in (str, int, float):
        if isinstance(value, kind):
            return kind(value)
    raise _Uncacheable


def _restore(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if "m" in node:
        mapping = CommentedMap()
        for key, key_line, key_col, value_line, value_col, value in node["m"]:
            mapping[key] = _restore(value)
            mapping.lc.add_kv_line_col(key, [key_line, key_col, value_line, value_col])
        mapping.lc.line, mapping.lc.col = node["l"], node["c"]
        return mapping
    sequence = CommentedSeq(_restore(item) for _, _, item in node["s"])
    for index, (line, col, _) in enumerate(node["s"]):
        sequence.lc.add_kv_line_col(index, [line, col])
    sequence.lc.line, sequence.lc.col = node["l"], node["c"]
    return sequence
