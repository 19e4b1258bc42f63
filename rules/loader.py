"""Rule files with `include:`, validated as one rule set, and reloaded when they change.

    include: [rules/refunds.yaml, rules/vip.yaml]   # relative to the including file

The main file's own rules come first, then each included file's, in the order listed. Every
problem in any file is reported at once, with the file and line it is on, the rule's name, and a
plain-English message; a broken edit of a running service's rules is rejected and the last good
rules stay in force (`RulesWatcher`).
"""

import difflib
import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from core.config_file import (
    ConfigError,
    LocatedDocument,
    Location,
    PathKey,
    Problem,
    _data_path,
    _unknown_key_message,
    format_path,
    load_yaml,
)
from rules.engine import Engine
from rules.schema import LOCATED_REFERENCES, RulesConfig, reference_problems

log = logging.getLogger(__name__)

Model = TypeVar("Model", bound=RulesConfig)
# What an included file may hold; the rest (urgency, timezone, platforms…) only the main file.
INCLUDABLE = ("rules", "windows", "lists", "include")
_MERGED_LISTS = ("rules", "windows")


class RulesError(ConfigError):
    """Every problem in a rule set; `files` are the files read, to watch them for a fix."""

    def __init__(self, problems: Sequence[Problem], files: Sequence[Path]):
        super().__init__(problems)
        self.files = tuple(files)


@dataclass(frozen=True, slots=True)
class _Origin:
    document: LocatedDocument
    path: PathKey  # where the merged item stands in its own file


@dataclass(slots=True)
class _Tree:
    """The main file and every file it includes, merged into one document."""

    data: dict[str, Any] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    origins: dict[PathKey, _Origin] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    root: LocatedDocument | None = None

    def locate(self, path: PathKey) -> tuple[Location, str]:
        """The file:line of a merged path and how to name it to the person editing that file."""
        origin, rest = self._origin(path)
        if origin is None or self.root is None:
            return Location(str(self.files[0]), 1), format_path(path)
        full = (*origin.path, *rest)
        return origin.document.locate(full), self._name(path[:2], full)

    def _origin(self, path: PathKey) -> tuple[_Origin | None, PathKey]:
        if path[:2] in self.origins:
            return self.origins[path[:2]], path[2:]
        return (_Origin(self.root, ()), path) if self.root else (None, path)

    def _name(self, item: PathKey, full: PathKey) -> str:
        """`rule "refunds" when.keywords` for parts of a named rule, else the plain path."""
        if len(item) == 2 and item[0] in _MERGED_LISTS and isinstance(item[1], int):
            entries = self.data.get(str(item[0]))
            entry = entries[item[1]] if isinstance(entries, list) else None
            name = entry.get("name") if isinstance(entry, dict) else None
            if isinstance(name, str) and name:
                what = "rule" if item[0] == "rules" else "window"
                below = format_path(full[2:])
                return f'{what} "{name}"' + (f" {below}" if below else "")
        return format_path(full)

    def problem(self, path: PathKey, message: str) -> Problem:
        location, name = self.locate(path)
        origin, rest = self._origin(path)
        if origin is not None:
            message = origin.document.blame((*origin.path, *rest), message)
        return Problem(location, name, message)


@dataclass(frozen=True, slots=True)
class LoadedRules(Generic[Model]):
    config: Model
    files: tuple[Path, ...]
    tree: _Tree

    def problem(self, path: PathKey, message: str) -> Problem:
        """A problem at a path of the merged config, placed in the file and line it came from."""
        return self.tree.problem(path, message)

    def rule_places(self) -> dict[str, Location]:
        """The file:line each rule starts on, by rule name (names are unique)."""
        return {
            rule.name: self.tree.locate(("rules", index))[0]
            for index, rule in enumerate(self.config.rules)
        }


def load_rules(
    path: Path, model: type[Model] = RulesConfig, env: Mapping[str, str] | None = None
) -> LoadedRules[Model]:
    """Read `path` and its includes and validate them as one `model`.

    Raises RulesError listing every problem with file:line, rule name and message.
    """
    tree = _Tree()
    _read(Path(path), os.environ if env is None else env, tree, stack=())
    problems = list(tree.problems)
    try:
        config = model.model_validate(tree.data, context={LOCATED_REFERENCES: True})
    except ValidationError as exc:
        problems += _problems(exc, model, tree)
        raise RulesError(_in_file_order(problems, tree.files), tree.files) from None
    if not problems:  # with a file unread, a name it defines would look undefined
        problems = [tree.problem(at, message) for at, message in reference_problems(config)]
    if problems:
        raise RulesError(_in_file_order(problems, tree.files), tree.files)
    return LoadedRules(config, tuple(tree.files), tree)


