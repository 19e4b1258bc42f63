"""Turkish triage: stems, negative verb suffixes, dotted/dotless i, ASCII-typed Turkish."""

from pathlib import Path

import pytest

from rules.triage import Assessment, Triage


@pytest.fixture(scope="module")
def triage() -> Triage:
    return Triage.default(("en", "tr"))


@pytest.fixture(scope="module")
def lexicon() -> Triage:
    """The lexicon without the learned model: for tests of how terms are read."""
    return Triage.default(("en", "tr"), models={"en": None, "tr": None})


def labels(assessment: Assessment) -> set[str]:
    return {s.label for s in assessment.signals}


def categories(assessment: Assessment) -> set[str]:
    return {s.category for s in assessment.signals}


@pytest.mark.parametrize("text", ["Kartım bozuk", "uygulama bozuldu", "sistem bozulmuş yine"])
def test_stem_matches_its_suffixed_forms(triage: Triage, text: str) -> None:
    result = triage.assess(text, "tr")
    assert "ariza" in categories(result), result
    assert result.needs_response


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("uygulama çalışmıyor", "çalışmıyor"),
        ("kart dün de çalışmadı", "çalışmıyor"),
        ("ÇALIŞMIYOR", "çalışmıyor"),
        ("calismiyor", "çalışmıyor"),
        ("kargom iki gündür gelmedi", "gelmiyor"),
        ("müşteri hizmetlerine ulaşamıyorum", "ulaşamıyor"),
    ],
)
def test_negative_verb_suffix_is_a_complaint(triage: Triage, text: str, label: str) -> None:
    result = triage.assess(text, "tr")
    assert label in labels(result), result
    assert result.needs_response
    assert result.sentiment < 0


def test_positive_verb_and_its_negative_form_differ(triage: Triage) -> None:
    liked = triage.assess("ürünü çok beğendim, teşekkürler", "tr")
    disliked = triage.assess("ürünü hiç beğenmedim", "tr")
    assert not liked.needs_response
    assert liked.sentiment > 0
    assert disliked.needs_response
    assert disliked.sentiment < 0
    assert "olumlu" not in categories(disliked)  # "beğen{neg}" wins over "beğen*"


@pytest.mark.parametrize(
    "text",
    [
        "İADE istiyorum",
        "iade istiyorum",
        "IADE ISTIYORUM",  # ASCII capitals: "I" must still find "iade"
        "ıade ıstıyorum",
        "paramı iade edin",
    ],
)
def test_dotted_and_dotless_i_match_the_same_term(triage: Triage, text: str) -> None:
    result = triage.assess(text, "tr")
    assert "iade" in labels(result), result
    assert result.needs_response


@pytest.mark.parametrize("text", ["ŞİKAYET ediyorum", "sikayet ediyorum", "Şikâyetimi iletiyorum"])
def test_ascii_typed_and_accented_turkish_match(triage: Triage, text: str) -> None:
    assert "şikayet" in labels(triage.assess(text, "tr"))


def test_degil_flips_praise_into_a_complaint(triage: Triage) -> None:
    result = triage.assess("hizmetiniz hiç güzel değil", "tr")
    assert "güzel değil" in {s.label.split(" ", 1)[-1] for s in result.signals}
    assert result.sentiment < 0
    assert result.needs_response


def test_intensifier_raises_the_points(triage: Triage) -> None:
    plain = {s.label: s.points for s in triage.assess("kötü", "tr").signals}
    strong = {s.label: s.points for s in triage.assess("çok kötü", "tr").signals}
    assert strong["çok kötü"] > plain["kötü"]


def test_no_problem_is_praise_not_a_problem(triage: Triage) -> None:
    result = triage.assess("hiçbir sorun yok, teşekkürler", "tr")
    assert "ariza" not in categories(result)
    assert not result.needs_response


