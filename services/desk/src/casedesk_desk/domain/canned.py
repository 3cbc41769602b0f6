"""Canned replies: ready Russian texts a specialist puts into the public reply and edits."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CannedReply:
    key: str  # stable, for the form's value
    title: str  # what the list shows
    text: str  # what goes into the reply
