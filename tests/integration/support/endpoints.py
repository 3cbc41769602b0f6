"""Where the test infrastructure listens, in the forms services and libraries expect."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from psycopg.conninfo import conninfo_to_dict

# The database, role and password every provisioning path creates (containers and local process).
CASEDESK_DATABASE = "casedesk"


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str = CASEDESK_DATABASE
    password: str = CASEDESK_DATABASE
    dbname: str = CASEDESK_DATABASE

    @classmethod
    def from_dsn(cls, dsn: str) -> PostgresServer:
        """Accept a libpq URL or key=value string, as CASEDESK_TEST_POSTGRES_DSN may hold either."""
        parts = conninfo_to_dict(dsn)
        missing = [key for key in ("host", "user", "dbname") if not parts.get(key)]
        if missing:
            raise ValueError(f"PostgreSQL DSN lacks {', '.join(missing)}")
        return cls(
            host=str(parts["host"]),
            port=int(parts.get("port") or 5432),
            user=str(parts["user"]),
            password=str(parts.get("password") or ""),
            dbname=str(parts["dbname"]),
        )

    @property
    def dsn(self) -> str:
        credentials = f"{quote(self.user, safe='')}:{quote(self.password, safe='')}"
        return f"postgresql://{credentials}@{self.host}:{self.port}/{quote(self.dbname, safe='')}"

    def eventsourcing_env(self) -> dict[str, str]:
        """The `eventsourcing.postgres` variables; add PERSISTENCE_MODULE to select it."""
        return {
            "POSTGRES_DBNAME": self.dbname,
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": str(self.port),
            "POSTGRES_USER": self.user,
            "POSTGRES_PASSWORD": self.password,
        }