def test_questions_to_the_brand_need_a_reply(triage: Triage) -> None:
    result = triage.assess("kredi ile ilgili bir soru sormak istiyorum ulaşır mısınız", "tr")
    assert "soru" in labels(result)
    assert result.needs_response


def test_thanks_need_no_reply(triage: Triage) -> None:
    for text in ("Çok teşekkür ederim, harika hizmet!", "tesekkurler, sorun cozuldu :)"):
        assert not triage.assess(text, "tr").needs_response, text


def test_reasons_are_in_turkish(triage: Triage) -> None:
    result = triage.assess("Paramı iade etmediniz, avukata gideceğim!", "tr")
    assert {"iade", "avukat"} <= labels(result)
    assert result.language == "tr"


def test_language_is_detected_when_not_given(triage: Triage) -> None:
    assert triage.assess("Kartım çalışmıyor, kimse cevap vermiyor").language == "tr"
    assert triage.assess("calismiyor bu kart, hala cevap yok").language == "tr"
    assert triage.assess("My card does not work and nobody answers").language == "en"
    # The platform's language wins; an unconfigured one falls back to detection.
    assert triage.assess("iade", "tr").language == "tr"
    assert triage.assess("paramı iade edin lütfen", "es").language == "tr"


def test_english_results_do_not_change_when_turkish_is_added(triage: Triage) -> None:
    english_only = Triage.default()
    for text in ("My order never arrived and I want a refund", "Thanks, lovely service!"):
        assert triage.assess(text) == english_only.assess(text)


def test_brand_file_can_turn_off_the_base_points(tmp_path: Path) -> None:
    strict = tmp_path / "tr_brand.yaml"
    strict.write_text("language: tr\nbase:\n  points: 0\n", encoding="utf-8")
    triage = Triage.from_files([strict], languages=("tr",))
    assert not triage.assess("bugün hava nasıl olacak merak ettim", "tr").needs_response
    assert triage.assess("kartım çalışmıyor", "tr").needs_response


def test_unknown_suffix_group_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "language: tr\ncategories:\n  ariza:\n    terms: ['çalış{olumsuz}']\n", encoding="utf-8"
    )
    with pytest.raises(ValueError, match=r"bad\.yaml:4: .*\{olumsuz\}"):
        Triage.from_files([bad], languages=("tr",))


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("kargo gecikmedi", "gecik"),  # -medi after the stem: not delayed
        ("hiç korkmadım", "kork"),
        ("ürün hatasız geldi", "hata"),  # -sız: without errors
    ],
)
def test_negative_suffix_on_a_complaint_stem_cancels_it(
    triage: Triage, text: str, word: str
) -> None:
    result = triage.assess(text, "tr")
    assert word not in labels(result), result
    assert not any(s.label.startswith("-") for s in result.signals), result  # no bare ending


@pytest.mark.parametrize(
    "text", ["bu film hiç güldürmedi", "ürüne hiç bayılmadım", "başarısız bir ürün"]
)
def test_negative_suffix_on_praise_flips_it(lexicon: Triage, text: str) -> None:
    result = lexicon.assess(text, "tr")
    assert any(s.label.endswith("değil") and s.points > 0 for s in result.signals), result
    assert result.needs_response
    assert result.sentiment < 0


def test_negative_be_after_praise_flips_it(triage: Triage) -> None:
    result = triage.assess("bu siparişten memnun olmadım", "tr")
    assert "memnun değil" in labels(result), result
    assert result.needs_response


def test_negator_of_a_complaint_is_not_a_complaint_itself(lexicon: Triage) -> None:
    result = lexicon.assess("panik yok, her şey yolunda", "tr")
    assert labels(result) == set(), result  # neither "panik" nor a bare "yok"


