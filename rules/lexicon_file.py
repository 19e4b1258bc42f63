"""Reading lexicon files (`rules/lexicons/<lang>.yaml` and brands' own) into settings.

Every problem is collected with its file:line before anything fails, so a brand manager fixes
a file in one go. `rules/lexicon.py` compiles the settings into a `Lexicon`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml.error import YAMLError

from core.yaml_cache import parse_yaml
from rules.text import fold
from rules.triage_model import check_model_file

_TOKEN = re.compile(r"\w+", re.UNICODE)
# "didn't" -> "did not", "can’t" -> "ca not": one negator token instead of a stray "t".
_CONTRACTION = re.compile(r"n['’]t\b")


class LexiconError(ValueError):
    """A lexicon file is unreadable or invalid; the message lists every problem as file:line."""


@dataclass(slots=True)
class _Category:
    points: int | None = None
    negation: str = "keep"
    raw: bool = False  # terms are symbols (emoticons, emoji) found anywhere in the raw text
    terms: dict[str, int | None] = field(default_factory=dict)  # term -> own points or None


@dataclass(slots=True)
class Settings:
    """One language's lexicon as read from one or more files, later files overriding."""

    threshold: int = 50
    base_points: int = 0
    base_label: str = "message"
    negative_points: int = 60
    positive_points: int = 40
    neutral_band: float = 0.05
    question_points: int = 0
    question_label: str = "question"
    question_starters: list[str] = field(default_factory=list)
    question_particles: list[str] = field(default_factory=list)
    intent_points: int = 0
    intent_label: str = "question to the brand"
    intent_words: list[str] = field(default_factory=list)
    model_points: int = 0
    model_reasons: int = 3
    model_file: Path | None = None  # a brand's own weights instead of rules/models/<lang>.json
    calibration_knee: int = 100
    engine: str = "vader"
    negation_window: int = 3
    negation_position: str = "before"
    negation_label: str = "not"
    negators: list[str] = field(default_factory=list)
    negating_suffixes: list[str] = field(default_factory=list)  # suffix groups
    intensifiers: list[str] = field(default_factory=list)
    intensifier_factor: float = 1.5
    contrast_words: list[str] = field(default_factory=list)
    contrast_factor: float = 0.5
    suffixes: dict[str, list[str]] = field(default_factory=dict)
    markers: list[str] = field(default_factory=list)
    letters: str = ""
    repeat_factor: float = 0.5
    categories: dict[str, _Category] = field(default_factory=dict)


_NEGATION_MODES = ("keep", "cancel", "flip")
_ENGINES = ("vader", "lexicon")
# "{neg}" in a term stands for every suffix of the group `neg` (see `suffixes:` in tr.yaml).
SUFFIX_SLOT = re.compile(r"\{(\w+)\}")


