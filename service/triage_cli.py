"""`main.py triage train --from-db --out PATH`: a brand's own triage model, from its agents.

What agents did with mentions is a label (core/store/labels.py): a reply means the mention
needed one, "not relevant" or resolving without a reply means it did not. The command fits the
same model as the shipped one (rules/triage_training.py) on those mentions, and on labelled CSV
files given beside them, writes it where the user says (never over the shipped model), and prints
the lexicon lines that make the service use it.
"""

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from core.config_file import ConfigError
from rules.lexicon_file import LexiconError
from rules.triage import Triage
from rules.triage_model import MODEL_DIR
from rules.triage_training import Example, TrainingUnavailable, fit, read_examples, write
from service.cli_errors import (
    CommandFailed,
    config_problems,
    database_errors,
    require_existing_database,
)
from service.config import DEFAULT_CONFIG, AppConfig, load_config

# Fewer labels than this make a model that has learned a handful of mentions by heart.
MIN_LABELS = 200
MIN_EACH = 30  # of each kind: answered, and dismissed


def add_triage_command(commands: Any) -> None:
    triage = commands.add_parser("triage", help="the learned triage model: retrain it")
    triage_commands = triage.add_subparsers(
        dest="triage_command", required=True, metavar="TRIAGE_COMMAND"
    )
    train = triage_commands.add_parser(
        "train",
        help="fit a triage model on agents' decisions (--from-db) and/or labelled CSV files",
    )
    train.add_argument(
        "files", nargs="*", type=Path, metavar="FILE.csv", help="more labelled texts (text,label)"
    )
    train.add_argument(
        "--from-db",
        action="store_true",
        help="learn from the database: replied = needs a response; not relevant, or resolved "
        "without a reply = does not",
    )
    train.add_argument("--out", type=Path, required=True, help="the weights file to write")
    train.add_argument("--lang", help="the language to train (default: the brand's first)")
    train.add_argument("--force", action="store_true", help="replace --out if it exists")
    train.add_argument(
        "--min-labels",
        type=int,
        default=MIN_LABELS,
        help=f"refuse with fewer labelled texts (default {MIN_LABELS}, at least {MIN_EACH} of "
        "each kind)",
    )
    train.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="default: config.yaml")
    train.set_defaults(handler=cmd_triage_train)


def cmd_triage_train(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    if not args.from_db and not args.files:
        raise CommandFailed("triage train: give --from-db, labelled CSV files, or both")
    target = _writable(args.out, args.force)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        raise CommandFailed(config_problems(args.config, exc)) from None
    lang = args.lang or config.brand.languages[0]
    if lang not in config.brand.languages:
        raise CommandFailed(
            f"triage train: --lang {lang} is not one of brand.languages "
            f"({', '.join(config.brand.languages)})"
        )
    examples: list[Example] = []
    sources: list[str] = []
    if args.from_db:
        found = _database_examples(config, lang)
        examples.extend(found)
        sources.append(f"database: {len(found)} labelled mentions")
    for path in args.files:
        try:
            examples.extend(read_examples(path))
        except (OSError, ValueError) as exc:
            raise CommandFailed(f"triage train: {exc}") from None
        sources.append(path.name)
    _enough(examples, lang, args.min_labels, args.from_db)
    try:
        doc = fit(examples)
    except TrainingUnavailable as exc:
        raise CommandFailed(f"triage train: {exc}") from None
    write(doc, sources, target)
    needs = sum(e.negative for e in examples)
    out.write(
        f"{lang}: trained on {len(examples)} texts ({needs} need a response, "
        f"{len(examples) - needs} do not; {'; '.join(sources)}) -> {target}\n"
        "To use it, add a lexicon file with these lines and list it in config.yaml "
        "under brand.lexicons:\n"
        f"  language: {lang}\n  model:\n    file: {target}\n"
    )
    return 0


def _writable(path: Path, force: bool) -> Path:
    target = path.resolve()
    if target.parent == MODEL_DIR.resolve():
        raise CommandFailed(
            f"triage train: {target} is where the shipped models live; write the brand's model "
            "elsewhere (bench/train_triage.py alone rebuilds the shipped ones)"
        )
    if target.exists() and not force:
        raise CommandFailed(f"triage train: {target} exists; add --force to replace it")
    if target.is_dir():
        raise CommandFailed(f"triage train: {target} is a directory; --out takes a file name")
    return target


def _database_examples(config: AppConfig, lang: str) -> list[Example]:
    from core.store import Store  # here: main.py registers this command for every command

    require_existing_database(config.database.url)
    with database_errors(config.database.url):
        store = Store.open(config.database.url, create_empty=False)
        try:
            labels = store.triage_labels()
        finally:
            store.close()
    try:
        triage = Triage.from_files(config.brand.lexicons, config.brand.languages)
    except LexiconError as exc:
        raise CommandFailed(f"triage train: brand.lexicons: {exc}") from None
    return [
        Example(label.text, label.needs_response)
        for label in labels
        if triage.language(label.text, label.lang) == lang
    ]


def _enough(examples: list[Example], lang: str, minimum: int, from_db: bool) -> None:
    needs = sum(e.negative for e in examples)
    rest = len(examples) - needs
    if len(examples) >= minimum and min(needs, rest) >= MIN_EACH:
        return
    hint = (
        " Agents label mentions by replying to them, or by marking them Not relevant;"
        " labelled CSV files (text,label with label negative = needs a response) can be added."
        if from_db
        else ""
    )
    raise CommandFailed(
        f"triage train: only {len(examples)} labelled {lang} texts ({needs} need a response, "
        f"{rest} do not); training needs at least {minimum}, with {MIN_EACH} of each kind.{hint}",
        code=1,
    )
