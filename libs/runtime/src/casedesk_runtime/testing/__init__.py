"""Test support shared by every suite (no broker, no network)."""
