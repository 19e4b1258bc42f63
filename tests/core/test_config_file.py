from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field

from core.config_file import ConfigError, expand_env, load_yaml, validate


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sentiment_below: float = Field(default=0, ge=-1, le=1)


class Outer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    items: list[Inner] = []


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_env_references_expand_with_defaults() -> None:
    env = {"A": "1", "EMPTY": ""}
    assert expand_env("${A}-${B:-two}-${EMPTY:-three}", env) == "1-two-three"
    with pytest.raises(KeyError, match="B"):
        expand_env("${B}", env)


def test_every_problem_is_reported_with_file_line_and_path(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "items:\n  - sentiment_below: 0.5\n  - sentiment_below: 3\n  - sentimnt_below: -0.2\n",
    )
    with pytest.raises(ConfigError) as caught:
        validate(Outer, load_yaml(path, {}))
    lines = [str(p) for p in caught.value.problems]
    assert f"{path}:1 name: this key is required" in lines
    assert any(line.startswith(f"{path}:3 items[1].sentiment_below:") for line in lines)
    unknown = "unknown key 'sentimnt_below' (did you mean 'sentiment_below'?)"
    assert f"{path}:4 items[2].sentimnt_below: {unknown}" in lines


def test_unset_variable_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "name: ok\ntoken: ${SECRET_TOKEN}\n")
    with pytest.raises(
        ConfigError, match=r":2 token: environment variable SECRET_TOKEN is not set"
    ):
        load_yaml(path, {})


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "name: ok\nitems:\n  - [unclosed\n  - x: 1\n")
    with pytest.raises(ConfigError, match=r"config.yaml:\d+ YAML syntax error"):
        load_yaml(path, {})


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_yaml(tmp_path / "nope.yaml", {})
