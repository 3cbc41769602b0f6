"""Test support shipped with the service: real receiving ends, case-event builders and a fake
broker behind a Publisher.

Used by the unit tests, tests/integration and bench.py; the running service never imports it.
"""
