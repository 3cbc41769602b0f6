"""Checkpoint files: where each source stopped, and the projection state at that point.

A checkpoint is written between batches, so its positions and its state always agree: resuming
loads the state and reads on from the positions, and the result equals an uninterrupted replay.
The fingerprint (sources, range, what-if policy) must match, or the resumed replay would mix two
different questions into one state.

The file is a pickle of plain containers, written atomically (temporary file, fsync, rename).
Pickles execute code when loaded: load only checkpoint files this tool wrote for you.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAGIC = b"casedesk-replay-checkpoint/1\n"


class CheckpointError(RuntimeError):
    """The checkpoint file is unreadable or belongs to another replay."""


@dataclass
class Checkpoint:
    fingerprint: dict[str, str]
    positions: dict[str, dict[str, int]]  # source name -> part -> next position
    state: dict[str, Any]
    complete: bool


class CheckpointFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self, fingerprint: dict[str, str]) -> Checkpoint | None:
        """The saved checkpoint of this replay, or None when there is none yet."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise CheckpointError(f"cannot read {self.path}: {error.strerror}") from error
        if not data.startswith(MAGIC):
            raise CheckpointError(f"{self.path} is not a casedesk-replay checkpoint")
        try:
            checkpoint = pickle.loads(data[len(MAGIC) :])
        except Exception as error:  # a truncated or corrupted file
            raise CheckpointError(f"{self.path} is damaged: {error}") from error
        if not isinstance(checkpoint, Checkpoint):
            raise CheckpointError(f"{self.path} does not hold a checkpoint")
        if checkpoint.fingerprint != fingerprint:
            differences = ", ".join(
                f"{key}: {checkpoint.fingerprint.get(key)!r} there, {fingerprint.get(key)!r} here"
                for key in sorted(set(checkpoint.fingerprint) | set(fingerprint))
                if checkpoint.fingerprint.get(key) != fingerprint.get(key)
            )
            raise CheckpointError(
                f"{self.path} belongs to another replay ({differences}); "
                "use another checkpoint file or delete this one"
            )
        return checkpoint

    def save(self, checkpoint: Checkpoint) -> None:
        temporary = self.path.with_name(self.path.name + ".tmp")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with temporary.open("wb") as file:
            file.write(MAGIC)
            pickle.dump(checkpoint, file, protocol=pickle.HIGHEST_PROTOCOL)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self.path)
