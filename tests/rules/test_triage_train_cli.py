"""`main.py triage train --from-db`: agents' decisions in the database become a brand's model."""

import argparse
import io
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.mention import Mention
from core.store import Decision, PlannedAction, Store
from main import parser
from rules.lexicon_file import LexiconError
from rules.triage import Triage
from rules.triage_model import MODEL_DIR, TriageModel
from service.cli_errors import CommandFailed
from service.triage_cli import MIN_EACH, cmd_triage_train
from tests.conftest import SHIPPED_CONFIG

START = datetime(2026, 3, 1, tzinfo=UTC)
COMPLAINTS = [
    "my order {} never arrived and nobody answers",
    "the app crashed again, order {} is lost",
    "still waiting for refund {}, this is useless",
]
CALM = [
    "lovely weather at the beach today {}",
    "watching the match tonight with friends {}",
    "new blog post about gardening {}",
]


class Seeder:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.count = 0

    def mention(self, text: str, lang: str = "en", ours: bool = False) -> int:
        self.count += 1
        when = START + timedelta(minutes=self.count)
        mention = Mention(
            platform="x",
            external_id=f"m{self.count}",
            text=text,
            created_at=when,
            source="x:mentions",
            author_id=f"a{self.count}",
            author_handle=f"a{self.count}",
            lang=lang,
        )
        decision = Decision(0.0, 50, ours=ours)
        [new] = self.store.ingest("x:mentions", [mention], None, lambda _m: decision, when)
        return new.mention_id

    def alert(self, mention_id: int, **values: object) -> int:
        row = self.store.open_alert_message(
            {"mention_id": mention_id, "chat_id": "-100", "message_id": 0, "created_at": START}
            | values
        )
        self.store.alert_message_sent(row.id or 0, 1000 + mention_id, START)
        return row.id or 0

    def reply(self, mention_id: int, automatic: bool) -> None:
        action = PlannedAction("reply", "r", payload={"text": "hi"})
        self.store.queue_action(mention_id, action, START)
        [claimed] = self.store.claim_due(START + timedelta(days=1), 50, ["reply"])
        record = {
            "outbox_id": claimed.id,
            "mention_id": mention_id,
            "platform": "x",
            "rule": "r",
            "automatic": automatic,
            "text": "hi",
            "created_at": START,
            "state": "sent",
            "sent_at": START,
        }
        self.store.save_reply(record, "sent", START)

    def answered(self, text: str) -> int:
        """An agent replied."""
        mention_id = self.mention(text)
        self.alert(mention_id)
        self.reply(mention_id, automatic=False)
        return mention_id

    def dismissed(self, text: str) -> int:
        """An agent tapped Not relevant."""
        mention_id = self.mention(text)
        alert = self.alert(mention_id)
        self.store.record_agent_action(alert, "not_relevant", "7", "@ben", START)
        return mention_id


def seed(store: Store, each: int) -> None:
    seeder = Seeder(store)
    for i in range(each):
        seeder.answered(COMPLAINTS[i % 3].format(i))
        seeder.dismissed(CALM[i % 3].format(i))
    # Resolved without any reply: it needed none.
    alert = seeder.alert(seeder.mention("just saying hi to everyone"))
    seeder.store.record_agent_action(alert, "resolve", "7", "@ben", START)
    # Not labels: resolved after an agent answered (a positive, counted above), an alert
    # nobody touched, an auto-reply alone, the brand's own post, a Turkish mention.
    answered_then_resolved = seeder.answered("parcel broken, where is my refund")
    seeder.store.record_agent_action(
        seeder.alert(answered_then_resolved), "resolve", "7", "@ben", START
    )
    seeder.alert(seeder.mention("nobody looked at this one"))
    auto = seeder.mention("auto replied only")
    seeder.alert(auto)
    seeder.reply(auto, automatic=True)
    seeder.mention("we are hiring, come join us", ours=True)
    seeder.store.record_agent_action(
        seeder.alert(seeder.mention("siparişim hâlâ gelmedi, iade istiyorum", lang="tr")),
        "not_relevant",
        "7",
        "@ben",
        START,
    )


def args(out: Path, *extra: str) -> argparse.Namespace:
    return parser().parse_args(
        ["triage", "train", "--from-db", "--out", str(out), "--config", str(SHIPPED_CONFIG), *extra]
    )


