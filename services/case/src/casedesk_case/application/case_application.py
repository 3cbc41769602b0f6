"""The case service's eventsourcing application: the only code that loads and saves cases.

Commands take primitives and domain values and return the view of the case they produced;
queries return views. Persistence is chosen by eventsourcing's own environment variables
(PERSISTENCE_MODULE, SQLITE_DBNAME, POSTGRES_*), optionally prefixed with CASES_; what the case
service adds to it (recorder, transcodings, case index) comes from an `EventStoreSetup`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from eventsourcing.domain import Snapshot
from eventsourcing.persistence import Notification, Recording
from eventsourcing.utils import EnvType

from casedesk_case.application.case_cache import DEFAULT_CASE_CACHE_SIZE, CaseCache
from casedesk_case.application.command import Command, CommandMeta, Decided, parse_case_id
from casedesk_case.application.locks import KeyedLocks
from casedesk_case.application.numbering import CaseNumberAllocator
from casedesk_case.application.person_reads import PersonReads
from casedesk_case.application.planning import COMMANDS, CommandPlanner
from casedesk_case.application.ports import EventStoreSetup
from casedesk_case.application.queries import CaseQueries
from casedesk_case.application.recently_stored import RecentEvents
from casedesk_case.application.running import CommandRunner
from casedesk_case.application.saving import EventSaving
from casedesk_case.application.views import CaseView
from casedesk_case.application.workload import Workload
from casedesk_case.domain.assignment import Roster
from casedesk_case.domain.case import Case
from casedesk_case.domain.numbers import YearCounter
from casedesk_case.domain.values import (
    Attachment,
    CaseContent,
    CaseType,
    Category,
    Channel,
    Citizen,
    CloseReason,
    EscalationReason,
    Origin,
    Priority,
    Status,
    Tier,
)

if TYPE_CHECKING:  # casedesk_keys is imported only when sealing is on
    from casedesk_case.application.personal_data import PersonalData
    from casedesk_case.application.search_terms import SearchTerms

# A snapshot every 10 events keeps rebuilding any case to a snapshot plus at most 9 events.
CASE_SNAPSHOT_INTERVAL = 10


class CaseApplication(CaseQueries, EventSaving):
    name = "Cases"
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {
        Case: CASE_SNAPSHOT_INTERVAL,
        YearCounter: 100,
    }
    snapshot_class = Snapshot
    # Defaults, overridden by the process environment: an embedded SQLite file next to the
    # process, and a cache of recently used aggregates (fast-forwarded from the store on use).
    env: ClassVar[dict[str, str]] = {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": "casedesk-case.sqlite",
        "AGGREGATE_CACHE_MAXSIZE": "5000",
    }

    def __init__(
        self,
        env: EnvType | None = None,
        *,
        store_setup: EventStoreSetup,
        roster: Roster,
        number_block_size: int = 50,
        workload_ttl_s: float = 0.5,
        case_cache_size: int = DEFAULT_CASE_CACHE_SIZE,
        personal_data: PersonalData | None = None,
        search_terms: SearchTerms | None = None,
    ) -> None:
        """`personal_data`: seals citizens' personal fields inside the events as commands are
        decided (CASEDESK_SEAL_PERSONAL_DATA, application/personal_data.py); None: stored as
        sent. `search_terms`: the keyed hashes the case index finds citizens' cases by (SNILS,
        phone, e-mail; application/search_terms.py); None: no index key, no such lookups."""
        self._setup = store_setup
        super().__init__(env)
        self.roster = roster
        self.numbers = CaseNumberAllocator(self, number_block_size)
        self.case_locks = KeyedLocks()
        self.case_cache = CaseCache(case_cache_size)
        self.index = store_setup.case_index(self.factory)
        self.access_journal = store_setup.access_journal(self.factory)
        # People's reads: who sees which case, and the access journal of what they read.
        self.person_reads = PersonReads(self, self.access_journal)
        self.workload = Workload(
            self.index.loads, [s.id for s in self.roster.specialists], workload_ttl_s
        )
        self._runner = CommandRunner(
            self.repository, self.save, self.case_cache, self.case_locks, self.view_of,
            lambda case_id, version: self.get_case(case_id, as_of_version=version),
        )  # fmt: skip
        self.personal_data = personal_data
        self.search_terms = search_terms
        self._planner = CommandPlanner(
            roster,
            self.numbers,
            self.workload,
            self._runner.load_case,
            self.overdue,
            personal_data,
        )
        self._listeners: list[Callable[[], None]] = []
        self._recent_events = RecentEvents()

    # -- followers of the log ---------------------------------------------------------------

    def on_recorded(self, listener: Callable[[], None]) -> None:
        """Call `listener` (without arguments, from the saving thread) after each save."""
        self._listeners.append(listener)

    def _notify(self, recordings: list[Recording]) -> None:
        for recording in recordings:
            event = recording.domain_event
            if isinstance(event, Case.Assigned):  # type: ignore[attr-defined]
                self.workload.assigned(event.specialist_id, event.previous_specialist_id)
        self._recent_events.remember(recordings)
        for listener in self._listeners:
            listener()

    def event_of(self, notification: Notification) -> Any:
        """The domain event of a notification of the log (not decoded again when stored here)."""
        event = self._recent_events.get(notification)
        return event if event is not None else self.mapper.to_domain_event(notification)

    # -- commands ---------------------------------------------------------------------------

    def plan(self, method: Callable[..., CaseView], *args: Any, **kwargs: Any) -> Command:
        """The command `method(*args, **kwargs)` would run (a command method of this
        application, e.g. `app.change_status`), checked but neither decided nor run."""
        name = getattr(method, "__name__", "")
        if getattr(method, "__self__", None) is not self or name not in COMMANDS:
            raise TypeError(f"{method!r} is not a command of this case application")
        planner: Callable[..., Command] = getattr(self._planner, name)
        return planner(*args, **kwargs)

    async def fetch_key(self, citizen: Citizen) -> None:
        """With sealing on, the citizen's current key into the key cache ahead of sealing (on
        the event loop); without, nothing."""
        if self.personal_data is not None:
            await self.personal_data.fetch_key(citizen)

    def decide_cached(self, command: Command) -> Decided | None:
        return self._runner.decide_cached(self._sealing(command))

    def execute(self, command: Command) -> CaseView:
        return self._runner.execute(self._sealing(command))

    def _sealing(self, command: Command) -> Command:
        """With sealing on, the command also seals the citizen who acts in its events."""
        if self.personal_data is None:
            return command
        return self.personal_data.sealing(command)

    def create_case(
        self,
        *,
        channel: Channel,
        case_type: CaseType,
        category: Category,
        citizen: Citizen,
        content: CaseContent,
        meta: CommandMeta,
        queue: str = "",
        priority: Priority | None = None,
        origin: Origin | None = None,
        attachments: Sequence[Attachment] = (),
        linked_to: str = "",
        repeat_of: str = "",
    ) -> CaseView:
        return self.execute(self._planner.create_case(
            channel=channel, case_type=case_type, category=category, citizen=citizen,
            content=content, meta=meta, queue=queue, priority=priority, origin=origin,
            attachments=attachments, linked_to=linked_to, repeat_of=repeat_of,
        ))  # fmt: skip

    def add_comment(
        self,
        case_id: str,
        *,
        body: str,
        public: bool,
        meta: CommandMeta,
        attachments: Sequence[Attachment] = (),
    ) -> CaseView:
        return self.execute(self._planner.add_comment(
            case_id, body=body, public=public, meta=meta, attachments=attachments
        ))  # fmt: skip

    def change_status(
        self, case_id: str, *, to_status: Status, reason: str, meta: CommandMeta
    ) -> CaseView:
        return self.execute(
            self._planner.change_status(case_id, to_status=to_status, reason=reason, meta=meta)
        )

    def repeat_case(
        self,
        case_id: str,
        *,
        reason: str,
        meta: CommandMeta,
        channel: Channel | None = None,
        origin: Origin | None = None,
        attachments: Sequence[Attachment] = (),
    ) -> CaseView:
        """Open a new case repeating an answered (or overdue) one; returns the NEW case."""
        command = self._planner.repeat_case(
            case_id, reason=reason, meta=meta, channel=channel, origin=origin,
            attachments=attachments,
        )  # fmt: skip
        # The command's own case is the new one: the original, changed too, is locked here.
        with self.case_locks.hold(str(parse_case_id(case_id))):
            return self.execute(command)

    def request_escalation(
        self, case_id: str, *, reason: EscalationReason, explanation: str, meta: CommandMeta
    ) -> CaseView:
        return self.execute(self._planner.request_escalation(
            case_id, reason=reason, explanation=explanation, meta=meta
        ))  # fmt: skip

    def escalate(
        self,
        case_id: str,
        *,
        to_tier: Tier,
        reason: EscalationReason,
        meta: CommandMeta,
        cause_ref: str = "",
        priority: Priority | None = None,
        callback_required: bool = False,
    ) -> CaseView:
        return self.execute(self._planner.escalate(
            case_id, to_tier=to_tier, reason=reason, meta=meta, cause_ref=cause_ref,
            priority=priority, callback_required=callback_required,
        ))  # fmt: skip

    def assign(self, case_id: str, *, specialist_id: str, meta: CommandMeta) -> CaseView:
        """Assign to the named specialist, or by specialization and load when none is named."""
        return self.execute(self._planner.assign(case_id, specialist_id=specialist_id, meta=meta))

    def add_attachment(
        self, case_id: str, *, attachment: Attachment, meta: CommandMeta
    ) -> CaseView:
        return self.execute(self._planner.add_attachment(case_id, attachment=attachment, meta=meta))

    # -- the end of a case (application/closing.py) ---------------------------------------------

    def confirm_answer(self, case_id: str, *, meta: CommandMeta) -> CaseView:
        return self.execute(self._planner.confirm_answer(case_id, meta=meta))

    def rate_answer(
        self,
        case_id: str,
        *,
        score: int,
        comment: str,
        meta: CommandMeta,
        channel: Channel | None = None,
    ) -> CaseView:
        return self.execute(self._planner.rate_answer(
            case_id, score=score, comment=comment, channel=channel, meta=meta
        ))  # fmt: skip

    def close_case(
        self, case_id: str, *, reason: CloseReason, explanation: str, meta: CommandMeta
    ) -> CaseView:
        return self.execute(
            self._planner.close_case(case_id, reason=reason, explanation=explanation, meta=meta)
        )

    def merge_cases(
        self, duplicate_case_id: str, *, target_case_id: str, reason: str, meta: CommandMeta
    ) -> CaseView:
        """Merge a duplicate into another case of the same citizen; returns the TARGET."""
        return self.execute(self._planner.merge_cases(
            duplicate_case_id, target_case_id=target_case_id, reason=reason, meta=meta
        ))  # fmt: skip

    def record_callback(
        self, case_id: str, *, reached: bool, note: str, meta: CommandMeta
    ) -> CaseView:
        return self.execute(
            self._planner.record_callback(case_id, reached=reached, note=note, meta=meta)
        )

    def close_without_reaction(
        self, case_id: str, *, period: timedelta, now: datetime, meta: CommandMeta
    ) -> CaseView:
        """The system closes an answer the citizen did not react to within `period`."""
        return self.execute(self._planner.close_without_reaction(
            case_id, period=period, now=now, meta=meta
        ))  # fmt: skip
