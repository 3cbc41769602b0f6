"""An erased citizen's search terms leave the case index when the key service announces the
erasure (issue #18): `CaseIndex.forget_erased` on memory and SQLite, the projector's guard,
`ErasedTerms` on the key client's erasure follower (from the position the index remembers, one
stream with the key cache's), and the rebuild tool making the same terms with sealing on."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path

import grpc
import pytest

from casedesk.keys.v1 import key_service_pb2 as keys_pb
from casedesk.keys.v1 import key_service_pb2_grpc
from casedesk_case.adapters.erased_terms import ErasedTerms
from casedesk_case.adapters.readmodel.projector import CaseIndexProjector
from casedesk_case.application.ports import CaseIndex
from casedesk_case.application.search_terms import SearchTerms
from casedesk_case.application.views import CaseFilter, ErasedKey
from casedesk_case.cli import rebuild_index
from casedesk_case.domain.values import Citizen
from casedesk_case.testing import CaseApplication
from casedesk_keys import SubjectId, Subjects
from casedesk_keys.normalise import IdentifierKind
from casedesk_keyservice.client import ErasureFollower, PositionUnknown, over

from ..conftest import Keys, create

# conftest's `citizen()`: login ivanov.ii, SNILS 11223344595, +79161234567, ivanov@example.ru.
IVANOV = (("SNILS", "112-233-445 95"), ("PHONE", "8 916 123-45-67"), ("EMAIL", "Ivanov@example.ru"))
PETROV = Citizen(
    full_name="Петров Пётр", snils="20033344400", account_login="petrov.pp",
    mobile_phone="89035550011", email="petrov@example.ru",
)  # fmt: skip
PETROV_LOOKUPS = (
    ("SNILS", "200 333 444 00"), ("PHONE", "+79035550011"), ("EMAIL", "petrov@example.ru"),
)  # fmt: skip


@pytest.fixture(params=["sealed", "in clear"])
def sealing(request: pytest.FixtureRequest) -> bool:
    return bool(request.param == "sealed")


@pytest.fixture
def terms_app(
    persistence_env: dict[str, str], keys: Keys, sealing: bool
) -> Iterator[CaseApplication]:
    personal = keys.personal_data() if sealing else None
    opener = personal.open_citizen if personal is not None else None
    application = CaseApplication(
        env=persistence_env,
        personal_data=personal,
        search_terms=SearchTerms(keys.index_key, opener),
    )
    yield application
    application.close()


def found(app: CaseApplication, lookups: Sequence[tuple[str, str]]) -> list[list[str]]:
    """The cases each lookup finds."""
    return [
        sorted(
            s.case_id
            for s in app.list_cases(CaseFilter(citizen_kind=kind, citizen_value=value)).cases  # type: ignore[arg-type]
        )
        for kind, value in lookups
    ]


def subject_of(keys: Keys, login: str) -> str:
    return str(Subjects(keys.index_key).of_identifier(IdentifierKind.LOGIN, login))


def erase(keys: Keys, login: str, position: int) -> ErasedKey:
    """The citizen erased at the key owner, as WatchErasures announces it."""
    tombstone = keys.keyring.erase(
        Subjects(keys.index_key).of_identifier(IdentifierKind.LOGIN, login), "officer", "req-1"
    )
    return ErasedKey(str(tombstone.subject), tombstone.generation, position)


def test_an_erasure_deletes_the_citizens_terms_and_no_one_elses(
    terms_app: CaseApplication, keys: Keys
) -> None:
    first, second = create(terms_app).case_id, create(terms_app).case_id
    petrov = create(terms_app, citizen=PETROV).case_id
    CaseIndexProjector(terms_app, terms_app.index).catch_up()
    assert found(terms_app, IVANOV) == [sorted([first, second])] * 3
    assert terms_app.index.erasure_position() == 0

    erasure = erase(keys, "ivanov.ii", position=7)
    # Three identifiers of two cases.
    assert terms_app.index.forget_erased([erasure]) == 6
    assert found(terms_app, IVANOV) == [[], [], []]
    assert found(terms_app, PETROV_LOOKUPS) == [[petrov]] * 3
    assert terms_app.index.erasure_position() == 7
    # Announced again (another replica, a restart): nothing more to do.
    assert terms_app.index.forget_erased([erasure]) == 0
    assert terms_app.index.erasure_position() == 7


def test_a_projector_that_opened_the_citizen_before_the_erasure_adds_none_of_his_terms(
    terms_app: CaseApplication, keys: Keys, sealing: bool
) -> None:
    """The key is still live here (a cache that had it): the remembered erasure keeps them out."""
    mine = create(terms_app).case_id
    petrov = create(terms_app, citizen=PETROV).case_id
    generation = 1 if sealing else 0
    announced = ErasedKey(subject_of(keys, "ivanov.ii"), generation, 3)
    assert terms_app.index.forget_erased([announced]) == 0  # nothing indexed yet
    CaseIndexProjector(terms_app, terms_app.index).catch_up()
    assert found(terms_app, IVANOV) == [[], [], []]
    assert found(terms_app, PETROV_LOOKUPS) == [[petrov]] * 3
    # The rows themselves are indexed as ever.
    assert mine in terms_app.index.rows([mine])


def test_a_citizen_reopened_after_his_erasure_is_found_by_his_new_cases_only(
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
        projector = CaseIndexProjector(app, app.index)
        projector.catch_up()
        app.index.forget_erased([erase(keys, "ivanov.ii", position=1)])
        subject = Subjects(keys.index_key).of_identifier(IdentifierKind.LOGIN, "ivanov.ii")
        keys.keyring.reopen(subject)
        again = create(app).case_id  # sealed with generation 2
        projector.catch_up()
        assert found(app, IVANOV) == [[again]] * 3
    finally:
        app.close()


def test_terms_in_clear_go_with_any_erasure_of_their_subject(
    persistence_env: dict[str, str], keys: Keys
) -> None:
    app = CaseApplication(env=persistence_env, search_terms=SearchTerms(keys.index_key))
    try:
        create(app)
        CaseIndexProjector(app, app.index).catch_up()
        other = ErasedKey(subject_of(keys, "petrov.pp"), 1, 1)
        assert app.index.forget_erased([other]) == 0
        assert app.index.forget_erased([ErasedKey(subject_of(keys, "ivanov.ii"), 1, 2)]) == 3
        assert found(app, IVANOV) == [[], [], []]
    finally:
        app.close()


def test_an_index_whose_terms_named_no_key_gets_the_columns_and_keeps_working(
    tmp_path: Path, keys: Keys
) -> None:
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "o.db")}
    before = CaseApplication(env=env, search_terms=SearchTerms(keys.index_key))
    case_id = create(before).case_id
    CaseIndexProjector(before, before.index).catch_up()
    before.close()
    with sqlite3.connect(tmp_path / "o.db") as connection:  # the table as it was made before
        connection.executescript(
            "DROP INDEX case_search_terms_subject; DROP TABLE case_erased_keys;"
            "ALTER TABLE case_search_terms DROP COLUMN subject;"
            "ALTER TABLE case_search_terms DROP COLUMN generation;"
        )
    after = CaseApplication(env=env, search_terms=SearchTerms(keys.index_key))
    try:
        assert found(after, IVANOV) == [[case_id]] * 3
        # Such a row names no key: an erasure leaves it to the rebuild...
        assert after.index.forget_erased([ErasedKey(subject_of(keys, "ivanov.ii"), 1, 1)]) == 0
        assert found(after, IVANOV) == [[case_id]] * 3
        # ...which makes it again, under the erasure now remembered: none.
        CaseIndexProjector(after, after.index).rebuild()
        assert found(after, IVANOV) == [[], [], []]
    finally:
        after.close()


def test_the_rebuild_tool_makes_the_sealed_citizens_terms_again_and_none_for_an_erased_one(
    tmp_path: Path, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "r.db"
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(db)}
    personal = keys.personal_data()
    terms_made = SearchTerms(keys.index_key, personal.open_citizen)
    app = CaseApplication(env=env, personal_data=personal, search_terms=terms_made)
    create(app)
    petrov = create(app, citizen=PETROV).case_id
    CaseIndexProjector(app, app.index).catch_up()
    app.close()

    def terms() -> list[tuple[str, ...]]:
        with sqlite3.connect(db) as connection:
            rows = connection.execute("SELECT * FROM case_search_terms ORDER BY term").fetchall()
        return [tuple(row) for row in rows]

    made = terms()
    assert len(made) == 6
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # The tool's own function, with the service's opener (main() gives it the key service's).
    assert rebuild_index.rebuild(SearchTerms(keys.index_key, personal.open_citizen), personal) == 0
    assert terms() == made  # the same terms, naming the same keys

    keys.erase("ivanov.ii")
    assert rebuild_index.rebuild(SearchTerms(keys.index_key, personal.open_citizen), personal) == 0
    assert terms() == [t for t in made if t[1] == petrov]


# -- following the erasure journal --------------------------------------------------------


class Journal:
    """WatchErasures of a fake key service: the batches after a position, then waits."""

    def __init__(self, erasures: list[ErasedKey]) -> None:
        self.erasures = erasures
        self.asked: list[int | None] = []
        self.refuse_after: int | None = None  # answer PositionUnknown for positions above
        self.fail_once = False

    async def watch(self, after: int | None) -> AsyncIterator[tuple[list[ErasedKey], int]]:
        self.asked.append(after)
        after = after or 0
        if self.refuse_after is not None and after > self.refuse_after:
            raise PositionUnknown("after_position is ahead of the journal")
        if self.fail_once:
            self.fail_once = False
            raise ConnectionError("the key service went away")
        newer = [e for e in self.erasures if e.position > after]
        yield newer, max([after, *(e.position for e in newer)])
        await asyncio.Event().wait()  # no more: the stream stays open


def following(journal: Journal, index: CaseIndex) -> ErasureFollower:
    """The key client's follower with the index's listener, as __main__ attaches it."""
    return ErasureFollower(
        journal.watch,  # type: ignore[arg-type]  # ErasedKey reads as an ErasureNotice
        [ErasedTerms(index)],
        retry_s=(0.01,),
    )


async def follow_until(follower: ErasureFollower, done: Callable[[], bool]) -> None:
    task = asyncio.create_task(follower.run())
    try:
        async with asyncio.timeout(5):
            while not done():
                await asyncio.sleep(0.01)
    finally:
        follower.stop()
        await asyncio.wait_for(task, 5)


async def test_the_follower_applies_the_journal_from_the_position_the_index_remembers(
    terms_app: CaseApplication, keys: Keys
) -> None:
    # On a thread: a sealing command waits for its key off the event loop.
    await asyncio.to_thread(create, terms_app)
    petrov = (await asyncio.to_thread(create, terms_app, citizen=PETROV)).case_id
    await asyncio.to_thread(CaseIndexProjector(terms_app, terms_app.index).catch_up)
    journal = Journal([ErasedKey("0" * 32, 1, 4), erase(keys, "ivanov.ii", position=9)])
    journal.fail_once = True  # a broken stream is watched again
    follower = following(journal, terms_app.index)
    await follow_until(follower, lambda: follower.watching.is_set())
    assert journal.asked == [0, 0]
    assert found(terms_app, IVANOV) == [[], [], []]
    assert found(terms_app, PETROV_LOOKUPS) == [[petrov]] * 3

    # Restarted: it resumes after the last erasure applied, and applies one it missed.
    journal.erasures.append(erase(keys, "petrov.pp", position=12))
    again = following(journal, terms_app.index)
    await follow_until(again, lambda: again.position == 12)
    assert journal.asked[-1] == 9
    assert found(terms_app, PETROV_LOOKUPS) == [[], [], []]
    assert terms_app.index.erasure_position() == 12


async def test_a_position_the_key_service_does_not_know_reads_its_journal_from_the_first(
    app: CaseApplication,
) -> None:
    app.index.forget_erased([ErasedKey("1" * 32, 1, 50)])
    journal = Journal([ErasedKey("2" * 32, 1, 3)])
    journal.refuse_after = 10  # another journal (a restored backup) ends at 10
    follower = following(journal, app.index)
    await follow_until(follower, lambda: follower.position == 3)
    assert journal.asked == [50, 0]


async def test_stop_ends_a_follower_waiting_on_the_stream(app: CaseApplication) -> None:
    follower = following(Journal([]), app.index)
    task = asyncio.create_task(follower.run())
    await asyncio.wait_for(follower.watching.wait(), 5)
    follower.stop()
    await asyncio.wait_for(task, 5)
    assert task.done() and not task.cancelled()


class KeyService(key_service_pb2_grpc.KeyServiceServicer):
    """A key service over gRPC on loopback: GetKey hands out a key for any subject, and
    WatchErasures streams `journal` after the position asked, then waits."""

    def __init__(self, journal: list[ErasedKey]) -> None:
        self.journal = journal
        self.watches: list[keys_pb.WatchErasuresRequest] = []

    async def GetKey(  # the generated servicer's name
        self, request: keys_pb.GetKeyRequest, context: grpc.aio.ServicerContext
    ) -> keys_pb.DataKey:
        return keys_pb.DataKey(
            subject=request.subject, generation=request.generation, key=bytes(32)
        )

    async def WatchErasures(
        self, request: keys_pb.WatchErasuresRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[keys_pb.ErasureBatch]:
        self.watches.append(request)
        newer = [e for e in self.journal if e.position > request.after_position]
        yield keys_pb.ErasureBatch(
            erasures=[
                keys_pb.Erasure(position=e.position, subject=e.subject, generation=e.generation)
                for e in newer
            ],
            position=max([request.after_position, *(e.position for e in newer)]),
        )
        await asyncio.Event().wait()


async def test_a_replica_follows_erasures_with_one_stream_for_its_key_cache_and_its_index(
    terms_app: CaseApplication, keys: Keys
) -> None:
    """A case replica's first worker (__main__.serve): the key cache's follower and the index's
    listener share one WatchErasures, resumed after the index's position; each erasure leaves
    the cache and the index."""
    await asyncio.to_thread(create, terms_app)
    petrov = (await asyncio.to_thread(create, terms_app, citizen=PETROV)).case_id
    await asyncio.to_thread(CaseIndexProjector(terms_app, terms_app.index).catch_up)
    terms_app.index.forget_erased([ErasedKey("1" * 32, 1, 2)])  # applied before a restart
    ivanov = erase(keys, "ivanov.ii", position=5)
    service = KeyService([ErasedKey("1" * 32, 1, 2), ivanov])
    server = grpc.aio.server()
    key_service_pb2_grpc.add_KeyServiceServicer_to_server(service, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    keys_of_replica = over(grpc.aio.insecure_channel(f"127.0.0.1:{port}"), ttl_s=600)
    subject = SubjectId.from_text(ivanov.subject)
    try:
        await keys_of_replica.cache.key(subject, 1)  # cached before the erasure comes
        assert keys_of_replica.cache.held_key(subject, 1) is not None
        keys_of_replica.follower.attach(ErasedTerms(terms_app.index))
        await keys_of_replica.start()
        async with asyncio.timeout(5):
            await keys_of_replica.follower.watching.wait()
        assert keys_of_replica.cache.held_key(subject, 1) is None
        assert found(terms_app, IVANOV) == [[], [], []]
        assert found(terms_app, PETROV_LOOKUPS) == [[petrov]] * 3
        assert [(w.after_position, w.from_now) for w in service.watches] == [(2, False)]
        assert terms_app.index.erasure_position() == 5
    finally:
        await keys_of_replica.aclose()
        await server.stop(0)


def test_the_rebuild_tool_with_sealing_on_stops_when_the_key_service_cannot_be_reached(
    tmp_path: Path,
    keys: Keys,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = tmp_path / "k.db"
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(db)}
    personal = keys.personal_data()
    app = CaseApplication(env=env, personal_data=personal)
    create(app)  # sealed: opening it needs the key service
    app.close()
    (tmp_path / "index.key").write_text(base64.b64encode(os.urandom(32)).decode())
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{closed.getsockname()[1]}"
    for name, value in {
        **env,
        "CASEDESK_SEAL_PERSONAL_DATA": "true",
        "CASEDESK_KEY_SERVICE_ADDRESS": address,
        "CASEDESK_GRPC_INSECURE_DEV": "true",
        "CASEDESK_KEYS_INDEX_KEY_FILE": str(tmp_path / "index.key"),
    }.items():
        monkeypatch.setenv(name, value)
    assert rebuild_index.main() == 1
    assert "run it again" in capsys.readouterr().err

    monkeypatch.delenv("CASEDESK_KEYS_INDEX_KEY_FILE")
    assert rebuild_index.main() == 2
    assert "CASEDESK_KEYS_INDEX_KEY_FILE" in capsys.readouterr().err
