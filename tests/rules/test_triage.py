"""Default triage on hand-written mentions, several phrasings each."""

from pathlib import Path

import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from rules.lexicon_file import LexiconError
from rules.triage import Assessment, Signal, Triage


@pytest.fixture(scope="module")
def triage() -> Triage:
    return Triage.default()


def categories(assessment: Assessment) -> set[str]:
    return {s.category for s in assessment.signals}


def test_refund_complaint_needs_response(triage: Triage) -> None:
    result = triage.assess("My order never arrived and I want a refund")
    assert result.needs_response
    assert result.language == "en"
    assert any(s.category == "refund" and s.label == "refund" for s in result.signals)


def test_praise_needs_no_response(triage: Triage) -> None:
    result = triage.assess("Thanks, lovely service!")
    assert not result.needs_response
    assert result.sentiment > 0


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("Still waiting for my refund, it's been 3 weeks", "refund"),
        ("when do I get my money back??", "refund"),
        ("you charged me twice for one order", "billing"),
        ("I was overcharged on my last bill", "billing"),
        ("flight Cancelled, 3 hours on hold", "waiting"),
        ("been on hold for 45 minutes", "waiting"),
        ("they cancelled my booking without telling me", "cancellation"),
        ("package delayed again. third time this month", "delay"),
        ("my parcel is missing", "lost_damaged"),
        ("the box arrived damaged and the screen is cracked", "lost_damaged"),
        ("app keeps crashing when I log in", "service_failure"),
        ("the app doesn't work since the update", "service_failure"),
        ("emailed support 4 times and no response", "no_answer"),
        ("your agent hung up on me", "no_answer"),
        ("the staff at the desk were so rude", "rudeness"),
        ("the charger started smoking, this is dangerous", "safety"),
        ("I will be contacting my lawyer about this", "legal"),
        ("cancel my subscription, switching to a competitor", "churn"),
    ],
)
def test_complaints_fire_their_category(triage: Triage, text: str, category: str) -> None:
    result = triage.assess(text)
    assert result.needs_response, result
    assert category in categories(result), result


@pytest.mark.parametrize(
    "text",
    [
        "Great flight, the crew was lovely. Thank you!",
        "love the new menu",
        "no problems at all with my delivery, thanks",
        "my flight was not delayed for once, well done",
    ],
)
def test_happy_mentions_need_no_response(triage: Triage, text: str) -> None:
    assert not triage.assess(text).needs_response


def test_negation_cancels_only_negatable_categories(triage: Triage) -> None:
    assert "delay" not in categories(triage.assess("the train was not delayed"))
    # "no refund" is still about a refund: that category keeps negated terms.
    assert "refund" in categories(triage.assess("still no refund"))


def test_contractions_read_as_not(triage: Triage) -> None:
    for text in ("it didn't arrive", "it did not arrive", "it didn’t arrive"):
        assert "lost_damaged" in categories(triage.assess(text)), text


def test_longer_term_hides_the_shorter_one_inside_it(triage: Triage) -> None:
    labels = {s.label for s in triage.assess("no problem, all sorted").signals}
    assert "no problem" in labels
    assert "problem" not in labels


def test_cant_wait_looks_forward_and_is_no_complaint(triage: Triage) -> None:
    """ "can't wait" is neither blocked ("can't log in") nor kept waiting ("wait 3 hours")."""
    for text in ("I can't wait for the weekend", "cannot wait to see the new phone"):
        found = triage.assess(text)
        assert not {"blocked", "waiting"} & categories(found), found
        assert not found.needs_response, found
    complaint = triage.assess("I can't log in and had to wait 3 hours")
    assert {"blocked", "waiting"} <= categories(complaint)
    for text in ("I can't wait any longer for my order", "we cannot wait anymore, fix it"):
        found = triage.assess(text)
        assert {"blocked", "waiting"} <= categories(found), found
        assert found.needs_response, found


def test_stems_match_word_forms_but_not_inside_words(triage: Triage) -> None:
    for text in ("REFUNDS please", "was it refunded?", "refunding takes ages"):
        assert "refund" in categories(triage.assess(text)), text
    assert "delay" not in categories(triage.assess("chocolate cake recipe"))


@pytest.mark.parametrize(
    "text",
    [
        # A Turkish keyboard with caps lock types dotted capitals; folding must still match.
        "MY ORDER İS MİSSİNG AND I WANT A REFUND",
        "my order ıs mıssıng and ı want a refund",
        "REFUND İT NOW, İT İS LATE",
    ],
)
def test_turkish_letters_do_not_break_english_matching(triage: Triage, text: str) -> None:
    result = triage.assess(text)
    assert "refund" in categories(result), result
    assert result.needs_response


