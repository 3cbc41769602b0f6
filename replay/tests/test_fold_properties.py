"""Properties of the whole fold: batch boundaries, stream interleaving and re-published case
events (the outbox relay's at-least-once) never change the result."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from casedesk_replay.projections import ReplayState, WhatIfClocks
from casedesk_replay.topics import Stream
from casedesk_replay_testing.synthetic import generate
from casedesk_sla.domain import PolicyRegistry

SCENARIO = generate(40, seed=5)
STREAMS = SCENARIO.streams()


def replay_all_at_once() -> dict[str, Any]:
    state = ReplayState(WhatIfClocks(PolicyRegistry(SCENARIO.policy.version)))
    for stream, events in STREAMS.items():
        state.apply(stream, events)
    return without_counters(state.snapshot())


def without_counters(snapshot: dict[str, Any]) -> dict[str, Any]:
    # How many records were read (duplicates included) is not part of the result, nor is the
    # order in which case escalations and the decision journal, two topics, were interleaved.
    snapshot.pop("events")
    snapshot["cases"].pop("duplicates")
    snapshot["versions"].pop("duplicates")
    escalations = snapshot["escalations"]
    escalations["rows"] = sorted(escalations["rows"], key=lambda row: (row.event_id, row.source))
    return snapshot


EXPECTED = replay_all_at_once()


def deliveries(rng: random.Random) -> list[tuple[Stream, list[Any]]]:
    """The streams cut into random batches, interleaved randomly, each stream kept in order;
    sometimes the tail of a batch of case events is delivered again."""
    queues = {stream: list(events) for stream, events in STREAMS.items()}
    batches: list[tuple[Stream, list[Any]]] = []
    while any(queues.values()):
        stream = rng.choice([s for s, q in queues.items() if q])
        size = rng.randint(1, 400)
        batch, queues[stream] = queues[stream][:size], queues[stream][size:]
        batches.append((stream, batch))
        if stream is Stream.CASE and rng.random() < 0.5:
            batches.append((stream, batch[-rng.randint(1, len(batch)) :]))
    return batches


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_any_batching_interleaving_and_redelivery_gives_the_same_state(seed: int) -> None:
    state = ReplayState(WhatIfClocks(PolicyRegistry(SCENARIO.policy.version)))
    for stream, events in deliveries(random.Random(seed)):
        state.apply(stream, events)
    assert without_counters(state.snapshot()) == EXPECTED
