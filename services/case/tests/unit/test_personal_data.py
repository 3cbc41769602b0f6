"""Personal data sealed inside the case's events (issue #18, application/personal_data.py): with
sealing on, the stored events, the case index and the envelopes the relay publishes hold tokens,
never the citizen's data; opened with his key they give it back; erased, nothing opens."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest

from casedesk_case.adapters.readmodel.projector import CaseIndexProjector
from casedesk_case.application.personal_fields import (
    INDEX_SUBJECT_PREFIX,
    CitizenErased,
    citizen_field,
    comment_field,
    content_field,
)
from casedesk_case.application.views import CaseFilter
from casedesk_case.domain.errors import InvalidCommand
from casedesk_case.domain.values import (
    Attachment,
    CaseContent,
    CaseType,
    Category,
    Channel,
    Citizen,
    Origin,
    Status,
)
from casedesk_case.testing import CaseApplication
from casedesk_case.wire.events import to_case_event
from casedesk_keys import IdentifierKind, IndexKey, Subjects, header_of, is_encrypted

from ..conftest import CITIZEN, SPECIALIST, Keys, answer, citizen, create, meta

# What the citizen told us, each in a form a reader would search the bytes for.
PERSONAL = (
    "Иванов Иван Иванович", "11223344595", "ivanov.ii", "+79161234567", "ivanov@example.ru",
    "Не приходит СМС-код", "Жду 10 минут", "скан паспорта.pdf", "ivanov@mail.example",
    "Мой новый телефон 89161112233",
)  # fmt: skip
ATTACHMENT = Attachment("att-1", "скан паспорта.pdf", "application/pdf", 1024, "0" * 64)


def spellings(text: str) -> list[bytes]:
    """The text as UTF-8 and as JSON with escaped non-ASCII (how a transcoder may write it)."""
    return [text.encode(), json.dumps(text).strip('"').encode()]


def leaks(blob: bytes) -> list[str]:
    return [text for text in PERSONAL if any(form in blob for form in spellings(text))]


@pytest.fixture
def sealed_app(persistence_env: dict[str, str], keys: Keys) -> Iterator[CaseApplication]:
    application = CaseApplication(env=persistence_env, personal_data=keys.personal_data())
    yield application
    application.close()


def create_sealed(app: CaseApplication):  # type: ignore[no-untyped-def]
    return create(
        app,
        attachments=[ATTACHMENT],
        origin=Origin("email", {"from_address": "ivanov@mail.example", "message_id": "<1@x>"}),
    )


def stored_bytes(app: CaseApplication, case_id: str) -> bytes:
    events = app.recorder.select_events(UUID(case_id))  # type: ignore[attr-defined]
    return b"".join(e.state for e in events)


def test_the_stored_events_and_the_published_envelopes_hold_no_personal_data(
    sealed_app: CaseApplication,
) -> None:
    created = create_sealed(sealed_app)
    sealed_app.add_comment(
        created.case_id, body="Мой новый телефон 89161112233", public=True, meta=meta(CITIZEN)
    )
    stored = stored_bytes(sealed_app, created.case_id)
    assert b"cdk1." in stored
    assert leaks(stored) == []
    # What the outbox relay publishes to case.events.v1: the same events as CaseEvent envelopes.
    published = b"".join(
        to_case_event(sealed_app.mapper.to_domain_event(e)).SerializeToString()
        for e in sealed_app.recorder.select_events(UUID(created.case_id))  # type: ignore[attr-defined]
    )
    assert b"cdk1." in published
    assert leaks(published) == []
    # The non-personal parts stay readable: status, channel, category, service code.
    view = sealed_app.get_case(created.case_id)
    assert (view.status, view.channel, view.category) == (
        Status.REGISTERED, created.channel, created.category,
    )  # fmt: skip
    assert all(is_encrypted(v) for v in (view.citizen.full_name, view.citizen.snils))
    assert view.citizen.inn == ""  # nothing to hide stays empty


def test_sealed_fields_open_with_the_citizens_key_in_their_place_only(
    sealed_app: CaseApplication, keys: Keys
) -> None:
    created = create_sealed(sealed_app)
    personal = keys.personal_data()
    view = sealed_app.get_case(created.case_id)
    assert personal.open_citizen(created.case_id, view.citizen) == citizen()
    subject = personal.open_text(created.case_id, content_field("subject"), view.content.subject)
    assert subject == "Не приходит СМС-код"
    origin = personal.open_origin(created.case_id, view.origin)
    assert origin.details == {"from_address": "ivanov@mail.example", "message_id": "<1@x>"}
    commented = sealed_app.add_comment(
        created.case_id, body="Код пришёл", public=True, meta=meta(CITIZEN)
    )
    comment = [e for e in sealed_app.events_after(created.case_id, 0) if hasattr(e, "body")][-1]
    assert commented.version == comment.originator_version
    body = personal.open_text(created.case_id, comment_field(comment.comment_id), comment.body)
    assert body == "Код пришёл"
    # Moved to another field, a token does not open.
    with pytest.raises(Exception, match="field"):
        personal.open_text(created.case_id, content_field("description"), view.content.subject)


def test_the_case_index_keeps_tokens_and_finds_the_citizen_by_his_login(
    sealed_app: CaseApplication, keys: Keys
) -> None:
    created = create_sealed(sealed_app)
    create(sealed_app, citizen=citizen("petrov.pp"))
    CaseIndexProjector(sealed_app, sealed_app.index).catch_up()
    personal = keys.personal_data()
    lookup = personal.login_lookup("Ivanov.II")  # normalised as the subject is
    assert lookup.startswith(INDEX_SUBJECT_PREFIX)
    page = sealed_app.list_cases(CaseFilter(citizen_login=lookup))
    assert [s.case_id for s in page.cases] == [created.case_id]
    summary = page.cases[0]
    assert is_encrypted(summary.subject)
    assert "ivanov" not in summary.citizen_login


def test_comments_and_repeats_of_an_erased_citizen_are_refused(
    sealed_app: CaseApplication, keys: Keys
) -> None:
    created = create_sealed(sealed_app)
    keys.erase("ivanov.ii")
    with pytest.raises(CitizenErased, match="was erased at"):
        sealed_app.add_comment(created.case_id, body="ещё", public=True, meta=meta(CITIZEN))
    with pytest.raises(CitizenErased):
        stored_citizen = sealed_app.get_case(created.case_id).citizen
        keys.personal_data().open_citizen(created.case_id, stored_citizen)
    # A new case under the erased identifiers gets no new key either.
    with pytest.raises(CitizenErased):
        create(sealed_app)
    # The commands that add no personal text still work.
    moved = sealed_app.change_status(
        created.case_id, to_status=Status.IN_PROGRESS, reason="", meta=meta(SPECIALIST)
    )
    assert moved.status is Status.IN_PROGRESS


def test_a_repeat_is_sealed_for_the_new_case(sealed_app: CaseApplication, keys: Keys) -> None:
    created = create_sealed(sealed_app)
    sealed_app.change_status(
        created.case_id, to_status=Status.IN_PROGRESS, reason="", meta=meta(SPECIALIST)
    )
    answer(sealed_app, created.case_id)
    sealed_app.change_status(
        created.case_id, to_status=Status.ANSWER_READY, reason="", meta=meta(SPECIALIST)
    )
    repeat = sealed_app.repeat_case(created.case_id, reason="Снова не приходит", meta=meta(CITIZEN))
    personal = keys.personal_data()
    assert repeat.citizen != sealed_app.get_case(created.case_id).citizen  # sealed for its own id
    assert personal.open_citizen(repeat.case_id, repeat.citizen) == citizen()
    description = personal.open_text(
        repeat.case_id, content_field("description"), repeat.content.description
    )
    assert description == "Снова не приходит"
    assert leaks(stored_bytes(sealed_app, repeat.case_id)) == []


def test_duplicates_of_a_sealed_citizen_merge_and_other_citizens_do_not(
    sealed_app: CaseApplication,
) -> None:
    """Tokens differ at every sealing: the citizens are compared by the subjects they name."""
    first, second = create(sealed_app), create(sealed_app)
    other = create(sealed_app, citizen=citizen("petrov.pp"))
    merge_meta = meta(SPECIALIST)
    sealed_app.merge_cases(first.case_id, target_case_id=second.case_id, reason="", meta=merge_meta)
    with pytest.raises(InvalidCommand, match="same citizen"):
        sealed_app.merge_cases(
            other.case_id, target_case_id=second.case_id, reason="", meta=merge_meta
        )


def test_a_citizen_without_any_identifier_is_refused_when_sealing(
    sealed_app: CaseApplication,
) -> None:
    with pytest.raises(InvalidCommand, match="citizen"):
        create(sealed_app, citizen=Citizen(full_name="Аноним"))


def test_with_sealing_off_everything_is_stored_as_sent(app: CaseApplication) -> None:
    created = create(app, attachments=[ATTACHMENT])
    stored = stored_bytes(app, created.case_id)
    assert b"cdk1." not in stored
    assert b"11223344595" in stored
    view = app.get_case(created.case_id)
    assert view.citizen == citizen()
    assert view.content == CaseContent(subject="Не приходит СМС-код", description="Жду 10 минут")


def test_no_key_is_fetched_on_the_event_loop() -> None:
    import asyncio

    from casedesk_case.application.personal_data import KeyBridge

    class Never:
        async def current_key(self, subject):  # type: ignore[no-untyped-def]
            raise AssertionError("not called")

        key = current_key

    async def on_loop() -> None:
        bridge = KeyBridge(Never(), asyncio.get_running_loop())  # type: ignore[arg-type]
        with pytest.raises(RuntimeError, match="off the event loop"):
            bridge.current_key(None)  # type: ignore[arg-type]

    asyncio.run(on_loop())


def test_the_key_service_is_wired_only_with_sealing_on(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from casedesk_case.__main__ import _keys_config
    from casedesk_case.settings import CaseSettings
    from casedesk_keys.settings import KeysSettingsError

    monkeypatch.delenv("CASEDESK_KEYS_INDEX_KEY_FILE", raising=False)
    assert CaseSettings().seal_personal_data is False
    assert _keys_config(CaseSettings()) is None  # off: no key service, no index key
    on = CaseSettings(seal_personal_data=True)
    with pytest.raises(KeysSettingsError, match="CASEDESK_KEYS_INDEX_KEY_FILE"):
        _keys_config(on)
    key_file = tmp_path / "index.key"
    key_file.write_text(base64.b64encode(bytes(range(32))).decode())
    monkeypatch.setenv("CASEDESK_KEYS_INDEX_KEY_FILE", str(key_file))
    monkeypatch.setenv("CASEDESK_KEYS_CACHE_TTL_S", "3")
    config = _keys_config(on)
    assert config is not None
    keys_settings, index_key = config
    assert keys_settings.cache_ttl_s == 3
    assert isinstance(index_key, IndexKey)


def test_with_sealing_off_the_service_never_imports_the_key_library() -> None:
    """Off, the process needs neither casedesk_keys nor the key service's client (the case
    service's image need not hold them)."""
    probe = (
        "import sys, casedesk_case.__main__, casedesk_case.testing, casedesk_case.export\n"
        "from casedesk_case.settings import CaseSettings\n"
        "assert casedesk_case.__main__._keys_config(CaseSettings()) is None\n"
        "print(sorted(m for m in sys.modules if m.startswith('casedesk_key')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]"


async def test_a_burst_of_new_citizens_gets_its_keys_on_the_loop_together(
    persistence_env: dict[str, str], keys: Keys
) -> None:
    """The pipeline fetches each new case's key on the event loop before the command thread
    seals (the key service makes a burst's keys in one commit); sealing then takes them from
    the cache, never waiting on the loop from the command thread."""
    import asyncio
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from casedesk_case.application.pipeline import CommandPipeline
    from casedesk_keys import KeyCache

    class Recording:
        def __init__(self) -> None:
            self.threads: set[str] = set()
            self.calls = 0

        async def current_key(self, subject):  # type: ignore[no-untyped-def]
            self.threads.add(threading.current_thread().name)
            self.calls += 1
            return await keys.source.current_key(subject)

        async def key(self, subject, generation):  # type: ignore[no-untyped-def]
            self.threads.add(threading.current_thread().name)
            return await keys.source.key(subject, generation)

    recording = Recording()
    cache = KeyCache(recording, ttl_s=60)
    loop = asyncio.get_running_loop()
    app = CaseApplication(env=persistence_env, personal_data=keys.personal_data(loop))
    app.personal_data.keys = cache  # type: ignore[union-attr]
    bridge = app.personal_data._bridge = type(app.personal_data._bridge)(cache, loop)  # type: ignore[union-attr]
    hops: list[object] = []  # waits of the command thread on the loop
    run = bridge._run
    bridge._run = lambda call: hops.append(call) or run(call)  # type: ignore[method-assign]
    executor = ThreadPoolExecutor(2)
    pipeline = CommandPipeline(app, executor)
    try:
        views = await asyncio.gather(*(
            pipeline.run(app.create_case, **_create_arguments(f"citizen.{n}"))
            for n in range(12)
        ))  # fmt: skip
    finally:
        pipeline.stop()
        executor.shutdown()
    assert recording.calls == 12  # one key per new citizen, fetched once
    assert hops == []
    assert recording.threads == {threading.current_thread().name}  # all on the loop's thread
    token = app.get_case(views[3].case_id).citizen.account_login
    assert is_encrypted(token)
    field = citizen_field("account_login")
    assert await app.personal_data.open(views[3].case_id, field, token) == "citizen.3"  # type: ignore[union-attr]
    app.close()


async def test_an_erased_citizen_reopened_by_intake_opens_a_new_case_past_the_cached_erasure(
    persistence_env: dict[str, str], keys: Keys
) -> None:
    """A citizen erased before writes again: intake has the key owner give him a new
    generation (ReopenSubject). The replica's key cache learnt of his erasure when his first
    attempt was refused and would answer «erased» for its TTL; a new case asks the key owner
    again (KeyCache.doubt_erasure), so it is sealed with the new key at once."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from casedesk_case.application.pipeline import CommandPipeline
    from casedesk_keys import KeyCache

    loop = asyncio.get_running_loop()
    cache = KeyCache(keys.source, ttl_s=600)
    app = CaseApplication(env=persistence_env, personal_data=keys.personal_data(loop))
    app.personal_data.keys = cache  # type: ignore[union-attr]
    app.personal_data._bridge = type(app.personal_data._bridge)(cache, loop)  # type: ignore[union-attr]
    executor = ThreadPoolExecutor(2)
    pipeline = CommandPipeline(app, executor)
    subject = Subjects(keys.index_key).of_identifier(IdentifierKind.LOGIN, "ivanov.ii")
    try:
        await pipeline.run(app.create_case, **_create_arguments("ivanov.ii"))
        keys.erase("ivanov.ii")
        cache.invalidate(subject)  # the erasure notice
        with pytest.raises(CitizenErased):
            await pipeline.run(app.create_case, **_create_arguments("ivanov.ii"))
        await asyncio.to_thread(keys.keyring.reopen, subject)  # intake: he writes again

        view = await pipeline.run(app.create_case, **_create_arguments("ivanov.ii"))
    finally:
        pipeline.stop()
        executor.shutdown()
    token = app.get_case(view.case_id).citizen.account_login
    assert header_of(token).generation == 2
    field = citizen_field("account_login")
    assert await app.personal_data.open(view.case_id, field, token) == "ivanov.ii"  # type: ignore[union-attr]
    app.close()


def _create_arguments(login: str) -> dict[str, object]:
    return {
        "channel": Channel.EMAIL,
        "case_type": CaseType.TECHNICAL,
        "category": Category.TECHNICAL_FAULT,
        "citizen": citizen(login),
        "content": CaseContent(subject="Не приходит СМС-код", description="Жду 10 минут"),
        "meta": meta(),
    }
