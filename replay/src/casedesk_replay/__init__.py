"""Casedesk's analysts' replay: case.events.v1 and the SLA, notification and escalation topics
(or the case event store) folded into cases, flat tables, reports and what-if SLA outcomes.

Sources (`casedesk_replay.sources`) are adapters; projections (`casedesk_replay.projections`)
are pure folds of decoded events; `casedesk_replay.cli` composes them (`casedesk-replay`).
"""
