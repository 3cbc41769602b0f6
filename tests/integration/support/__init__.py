"""Real infrastructure for the whole-system tests: Kafka, PostgreSQL and service processes.

`conftest.py` exposes it as fixtures; tests import from here only for types and helpers
(`from support.services import ServiceProcess, free_port`).
"""
