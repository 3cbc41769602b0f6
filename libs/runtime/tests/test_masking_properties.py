"""Property tests: personal data in many shapes, logged every way a service can log it, never
comes out of the JSON logs unmasked; what the services log on purpose comes out unchanged.

Records go through the real set-up (`configure_logging`: the JSON formatter on stderr) into a
buffer. Each generated value is logged in the message, as a format argument (%s and %r), in an
`extra` field named as personal and in one of an unknown name, inside non-string extras (a
number, bytes, a list, a tuple, a nested dict, an exception) and in a logged exception; none of
the output may hold the value, nor, for a number, its digits (separators taken out).
"""

from __future__ import annotations

import io
import json
import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casedesk_runtime.logs import configure_logging

EXAMPLES = 300
PROPERTY = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@dataclass(frozen=True)
class Personal:
    shown: str  # as written in a text
    secrets: tuple[str, ...]  # none of these may reach the log
    fields: tuple[str, ...]  # extra names a service would give it
    digits: str = ""  # a number's digits, checked with the output's separators taken out
    labelled: str = ""  # how it appears in free text where only a label tells what it is

    @property
    def in_text(self) -> str:
        return self.labelled or self.shown


def _digits(n: int) -> st.SearchStrategy[str]:
    return st.text("0123456789", min_size=n, max_size=n)


_SEPARATORS = st.sampled_from(["-", " ", ".", "", "\u00a0", " - ", "–"])
_CYRILLIC_GLUE = ["", " ", "тел.", "тел", "т.", "моб.", "телефон:", "номер", "№"]
_LATIN_GLUE = ["tel:", "tel.", "phone ", "phone:", "mobile=", "tel"]
_GLUED_AFTER = st.sampled_from(["", "", "руб", "(моб.)", "—", "г."])  # a number, then a word


@st.composite
def snils(draw: st.DrawFn) -> Personal:
    body = draw(_digits(9))
    total = sum(int(d) * (9 - i) for i, d in enumerate(body)) % 101
    digits = body + f"{total % 100:02d}"
    gaps = [draw(_SEPARATORS) for _ in range(3)]
    shown = f"{digits[:3]}{gaps[0]}{digits[3:6]}{gaps[1]}{digits[6:9]}{gaps[2]}{digits[9:]}"
    glue = draw(st.sampled_from(["", "СНИЛС ", "СНИЛС", "СНИЛС: ", "snils:", "snils", "SNILS "]))
    return Personal(shown, (shown,), ("snils",), digits, glue + shown + draw(_GLUED_AFTER))


@st.composite
def inn(draw: st.DrawFn) -> Personal:
    digits = draw(_digits(draw(st.sampled_from([10, 12]))))
    shown = draw(
        st.sampled_from([digits, f"{digits[:4]} {digits[4:]}", f"{digits[:2]} {digits[2:]}"])
    )
    glue = draw(st.sampled_from(["", "ИНН", "ИНН ", "ИНН: ", "ИНН№", "inn:", "inn", "INN "]))
    return Personal(shown, (shown,), ("inn",), digits, glue + shown + draw(_GLUED_AFTER))


@st.composite
def phone(draw: st.DrawFn) -> Personal:
    prefix = draw(st.sampled_from(["+7", "8", "7", "+7 ", "8 ", "+7-", "", "+ 7"]))
    number = "9" + draw(_digits(9))
    if draw(st.booleans()):  # the usual 3-3-2-2, the code maybe in parentheses
        cuts = [3, 6, 8]
    else:  # or groups of any length: 8 9123 45-67-89, +7 912 3456789
        cuts = sorted(draw(st.sets(st.integers(1, 9), min_size=1, max_size=4)))
    groups = [number[i:j] for i, j in zip([0, *cuts], [*cuts, 10], strict=True)]
    gaps = [draw(_SEPARATORS) for _ in groups[1:]]
    if cuts[0] == 3 and draw(st.booleans()):
        groups[0], gaps[0] = f"({groups[0]})", draw(st.sampled_from(["", " ", "-"]))
    shown = prefix + groups[0] + "".join(g + part for g, part in zip(gaps, groups[1:], strict=True))
    digits = re.sub(r"\D", "", shown)
    glue = draw(st.sampled_from(_CYRILLIC_GLUE + _LATIN_GLUE))
    fields = ("phone", "mobile_phone", "caller_number")
    return Personal(shown, (shown,), fields, digits, glue + shown + draw(_GLUED_AFTER))


