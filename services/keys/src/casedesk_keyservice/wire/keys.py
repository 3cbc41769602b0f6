"""Subjects, generations and data keys on the wire."""

from __future__ import annotations

from collections.abc import Sequence

from casedesk.keys.v1 import key_service_pb2 as pb
from casedesk_keys import DataKey, SubjectId
from casedesk_keyservice.domain import InvalidOrder

MAX_GENERATION = 2**31 - 1  # the key store's INTEGER


def subject_of(text: str, field: str = "subject") -> SubjectId:
    if not text:
        raise InvalidOrder(field, "required: 32 hex digits")
    try:
        return SubjectId.from_text(text)
    except ValueError:
        raise InvalidOrder(field, "a subject id is 32 hex digits") from None


MAX_SUBJECTS_PER_CALL = 256


def subjects_of(texts: Sequence[str], field: str = "subjects") -> list[SubjectId]:
    """GetCurrentKeys' subjects; a malformed one is named by its place (`subjects[3]`)."""
    if not 1 <= len(texts) <= MAX_SUBJECTS_PER_CALL:
        raise InvalidOrder(field, f"1 to {MAX_SUBJECTS_PER_CALL} subjects")
    return [subject_of(text, f"{field}[{index}]") for index, text in enumerate(texts)]


def generation_of(value: int, field: str = "generation") -> int:
    if value < 1:
        raise InvalidOrder(field, "key generations start at 1")
    if value > MAX_GENERATION:
        raise InvalidOrder(field, f"at most {MAX_GENERATION}")
    return value


def data_key_message(key: DataKey) -> pb.DataKey:
    return pb.DataKey(subject=str(key.subject), generation=key.generation, key=key.secret())


def data_key_from(message: pb.DataKey, subject: SubjectId, generation: int | None) -> DataKey:
    """The key in a reply, checked to be the one asked for (`generation` None: any)."""
    if message.subject != str(subject):
        raise ValueError("the key service answered with another subject's key")
    if generation is not None and message.generation != generation:
        raise ValueError("the key service answered with another generation of the key")
    return DataKey(subject, message.generation, message.key)
