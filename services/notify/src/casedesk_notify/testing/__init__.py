"""Test support shipped with the service: real receiving ends and case-event builders.

Used by the unit tests, tests/integration and bench.py; the running service never imports it.
"""