_LATIN_PARTS = ["ivan", "petrov", "anna", "smirnova", "kuznetsov", "olga", "sergeev", "maria"]
_CYRILLIC_PARTS = ["иван", "петров", "анна", "смирнова", "ольга", "сергеев"]
_DOMAINS = [
    "mail.ru", "yandex.ru", "example.org", "gov-service.ru", "почта.рф", "мэрия.москва",
    "пример.рус", "xn--80a1acny.xn--p1ai", "xn--e1afmkfd.xn--p1ai", "MAIL.RU",
]  # fmt: skip


@st.composite
def email(draw: st.DrawFn) -> Personal:
    parts = draw(st.sampled_from([_LATIN_PARTS, _CYRILLIC_PARTS]))
    words = draw(st.lists(st.sampled_from(parts), min_size=1, max_size=2))
    local = draw(st.sampled_from([".", "_", "-", ""])).join(words)
    local += draw(st.sampled_from(["", "1990", "+case", "42"]))
    if draw(st.booleans()):
        local = local.upper()
    address = f"{local}@{draw(st.sampled_from(_DOMAINS))}"
    secrets = (address, f"{local}@") + ((local[1:],) if len(local) > 4 else ())
    written = draw(st.sampled_from(["{}", "<{}>", "mailto:{}", "e-mail:{}", "почта{}"]))
    return Personal(
        address, secrets, ("email", "e-mail", "from_address"), labelled=written.format(address)
    )


_SURNAMES = ["Иванов", "Смирнов", "Кузнецов", "Соловьёв", "Фёдоров", "Ильин", "Никитин", "Орлов"]
_SURNAMES_AS_IS = ["Шевчук", "Цой", "Ким", "Черных", "Долгих"]
_FATHERS = {  # a father's name: his son's and his daughter's patronymic
    "Иван": ("Иванович", "Ивановна"), "Пётр": ("Петрович", "Петровна"),
    "Сергей": ("Сергеевич", "Сергеевна"), "Илья": ("Ильич", "Ильинична"),
    "Никита": ("Никитич", "Никитична"), "Кузьма": ("Кузьмич", "Кузьминична"),
    "Юрий": ("Юрьевич", "Юрьевна"), "Лев": ("Львович", "Львовна"),
    "Михаил": ("Михайлович", "Михайловна"), "Евграф": ("Евграфович", "Евграфовна"),
}  # fmt: skip
_WOMEN = ["Анна", "Мария", "Ольга", "Елена", "Наталья", "Юлия", "Алёна", "Ксения"]


@st.composite
def surname(draw: st.DrawFn, woman: bool) -> str:
    def one() -> str:
        name = draw(st.sampled_from(_SURNAMES + _SURNAMES_AS_IS))
        return name + "а" if woman and name in _SURNAMES else name

    return one() + "-" + one() if draw(st.booleans()) and draw(st.booleans()) else one()


