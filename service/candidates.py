"""Candidate rule files for a backtest from the console: one of the YAML files in the config's
`rules/` folder, or a pasted text.

A paste is untrusted: it is read with no environment (so `${TELEGRAM_BOT_TOKEN}` stays unset,
never shown), may not include other files (which could name any file on the server), and may not
use YAML anchors and aliases (nested aliases blow up into millions of values). It is written to
a private temporary file only because the loader reads files; nothing is kept.
"""

import tempfile
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.events import NodeEvent

from core.config_file import ConfigError, Location, Problem, load_yaml
from rules.loader import LoadedRules, RulesError, load_rules
from rules.schema import RulesConfig

MAX_PASTE = 100_000  # characters: a rule file is a few kilobytes
PASTED = "pasted"  # the file name problems in a paste are shown under


def candidate_files(rules_dir: Path) -> list[str]:
    """The names of the YAML files directly in `rules_dir` (none when it does not exist)."""
    if not rules_dir.is_dir():
        return []
    return sorted(p.name for p in rules_dir.iterdir() if p.suffix in (".yaml", ".yml"))


def load_candidate_file(rules_dir: Path, name: str) -> LoadedRules[RulesConfig]:
    """One of `candidate_files(rules_dir)`, read as `rules backtest --rules FILE` reads it.

    Raises RulesError (with every problem's file:line) for a broken file or an unknown name."""
    if name not in candidate_files(rules_dir):
        raise RulesError([Problem(None, "", f"no rule file {name!r} in {rules_dir}")], [])
    return load_rules(rules_dir / name, RulesConfig)


def load_pasted(text: str) -> LoadedRules[RulesConfig]:
    """A pasted rule file; raises RulesError whose problems are placed at `pasted:LINE`."""
    if len(text) > MAX_PASTE:
        raise _refused(None, f"the paste has {len(text)} characters; at most {MAX_PASTE}")
    alias = _first_alias(text)
    if alias:
        raise _refused(alias, "anchors and aliases (&name, *name) are not taken in a paste")
    with tempfile.TemporaryDirectory(prefix="brandpulse-candidate-") as folder:
        path = Path(folder) / f"{PASTED}.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            document = load_yaml(path, env={})
            if isinstance(document.data, dict) and "include" in document.data:
                raise _refused(
                    document.locate(("include",)).line,
                    "include: a paste cannot include other files; pick a file from rules/",
                )
            return load_rules(path, RulesConfig, env={})
        except ConfigError as exc:
            raise RulesError([_as_pasted(p, folder) for p in exc.problems], []) from None


def _first_alias(text: str) -> int | None:
    """The line of the first anchor or alias, or None (syntax errors are the loader's to tell)."""
    try:
        for event in YAML(typ="rt", pure=True).parse(text):
            if isinstance(event, NodeEvent) and event.anchor is not None:
                return event.start_mark.line + 1
    except YAMLError:
        return None
    return None


def _refused(line: int | None, message: str) -> RulesError:
    return RulesError([Problem(Location(PASTED, line) if line else None, "", message)], [])


def _as_pasted(problem: Problem, folder: str) -> Problem:
    """The temporary file's path means nothing to the person who pasted: `pasted:LINE`."""
    where = problem.location
    return Problem(
        Location(PASTED, where.line) if where else None,
        problem.path,
        problem.message.replace(f"{folder}/", "").replace(folder, PASTED),
    )
