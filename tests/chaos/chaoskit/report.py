"""The run's figures as `CHAOS <metric> <value>` lines, then what lies behind any that is not
zero: every fault with its recovery, every case, notice or breach lost, doubled or unexpected
(case numbers and ids only), every unplanned exit and refused call."""

from __future__ import annotations

from dataclasses import dataclass, field

from .checks import READ_LATE, RELAY_LAGGED, UNEXPLAINED, Verdict
from .faults import Injected
from .load import Ledger
from .supervisor import Exit

# The figures, in its order; the run also prints the ones after them.
HEADLINE = (
    "cases_acknowledged",
    "cases_lost",
    "notifications_missing",
    "notifications_duplicated",
    "breaches_missed",
    "breaches_doubled",
    "faults_injected",
    "max_recovery_s",
)
# Must be zero for the run to pass (duplicated notices are reported with their cause instead).
MUST_BE_ZERO = (
    "cases_lost",
    "cases_doubled",
    "comments_lost",
    "comments_doubled",
    "notifications_missing",
    "notifications_unexplained_duplicates",
    "breaches_missed",
    "breaches_doubled",
    "breaches_unexplained",
    "faults_unrecovered",
    "store_events_missing_from_topic",
    "topic_events_not_in_store",
    "case_version_gaps",
)


@dataclass
class Report:
    schedule: str
    duration_s: float
    faults: list[Injected]
    verdict: Verdict
    ledger: Ledger
    exits: list[Exit]
    restarts_failed: list[str]
    lifecycles_cut_short: int
    settled: str
    details_shown: int = 20
    figures: dict[str, object] = field(init=False)

    def __post_init__(self) -> None:
        v, recovered = self.verdict, [f.recovery_s for f in self.faults if f.recovery_s is not None]
        store, gaps = (
            v.store_comparison.get("store_comparison", {}),
            v.store_comparison.get("gaps", {}),
        )
        self.figures = {
            "cases_acknowledged": v.cases_acknowledged,
            "cases_lost": len(v.cases_lost),
            "notifications_missing": len(v.notifications_missing),
            "notifications_duplicated": len(v.notifications_duplicated),
            "breaches_missed": len(v.breaches_missed),
            "breaches_doubled": len(v.breaches_doubled),
            "faults_injected": len(self.faults),
            "max_recovery_s": round(max(recovered), 1) if recovered else "none",
            "duration_s": round(self.duration_s),
            "faults_unrecovered": len(self.faults) - len(recovered),
            "cases_doubled": len(v.cases_doubled),
            "comments_acknowledged": len(self.ledger.comments),
            "comments_lost": len(v.comments_lost),
            "comments_doubled": len(v.comments_doubled),
            "case_events": v.case_events,
            "case_event_records_republished": v.case_event_records - v.case_events,
            "store_events_missing_from_topic": store.get("missing_from_topic", "?"),
            "topic_events_not_in_store": store.get("not_in_store", "?"),
            "case_version_gaps": gaps.get("missing_events", "?"),
            "notifications_expected": v.notifications_expected,
            "notifications_unexplained_duplicates": v.notifications_unexplained_duplicates,
            "notifications_unexpected": v.notifications_unexpected,
            "breaches_expected": v.breaches_expected,
            "breaches_unexpected": len(v.breaches_unexpected),
            "breaches_unexpected_relay_lagged": v.breaches_unexpected_by_cause[RELAY_LAGGED],
            "breaches_unexpected_read_late": v.breaches_unexpected_by_cause[READ_LATE],
            "breaches_unexplained": v.breaches_unexpected_by_cause[UNEXPLAINED],
            "breach_ids_differ": v.breach_ids_differ,
            "breach_records_republished": v.breach_records_republished,
            "breaches_after_cut_off": v.breaches_after_cut_off,
            "service_exits_unplanned": sum(not e.planned for e in self.exits),
            "service_starts_failed": len(self.restarts_failed),
            "commands_refused": sum(self.ledger.refused.values()),
            "answers_overtaken_by_escalation": self.ledger.answers_overtaken,
            "commands_given_up": sum(self.ledger.given_up.values()),
            "lifecycles_cut_short": self.lifecycles_cut_short,
        }

    def failures(self) -> dict[str, object]:
        """The figures that must be zero and are not."""
        return {name: self.figures[name] for name in MUST_BE_ZERO if self.figures[name] != 0}

    def lines(self, details_shown: int | None = None) -> list[str]:
        """The figures, then the faults and the problems behind them (`details_shown` of each
        kind at most, the unexplained first; None: the report's own limit, 0: all)."""
        shown = self.details_shown if details_shown is None else details_shown
        lines = [f"CHAOS {name} {self.figures[name]}" for name in HEADLINE]
        lines += [f"CHAOS {name} {value}" for name, value in self.figures.items()
                  if name not in HEADLINE]  # fmt: skip
        lines.append(f"chaos: schedule {self.schedule}; settling: {self.settled}")
        for fault in self.faults:
            recovered = (
                f"recovered in {fault.recovery_s:.1f} s" if fault.recovery_s is not None
                else "NOT recovered"
            )  # fmt: skip
            detail = f" ({fault.detail})" if fault.detail else ""
            lines.append(f"  fault {fault.fault.name}{detail}: {recovered} ({fault.milestones})")
        for exit_ in self.exits:
            if not exit_.planned:
                lines.append(f"  unplanned exit: {exit_.service} (code {exit_.code})")
        lines += [f"  start failed: {problem}" for problem in self.restarts_failed]
        calls = {
            "callers saw (then retried)": self.ledger.failures,
            "refused": self.ledger.refused,
            "given up": self.ledger.given_up,
        }
        for what, counts in calls.items():
            if counts:
                listed = ", ".join(f"{key} x{n}" for key, n in sorted(counts.items()))
                lines.append(f"  calls {what}: {listed}")
        v = self.verdict
        for problems in (
            v.cases_lost, v.cases_doubled, v.comments_lost, v.comments_doubled,
            v.notifications_missing, v.notifications_duplicated, v.breaches_missed,
            v.breaches_doubled, v.breaches_unexpected,
        ):  # fmt: skip
            ordered = sorted(problems, key=lambda problem: "unexplained" not in problem.detail)
            lines += [problem.line() for problem in ordered[: shown or None]]
            if shown and len(problems) > shown:
                lines.append(f"  ... and {len(problems) - shown} more")
        return lines
