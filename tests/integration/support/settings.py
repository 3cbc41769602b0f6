"""What the environment asks of the test infrastructure (see provisioning.py for the order)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from .errors import InfrastructureError


class Mode(StrEnum):
    AUTO = "auto"
    DOCKER = "docker"
    LOCAL = "local"


@dataclass(frozen=True)
class InfraSettings:
    mode: Mode = Mode.AUTO
    kafka_image: str = "casedesk/kafka:4.3.1"
    postgres_image: str = "casedesk/postgres:15"
    existing_kafka: str | None = None
    existing_postgres: str | None = None
    ready_timeout: float = 120.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> InfraSettings:
        mode = environ.get("CASEDESK_TEST_INFRA", Mode.AUTO.value)
        try:
            parsed = Mode(mode)
        except ValueError:
            raise InfrastructureError(
                f"CASEDESK_TEST_INFRA={mode!r}: use auto, docker or local"
            ) from None
        return cls(
            mode=parsed,
            kafka_image=environ.get("CASEDESK_KAFKA_IMAGE") or cls.kafka_image,
            postgres_image=environ.get("CASEDESK_POSTGRES_IMAGE") or cls.postgres_image,
            existing_kafka=environ.get("CASEDESK_TEST_KAFKA_BOOTSTRAP") or None,
            existing_postgres=environ.get("CASEDESK_TEST_POSTGRES_DSN") or None,
        )
