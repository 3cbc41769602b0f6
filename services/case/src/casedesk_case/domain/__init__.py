"""The pure case domain: aggregate, lifecycle, numbers, assignment rule and errors.

Imports only the standard library and eventsourcing.domain: no transport, no environment.
"""
