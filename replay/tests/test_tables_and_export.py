from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from casedesk_replay import tables
from casedesk_replay.export import Format, write_tables
from casedesk_replay.projections import ReplayState, WhatIfClocks
from casedesk_replay.wire import to_micros
from casedesk_replay_testing.synthetic import Scenario
from casedesk_sla.domain import PolicyRegistry


def replayed(scenario: Scenario) -> ReplayState:
    state = ReplayState(WhatIfClocks(PolicyRegistry(scenario.policy.version)))
    for stream, events in scenario.streams().items():
        state.apply(stream, events)
    return state


def test_tables_have_one_row_per_fact_and_typed_columns(scenario: Scenario) -> None:
    state = replayed(scenario)
    cases = tables.cases(state)
    assert cases.num_rows == scenario.expected.cases
    assert cases.schema.field("registered_at").type.tz == "UTC"
    statuses = dict(zip(*pc.value_counts(cases["status"]).flatten(), strict=True))
    assert {k.as_py(): v.as_py() for k, v in statuses.items()} == dict(scenario.expected.statuses)
    assert tables.status_transitions(state).num_rows == scenario.expected.transitions
    sla = tables.sla_outcomes(state)
    assert pc.sum(pc.is_valid(sla["breached_at"])).as_py() == scenario.expected.breaches
    escalations = tables.escalations(state)
    escalated = pc.sum(pc.equal(escalations["source"], "ESCALATED")).as_py()
    assert escalated == scenario.expected.escalated
    assert tables.notifications(state).num_rows == sum(scenario.expected.notifications.values())
    whatif = tables.whatif_outcomes(state, to_micros(scenario.as_of))
    assert whatif.num_rows == sla.num_rows


def test_an_empty_replay_exports_typed_empty_tables() -> None:
    state = ReplayState()
    for build in tables.TABLES.values():
        table = build(state)
        assert table.num_rows == 0
        assert table.num_columns > 0


def test_parquet_and_csv_files_hold_the_same_rows(scenario: Scenario, tmp_path: Path) -> None:
    state = replayed(scenario)
    built = {name: build(state) for name, build in tables.TABLES.items()}
    written = write_tables(built, tmp_path / "out", (Format.PARQUET, Format.CSV))
    assert len(written) == 2 * len(built)
    for name, table in built.items():
        from_parquet = pq.read_table(tmp_path / "out" / f"{name}.parquet")
        assert from_parquet.equals(table)
        from_csv = pa_csv.read_csv(tmp_path / "out" / f"{name}.csv")
        assert from_csv.num_rows == table.num_rows
        assert from_csv.column_names == table.column_names
