"""YAML files that remember where every value came from, and errors that say so.

Brand managers edit these files by hand. Every problem is reported as
`config.yaml:42 rules[3].when.sentiment_below: must be ≥ -1`, all problems at once.
"""

import os
import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from core.yaml_cache import parse_yaml

PathKey = tuple[str | int, ...]
Model = TypeVar("Model", bound=BaseModel)

# ${VAR} or ${VAR:-default}; the default may be empty.
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True, slots=True)
class Location:
    file: str
    line: int  # 1-based

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class Problem:
    location: Location | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.location} " if self.location else ""
        what = f"{self.path}: " if self.path else ""
        return f"{where}{what}{self.message}"


class ConfigError(Exception):
    """Every problem found in a configuration, each with file, line and path."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(slots=True)
class LocatedDocument:
    """Plain Python data parsed from YAML, plus the line each value stands on."""

    data: Any
    file: str
    lines: dict[PathKey, int] = field(default_factory=dict)
    # The environment variables that set a value (`${SLA_FIRST_RESPONSE:-60m}` when it is set),
    # so a problem with the value names the variable the operator must fix, not only the line.
    variables: dict[PathKey, tuple[str, ...]] = field(default_factory=dict)

    def blame(self, path: PathKey, message: str) -> str:
        """`message`, naming the environment variables that set the value at `path`, if any."""
        names = self.variables.get(tuple(path))
        if not names:
            return message
        which = "variable " + names[0] if len(names) == 1 else "variables " + ", ".join(names)
        return f"{message} (the value comes from environment {which})"

    def locate(self, path: PathKey) -> Location:
        """The line of `path`, or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return Location(self.file, line)
        return Location(self.file, 1)


