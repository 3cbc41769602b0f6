"""The pure case domain: aggregate, lifecycle, numbers, assignment rule, receipts and errors.

Imports only the standard library, eventsourcing.domain and casedesk_vocabulary: no transport,
no storage, no environment.
"""
