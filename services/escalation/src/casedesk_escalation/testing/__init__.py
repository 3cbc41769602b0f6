"""Test support shipped with the service: event builders, a stand-in CaseService, a journal reader.

Used by this service's component tests and by tests/integration; nothing here runs in production.
"""
