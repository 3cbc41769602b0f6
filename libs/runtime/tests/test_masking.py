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


@pytest.mark.parametrize(
    ("text", "leaked"),
    [  # each found by test_masking_properties.py
        ("СНИЛС: 924–948-508–52", "924–948"),
        ("snils886\xa0815\xa0364 74", "886\xa0815"),
        ("SNILS 350–241 - 917 38", "350–241"),
        ("ИНН3365 234628", "3365 234628"),
        ("inn910850888868", "910850888868"),
        ("т.+7-968–254 86 - 92", "968–254"),
        ("tel8 (903)-22287\xa026", "22287"),
        ("номер7926.694.00-79", "7926.694"),
        ("обращение от '8\\xa0912\\xa0345\\xa067\\xa089'", "345\\xa067"),  # as repr() writes it
        ("ЧЕРНЫХ ИЛЬЯ ПЕТРОВИЧ", "ЧЕРНЫХ"),
        ("Кузьма Никитич Ильин", "Ильин"),
        ("логин olga_smirnova18", "olga_smirnova18"),
        ("login=olga-kuznetsov24", "olga-kuznetsov24"),
        ("100000, г. Москва, ул. Ленина, д. 1, кв. 1", "Ленина"),
        ("Первомайская улица, дом 41, корпус 2, квартира 226", "Первомайская"),
        ("Ростов-на-Дону, пр-т Гагарина, 7-22", "Гагарина"),
        ("ул.Садовая д.225 кв.125", "Садовая"),
        ("125009, г. Москва", "125009"),
    ],
)
def test_shapes_the_property_test_found(text: str, leaked: str) -> None:
    masked = mask_text(text)
    assert leaked not in masked
    assert "***" in masked


@pytest.mark.parametrize(
    "text",
    [
        "event 7d0c6f8a-1b2c-4d3e-8f90-123456789012 at 2026-12-04T16:54:23.123+00:00",
        "stored at 2026-12-04 16:54:23, offset 123456789, partition 3, 12 records in 0.250 s",
        "gRPC server listening on [::]:50051, metrics http://127.0.0.1:9451/metrics",
        "trace 4bf92f3577b34da6a3ce929d0e0e4736 span 00f067aa0ba902b7",
        "published 100000, СНИЛС checked",  # a count before a capitalised word is no postcode
        "обращения 2026-0000123 и 2025-0001000 переданы на L2",
    ],
)
def test_what_services_log_on_purpose_is_kept(text: str) -> None:
    assert mask_text(text) == text


def test_non_string_fields_are_masked_item_by_item() -> None:
    from casedesk_runtime.masking import mask_value

    assert mask_value("value", 89123456789) == "***89"
    assert mask_value("count", 1234) == 1234
    assert mask_value("waited_s", 0.25) == 0.25
    assert mask_value("raw", "ivan@почта.рф".encode()) == "i***@почта.рф"
    assert mask_value("problem", ValueError("refused +7 912 345-67-89")) == "refused ***89"
    assert mask_value("payload", {"people": [{"full_name": "Смирнов Пётр"}], "n": (1, 2)}) == {
        "people": [{"full_name": "***"}],
        "n": [1, 2],
    }
    assert mask_value("citizen", {"inn": 500100732259}) == "***"
    assert mask_value("fullName", "Smirnov Petr") == "***"  # keys compared without case or _
    assert mask_value("address", "[::]:50051") == "[::]:50051"  # where a server listens
    assert mask_value("address", "Москва, Ленина 5-12") == "***"
    assert mask_value("tls", True) is True


# A hang guard, not a speed target (make bench measures speed): a pattern that backtracks
# quadratically on such lines takes minutes, a linear one a fraction of a second.
@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1-" * 50_000, "1-" * 50_000),  # no digit run a number of ours: left as it is
        ("a" * 100_000, "a" * 100_000),
        ("ул. Ленина" + " ," * 20_000, "***" + " ," * 20_000),
    ],
)
def test_a_long_line_is_masked_in_one_reading(text: str, expected: str) -> None:
    # "1-" * 50_000 took minutes when a street name could run to the end of the line, and a long
    # word took a second when an e-mail address could start at any of its letters.
    assert mask_text(text) == expected
