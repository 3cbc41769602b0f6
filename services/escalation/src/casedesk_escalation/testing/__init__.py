"""Test support shipped with the service: event builders, a stand-in CaseService, a journal reader,
a fake broker behind a Publisher.

Used by this service's component tests and by tests/integration; nothing here runs in production.
"""
