"""Search without plaintext (issue #18): the case index finds a citizen's cases by SNILS, phone or
e-mail in any usual spelling through keyed hashes (application/search_terms.py), with personal
data sealed or not, and its file holds none of the identifiers in clear."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from casedesk_case.adapters.readmodel.projector import CaseIndexProjector
from casedesk_case.application.search_terms import SearchTerms
from casedesk_case.application.views import CaseFilter
from casedesk_case.domain.errors import InvalidCommand, PreconditionFailed
from casedesk_case.domain.values import Citizen, Status
from casedesk_case.testing import CaseApplication
from casedesk_keys import IndexKey

from ..conftest import SPECIALIST, Keys, citizen, create, meta

# The citizen of conftest's `citizen()`: SNILS 11223344595, +79161234567, ivanov@example.ru.
IDENTIFIERS = ("11223344595", "79161234567", "ivanov@example.ru", "IVANOV@EXAMPLE.RU")
PETROV = Citizen(
    full_name="Петров Пётр", snils="20033344400", account_login="petrov.pp",
    mobile_phone="89035550011", email="petrov@example.ru",
)  # fmt: skip


@pytest.fixture(params=["sealed", "in clear"])
def terms_app(
    request: pytest.FixtureRequest, persistence_env: dict[str, str], keys: Keys
) -> Iterator[CaseApplication]:
    if request.param == "sealed":
        personal = keys.personal_data()
        terms = SearchTerms(keys.index_key, personal.open_citizen)
        application = CaseApplication(
            env=persistence_env, personal_data=personal, search_terms=terms
        )
    else:
        application = CaseApplication(env=persistence_env, search_terms=SearchTerms(keys.index_key))
    yield application
    application.close()


def lookup(app: CaseApplication, kind: str, value: str, **criteria: object) -> list[str]:
    found = app.list_cases(CaseFilter(citizen_kind=kind, citizen_value=value, **criteria))  # type: ignore[arg-type]
    return [s.case_id for s in found.cases]


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("SNILS", "112-233-445 95"),
        ("SNILS", "11223344595"),
        ("PHONE", "8 (916) 123-45-67"),
        ("PHONE", "+7 916 123 45 67"),
        ("PHONE", "9161234567"),
        ("EMAIL", "Ivanov@Example.RU"),
        ("EMAIL", " ivanov@example.ru "),
    ],
)
def test_a_citizens_cases_are_found_by_his_identifier_in_any_spelling(
    terms_app: CaseApplication, kind: str, value: str
) -> None:
    first = create(terms_app).case_id
    create(terms_app, citizen=PETROV)
    second = create(terms_app).case_id
    CaseIndexProjector(terms_app, terms_app.index).catch_up()
    assert sorted(lookup(terms_app, kind, value)) == sorted([first, second])


def test_the_lookup_combines_with_the_other_filters_and_finds_nobody_else(
    terms_app: CaseApplication,
) -> None:
    mine = create(terms_app).case_id
    petrov = create(terms_app, citizen=PETROV).case_id
    CaseIndexProjector(terms_app, terms_app.index).catch_up()
    terms_app.change_status(mine, to_status=Status.IN_PROGRESS, reason="", meta=meta(SPECIALIST))
    CaseIndexProjector(terms_app, terms_app.index).catch_up()
    assert lookup(terms_app, "PHONE", "+7 903 555-00-11") == [petrov]
    assert lookup(terms_app, "SNILS", "112 233 445 95", status=Status.IN_PROGRESS) == [mine]
    assert lookup(terms_app, "SNILS", "112 233 445 95", status=Status.REGISTERED) == []
    # A phone's digits are not a SNILS's: the terms are per kind.
    assert lookup(terms_app, "EMAIL", "nobody@example.ru") == []


@pytest.mark.parametrize(
    ("kind", "value"),
    [("SNILS", "112-233-445"), ("PHONE", "12345"), ("EMAIL", "ivanov.example.ru")],
)
def test_a_malformed_identifier_is_refused_naming_the_field_not_the_value(
    terms_app: CaseApplication, kind: str, value: str
) -> None:
    with pytest.raises(InvalidCommand) as refused:
        lookup(terms_app, kind, value)
    assert refused.value.field == "citizen.value"
    assert value not in str(refused.value)


def test_without_the_index_key_the_lookup_is_refused(app: CaseApplication) -> None:
    with pytest.raises(PreconditionFailed, match="index key"):
        lookup(app, "SNILS", "11223344595")


@pytest.mark.parametrize("sealing", [True, False])
def test_the_sqlite_index_file_holds_no_identifier_in_clear(
    tmp_path: Path, keys: Keys, sealing: bool
) -> None:
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "i.db")}
    personal = keys.personal_data() if sealing else None
    opener = personal.open_citizen if personal is not None else None
    app = CaseApplication(
        env=env, personal_data=personal, search_terms=SearchTerms(keys.index_key, opener)
    )
    try:
        case_id = create(app).case_id
        CaseIndexProjector(app, app.index).catch_up()
        assert lookup(app, "EMAIL", "IVANOV@example.ru") == [case_id]
        # Only the index's own tables: with sealing off the events hold the citizen as sent.
        with app.index.datastore.transaction(commit=False) as cursor:  # type: ignore[attr-defined]
            cursor.execute("SELECT term, case_id, kind FROM case_search_terms")
            terms = [tuple(row) for row in cursor.fetchall()]
            cursor.execute("SELECT * FROM case_index")
            rows = [tuple(row) for row in cursor.fetchall()]
    finally:
        app.close()
    assert sorted(kind for _, _, kind in terms) == ["EMAIL", "PHONE", "SNILS"]
    index_text = repr((terms, rows)).casefold()
    for identifier in IDENTIFIERS:
        assert identifier.casefold() not in index_text
    if sealing:
        # And the whole file (events sealed too): no identifier's bytes anywhere.
        blob = (tmp_path / "i.db").read_bytes()
        for identifier in IDENTIFIERS:
            assert identifier.encode() not in blob


def test_an_erased_citizens_cases_get_no_terms_when_the_index_is_rebuilt(
    persistence_env: dict[str, str], keys: Keys
) -> None:
    personal = keys.personal_data()
    app = CaseApplication(
        env=persistence_env,
        personal_data=personal,
        search_terms=SearchTerms(keys.index_key, personal.open_citizen),
    )
    try:
        create(app)
        petrov = create(app, citizen=PETROV).case_id
        projector = CaseIndexProjector(app, app.index)
        projector.catch_up()
        assert len(lookup(app, "SNILS", "11223344595")) == 1
        keys.erase("ivanov.ii")
        projector.rebuild()
        assert lookup(app, "SNILS", "11223344595") == []
        assert lookup(app, "PHONE", "+79035550011") == [petrov]
    finally:
        app.close()


def test_another_index_key_finds_nothing(persistence_env: dict[str, str], keys: Keys) -> None:
    app = CaseApplication(env=persistence_env, search_terms=SearchTerms(keys.index_key))
    try:
        create(app, citizen=citizen())
        CaseIndexProjector(app, app.index).catch_up()
        app.search_terms = SearchTerms(IndexKey(os.urandom(32)))
        assert lookup(app, "SNILS", "11223344595") == []
    finally:
        app.close()


def test_an_index_made_before_the_terms_gets_their_table_and_them_at_the_rebuild(
    tmp_path: Path, keys: Keys
) -> None:
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "u.db")}
    before = CaseApplication(env=env)
    case_id = create(before).case_id
    CaseIndexProjector(before, before.index).catch_up()
    with before.index.datastore.transaction(commit=True) as cursor:  # type: ignore[attr-defined]
        cursor.execute("DROP TABLE case_search_terms")  # as the index was before it kept terms
    before.close()
    after = CaseApplication(env=env, search_terms=SearchTerms(keys.index_key))
    try:
        assert lookup(after, "SNILS", "11223344595") == []  # indexed before: no terms yet
        CaseIndexProjector(after, after.index).rebuild()
        assert lookup(after, "SNILS", "11223344595") == [case_id]
    finally:
        after.close()