def test_letters_typed_with_their_marks_are_meant(triage: Triage) -> None:
    # "döndü" (turned back) is not "dondu" (froze); "açım" (I am hungry) is not "acım".
    assert "dondu" not in labels(triage.assess("top direkten döndü", "tr"))
    assert "acım" not in labels(triage.assess("çok açım ya", "tr"))
    # Typed without the marks, the same words stay ambiguous and match.
    assert "dondu" in labels(triage.assess("uygulama dondu", "tr"))
    assert "dondu" in labels(triage.assess("ekran dondu kaldı öyle", "tr"))


def test_unmarked_letters_in_a_marked_text_still_match(triage: Triage) -> None:
    # Hurried writers drop some marks and keep others: "Guzel" beside "görürüm".
    assert "güzel" in labels(triage.assess("Guzel günler görürüm", "tr"))
    # And "ı" proves nothing: phones write "degıl" and "ıade".
    assert "güzel değil" in labels(triage.assess("ürün güzel degıl", "tr"))


def test_what_comes_after_but_weighs_more(lexicon: Triage) -> None:
    plain = {s.label: s.points for s in lexicon.assess("kargo geç geldi", "tr").signals}
    result = lexicon.assess("kargo geç geldi ama ürün güzel", "tr")
    points = {s.label: s.points for s in result.signals}
    assert points["geç geldi"] == round(plain["geç geldi"] * 0.5)  # contrast.factor in tr.yaml
    assert points["güzel"] < 0  # praise as the conclusion stands
    assert not result.needs_response


def test_thanks_before_a_complaint_lowers_nothing(lexicon: Triage) -> None:
    # Issue 20: politeness (or sarcasm) beside a complaint no longer talks it down.
    result = lexicon.assess("teşekkürler ama siparişim hala gelmedi", "tr")
    assert "teşekkür" not in labels(result), result
    assert result.needs_response


def test_a_stem_does_not_swallow_other_words(triage: Triage) -> None:
    assert "kaza" not in labels(triage.assess("maçı kazandık", "tr"))
    assert "kaza" in labels(triage.assess("servis aracı kaza yaptı", "tr"))
    assert "aşk" not in labels(triage.assess("askere gidiyorum", "tr"))


def test_bad_letters_setting_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("language: tr\nletters: [ç, ab]\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.yaml:2: letters: must be a list of single"):
        Triage.from_files([bad], languages=("tr",))


def test_unknown_negating_suffix_group_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("language: tr\nnegation:\n  suffixes: [yok_boyle]\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.yaml:3: negation\.suffixes: .*'yok_boyle'"):
        Triage.from_files([bad], languages=("tr",))


def test_a_neutral_phrase_hides_the_praise_inside_it(lexicon: Triage) -> None:
    result = lexicon.assess("bu fiyata daha iyi hizmet bekliyorum", "tr")
    assert "iyi" not in labels(result), result
    assert not any(s.points == 0 for s in result.signals), result  # and shows no reason itself
    assert result.needs_response


def test_a_tag_question_does_not_negate(triage: Triage) -> None:
    result = triage.assess("manzara çok güzel değil mi?", "tr")
    assert "çok güzel" in labels(result), result  # "isn't it nice?" is praise
    assert "güzel değil" in labels(triage.assess("manzara güzel değil", "tr"))


def test_no_regret_is_no_churn_threat(triage: Triage) -> None:
    result = triage.assess("alırsanız pişman olmazsınız", "tr")
    assert "ayrilma" not in categories(result), result
    assert "pişman" in labels(triage.assess("aldığıma pişman oldum", "tr"))


def test_a_second_smiley_adds_less_than_the_first(triage: Triage) -> None:
    points = {s.label: s.points for s in triage.assess("harika :))", "tr").signals}
    assert points[":)"] < 0
    assert points["))"] == round(points[":)"] * 0.5)  # repeat_factor in tr.yaml


def test_a_tag_question_is_no_complaint_marker_either(lexicon: Triage) -> None:
    result = lexicon.assess("manzara güzel değil mi", "tr")
    assert labels(result) == {"güzel", "soru"}, result
    assert not result.needs_response