def _in_file_order(problems: list[Problem], files: list[Path]) -> list[Problem]:
    order = {str(path): index for index, path in enumerate(files)}

    def position(problem: Problem) -> tuple[int, int]:
        where = problem.location
        return (order.get(where.file, len(order)), where.line) if where else (-1, 0)

    return sorted(problems, key=position)


# --- reading and merging ------------------------------------------------------------------


def _read(path: Path, env: Mapping[str, str], tree: _Tree, stack: tuple[Path, ...]) -> None:
    tree.files.append(path)
    try:
        document = load_yaml(path, env)
    except ConfigError as exc:
        tree.problems.extend(exc.problems)
        return
    data = document.data if document.data is not None else {}
    if not isinstance(data, dict):
        tree.problems.append(
            Problem(Location(str(path), 1), "", "must be a mapping of keys such as rules:")
        )
        return
    included = bool(stack)
    if not included:
        tree.root = document
        tree.data.update({k: v for k, v in data.items() if k not in (*_MERGED_LISTS, "include")})
        if isinstance(data.get("lists"), dict):
            tree.data["lists"] = dict(data["lists"])  # included files add theirs to a copy
    else:
        _check_included_keys(document, data, tree)
    _merge(document, data, tree)
    for line_path, target in _includes(document, data, tree):
        full = (path.parent / target).resolve()
        chain = (*stack, path.resolve())
        where = document.locate(line_path)
        if full in chain:
            names = " → ".join(p.name for p in (*chain, full))
            tree.problems.append(Problem(where, "include", f"includes itself: {names}"))
        elif full in {p.resolve() for p in tree.files}:
            tree.problems.append(Problem(where, "include", f"{target} is already included"))
        elif not full.is_file():
            tree.problems.append(Problem(where, "include", f"file not found: {full}"))
            tree.files.append(path.parent / target)  # watched, so creating it reloads
        else:
            _read(path.parent / target, env, tree, chain)


