"""Keyword classification with the rules shipped in the package."""

from __future__ import annotations

import pytest

from casedesk_intake.adapters.classification_rules import load_classifier
from casedesk_intake.domain.classification import Classifier, RulesError
from casedesk_intake.domain.keywords import Keyword, KeywordIndex


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return load_classifier()


@pytest.mark.parametrize(
    ("text", "category", "case_type"),
    [
        (
            "Не могу войти в личный кабинет, пишет неверный пароль",
            "REGISTRATION_SIGN_IN",
            "TECHNICAL",
        ),
        ("Ошибка при регистрации учётной записи", "REGISTRATION_SIGN_IN", "TECHNICAL"),
        (
            "Не приходит код подтверждения, учетная запись заблокирована",
            "REGISTRATION_SIGN_IN",
            "TECHNICAL",
        ),
        ("Какой статус заявления на загранпаспорт?", "SERVICE_DELIVERY", "CONSULTATION"),
        ("Почему пришёл отказ в предоставлении услуги", "SERVICE_DELIVERY", "CONSULTATION"),
        ("Сбой при загрузке документов, страница зависает", "TECHNICAL_FAULT", "TECHNICAL"),
        ("СМС-код приходит с задержкой в полчаса", "TECHNICAL_FAULT", "TECHNICAL"),
        ("Добрый день", "OTHER", "CONSULTATION"),
    ],
)
def test_categories_from_the_seed_vocabulary(
    classifier: Classifier, text: str, category: str, case_type: str
) -> None:
    result = classifier.classify(text)
    assert (result.category, result.case_type) == (category, case_type)
    assert result.rules_version == classifier.version


def test_complaint_words_decide_the_type_whatever_the_category(classifier: Classifier) -> None:
    result = classifier.classify("Жалоба: отказ в услуге без объяснения, до сих пор не ответили")
    assert (result.category, result.case_type) == ("SERVICE_DELIVERY", "COMPLAINT")


def test_what_the_frontend_gave_is_kept(classifier: Classifier) -> None:
    result = classifier.classify("не могу войти", case_type="COMPLAINT", category="OTHER")
    assert (result.category, result.case_type) == ("OTHER", "COMPLAINT")
    # Without a type, the given category's usual type applies, not the text's hints.
    only_category = classifier.classify("сбой сервера", category="SERVICE_DELIVERY")
    assert (only_category.category, only_category.case_type) == ("SERVICE_DELIVERY", "CONSULTATION")
    only_type = classifier.classify("сбой сервера", case_type="CONSULTATION")
    assert (only_type.category, only_type.case_type) == ("TECHNICAL_FAULT", "CONSULTATION")


def test_short_stems_match_whole_words_only(classifier: Classifier) -> None:
    # "смс" must not match inside "смсчик"-like words, "не" not inside "нет".
    assert classifier.classify("смсчик нет").category == "OTHER"


def test_queue_comes_from_the_rule() -> None:
    rules = {
        "version": "t1",
        "defaults": {"category": "OTHER", "type": "CONSULTATION"},
        "category": [
            {"name": "TECHNICAL_FAULT", "type": "TECHNICAL", "queue": "l1-sms", "keywords": ["смс"]}
        ],
    }
    result = Classifier(rules).classify("СМС не приходит")
    assert (result.category, result.queue, result.rules_version) == (
        "TECHNICAL_FAULT",
        "l1-sms",
        "t1",
    )


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ({"defaults": {"category": "OTHER", "type": "CONSULTATION"}}, "version"),
        ({"version": "x", "defaults": {"category": "NOPE", "type": "CONSULTATION"}}, "NOPE"),
        (
            {
                "version": "x",
                "defaults": {"category": "OTHER", "type": "CONSULTATION"},
                "category": [{"name": "OTHER", "keywords": ["  "]}],
            },
            "no words",
        ),
    ],
)
def test_malformed_rules_are_refused_with_the_entry_named(document: dict, problem: str) -> None:
    with pytest.raises(RulesError, match=problem):
        Classifier(document)


def test_keyword_stems_are_adjacent_words_and_yo_reads_as_ye() -> None:
    code = Keyword.parse("код подтвержд")
    index = KeywordIndex([code, Keyword.parse("пришёл")])
    assert index.found_in("Не пришел код подтверждения!") == {code, Keyword.parse("пришёл")}
    assert code not in index.found_in("код не пришёл, подтверждения нет")
    assert index.found_in("") == frozenset()


def test_a_rule_scores_the_stems_of_its_keywords_found_and_the_first_best_wins() -> None:
    def classifier(categories: list[dict]) -> Classifier:
        defaults = {"category": "OTHER", "type": "CONSULTATION"}
        return Classifier({"version": "t", "defaults": defaults, "category": categories})

    shared = ["код подтвержд", "смс"]
    # Two stems and one: the same phrase listed by two rules counts for each of them.
    tie = classifier(
        [
            {"name": "TECHNICAL_FAULT", "keywords": shared},
            {"name": "REGISTRATION_SIGN_IN", "keywords": [*shared, "войти"]},
        ]
    )
    assert tie.classify("смс и код подтверждения").category == "TECHNICAL_FAULT"  # 3 to 3
    assert tie.classify("смс, код подтверждения, войти").category == "REGISTRATION_SIGN_IN"
    # A keyword listed twice by one rule counts twice.
    doubled = classifier(
        [
            {"name": "TECHNICAL_FAULT", "keywords": ["код подтвержд"]},
            {"name": "REGISTRATION_SIGN_IN", "keywords": ["смс", "смс", "смс"]},
        ]
    )
    assert doubled.classify("смс: код подтверждения").category == "REGISTRATION_SIGN_IN"
    assert doubled.classify("ничего знакомого").category == "OTHER"