class FileReader:
    """Validates one YAML file into `Settings`, collecting every problem with its line."""

    def __init__(self, path: Path, errors: list[str]) -> None:
        self.path = path
        self.errors = errors

    def error(self, node: Any, key: Any, message: str) -> None:
        line = 0
        try:
            line = (node.lc.key(key) if isinstance(key, str) else node.lc.item(key))[0] + 1
        except (AttributeError, KeyError, IndexError, TypeError):
            line = getattr(getattr(node, "lc", None), "line", -1) + 1
        self.errors.append(f"{self.path}:{line}: {message}")

    def number(self, node: Any, key: str, kind: type, lo: float, hi: float) -> Any:
        value = node[key]
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if kind is int:
            ok = ok and float(value).is_integer()
        if not ok or not lo <= value <= hi:
            self.error(
                node,
                key,
                f"{key}: must be a{'n integer' if kind is int else ' number'} "
                f"from {lo:g} to {hi:g}, got {value!r}",
            )
            return None
        return kind(value)

    def words(self, node: Any, key: str) -> list[str] | None:
        value = node[key]
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            self.error(node, key, f"{key}: must be a list of words")
            return None
        return [str(v) for v in value]

    def read(self, into: dict[str, Settings]) -> None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError as exc:
            self.errors.append(f"{self.path}:0: cannot read: {exc.strerror or exc}")
            return
        try:
            doc = parse_yaml(text)
        except YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else 0
            self.errors.append(
                f"{self.path}:{line}: not valid YAML: {getattr(exc, 'problem', exc)}"
            )
            return
        if not isinstance(doc, dict):
            self.errors.append(f"{self.path}:1: must be a mapping with language: and categories:")
            return
        language = doc.get("language")
        if not isinstance(language, str) or not re.fullmatch(r"[a-z]{2}", language):
            self.error(doc, "language", "language: must be an ISO 639-1 code such as en or tr")
            return
        settings = into.setdefault(language, Settings())
        known = {
            "language",
            "threshold",
            "base",
            "sentiment",
            "question",
            "intent",
            "model",
            "calibration",
            "negation",
            "intensifiers",
            "contrast",
            "suffixes",
            "markers",
            "letters",
            "repeat_factor",
            "categories",
        }
        for key in doc:
            if key not in known:
                self.error(doc, key, f"{key}: unknown setting (expected one of {sorted(known)})")
        if "threshold" in doc and (v := self.number(doc, "threshold", int, 1, 100)) is not None:
            settings.threshold = v
        if (
            "repeat_factor" in doc
            and (v := self.number(doc, "repeat_factor", float, 0, 1)) is not None
        ):
            settings.repeat_factor = v
        self.base(doc.get("base"), settings)
        self.sentiment(doc.get("sentiment"), settings)
        self.question(doc.get("question"), settings)
        self.intent(doc.get("intent"), settings)
        self.model(doc.get("model"), settings)
        self.calibration(doc.get("calibration"), settings)
        suffixes = doc.get("suffixes")
        if suffixes is not None:
            if isinstance(suffixes, dict):
                for group in suffixes:
                    if (v := self.words(suffixes, group)) is not None:
                        settings.suffixes[str(group)] = v
            else:
                self.error(doc, "suffixes", "suffixes: must map a group name to its suffixes")
        self.negation(doc.get("negation"), settings)
        settings.intensifiers, settings.intensifier_factor = self.words_and_factor(
            doc.get("intensifiers"),
            "intensifiers",
            settings.intensifiers,
            settings.intensifier_factor,
        )
        settings.contrast_words, settings.contrast_factor = self.words_and_factor(
            doc.get("contrast"), "contrast", settings.contrast_words, settings.contrast_factor
        )
        if "markers" in doc and (v := self.words(doc, "markers")) is not None:
            settings.markers = v
        if "letters" in doc and (v := self.words(doc, "letters")) is not None:
            if all(len(letter) == 1 and letter.isalpha() for letter in v):
                settings.letters = "".join(v)
            else:
                self.error(doc, "letters", "letters: must be a list of single letters")
        categories = doc.get("categories")
        if categories is None:
            return
        if not isinstance(categories, dict):
            self.error(doc, "categories", "categories: must map a category name to its settings")
            return
        for name, body in categories.items():
            self.category(categories, str(name), body, settings)

    def base(self, node: Any, settings: Settings) -> None:
        if node is None:
            return
        for key in node:
            if key == "points" and (v := self.number(node, key, int, -100, 100)) is not None:
                settings.base_points = v
            elif key == "label":
                settings.base_label = str(node[key])
            else:
                self.error(node, key, f"base.{key}: unknown setting")

    def sentiment(self, node: Any, settings: Settings) -> None:
        if node is None:
            return
        for key in node:
            if key == "negative_points" and (v := self.number(node, key, int, 0, 200)) is not None:
                settings.negative_points = v
            elif (
                key == "positive_points" and (v := self.number(node, key, int, 0, 200)) is not None
            ):
                settings.positive_points = v
            elif key == "neutral_band" and (v := self.number(node, key, float, 0, 1)) is not None:
                settings.neutral_band = v
            elif key == "engine":
                if node[key] in _ENGINES:
                    settings.engine = node[key]
                else:
                    self.error(node, key, "sentiment.engine: must be vader or lexicon")
            elif key not in ("negative_points", "positive_points", "neutral_band", "engine"):
                self.error(node, key, f"sentiment.{key}: unknown setting")

    def question(self, node: Any, settings: Settings) -> None:
        if node is None:
            return
        for key in node:
            if key == "points" and (v := self.number(node, key, int, -100, 100)) is not None:
                settings.question_points = v
            elif key == "label":
                settings.question_label = str(node[key])
            elif key == "starters" and (v := self.words(node, key)) is not None:
                settings.question_starters = v
            elif key == "particles" and (v := self.words(node, key)) is not None:
                settings.question_particles = v
            elif key not in ("points", "label", "starters", "particles"):
                self.error(node, key, f"question.{key}: unknown setting")

    def intent(self, node: Any, settings: Settings) -> None:
        """A question that names the brand's side ("do you ship…?", "yardımcı olur musunuz")."""
        if node is None:
            return
        for key in node:
            if key == "points" and (v := self.number(node, key, int, -100, 100)) is not None:
                settings.intent_points = v
            elif key == "label":
                settings.intent_label = str(node[key])
            elif key == "addressed" and (v := self.words(node, key)) is not None:
                settings.intent_words = v
            elif key not in ("points", "label", "addressed"):
                self.error(node, key, f"intent.{key}: unknown setting")

    def model(self, node: Any, settings: Settings) -> None:
        """How much the learned model (`rules/models/<lang>.json`) weighs, and its reasons."""
        if node is None:
            return
        for key in node:
            if key == "points" and (v := self.number(node, key, int, 0, 100)) is not None:
                settings.model_points = v
            elif key == "reasons" and (v := self.number(node, key, int, 0, 10)) is not None:
                settings.model_reasons = v
            elif key == "file":
                self.model_file(node, key, settings)
            elif key not in ("points", "reasons", "file"):
                self.error(node, key, f"model.{key}: unknown setting")

    def model_file(self, node: Any, key: str, settings: Settings) -> None:
        """`model: {file: acme_en.json}`: weights written by `main.py triage train`, relative
        to this lexicon file. Its header is checked here; the weights are read on the first
        mention of the language, as the shipped model's are."""
        value = node[key]
        if not isinstance(value, str) or not value.strip():
            self.error(node, key, "model.file: must be the path of a weights file")
            return
        path = (self.path.parent / value).resolve()
        if not path.is_file():
            self.error(node, key, f"model.file: no such file {path} (main.py triage train)")
            return
        try:
            check_model_file(path)
        except ValueError as exc:
            self.error(node, key, f"model.file: {exc}")
            return
        settings.model_file = path

    def calibration(self, node: Any, settings: Settings) -> None:
        if node is None:
            return
        for key in node:
            if key == "knee" and (v := self.number(node, key, int, 1, 100)) is not None:
                settings.calibration_knee = v
            elif key != "knee":
                self.error(node, key, f"calibration.{key}: unknown setting")

    def negation(self, node: Any, settings: Settings) -> None:
        if node is None:
            return
        for key in node:
            if key == "window" and (v := self.number(node, key, int, 1, 10)) is not None:
                settings.negation_window = v
            elif key == "words" and (v := self.words(node, key)) is not None:
                settings.negators = v
            elif key == "label":
                settings.negation_label = str(node[key])
            elif key == "suffixes" and (v := self.words(node, key)) is not None:
                unknown = [g for g in v if g not in settings.suffixes]
                if unknown:
                    self.error(
                        node, key, f"negation.suffixes: no suffix group {unknown[0]!r} in suffixes:"
                    )
                else:
                    settings.negating_suffixes = v
            elif key == "position":
                if node[key] in ("before", "after"):
                    settings.negation_position = node[key]
                else:
                    self.error(node, key, "negation.position: must be before or after")
            elif key not in ("window", "words", "label", "position", "suffixes"):
                self.error(node, key, f"negation.{key}: unknown setting")

    def words_and_factor(
        self, node: Any, section: str, words: list[str], factor: float
    ) -> tuple[list[str], float]:
        """A section of `words:` that scale points by `factor:` (intensifiers, contrast)."""
        if node is None:
            return words, factor
        for key in node:
            if key == "words" and (v := self.words(node, key)) is not None:
                words = v
            elif key == "factor" and (v := self.number(node, key, float, 0, 5)) is not None:
                factor = v
            elif key not in ("words", "factor"):
                self.error(node, key, f"{section}.{key}: unknown setting")
        return words, factor

    def category(self, parent: Any, name: str, body: Any, settings: Settings) -> None:
        if not isinstance(body, dict):
            self.error(parent, name, f"categories.{name}: must have points: and terms:")
            return
        category = settings.categories.setdefault(name, _Category())
        for key in body:
            if key not in ("points", "negation", "raw", "terms"):
                self.error(body, key, f"categories.{name}.{key}: unknown setting")
        if "points" in body:
            category.points = self.number(body, "points", int, -100, 100)
        elif category.points is None:
            self.error(parent, name, f"categories.{name}: points: is required for a new category")
        if "negation" in body:
            if body["negation"] in _NEGATION_MODES:
                category.negation = body["negation"]
            else:
                self.error(
                    body, "negation", f"categories.{name}.negation: must be keep, cancel or flip"
                )
        if "raw" in body:
            category.raw = bool(body["raw"])
        terms = body.get("terms")
        if not isinstance(terms, list):
            self.error(
                body,
                "terms" if "terms" in body else "points",
                f"categories.{name}.terms: must be a list of words or phrases",
            )
            return
        for index, item in enumerate(terms):
            own: int | None = None
            if isinstance(item, dict) and len(item) == 1:
                # "- lawyer: 40" gives one term its own weight.
                ((item, own),) = item.items()
                if not isinstance(own, int) or isinstance(own, bool) or not -100 <= own <= 100:
                    self.error(
                        terms,
                        index,
                        f"categories.{name}.terms: points of {item!r} must "
                        "be an integer from -100 to 100",
                    )
                    continue
            slots = SUFFIX_SLOT.findall(item) if isinstance(item, str) else []
            unknown = [g for g in slots if g not in settings.suffixes]
            if unknown:
                self.error(
                    terms,
                    index,
                    f"categories.{name}.terms: {item!r} uses {{{unknown[0]}}} but suffixes: "
                    f"has no group {unknown[0]!r}",
                )
                continue
            if not isinstance(item, str) or not (category.raw or term_words(item)):
                self.error(
                    terms,
                    index,
                    f"categories.{name}.terms: {item!r} is not a word or "
                    "phrase (write a stem as refund*)",
                )
                continue
            category.terms[str(item)] = own


def term_words(term: str) -> tuple[str, ...]:
    return tuple(words_of(fold(term.strip("*"))))


def words_of(folded: str) -> list[str]:
    """Words of folded text as matching sees them, contractions spelled out."""
    if "'" in folded or "’" in folded:
        folded = _CONTRACTION.sub(" not", folded)
    return _TOKEN.findall(folded)