def _check_included_keys(document: LocatedDocument, data: dict[str, Any], tree: _Tree) -> None:
    for key in data:
        if key in INCLUDABLE:
            continue
        if key in RulesConfig.model_fields or key in ("brand", "database", "platforms"):
            message = f"{key} can only be set in the main file, not in an included one"
        else:
            close = difflib.get_close_matches(key, INCLUDABLE, n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'?" if close else "allowed: " + ", ".join(INCLUDABLE)
            message = f"unknown key '{key}' ({hint})"
        tree.problems.append(Problem(document.locate((key,)), key, message))


def _merge(document: LocatedDocument, data: dict[str, Any], tree: _Tree) -> None:
    for key in _MERGED_LISTS:
        items = data.get(key)
        if items is None:
            continue
        if not isinstance(items, list):
            tree.problems.append(
                Problem(document.locate((key,)), key, f"{key} must be a list (- name: … entries)")
            )
            continue
        merged = tree.data.setdefault(key, [])
        for index, item in enumerate(items):
            tree.origins[(key, len(merged))] = _Origin(document, (key, index))
            merged.append(item)
    lists = data.get("lists")
    if isinstance(lists, dict) and tree.root is not document:
        merged_lists = tree.data.setdefault("lists", {})
        if not isinstance(merged_lists, dict):
            return  # the main file's own `lists:` is malformed; validation reports it there
        for name, entries in lists.items():
            if name in merged_lists:
                tree.problems.append(
                    Problem(
                        document.locate(("lists", name)),
                        f"lists.{name}",
                        f"list '{name}' is already defined in another file",
                    )
                )
                continue
            tree.origins[("lists", name)] = _Origin(document, ("lists", name))
            merged_lists[name] = entries


def _includes(
    document: LocatedDocument, data: dict[str, Any], tree: _Tree
) -> list[tuple[PathKey, str]]:
    """(path of the entry, file name) for each file `data` includes."""
    value = data.get("include")
    if value is None:
        return []
    if isinstance(value, str):
        return [(("include",), value)]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        tree.problems.append(
            Problem(
                document.locate(("include",)),
                "include",
                "include must be a file name or a list of file names",
            )
        )
        return []
    return [(("include", index), name) for index, name in enumerate(value)]


# --- plain-English problems ---------------------------------------------------------------


def _problems(exc: ValidationError, model: type[BaseModel], tree: _Tree) -> list[Problem]:
    problems = []
    for error in exc.errors():
        path = _data_path(tree.data, error["loc"])
        if error["type"] != "missing" and path and not _present(tree.data, path):
            path = path[:-1]  # a union tag such as "spike", not a key the user wrote
        problems.append(tree.problem(path, _message(error, model)))
    return problems


def _present(data: Any, path: PathKey) -> bool:
    for part in path:
        in_list = isinstance(data, list) and isinstance(part, int) and part < len(data)
        if not in_list and not (isinstance(data, dict) and part in data):
            return False
        data = data[part]
    return True


_ORDER = {"greater_than_equal": "at least", "less_than_equal": "at most", "greater_than": "above"}
_TYPES = {
    "int_parsing": "expected a whole number",
    "int_type": "expected a whole number",
    "int_from_float": "expected a whole number",
    "float_parsing": "expected a number",
    "float_type": "expected a number",
    "bool_parsing": "expected true or false",
    "bool_type": "expected true or false",
    "string_type": "expected text",
    "list_type": "expected a list (- item lines, or [a, b])",
    "dict_type": "expected a mapping (key: value lines)",
    "model_type": "expected a mapping (key: value lines)",
    "model_attributes_type": "expected a mapping (key: value lines)",
}


def _message(error: ErrorDetails, model: type[BaseModel]) -> str:
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    if kind == "extra_forbidden":
        return _unknown_key_message(model, error["loc"])
    if kind == "missing":
        return f"'{error['loc'][-1]}' is required"
    if kind == "union_tag_invalid":
        what = "window kind" if error["loc"][0] == "windows" else "action"
        return _choice(what, str(ctx.get("tag")), re.findall(r"'([^']*)'", ctx["expected_tags"]))
    if kind == "union_tag_not_found":
        return "each entry needs a kind: (e.g. kind: alert)"
    if kind == "literal_error":
        what = next((str(p) for p in reversed(error["loc"]) if isinstance(p, str)), "value")
        return _choice(what, str(value), re.findall(r"'([^']*)'", ctx.get("expected", "")))
    if kind in _ORDER:
        bound = next(iter(ctx.values()))
        return f"must be {_ORDER[kind]} {bound}, got {value}"
    if kind in _TYPES:
        return f"{_TYPES[kind]}, got {value!r}"
    if kind == "too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"too long: at most {ctx.get('max_length')} characters"
    if kind == "string_pattern_mismatch":
        return f"{value!r}: use only letters, digits, '-', '_' and '.' (no spaces)"
    return str(error["msg"]).removeprefix("Value error, ")


def _choice(what: str, given: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(given, allowed, n=1, cutoff=0.5)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return f"unknown {what} '{given}' ({hint}use one of: {', '.join(allowed)})"


# --- hot reload ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReloadResult:
    changed: bool  # a watched file changed since the last check
    engine: Engine | None = None  # the new rules, now in force
    problems: tuple[Problem, ...] = ()  # why the edit was rejected; the last good rules stay


@dataclass(frozen=True, slots=True)
class ReloadRecord:
    """The running node's last reload of a changed rule file, for the console to show."""

    at: datetime
    problems: tuple[Problem, ...]  # empty: the edit took over; else refused, old rules stay


_Stamp = tuple[int, int] | None  # (mtime in ns, size); None for a missing file


class RulesWatcher:
    """Swaps in new rules when a rule file changes; rejects a broken edit, keeping the old rules.

    Call `check()` every few seconds (it reads only file stamps unless one changed; `changed()`
    reads the stamps alone); on success use `result.engine` (also `watcher.engine`). A rejected
    edit is reported once, through `on_error` and in the result, until the files change again.
    """

    def __init__(
        self,
        path: Path,
        build: Callable[[RulesConfig], Engine],
        *,
        model: type[RulesConfig] = RulesConfig,
        env: Mapping[str, str] | None = None,
        on_error: Callable[[Sequence[Problem]], None] | None = None,
    ):
        self.path = Path(path)
        self._build = build
        self._model = model
        self._env = env
        self._on_error = on_error
        loaded = load_rules(self.path, model, env)  # a broken start is the operator's to fix
        self.engine = build(loaded.config)
        self.places = loaded.rule_places()  # of the rules in force, not of the files on disk
        self._stamps = _stamps(loaded.files)

    def changed(self) -> bool:
        """Whether a rule file changed since the last check (a stat a file, nothing read)."""
        return _stamps(self._stamps) != self._stamps

    def check(self) -> ReloadResult:
        if not self.changed():
            return ReloadResult(changed=False)
        try:
            loaded = load_rules(self.path, self._model, self._env)
            engine = self._build(loaded.config)
        except RulesError as exc:
            self._stamps = _stamps(exc.files)
            log.warning("rule change rejected, the previous rules stay in force:\n%s", exc)
            if self._on_error:
                self._on_error(exc.problems)
            return ReloadResult(changed=True, problems=tuple(exc.problems))
        self._stamps = _stamps(loaded.files)
        self.engine = engine
        self.places = loaded.rule_places()
        log.info("rules reloaded: %d rules in force", len(engine.rule_names))
        return ReloadResult(changed=True, engine=engine)


def _stamps(files: Sequence[Path] | Mapping[Path, _Stamp]) -> dict[Path, _Stamp]:
    out: dict[Path, _Stamp] = {}
    for path in files:
        try:
            stat = os.stat(path)
        except OSError:
            out[path] = None
            continue
        out[path] = (stat.st_mtime_ns, stat.st_size)
    return out
