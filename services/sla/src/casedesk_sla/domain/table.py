"""Compact storage of every open clock: parallel typed columns instead of an object per clock.

A Python object with a dict, a few datetimes and a boxed due instant costs close to a kilobyte;
a million of them would not fit the 1 GB budget. Here a case takes one index into bytearray and
`array('q')` columns, and its two clocks take slots `2 * case + target`. What remains per case is
the id string, its dict entry, one byte each for its channel, category, tier and policy version,
its version, a 25-byte trace context and a reference to the correlation id; per clock, 46 bytes of
columns (and one alarm in the queue). Freed case indices are reused, so the
columns stay as long as the peak number of open cases.
"""

from __future__ import annotations

from array import array
from enum import IntEnum

from casedesk_sla.domain import trace_context
from casedesk_vocabulary.enums import DeadlineTarget

TARGETS = (DeadlineTarget.FIRST_RESPONSE, DeadlineTarget.RESOLUTION)


class ClockState(IntEnum):
    ABSENT = 0  # the policy sets no such target for the channel (MFC first response)
    RUNNING = 1
    PAUSED = 2
    MET = 3


WARNED = 1
BREACHED = 2
OPEN = (ClockState.RUNNING, ClockState.PAUSED)  # a breached clock stays open until it is met

# (channel code, tier code, target: 0 first response, 1 resolution)
CensusKey = tuple[int, int, int]


def slot_of(case: int, target: DeadlineTarget) -> int:
    return 2 * case + (target is DeadlineTarget.RESOLUTION)


def case_of(slot: int) -> int:
    return slot >> 1


def target_of(slot: int) -> DeadlineTarget:
    return TARGETS[slot & 1]


class Vocabulary:
    """Interns the few distinct strings of a column (channels, categories, tiers, policy
    versions)."""

    def __init__(self) -> None:
        self._codes: dict[str, int] = {}
        self.words: list[str] = []

    def code(self, word: str) -> int:
        code = self._codes.get(word)
        if code is None:
            if len(self.words) >= 256:
                raise OverflowError("a vocabulary column holds at most 256 distinct values")
            code = self._codes[word] = len(self.words)
            self.words.append(word)
        return code


