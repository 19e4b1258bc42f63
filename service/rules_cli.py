"""`main.py rules check | test | backtest`: lint rules, try one message, replay history.

python3 main.py rules check
python3 main.py rules test "where is my refund?" --platform x --followers 50000 --json
python3 main.py rules backtest --since 7d --rules rules/candidate.yaml
"""

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from core.config_file import Problem
from core.duration import format_duration
from core.mention import Mention
from rules.engine import Engine, Verdict
from rules.lexicon_file import LexiconError
from rules.loader import LoadedRules, RulesError, load_rules
from rules.schema import ReplyAction, RulesConfig, routes_used
from rules.triage import Triage
from service.cli_args import duration, moment
from service.cli_errors import (
    BAD_SETUP,
    CommandFailed,
    database_errors,
    require_existing_database,
)
from service.config import DEFAULT_CONFIG, AppConfig, config_warnings
from service.plan import plan_actions
from service.platforms import descriptors, without_own_account

if TYPE_CHECKING:
    from service.backtest import BacktestReport, Change

# The backtest's modules (the store's queries, the replay, the progress bar) are imported by
# `rules backtest` alone: `rules check` and `rules test` read no database.

# --- wiring -------------------------------------------------------------------------------


def add_rules_commands(commands: Any) -> None:
    """Add `rules check|test|backtest` to main.py's subcommands."""
    rules = commands.add_parser("rules", help="check, try and backtest the rules")
    sub = rules.add_subparsers(dest="rules_command", required=True, metavar="RULES_COMMAND")

    check = sub.add_parser("check", help="validate the config and every rule file it includes")
    _config_option(check)
    check.set_defaults(handler=cmd_check)

    test = sub.add_parser("test", help="show what the rules make of one message")
    test.add_argument(
        "text", help="the message, as a customer would write it; `-`: one message a line from stdin"
    )
    test.add_argument(
        "--platform", default="x", choices=[platform.info.key for platform in descriptors()]
    )
    test.add_argument("--followers", type=int, default=0)
    test.add_argument("--verified", action="store_true")
    test.add_argument("--author", default="customer", help="the author's handle")
    test.add_argument("--lang", default="", help="language code, e.g. en")
    test.add_argument("--source", default="", help="e.g. x:mentions")
    test.add_argument("--is-reply", action="store_true", help="the message answers another one")
    test.add_argument("--at", type=moment, help="when it was written (ISO 8601; default: now)")
    test.add_argument("--recent", type=int, default=0, help="earlier mentions by the author")
    test.add_argument("--json", action="store_true", help="one JSON object, for scripts and CI")
    test.add_argument(
        "--jsonl", action="store_true", help="with `-`: one JSON object a line, with its text"
    )
    _config_option(test)
    test.set_defaults(handler=cmd_test)

    backtest = sub.add_parser("backtest", help="replay stored mentions through a rule file")
    backtest.add_argument(
        "--since", type=duration, default=timedelta(days=7), help="how far back (7d)"
    )
    backtest.add_argument("--rules", type=Path, help="the rule file to try (default: in force)")
    backtest.add_argument("--examples", type=int, default=5, help="changed mentions to show")
    _config_option(backtest)
    backtest.set_defaults(handler=cmd_backtest)


def _config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="default: config.yaml")


# --- check --------------------------------------------------------------------------------


