"""The record-file source, and replays that stop and resume from a checkpoint."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import pytest

from casedesk_replay.checkpoint import CheckpointError, CheckpointFile
from casedesk_replay.progress import SilentProgress
from casedesk_replay.projections import ReplayState, WhatIfClocks
from casedesk_replay.runner import Replay
from casedesk_replay.sources import Batch, Source, SourceError
from casedesk_replay.sources.recordfile import RecordFileSource, RecordFileWriter, read_header
from casedesk_replay.topics import Stream
from casedesk_replay_testing.synthetic import Scenario
from casedesk_sla.domain import PolicyRegistry


def write_scenario(scenario: Scenario, path: Path) -> Path:
    with RecordFileWriter(path) as writer:
        # Interleaved streams, as a capture of several topics would be.
        for stream, events in scenario.streams().items():
            half = len(events) // 2
            writer.write_all(stream, (e.SerializeToString() for e in events[:half]))
        for stream, events in scenario.streams().items():
            half = len(events) // 2
            writer.write_all(stream, (e.SerializeToString() for e in events[half:]))
    return path


def replay(
    source: Source,
    state: ReplayState,
    checkpoint: CheckpointFile | None = None,
    fingerprint: dict[str, str] | None = None,
) -> SilentProgress:
    progress = SilentProgress()
    asyncio.run(Replay([source], state, progress, checkpoint, fingerprint).run())
    return progress


def test_a_record_file_replays_every_event(scenario: Scenario, tmp_path: Path) -> None:
    path = write_scenario(scenario, tmp_path / "all.records")
    state = ReplayState()
    progress = replay(RecordFileSource(path, tuple(Stream), chunk_records=500), state)
    assert progress.events == scenario.total_events
    assert progress.positions == path.stat().st_size - read_header(path).size
    assert state.sla.breaches == scenario.expected.breaches
    assert len(state.cases.rows) == scenario.expected.cases


def test_streams_not_asked_for_are_skipped(scenario: Scenario, tmp_path: Path) -> None:
    path = write_scenario(scenario, tmp_path / "all.records")
    state = ReplayState()
    progress = replay(RecordFileSource(path, (Stream.SLA,), chunk_records=300), state)
    assert progress.events == len(scenario.sla_events)
    assert state.cases.rows == {}
    assert progress.positions == path.stat().st_size - read_header(path).size


def test_a_truncated_file_is_an_error_with_its_position(scenario: Scenario, tmp_path: Path) -> None:
    path = write_scenario(scenario, tmp_path / "all.records")
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(SourceError, match="truncated record at byte"):
        replay(RecordFileSource(path, tuple(Stream)), ReplayState())


def test_an_undecodable_record_stops_the_replay(tmp_path: Path) -> None:
    path = tmp_path / "bad.records"
    with RecordFileWriter(path) as writer:
        writer.write(Stream.CASE, b"\xff\xff\xff not protobuf")
    with pytest.raises(SourceError, match=r"is not a casedesk\.case\.v1\.CaseEvent"):
        replay(RecordFileSource(path, tuple(Stream)), ReplayState())


class Interrupting:
    """Wraps a source and cancels the replay after a number of batches, as Ctrl-C would."""

    def __init__(self, inner: RecordFileSource, after: int) -> None:
        self.inner, self.after = inner, after
        self.name, self.unit = inner.name, inner.unit

    async def open(self, resume: Mapping[str, int]) -> int:
        return await self.inner.open(resume)

    async def batches(self) -> AsyncIterator[Batch]:
        count = 0
        async for batch in self.inner.batches():
            yield batch
            count += 1
            if count == self.after:
                raise asyncio.CancelledError

    async def close(self) -> None:
        await self.inner.close()


def test_an_interrupted_replay_resumes_to_the_same_result(
    scenario: Scenario, tmp_path: Path
) -> None:
    path = write_scenario(scenario, tmp_path / "all.records")
    fingerprint = {"origin": str(path), "whatif_policy": scenario.policy.version}
    checkpoint = CheckpointFile(tmp_path / "replay.checkpoint")

    def source() -> RecordFileSource:
        return RecordFileSource(path, tuple(Stream), chunk_records=700)

    first = ReplayState(WhatIfClocks(PolicyRegistry(scenario.policy.version)))
    with pytest.raises(asyncio.CancelledError):
        replay(Interrupting(source(), after=5), first, checkpoint, fingerprint)
    saved = checkpoint.load(fingerprint)
    assert saved is not None and not saved.complete
    assert 0 < saved.positions["file"]["records"] < path.stat().st_size

    resumed = ReplayState(WhatIfClocks(PolicyRegistry(scenario.policy.version)))
    progress = replay(source(), resumed, checkpoint, fingerprint)
    assert 0 < progress.events < scenario.total_events  # only what was left
    uninterrupted = ReplayState(WhatIfClocks(PolicyRegistry(scenario.policy.version)))
    replay(source(), uninterrupted)
    assert resumed.snapshot() == uninterrupted.snapshot()
    finished = checkpoint.load(fingerprint)
    assert finished is not None and finished.complete


def test_a_checkpoint_of_another_replay_is_refused(scenario: Scenario, tmp_path: Path) -> None:
    path = write_scenario(scenario, tmp_path / "all.records")
    checkpoint = CheckpointFile(tmp_path / "replay.checkpoint")
    replay(RecordFileSource(path, tuple(Stream)), ReplayState(), checkpoint, {"range": "all"})
    with pytest.raises(CheckpointError, match="range: 'all' there, 'October' here"):
        checkpoint.load({"range": "October"})


def test_a_damaged_checkpoint_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "replay.checkpoint"
    path.write_bytes(b"something else")
    with pytest.raises(CheckpointError, match="not a casedesk-replay checkpoint"):
        CheckpointFile(path).load({})
    assert CheckpointFile(tmp_path / "absent").load({}) is None