@st.composite
def full_name(draw: st.DrawFn) -> Personal:
    woman = draw(st.booleans())
    father = draw(st.sampled_from(sorted(_FATHERS)))
    given = draw(st.sampled_from(_WOMEN)) if woman else draw(st.sampled_from(sorted(_FATHERS)))
    patronymic = _FATHERS[father][woman]
    family = draw(surname(woman))
    initials = draw(st.sampled_from(["{}.{}.", "{}. {}.", "{}."])).format(given[0], patronymic[0])
    shape = draw(st.sampled_from(["ФИО", "ИОФ", "ИО", "Ф И.О.", "И.О. Ф", "FIO"]))
    shown = {
        "ФИО": f"{family} {given} {patronymic}",
        "ИОФ": f"{given} {patronymic} {family}",
        "ИО": f"{given} {patronymic}",
        "Ф И.О.": f"{family} {initials}",
        "И.О. Ф": f"{initials} {family}",
        "FIO": f"{family} {given} {patronymic}".upper(),
    }[shape]
    secrets = [shown] + ([f"{given} {patronymic}", patronymic] if "О" in shape[:3] else [])
    secrets += [family] if "Ф" in shape else []
    secrets += [family.upper(), patronymic.upper()] if shape == "FIO" else []
    return Personal(shown, tuple(secrets), ("full_name", "fullName", "citizen", "last_name"))


@st.composite
def login(draw: st.DrawFn) -> Personal:
    words = draw(st.lists(st.sampled_from(_LATIN_PARTS), min_size=1, max_size=2))
    name = draw(st.sampled_from([".", "_", "-"])).join(words) + draw(_digits(2))
    labels = ["логин ", "логин: ", "логином ", "login: ", "login=", "username: ", "учётная запись "]
    label = draw(st.sampled_from([*labels, "account_login="]))
    fields = ("login", "account_login", "citizen_login", "username", "preferred_username")
    return Personal(name, (name,), fields, labelled=label + name)


_STREETS = ["Ленина", "Тверская", "Садовая", "Гагарина", "Первомайская", "Профсоюзная"]
_CITIES = ["Москва", "Санкт-Петербург", "Казань", "Нижний Новгород", "Ростов-на-Дону"]


@st.composite
def postal_address(draw: st.DrawFn) -> Personal:
    street, city = draw(st.sampled_from(_STREETS)), draw(st.sampled_from(_CITIES))
    postcode = draw(st.sampled_from("1234567")) + draw(_digits(5))
    house, flat = draw(st.integers(1, 250)), draw(st.integers(1, 999))
    shown = draw(
        st.sampled_from(
            [
                f"{postcode}, г. {city}, ул. {street}, д. {house}, кв. {flat}",
                f"г. {city}, {street} ул., д. {house}",
                f"{city}, пр-т {street}, {house}-{flat}",
                f"ул.{street} д.{house} кв.{flat}",
                f"{street} улица, дом {house}, корпус 2, квартира {flat}",
                f"пер. {street} {house}",
                f"{postcode} г. {city}, проспект {street}, {house}/{flat}",
            ]
        )
    )
    secrets = (shown, street) + ((postcode,) if postcode in shown else ())
    return Personal(shown, secrets, ("address", "postal_address", "home_address"))


ANY_PERSONAL = st.one_of(snils(), inn(), phone(), email(), full_name(), login(), postal_address())
_BEFORE = ["", "Гражданин сообщил: ", "refused ", "(", "«", "ответ для ", "данные: "]
_AFTER = ["", ".", ",", " — перезвонить", ")", "»", "; спасибо"]