def cmd_check(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        loaded = load_rules(args.config, AppConfig)
    except RulesError as exc:
        return _report(exc.problems, exc.files, out)
    problems = _route_problems(loaded) + _lexicon_problems(loaded.config, args.config)
    if problems:
        return _report(problems, loaded.files, out)
    for warning in config_warnings(args.config):
        print(f"warning: {warning}", file=out)
    print(_summary(loaded), file=out)
    for warning in _own_account_warnings(loaded):
        print(f"warning: {warning}", file=out)
    return 0


def _report(problems: list[Problem], files: Iterable[Path], out: TextIO, code: int = 1) -> int:
    """Print every problem; `code` is 1 for `rules check` (finding them is its job) and
    BAD_SETUP for the commands a broken configuration keeps from running."""
    for problem in problems:
        print(problem, file=out)
    names = ", ".join(str(f) for f in files)
    print(f"{len(problems)} problem(s) in {names}", file=out)
    return code


def _route_problems(loaded: LoadedRules[AppConfig]) -> list[Problem]:
    """Alert routes must exist in platforms.telegram.routes ("staff" is the alert chat)."""
    if "platforms" not in loaded.tree.data:
        return []  # a rules-only file: routes are checked with the config that includes it
    telegram = loaded.config.platforms.telegram
    known = sorted({"staff", *telegram.routes})
    return [
        loaded.problem(
            path, f"no route '{route}' under platforms.telegram.routes; known: " + ", ".join(known)
        )
        for path, route in routes_used(loaded.config)
        if route not in known
    ]


def _own_account_warnings(loaded: LoadedRules[AppConfig]) -> list[Problem]:
    """A platform read with none of the brand's accounts known would alert on the brand's posts."""
    if "platforms" not in loaded.tree.data:
        return []
    config = loaded.config
    path = ("brand", "own_accounts") if "brand" in loaded.tree.data else ()
    return [
        loaded.problem(
            path,
            f"{name} is enabled but none of the brand's accounts there is known, so the brand's "
            f"own posts on {name} would be alerted as mentions; add them to brand.own_accounts "
            "(env BRAND_OWN_ACCOUNTS, e.g. x:AcmeSupport,reddit:acme_help)",
        )
        for name in without_own_account(config.platforms, config.brand.own_accounts)
    ]


def _lexicon_problems(config: AppConfig, path: Path) -> list[Problem]:
    try:
        triage_for(config, path)
    except LexiconError as exc:
        return [Problem(None, "brand.lexicons", str(exc))]
    return []


def triage_for(config: AppConfig, path: Path) -> Triage:
    """The triage the service runs: shipped lexicons plus the brand's own (relative to `path`)."""
    lexicons = [path.parent / lexicon for lexicon in config.brand.lexicons]
    return Triage.from_files(lexicons, config.brand.languages, brand=config.brand.names())


def _summary(loaded: LoadedRules[AppConfig]) -> str:
    config = loaded.config
    enabled = sum(rule.enabled for rule in config.rules)
    disabled = len(config.rules) - enabled
    replying = sum(
        any(isinstance(a, ReplyAction) and not a.dry_run for a in rule.actions)
        for rule in config.rules
        if rule.enabled
    )
    parts = [
        f"{enabled} rules" + (f" ({disabled} disabled)" if disabled else ""),
        f"{len(config.windows)} window rules",
        f"{len(config.lists)} lists",
        f"{len(loaded.files)} file(s)",
    ]
    if replying:
        parts.append(f"{replying} rule(s) send automatic replies")
    return f"{loaded.files[0]}: OK, " + ", ".join(parts)


# --- test ---------------------------------------------------------------------------------


def cmd_test(
    args: argparse.Namespace, out: TextIO | None = None, stdin: TextIO | None = None
) -> int:
    """Score one message, or with `-` every line of standard input in one process."""
    out = out or sys.stdout
    try:
        config = load_rules(args.config, AppConfig).config
    except RulesError as exc:
        return _report(exc.problems, exc.files, out, BAD_SETUP)
    languages = config.brand.languages
    if args.lang and args.lang.lower() not in languages:
        raise CommandFailed(
            f"--lang {args.lang}: not a language of this brand; brand.languages is "
            f"{', '.join(languages)} (BRAND_LANGUAGES)"
        )
    engine = Engine(config, triage_for(config, args.config))
    many = args.text == "-"
    texts = (line.rstrip("\r\n") for line in stdin or sys.stdin) if many else [args.text]
    for text in texts:
        if many and not text.strip():
            continue  # a blank line is no message
        verdict = engine.evaluate(_test_mention(args, text), author_recent_count=args.recent)
        if args.json or args.jsonl:
            result = {"text": text, **verdict_json(verdict)} if many else verdict_json(verdict)
            print(json.dumps(result, ensure_ascii=False), file=out)
        else:
            print(
                f"> {text}\n{verdict_text(verdict)}\n" if many else verdict_text(verdict),
                file=out,
            )
    return 0


def _test_mention(args: argparse.Namespace, text: str) -> Mention:
    return sample_mention(
        text,
        platform=args.platform,
        at=args.at or datetime.now(UTC),
        source=args.source,
        author=args.author,
        followers=args.followers,
        verified=args.verified,
        lang=args.lang,
        is_reply=args.is_reply,
    )


def sample_mention(
    text: str,
    *,
    platform: str,
    at: datetime,
    source: str = "",
    author: str = "customer",
    followers: int = 0,
    verified: bool = False,
    lang: str = "",
    is_reply: bool = False,
) -> Mention:
    """The mention `rules test` scores (the console's "try a text" box scores the same)."""
    return Mention(
        platform=platform,
        external_id="rules-test",
        text=text,
        created_at=at,
        source=source,
        author_id=author,
        author_handle=author,
        author_followers=followers,
        author_verified=verified,
        lang=lang.lower(),
        in_reply_to_id="rules-test-parent" if is_reply else "",
    )


def verdict_json(verdict: Verdict) -> dict[str, Any]:
    """The verdict as `rules test --json` prints it."""
    return {
        "sentiment": verdict.sentiment,
        "urgency": verdict.urgency,
        "reasons": [str(reason) for reason in verdict.reasons],
        "actions": _actions(verdict),
        "rules": list(verdict.rules),
        "tags": list(verdict.tags),
        "ignored_by": verdict.ignored_by or None,
        "needs_response": verdict.needs_response,
    }


def _actions(verdict: Verdict) -> list[dict[str, Any]]:
    if verdict.ignored_by:
        return [{"kind": "ignore", "rule": verdict.ignored_by}]
    return [
        {"kind": action.kind, "rule": action.rule, "target": action.target, **action.payload}
        for action in plan_actions(verdict)
    ]


def verdict_text(verdict: Verdict) -> str:
    """What `rules test` prints for one message."""
    lines = [
        f"sentiment  {verdict.sentiment:+.2f}"
        + ("  (needs a response)" if verdict.needs_response else ""),
        f"urgency    {verdict.urgency}/100",
        f"reasons    {', '.join(map(str, verdict.reasons)) or '-'}",
        f"rules      {', '.join(verdict.rules) or '- (no rule matched)'}",
    ]
    if verdict.tags:
        lines.append(f"tags       {', '.join(verdict.tags)}")
    actions = _actions(verdict)
    if not actions:
        lines.append("actions    - (nothing would happen)")
    for index, action in enumerate(actions):
        label = "actions" if index == 0 else ""
        lines.append(f"{label:<10} {_action_text(action)}")
    return "\n".join(lines)


def _action_text(action: dict[str, Any]) -> str:
    kind, rule = action["kind"], action["rule"]
    if kind == "ignore":
        return f"ignore: dropped by rule {rule}"
    if kind == "reply":
        dry = "  [dry run: not sent]" if action["dry_run"] else ""
        return f"reply ({rule}): {action['text']!r}{dry}"
    escalations = "".join(
        f", escalate to {e['route']} after {format_duration(timedelta(seconds=e['after_seconds']))}"
        for e in action.get("escalate", ())
    )
    return f"alert → {action['target']} ({rule}){escalations}"


# --- backtest -----------------------------------------------------------------------------


def cmd_backtest(
    args: argparse.Namespace,
    out: TextIO | None = None,
    now: datetime | None = None,
    progress_to: TextIO | None = None,
) -> int:
    """`progress_to` (default: stderr) shows a bar while replaying, if it is a terminal."""
    from core.store import Store
    from service.backtest import replay_stored
    from service.progress import Progress

    out = out or sys.stdout
    try:
        loaded = load_rules(args.config, AppConfig)
        trial = load_rules(args.rules, RulesConfig) if args.rules else None
    except RulesError as exc:
        return _report(exc.problems, exc.files, out, BAD_SETUP)
    config = loaded.config
    triage = triage_for(config, args.config)
    current = Engine(config, triage)
    candidate = Engine(trial.config, triage) if trial else current
    since = (now or datetime.now(UTC)) - args.since
    # Connecting to a missing SQLite file would create an empty one; there is nothing to replay.
    require_existing_database(config.database.url)
    with database_errors(config.database.url):
        # Never migrates: an empty or outdated database is reported, not changed.
        store = Store.open(config.database.url, create_empty=False)
        try:
            report = replay_stored(
                store,
                current,
                candidate,
                since,
                track=lambda total, mentions: Progress(total, "replaying", progress_to).track(
                    mentions
                ),
            )
        finally:
            store.close()
    header = f"Backtest since {format_duration(args.since)} ago: "
    print(header + _span(report), file=out)
    print(format_report(report, args.config, args.rules, args.examples), file=out)
    return 0


def _span(report: "BacktestReport") -> str:
    if not report.first or not report.last:
        return "no stored mentions in that span"
    span = f"{report.first:%Y-%m-%d %H:%M} to {report.last:%Y-%m-%d %H:%M} UTC"
    return f"{report.mentions} mentions, {span}"


def format_report(
    report: "BacktestReport", in_force: Path, trial: Path | None, examples: int
) -> str:
    """Per rule and per route: what fired under the rules in force and under the trial file."""
    columns = ("in force", trial.name, "change") if trial else ("fired",)
    width = max(12, *(len(c) for c in columns))
    lines: list[str] = []

    def row(label: str, before: int, after: int) -> None:
        cells = (before, after, f"{after - before:+d}") if trial else (after,)
        lines.append(f"  {label:<32}" + "".join(f"{cell!s:>{width + 2}}" for cell in cells))

    lines.append(
        f"{'Per rule (mentions matched)':<34}" + "".join(f"{c:>{width + 2}}" for c in columns)
    )
    for name in _union(report.current.rules, report.candidate.rules):
        row(name, report.current.rules[name], report.candidate.rules[name])
    lines.append("Per route (alerts)")
    for name in _union(report.current.routes, report.candidate.routes):
        row(name, report.current.routes[name], report.candidate.routes[name])
    row("replies", report.current.replies, report.candidate.replies)
    row("ignored", report.current.ignored, report.candidate.ignored)
    if trial:
        alerting = [change for change in report.changes if change.alerts_differ]
        lines.append(f"Rules in force: {in_force}. {len(alerting)} mention(s) alert differently.")
        lines.extend(_change_lines(alerting, examples))
    return "\n".join(lines)


def _union(*counters: Counter[str]) -> list[str]:
    names: list[str] = []
    for counter in counters:
        names.extend(name for name in counter if name not in names)
    return names


def _change_lines(changes: list["Change"], examples: int) -> list[str]:
    lines = []
    for change in changes[:examples]:
        mention = change.mention
        text = " ".join(mention.text.split())
        text = text[:77] + "…" if len(text) > 80 else text
        lines.append(
            f"  {mention.created_at:%Y-%m-%d %H:%M} {mention.platform} "
            f"{mention.author_handle or mention.author_id}: {text!r}"
        )
        lines.append(
            f"      in force: {', '.join(change.before.alerts) or 'no alert'}"
            f"  →  trial: {', '.join(change.after.alerts) or 'no alert'}"
        )
    if len(changes) > examples:
        lines.append(f"  … and {len(changes) - examples} more (--examples N shows more)")
    return lines
