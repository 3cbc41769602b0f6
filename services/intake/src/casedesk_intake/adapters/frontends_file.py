"""Reading the frontends' TOML file (CASEDESK_FRONTENDS_FILE): a list of [[frontend]] tables."""

from __future__ import annotations

import tomllib
from pathlib import Path

from casedesk_intake.settings import FrontendEntry


def read_frontends_file(path: Path) -> list[FrontendEntry]:
    with path.open("rb") as file:
        document = tomllib.load(file)
    return [FrontendEntry.model_validate(e) for e in document.get("frontend", [])]
