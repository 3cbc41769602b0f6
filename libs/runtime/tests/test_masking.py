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
