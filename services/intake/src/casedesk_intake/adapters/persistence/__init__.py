"""IntakeStore on SQLite (the embedded default) or PostgreSQL (replicas sharing records)."""
