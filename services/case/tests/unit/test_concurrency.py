"""Concurrent commands: group commit, unique numbers across replicas, retries on conflict."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from casedesk_case.domain.numbers import YearCounter
from casedesk_case.domain.values import Status
from casedesk_case.testing import CaseApplication

from ..conftest import SPECIALIST, create, meta


def test_concurrent_creates_in_two_replicas_get_unique_numbers(tmp_path: Path) -> None:
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "c.db")}
    replicas = [CaseApplication(env=env, number_block_size=3) for _ in range(2)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        views = list(pool.map(lambda n: create(replicas[n % 2]), range(60)))
    numbers = [v.number for v in views]
    assert len(set(numbers)) == 60
    # Every case is stored once and readable from either replica.
    for view in views:
        assert replicas[0].get_case(view.case_id).number == view.number
    for replica in replicas:
        replica.close()


def test_concurrent_commands_on_one_case_are_all_applied(app: CaseApplication) -> None:
    case = create(app)
    app.change_status(case.case_id, to_status=Status.IN_PROGRESS, reason="", meta=meta(SPECIALIST))

    def comment(n: int) -> None:
        app.add_comment(case.case_id, body=f"#{n}", public=True, meta=meta(SPECIALIST))

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(comment, range(30)))
    view = app.get_case(case.case_id)
    assert sorted(c.body for c in view.comments) == sorted(f"#{n}" for n in range(30))
    assert view.version == case.version + 31


def test_competing_replicas_retry_on_conflict(tmp_path: Path) -> None:
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "c.db")}
    first, second = CaseApplication(env=env), CaseApplication(env=env)
    case = create(first)
    first.change_status(
        case.case_id, to_status=Status.IN_PROGRESS, reason="", meta=meta(SPECIALIST)
    )
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(
            lambda n: (first, second)[n % 2].add_comment(
                case.case_id, body=f"#{n}", public=True, meta=meta(SPECIALIST)
            ),
            range(20),
        ))  # fmt: skip
    assert len(second.get_case(case.case_id).comments) == 20
    first.close()
    second.close()


def test_a_refusal_on_a_replicas_cached_case_is_decided_again_on_the_stored_one(
    tmp_path: Path,
) -> None:
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "c.db")}
    first, second = CaseApplication(env=env), CaseApplication(env=env)
    case = create(first)
    first.change_status(
        case.case_id, to_status=Status.IN_PROGRESS, reason="", meta=meta(SPECIALIST)
    )  # the first replica now holds the case as IN_PROGRESS
    second.change_status(
        case.case_id, to_status=Status.WAITING_FOR_CITIZEN, reason="", meta=meta(SPECIALIST)
    )
    # IN_PROGRESS -> IN_PROGRESS would be illegal; WAITING_FOR_CITIZEN -> IN_PROGRESS is not.
    resumed = first.change_status(
        case.case_id, to_status=Status.IN_PROGRESS, reason="", meta=meta(SPECIALIST)
    )
    assert (resumed.status, resumed.version) == (Status.IN_PROGRESS, case.version + 3)
    # An expected version the first replica has not seen is checked against the store.
    second.change_status(
        case.case_id, to_status=Status.WAITING_FOR_CITIZEN, reason="", meta=meta(SPECIALIST)
    )
    again = first.change_status(
        case.case_id, to_status=Status.IN_PROGRESS, reason="",
        meta=meta(SPECIALIST, expected=case.version + 4),
    )  # fmt: skip
    assert again.version == case.version + 5
    first.close()
    second.close()


def test_the_next_block_of_numbers_is_reserved_before_it_is_needed(tmp_path: Path) -> None:
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "c.db")}
    app = CaseApplication(env=env, number_block_size=10)
    first = create(app)
    year = int(first.number.split("-")[0])
    counter_id = YearCounter.create_id(year)
    for _ in range(5):  # half of the first block used
        create(app)
    deadline = time.monotonic() + 5
    # Versions: created, first block reserved, second block reserved.
    while app.repository.get(counter_id).version < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert app.repository.get(counter_id).version == 3  # the second block, reserved ahead
    numbers = [create(app).number for _ in range(20)]
    serials = [int(n.split("-")[1]) for n in numbers]
    assert serials == sorted(serials) and len(set(serials)) == 20
    app.close()
