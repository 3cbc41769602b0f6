"""Reading the classification rules: the TOML file shipped in the package, or the configured one."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from casedesk_intake.domain.classification import Classifier


def load_classifier(path: Path | None = None) -> Classifier:
    if path is None:
        text = resources.files("casedesk_intake").joinpath("classification_rules.toml")
        return Classifier(tomllib.loads(text.read_text(encoding="utf-8")))
    with path.open("rb") as file:
        return Classifier(tomllib.load(file))