class ClockTable:
    # The per-clock columns, in the order they are stored and restored.
    CLOCK_FIELDS = ("state", "flags", "budget", "remaining", "since", "due", "warn", "run")

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.case_ids: list[str | None] = []
        self._free: list[int] = []
        self.channels, self.tiers, self.policies = Vocabulary(), Vocabulary(), Vocabulary()
        self.categories = Vocabulary()
        # Per case.
        self.channel = bytearray()
        # "" when the case has none. Kept for the life of the clocks: a category target replaces
        # the channel's unit, and a paused clock must resume on the clock it was counting on.
        self.category = bytearray()
        self.tier = bytearray()
        self.policy = bytearray()
        self.case_version = array("q")
        # Packed W3C trace contexts, trace_context.SIZE bytes per case. One per case serves both
        # clocks: the same Created starts them and the same status change resumes them, so a clock
        # with an alarm pending was always set running by the case's latest start or resume.
        self.trace = bytearray()
        # The correlation id of that same event, for the same reason: a warning or a breach belongs
        # to the request whose event set its clock running. Ids are free text (the intake's
        # idempotency keys), so they cannot be packed; "" (shared) when the event had none.
        self.correlation: list[str] = []
        # Per clock slot. `since` is when the current run started; `remaining` is the clock time
        # left as of `since` (or as of the pause); `due` and `warn` are cached from them.
        self.state = bytearray()
        self.flags = bytearray()
        self.budget = array("q")
        self.remaining = array("q")
        self.since = array("q")
        self.due = array("q")
        self.warn = array("q")
        self.run = array("I")
        # Open clocks per channel, tier and target, kept as clocks open, close and change tier,
        # so that counting them is a dict read, not a scan of a million slots.
        self.open_clocks: dict[CensusKey, int] = {}

    def __len__(self) -> int:
        return len(self.index)

    def find(self, case_id: str) -> int | None:
        return self.index.get(case_id)

    def add_case(
        self, case_id: str, channel: str, tier: str, policy: str, version: int, *, category: str
    ) -> int:
        if self._free:
            case = self._free.pop()
            self.case_ids[case] = case_id
            self.correlation[case] = ""
        else:
            case = len(self.case_ids)
            self.case_ids.append(case_id)
            self.correlation.append("")
            self._grow()
        self.index[case_id] = case
        for slot in (2 * case, 2 * case + 1):  # before the codes: a clock is counted under them
            self.clear_clock(slot)
        self.channel[case] = self.channels.code(channel)
        self.category[case] = self.categories.code(category)
        self.tier[case] = self.tiers.code(tier)
        self.policy[case] = self.policies.code(policy)
        self.case_version[case] = version
        self.set_packed_trace(case, trace_context.NONE)
        return case

    def remove_case(self, case: int) -> str:
        case_id = self.case_ids[case]
        assert case_id is not None, "removing a free case index"
        del self.index[case_id]
        self.case_ids[case] = None
        self._free.append(case)
        return case_id

    def clear_clock(self, slot: int) -> None:
        self.set_state(slot, ClockState.ABSENT)
        self.flags[slot] = 0
        self.budget[slot] = self.remaining[slot] = self.since[slot] = 0
        self.due[slot] = self.warn[slot] = 0
        self.run[slot] = 0

    def channel_of(self, case: int) -> str:
        return self.channels.words[self.channel[case]]

    def category_of(self, case: int) -> str:
        return self.categories.words[self.category[case]]

    def tier_of(self, case: int) -> str:
        return self.tiers.words[self.tier[case]]

    def policy_of(self, case: int) -> str:
        return self.policies.words[self.policy[case]]

    def set_tier(self, case: int, tier: str) -> None:
        open_slots = [slot for slot in (2 * case, 2 * case + 1) if self.state[slot] in OPEN]
        for slot in open_slots:
            self._count_open(slot, -1)
        self.tier[case] = self.tiers.code(tier)
        for slot in open_slots:
            self._count_open(slot, +1)

    def set_state(self, slot: int, state: ClockState) -> None:
        was_open = self.state[slot] in OPEN
        self.state[slot] = state
        if was_open != (state in OPEN):
            self._count_open(slot, -1 if was_open else +1)

    def count_restored(self, case: int) -> None:
        """Count the case's open clocks after its columns were written directly (restore)."""
        for slot in (2 * case, 2 * case + 1):
            if self.state[slot] in OPEN:
                self._count_open(slot, +1)

    def _count_open(self, slot: int, change: int) -> None:
        case = slot >> 1
        key = (self.channel[case], self.tier[case], slot & 1)
        self.open_clocks[key] = self.open_clocks.get(key, 0) + change

    def traceparent_of(self, case: int) -> str | None:
        return trace_context.unpack(self.packed_trace(case))

    def packed_trace(self, case: int) -> bytes:
        start = case * trace_context.SIZE
        return bytes(self.trace[start : start + trace_context.SIZE])

    def set_packed_trace(self, case: int, packed: bytes) -> None:
        if len(packed) != trace_context.SIZE:
            raise ValueError(f"a packed trace context has {trace_context.SIZE} bytes")
        start = case * trace_context.SIZE
        self.trace[start : start + trace_context.SIZE] = packed

    def clock_columns(self) -> tuple[bytearray | array[int], ...]:
        return tuple(getattr(self, name) for name in self.CLOCK_FIELDS)

    def slots(self) -> range:
        """Every clock slot in use or free (free ones are ABSENT)."""
        return range(2 * len(self.case_ids))

    def _grow(self) -> None:
        """Make room for one more case; columns grow in chunks, appending one by one is slow."""
        cases = len(self.case_ids)
        if cases <= len(self.case_version):
            return
        chunk = max(1024, cases // 8)
        for small in (self.channel, self.category, self.tier, self.policy):
            small.extend(bytes(chunk))
        self.case_version.extend(_zeros("q", chunk))
        self.trace.extend(bytes(trace_context.SIZE * chunk))
        for narrow in (self.state, self.flags):
            narrow.extend(bytes(2 * chunk))
        for wide in (self.budget, self.remaining, self.since, self.due, self.warn):
            wide.extend(_zeros("q", 2 * chunk))
        self.run.extend(_zeros("I", 2 * chunk))


def _zeros(typecode: str, count: int) -> array[int]:
    return array(typecode, bytes(array(typecode).itemsize * count))