def format_path(path: PathKey) -> str:
    """`("rules", 3, "when")` → `rules[3].when`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def expand_env(text: str, env: Mapping[str, str]) -> str:
    """Replace `${VAR}` and `${VAR:-default}`; KeyError(VAR) for an unset VAR without default."""

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        value = env.get(name)
        if value is None or (value == "" and default is not None):
            if default is None:
                raise KeyError(name)
            return default
        return value

    return _ENV_REF.sub(substitute, text)


def load_yaml(path: Path, env: Mapping[str, str] | None = None) -> LocatedDocument:
    """Parse `path`, expanding environment references in string values.

    Raises ConfigError naming the line for unreadable files, YAML syntax errors and unset variables.
    """
    env = os.environ if env is None else env
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(None, "", f"{name}: cannot read: {exc}")]) from exc
    try:
        root = parse_yaml(text)
    except MarkedYAMLError as exc:
        line, reason = _syntax_error(exc)
        raise ConfigError(
            [Problem(Location(name, line), "", f"YAML syntax error: {reason}")]
        ) from exc
    document = LocatedDocument(data=None, file=name)
    problems: list[Problem] = []
    document.data = _plain(root, (), document, env, problems, line=1)
    if problems:
        raise ConfigError(problems)
    return document


def _syntax_error(exc: MarkedYAMLError) -> tuple[int, str]:
    """The line to blame and why. The parser notices an unclosed `{`, a quote or a key without
    its `:` only on a later line; the line to fix is where that construct began."""
    problem, context = exc.problem_mark, exc.context_mark
    reason = exc.problem or exc.context or "invalid YAML"
    hint = _HINTS.get(str(exc.context))
    if hint and problem is not None and context is not None and context.line < problem.line:
        return context.line + 1, (
            f"{reason} {exc.context} that starts on this line (noticed on line "
            f"{problem.line + 1}); {hint}"
        )
    if reason.startswith("expected <block end>"):
        reason += "; this line is indented differently from the lines above it"
    mark = problem or context
    return (mark.line + 1 if mark else 1), reason


_HINTS = {
    "while scanning a simple key": "a 'key: value' line lacks its ':' or is indented wrong",
    "while scanning a quoted scalar": "a quote is not closed",
    "while parsing a flow mapping": "a '{' is not closed",
    "while parsing a flow sequence": "a '[' is not closed",
}


def _plain(
    node: Any,
    path: PathKey,
    document: LocatedDocument,
    env: Mapping[str, str],
    problems: list[Problem],
    line: int,
) -> Any:
    document.lines.setdefault(path, line)
    if isinstance(node, CommentedMap):
        out = {}
        for key, value in node.items():
            key_line = node.lc.key(key)[0] + 1
            out[str(key)] = _plain(value, (*path, str(key)), document, env, problems, key_line)
        return out
    if isinstance(node, CommentedSeq):
        return [
            _plain(value, (*path, i), document, env, problems, node.lc.item(i)[0] + 1)
            for i, value in enumerate(node)
        ]
    if isinstance(node, str):
        used = tuple(m.group(1) for m in _ENV_REF.finditer(node) if env.get(m.group(1)))
        if used:
            document.variables[path] = used
        try:
            return expand_env(str(node), env)
        except KeyError as missing:
            problems.append(
                Problem(
                    Location(document.file, line),
                    format_path(path),
                    f"environment variable {missing.args[0]} is not set "
                    f"(write ${{{missing.args[0]}:-default}} to make it optional)",
                )
            )
            return ""
    return node


def validate(model: type[Model], document: LocatedDocument, at: PathKey = ()) -> Model:
    """Build `model` from the data at `at`; ConfigError lists every problem with its line."""
    data = document.data
    for part in at:
        data = data[part]
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(problems_from(exc, model, document, at)) from exc


def problems_from(
    exc: ValidationError, model: type[BaseModel], document: LocatedDocument, at: PathKey = ()
) -> list[Problem]:
    root = document.data
    for part in at:
        root = root[part]
    problems = []
    for error in exc.errors():
        data_path = _data_path(root, error["loc"])
        full_path = (*at, *data_path)
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = _unknown_key_message(model, error["loc"])
        elif error["type"] == "missing":
            message = "this key is required"
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        problems.append(
            Problem(
                document.locate(full_path),
                format_path(full_path),
                document.blame(full_path, message),
            )
        )
    return problems


def _data_path(root: Any, loc: tuple[str | int, ...]) -> PathKey:
    """Drop the parts of a pydantic error location that are union tags, not keys in the data."""
    path: list[str | int] = []
    node = root
    for part in loc:
        if (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        ):
            node = node[part]
            path.append(part)
        elif isinstance(node, dict) and part == loc[-1]:
            # A missing key: keep it, so the path names it. Other unknown parts are union tags.
            path.append(part)
    return tuple(path)


def _unknown_key_message(model: type[BaseModel], loc: tuple[str | int, ...]) -> str:
    key = str(loc[-1])
    allowed = _fields_at(model, loc[:-1])
    if not allowed:
        return f"unknown key '{key}'"
    import difflib  # here: only a config with a typo needs it

    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'?" if close else "allowed keys: " + ", ".join(sorted(allowed))
    return f"unknown key '{key}' ({hint})"


def _fields_at(model: Any, loc: tuple[str | int, ...]) -> list[str]:
    """The field names of the model reached by following `loc` from `model`, if any."""
    current: Any = model
    for part in loc:
        current = _step(current, part)
        if current is None:
            return []
    current = _unwrap_optional(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or name for name, f in current.model_fields.items()]
    return []


def _step(annotation: Any, part: str | int) -> Any:
    annotation = _unwrap_optional(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        for name, info in annotation.model_fields.items():
            if part in (name, info.alias):
                return info.annotation
        return None
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (list, tuple, Sequence) and isinstance(part, int):
        return args[0] if args else None
    if origin in (dict, Mapping) and len(args) == 2:
        return args[1]
    if origin is typing.Annotated:
        return _step(args[0], part)
    if origin in (typing.Union, types.UnionType):
        for member in args:
            tag = _literal_tag(member)
            if tag == part:
                return member
    return None


def _unwrap_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return _unwrap_optional(members[0])
    return annotation


def _literal_tag(member: Any) -> str | None:
    if isinstance(member, type) and issubclass(member, BaseModel):
        for info in member.model_fields.values():
            if typing.get_origin(info.annotation) is typing.Literal:
                return str(typing.get_args(info.annotation)[0])
    return None