@contextmanager
def _service_logs() -> Iterator[io.StringIO]:
    """The root logger as a service sets it up, writing into a buffer."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    buffer = io.StringIO()
    with redirect_stderr(buffer):
        configure_logging("case")
    try:
        yield buffer
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def _log_every_way(log: logging.Logger, item: Personal, text: str) -> None:
    log.info(text)
    log.info("обращение от %s", text)
    log.warning("обращение от %r", text)
    log.info("args %s", (item.in_text, {"text": text}))
    for field in item.fields:
        log.info("known field", extra={field: item.shown})
    log.info("unknown field", extra={"detail": text, "reason": [text], "error": (1, text)})
    log.info("nested", extra={"payload": {"people": [{"note": text}], "count": 2}})
    log.info("nested known", extra={"payload": {item.fields[0]: item.shown}})
    log.info("bytes", extra={"raw": text.encode(), "problem": ValueError(f"refused {text}")})
    if item.digits and item.digits[0] != "0":
        number = int(item.digits)
        log.info("number", extra={"value": number, "values": [number], item.fields[0]: number})
    try:
        raise RuntimeError(f"could not deliver: {text}")
    except RuntimeError:
        log.exception("delivery failed")


_BETWEEN_DIGITS = re.compile(r"(?<=\d)(?:[\s().\-–—]|\\+x[0-9a-f]{2}|\\+u[0-9a-f]{4})+(?=\d)")


def _leaks(output: str, item: Personal) -> list[str]:
    found = [secret for secret in item.secrets if secret in output]
    if item.digits:
        joined = _BETWEEN_DIGITS.sub("", output)
        found += [d for d in (item.digits[:-2], item.digits[2:]) if d in joined]
    return found


@PROPERTY
@given(item=ANY_PERSONAL, before=st.sampled_from(_BEFORE), after=st.sampled_from(_AFTER))
def test_personal_data_in_any_shape_never_reaches_the_log(
    item: Personal, before: str, after: str
) -> None:
    text = f"{before}{item.in_text}{after}"
    with _service_logs() as buffer:
        _log_every_way(logging.getLogger("casedesk_case.masking_test"), item, text)
    output = buffer.getvalue()
    lines = output.splitlines()
    assert len(lines) >= 10 and all(json.loads(line)["service"] == "case" for line in lines)
    leaked = [line for line in lines if _leaks(line, item)]
    assert not leaked, f"{item.shown!r} leaked: {leaked[0]}"


# What the services log on purpose, each as it is written.
ON_PURPOSE = st.one_of(
    st.builds("20{:02d}-{:07d}".format, st.integers(20, 40), st.integers(0, 9_999_999)),  # case
    st.builds(lambda n: str(uuid.UUID(int=n)), st.integers(0, 2**128 - 1)),  # an event id
    st.builds(lambda n: format(n, "032x"), st.integers(0, 2**128 - 1)),  # a trace id
    st.builds(
        lambda s, sep: (datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=s)).isoformat(
            sep=sep, timespec="milliseconds"
        ),
        st.integers(0, 10**8),
        st.sampled_from(["T", " "]),
    ),
    st.builds(
        "{}:{}".format,
        st.sampled_from(["127.0.0.1", "0.0.0.0", "[::]", "10.2.30.4", "kafka-0.kafka"]),
        st.integers(1, 65535),
    ),
    st.builds(str, st.integers(0, 999_999_999)),  # a count, an offset
    st.builds("{:.3f} s".format, st.floats(0, 10_000, allow_nan=False)),
    st.builds("{} ms".format, st.integers(0, 10**6)),
    st.sampled_from(["case.events.v1", "1.2.3", "PORTAL_CHAT", "status_changed@1"]),
)
_WORDS = ["обращение", "event", "at", "listening on", "published", "events in", "offset", "|"]


@PROPERTY
@given(
    tokens=st.lists(ON_PURPOSE, min_size=1, max_size=6),
    words=st.lists(st.sampled_from(_WORDS), min_size=6, max_size=6),
    item=ANY_PERSONAL,
)
def test_what_services_log_on_purpose_comes_out_unchanged(
    tokens: list[str], words: list[str], item: Personal
) -> None:
    plain = " ".join(f"{word} {token}" for word, token in zip(words, tokens, strict=False))
    extra = {f"id_{i}": token for i, token in enumerate(tokens)}
    counts = {"records": 12345, "waited_s": 0.25, "partitions": [0, 1, 2], "port": 50051}
    with _service_logs() as buffer:
        log = logging.getLogger("casedesk_case.masking_test")
        log.info(plain, extra=extra | counts | {"address": "0.0.0.0:50051"})
        log.info("%s; %s", plain, item.in_text)  # beside personal data, they are kept too
    first, second = map(json.loads, buffer.getvalue().splitlines())
    assert first["message"] == plain
    assert {key: first[key] for key in extra | counts | {"address": 0}} == (
        extra | counts | {"address": "0.0.0.0:50051"}
    )
    assert second["message"].startswith(plain + "; ")
    assert not _leaks(second["message"].removeprefix(plain), item)
