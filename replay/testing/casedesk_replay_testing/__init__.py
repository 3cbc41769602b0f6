"""Test support of the analysts' replay, kept out of the shipped `casedesk_replay`.

`synthetic` builds well-formed event streams with known totals for the replay's unit tests, the
integration tests in tests/integration and `replay/bench.py`.
"""
