"""Test support other suites import: the case-service stand-in intake is tested against."""
