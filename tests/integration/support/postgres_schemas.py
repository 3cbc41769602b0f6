"""A test's own PostgreSQL schemas, the URL a service is given to use one, and what a schema's
tables hold, byte for byte (for the tests that look for personal data in clear).

    with fresh_schemas(postgres_dsn, "intake_x", "keys_x") as (intake_schema, keys_schema):
        env = {"CASEDESK_DATABASE_URL": in_schema(postgres_dsn, intake_schema)}
        ...
        assert found_in(schema_rows(postgres_dsn, intake_schema), ["Иванов"]) == []
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import psycopg


@contextmanager
def fresh_schemas(postgres_dsn: str, *prefixes: str) -> Iterator[tuple[str, ...]]:
    """A PostgreSQL schema per prefix, named `<prefix>_<random>`, dropped with all in it after."""
    names = tuple(f"{prefix}_{uuid.uuid4().hex[:10]}" for prefix in prefixes)
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        for name in names:
            connection.execute(f"CREATE SCHEMA {name}")
    try:
        yield names
    finally:
        with psycopg.connect(postgres_dsn, autocommit=True) as connection:
            for name in names:
                connection.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


def in_schema(postgres_dsn: str, schema: str, **parameters: str) -> str:
    """`postgres_dsn` (a URL) whose sessions work in `schema` (their search_path), with further
    connection parameters (e.g. application_name)."""
    separator = "&" if "?" in postgres_dsn else "?"
    extra = "".join(f"{name}={quote(value)}&" for name, value in parameters.items())
    return f"{postgres_dsn}{separator}{extra}options=" + quote(f"-csearch_path={schema}")


def schema_rows(postgres_dsn: str, schema: str) -> bytes:
    """Every row of every table of the schema, as PostgreSQL prints it (bytea in hex)."""
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (schema,),
            )
        ]
        assert tables, f"no tables in {schema}"
        rows = [
            str(row[0]).encode()
            for table in tables
            for row in connection.execute(f'SELECT t::text FROM {schema}."{table}" t')
        ]
    return b"\n".join(rows)


def found_in(blob: bytes, texts: list[str]) -> list[str]:
    """The texts present in `blob` as UTF-8 or JSON-escaped, either as is or in the hex
    PostgreSQL prints a bytea in (ASCII case ignored)."""
    lowered = blob.lower()

    def forms(text: str) -> list[bytes]:
        spelled = [text.encode(), json.dumps(text).strip('"').encode()]
        return spelled + [form.hex().encode() for form in spelled]

    return [t for t in texts if any(f in blob or f.lower() in lowered for f in forms(t))]
