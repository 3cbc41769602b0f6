"""The decision store: decisions, per-case state and consumed offsets, in SQLite or PostgreSQL."""
