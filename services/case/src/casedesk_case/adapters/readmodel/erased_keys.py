"""Search terms of erased citizens, in SQL (SQLite and PostgreSQL): what `forget_erased` and the
projector's guarded write of terms run (application/search_terms.py, adapters/erased_terms.py).

Each term row names whose key sealed the citizen it hashes (subject, generation; generation 0:
the citizen was in clear). An erasure of a subject up to a generation deletes his rows of that
generation or older, and is remembered in `case_erased_keys` (subject, generation, and the key
service's journal position, to resume watching after a restart). The projector adds a term only
when no remembered erasure covers it, so a batch whose citizen was opened just before the
erasure cannot bring his terms back. On PostgreSQL the two cannot interleave: the projector
takes `SHARE` on `case_erased_keys` before it adds terms, which waits for an erasure being
written (`ROW EXCLUSIVE`, taken by its first insert) and holds the next one until its own commit;
statements then see what the other committed. SQLite serialises writers anyway. A subject holds
no personal data: a keyed hash of an identifier, as the index's sealed logins are.
"""

from __future__ import annotations

# The erasures the index has applied (their subjects keep no term).
ERASED_TABLE = "case_erased_keys"
# Added to a terms table made before the terms named their key: its rows name none ('' and 0),
# so only a rebuild of the index removes an erased citizen's older terms.
TERMS_ADDED_COLUMNS = {
    "subject": "subject TEXT NOT NULL DEFAULT ''",
    "generation": "generation BIGINT NOT NULL DEFAULT 0",
}


def erased_table_statement(erased: str) -> str:
    return (
        f"CREATE TABLE IF NOT EXISTS {erased} (subject TEXT NOT NULL, "
        "generation BIGINT NOT NULL, position BIGINT NOT NULL, "
        "PRIMARY KEY (subject, generation))"
    )


def subject_index_statement(terms: str) -> str:
    return f"CREATE INDEX IF NOT EXISTS case_search_terms_subject ON {terms} (subject, generation)"


def add_term_statement(terms: str, erased: str) -> str:
    """One term, unless an erasure remembered covers its key (the subject's generation or a
    newer one). Parameters: term, case id, kind, subject, generation, subject, generation."""
    return (
        f"INSERT INTO {terms} (term, case_id, kind, subject, generation) "
        "SELECT CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), "
        "CAST(? AS BIGINT) "
        f"WHERE NOT EXISTS (SELECT 1 FROM {erased} e WHERE e.subject = ? AND e.subject <> '' "
        "AND e.generation >= ?) "
        "ON CONFLICT (term, case_id) DO NOTHING"
    )


def add_terms_unnest_statement(terms: str, erased: str) -> str:
    """PostgreSQL: a batch's terms in one statement, with the same guard as add_term_statement.
    Parameters: five arrays of equal length (terms, case ids, kinds, subjects, generations)."""
    return (
        f"INSERT INTO {terms} (term, case_id, kind, subject, generation) "
        "SELECT t.term, t.case_id, t.kind, t.subject, t.generation "
        "FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::int8[]) "
        "AS t(term, case_id, kind, subject, generation) "
        f"WHERE NOT EXISTS (SELECT 1 FROM {erased} e WHERE e.subject = t.subject "
        "AND e.subject <> '' AND e.generation >= t.generation) "
        "ON CONFLICT (term, case_id) DO NOTHING"
    )


def remember_erasure_statement(erased: str) -> str:
    """Parameters: subject, generation, position."""
    return (
        f"INSERT INTO {erased} (subject, generation, position) VALUES (?, ?, ?) "
        "ON CONFLICT (subject, generation) DO NOTHING"
    )


def delete_terms_statement(terms: str) -> str:
    """Parameters: subject, generation (the erased one: it and every older one go). Returns
    the rows deleted (SQLite 3.35 or later, as PostgreSQL)."""
    return f"DELETE FROM {terms} WHERE subject = ? AND generation <= ? RETURNING case_id"


def erasure_position_statement(erased: str) -> str:
    return f"SELECT COALESCE(MAX(position), 0) AS position FROM {erased}"