@pytest.fixture
def seeded(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.setenv("BRANDPULSE_DATABASE_URL", database_url)
    store = Store.open(database_url)
    seed(store, MIN_EACH)
    yield store
    store.close()


def test_labels_are_what_agents_did(seeded: Store) -> None:
    labels = seeded.triage_labels()
    answered = {label.text for label in labels if label.needs_response}
    dismissed = {label.text for label in labels if not label.needs_response}
    assert len(answered) == MIN_EACH + 1 and "parcel broken, where is my refund" in answered
    assert "my order 0 never arrived and nobody answers" in answered
    assert len(dismissed) == MIN_EACH + 2  # the calm ones, "just saying hi", the Turkish one
    assert "just saying hi to everyone" in dismissed
    assert "siparişim hâlâ gelmedi, iade istiyorum" in dismissed
    for unlabelled in ("nobody looked at this one", "auto replied only", "we are hiring"):
        assert not any(label.text.startswith(unlabelled) for label in labels)


def test_from_db_writes_a_model_the_lexicon_can_name(seeded: Store, tmp_path: Path) -> None:
    pytest.importorskip("sklearn", reason="training needs scikit-learn (pip install -e '.[train]')")
    out = io.StringIO()
    target = tmp_path / "acme_en.json"
    assert cmd_triage_train(args(target, "--min-labels", "60"), out) == 0
    said = out.getvalue()
    # English only: the Turkish mention is not one of its texts.
    assert f"en: trained on {2 * MIN_EACH + 2} texts ({MIN_EACH + 1} need a response" in said
    assert f"file: {target}" in said
    model = TriageModel.read(target)
    assert model.logit("order 99 never arrived, useless") > 0 > model.logit("lovely match today")
    # The lines it printed, as a brand's lexicon file, make triage use that model.
    lexicon = tmp_path / "acme.yaml"
    lexicon.write_text(textwrap.dedent(said.split("brand.lexicons:\n", 1)[1]), "utf-8")
    triage = Triage.from_files([lexicon], ["en"])
    text = "refund 12 still waiting, useless"
    assert triage.assess(text).signals != Triage.default(["en"]).assess(text).signals
    assert any(s.category == "model" for s in triage.assess(text).signals)


def test_too_few_labels_says_how_to_get_more(seeded: Store, tmp_path: Path) -> None:
    with pytest.raises(CommandFailed) as failed:
        cmd_triage_train(args(tmp_path / "m.json"), io.StringIO())  # default: 200 needed
    message = failed.value.message
    assert failed.value.code == 1
    assert f"only {2 * MIN_EACH + 2} labelled en texts ({MIN_EACH + 1} need a response" in message
    assert "Not relevant" in message
    assert not (tmp_path / "m.json").exists()


def test_never_over_the_shipped_model_nor_silently_over_a_file(tmp_path: Path) -> None:
    with pytest.raises(CommandFailed, match="shipped models live"):
        cmd_triage_train(args(MODEL_DIR / "en.json"), io.StringIO())
    existing = tmp_path / "mine.json"
    existing.write_text("keep me", "utf-8")
    with pytest.raises(CommandFailed, match="exists; add --force"):
        cmd_triage_train(args(existing), io.StringIO())
    assert existing.read_text("utf-8") == "keep me"


def test_without_scikit_learn_it_says_how_to_install_it(
    seeded: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "sklearn.linear_model", None)  # import fails
    with pytest.raises(CommandFailed) as failed:
        cmd_triage_train(args(tmp_path / "m.json", "--min-labels", "60"), io.StringIO())
    assert "pip install -e '.[train]'" in failed.value.message


def test_a_lexicon_naming_a_missing_or_broken_model_is_refused(tmp_path: Path) -> None:
    lexicon = tmp_path / "acme.yaml"
    lexicon.write_text("language: en\nmodel:\n  file: nowhere.json\n", "utf-8")
    with pytest.raises(LexiconError, match=r"acme\.yaml:3: model\.file: no such file"):
        Triage.from_files([lexicon], ["en"])
    (tmp_path / "broken.json").write_text('{"format": 1}', "utf-8")
    lexicon.write_text("language: en\nmodel:\n  file: broken.json\n", "utf-8")
    with pytest.raises(LexiconError, match=r"acme\.yaml:3: model\.file: .*not a triage model"):
        Triage.from_files([lexicon], ["en"])