def test_score_is_the_clamped_sum_of_signal_points(triage: Triage) -> None:
    for text in ("refund please", "Thanks, lovely service!", "lawyer lawsuit sue refund late"):
        result = triage.assess(text)
        assert result.score == max(0, min(100, sum(s.points for s in result.signals)))
        assert 0 <= result.score <= 100


def test_question_is_a_reason(triage: Triage) -> None:
    result = triage.assess("how do I change my seat?")
    assert Signal("question", "question", 10) in result.signals


def test_user_file_extends_the_shipped_lexicon(tmp_path: Path) -> None:
    extra = tmp_path / "brand.yaml"
    extra.write_text(
        "language: en\n"
        "repeat_factor: 0.5\n"
        "categories:\n"
        "  safety:\n"
        "    terms: [gluten]\n"
        "  brand_specific:\n"
        "    points: 40\n"
        "    terms: [şikayet*, 'loyalty card': 30]\n",
        encoding="utf-8",
    )
    triage = Triage.from_files([extra])
    assert "safety" in categories(triage.assess("there was gluten in my gluten free meal"))
    signals = triage.assess("ŞİKAYETLER about my LOYALTY CARD").signals
    assert Signal("şikayet", "brand_specific", 40) in signals
    assert Signal("loyalty card", "brand_specific", 15) in signals  # second term: repeat_factor
    # The shipped terms are still there.
    assert "refund" in categories(triage.assess("refund please"))


def test_bad_file_names_every_problem_with_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "language: en\n"
        "threshold: 500\n"
        "categories:\n"
        "  newcat:\n"
        "    terms: [ok]\n"
        "  delay:\n"
        "    negation: sometimes\n"
        "    terms: [late, '***']\n",
        encoding="utf-8",
    )
    with pytest.raises(LexiconError) as err:
        Triage.from_files([bad])
    message = str(err.value)
    assert f"{bad}:2: threshold" in message
    assert f"{bad}:4: categories.newcat: points" in message
    assert f"{bad}:7: categories.delay.negation" in message
    assert f"{bad}:8: categories.delay.terms: '***'" in message


def test_unreadable_yaml_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text("language: en\ncategories: [unclosed\n", encoding="utf-8")
    with pytest.raises(LexiconError, match=r"broken\.yaml:\d+: not valid YAML"):
        Triage.from_files([bad])


def test_missing_language_is_a_clear_error() -> None:
    with pytest.raises(LexiconError, match="xx"):
        Triage.from_files([], languages=("xx",), defaults=False)


@pytest.mark.parametrize(
    "text",
    [
        "Thanks, lovely service!",
        "  The flight was NOT good at all :( ",
        "kind of ok, but the food was AWFUL!!!",
        "I don't hate it",
        "worst. airline. ever 😡😡",
        "so happy 😊 with the upgrade",
        "",
        # The windows of VADER's negation and idiom checks, which triage's VADER reads faster.
        "never so good, never this bad, without doubt the worst",
        "it was not that I was not happy, you needn't've been rude",
        "no problem, no worries at all, nor good or bad",
        "the shit was the bomb, kiss of death, yeah right",
        "at least it is not awful, very least good, kind of awful",
        "Service was NOT GOOD but the crew were GREAT!!!",
        "a b c d e f g h bad",
    ],
)
def test_sentiment_is_exactly_vaders(triage: Triage, text: str) -> None:
    assert (
        triage.assess(text).sentiment
        == SentimentIntensityAnalyzer().polarity_scores(text)["compound"]
    )


def test_vaders_lexicon_is_read_for_the_first_text_a_vader_language_scores() -> None:
    """Reading it costs ~3 MB: a node that scores nothing, or only Turkish, never reads it."""
    triage = Triage.default(("en", "tr"))
    assert "_vader" not in vars(triage)
    turkish = triage.assess("kargom gelmedi, iade istiyorum", lang="tr")
    assert turkish.language == "tr" and "_vader" not in vars(triage)
    english = triage.assess("my parcel never arrived, this is awful", lang="en")
    assert "_vader" in vars(triage)
    assert (
        english.sentiment
        == SentimentIntensityAnalyzer().polarity_scores("my parcel never arrived, this is awful")[
            "compound"
        ]
    )


def test_a_question_opening_with_a_handle_is_asked_of_that_account() -> None:
    triage = Triage.default(("en",))

    def asked(text: str) -> bool:
        return any(s.category == "intent" for s in triage.assess(text).signals)

    assert (
        asked("@acme is the app down?") and triage.assess("@acme is the app down?").needs_response
    )
    assert asked("  @acme @support any update on the refund?")
    assert not asked("is the app down?")  # to nobody in particular
    assert not asked("who is watching the game tonight? @ben")  # a handle at the end: a tag
    assert not asked("@acme the app is down")  # addressed, but no question
