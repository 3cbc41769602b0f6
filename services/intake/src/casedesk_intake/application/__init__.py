"""Intake's use cases: they take and return domain values and are the only callers of the store,
the vault and the case service (through the ports in ports.py)."""
