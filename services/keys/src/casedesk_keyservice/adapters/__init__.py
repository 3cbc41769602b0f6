"""The erasure journal on SQLite or PostgreSQL (beside the key store), and people's tokens."""
