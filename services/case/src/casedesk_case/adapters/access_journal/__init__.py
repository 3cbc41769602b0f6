"""The access journal's store: an append-only table in the case service's own database
(SQLite or PostgreSQL, as eventsourcing's variables choose), or memory for the POPO store."""
