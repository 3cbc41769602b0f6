import pytest

from casedesk_runtime.masking import mask_email, mask_phone, mask_text


@pytest.mark.parametrize(
    ("text", "leaked"),
    [
        ("СНИЛС 112-233-445 95 гражданина", "112-233-445"),
        ("ИНН 500100732259", "500100732259"),
        ("телефон +7 (912) 345-67-89", "345-67-89"),
        ("телефон +79123456789", "9123456789"),
        ("почта ivan.petrov@mail.example.ru", "ivan.petrov"),
        ("snils without separators 11223344595", "11223344595"),
    ],
)
def test_personal_identifiers_are_masked(text: str, leaked: str) -> None:
    masked = mask_text(text)
    assert leaked not in masked
    assert "***" in masked


def test_ordinary_text_is_kept() -> None:
    text = "Обращение 2026-0001234 зарегистрировано, статус В работе"
    assert mask_text(text) == text


def test_mask_helpers_keep_only_a_hint() -> None:
    assert mask_email("ivan@example.ru") == "i***@example.ru"
    assert mask_phone("+79123456789") == "+***89"


@pytest.mark.parametrize(
    ("text", "leaked"),
    [
        ("почта ivan@почта.рф", "ivan@"),
        ("почта иван.петров@почта.рф", "иван.петров"),
        ("телефон +7.912.345.67.89", "345.67.89"),
        ("ИНН500100732259 в тексте", "500100732259"),
        ("пишет Смирнов Пётр Алексеевич из Москвы", "Смирнов Пётр"),
        ("Уважаемая Анна Сергеевна, ответ готов", "Анна Сергеевна"),
        ("ответил Салтыков-Щедрин Михаил Евграфович", "Салтыков-Щедрин"),
        ("исполнитель Иванова А. С.", "Иванова"),
        ("исполнитель А.С. Иванова", "Иванова"),
    ],
)
def test_what_the_masker_used_to_let_through(text: str, leaked: str) -> None:
    masked = mask_text(text)
    assert leaked not in masked
    assert "***" in masked


@pytest.mark.parametrize(
    "text",
    [
        "Обращение 2026-0001234 переведено в статус Ответ готов",
        "relay published 500 events to case.events.v1 in 0.25 s",
        "event 0b9c5e1e-6a53-4c6e-9d57-123456789012 stored",
        "Служба Поддержки Госуслуг приняла обращение",
        "listening on 127.0.0.1:50051, version 1.2.3",
    ],
)
def test_ordinary_log_lines_are_kept(text: str) -> None:
    assert mask_text(text) == text


def test_fields_holding_names_or_texts_are_masked_whole() -> None:
    from casedesk_runtime.masking import mask_field

    assert mask_field("full_name", "Смирнов Пётр") == "***"
    assert mask_field("subject", "Не приходит код") == "***"
    assert mask_field("case_number", "2026-0001234") == "2026-0001234"
    assert mask_field("error", "refused ivan@почта.рф") == "refused i***@почта.рф"
