"""Command-line tools besides the service (`python -m casedesk_intake.cli.<tool>`)."""
