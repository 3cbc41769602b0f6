"""What the case service's sealing of personal data (application/personal_data.py, issue #18)
names and refuses, without the key library: the field names tokens are bound to (defined in
`casedesk_vocabulary.sealed_fields`, shared with notify, which opens some of them; re-exported
here), what the case index keeps for a sealed login, and the refusals. Imported wherever the
service runs, so that a process with `CASEDESK_SEAL_PERSONAL_DATA` off needs neither
casedesk_keys nor a key service.
"""

from __future__ import annotations

from datetime import datetime

from casedesk_case.domain.errors import CaseError, PreconditionFailed
from casedesk_vocabulary.sealed_fields import (
    CITIZEN_FIELDS,
    CONTENT_FIELDS,
    FIELD_ACTOR_ID,
    FIELD_CALLBACK_NOTE,
    FIELD_ESCALATION_EXPLANATION,
    FIELD_MERGE_REASON,
    FIELD_RATING_COMMENT,
    FIELD_REPEAT_REASON,
    FIELD_STATUS_REASON,
    FREE_TEXT_FIELDS,
    ORIGIN_FIELDS,
    TOKEN_PREFIX,
    attachment_field,
    citizen_field,
    comment_field,
    content_field,
    origin_field,
)

# What the case index keeps for a sealed account login: the subject its token names (the keyed
# hash of the login, the citizen's strongest identifier), so that ListCases can still find a
# citizen's cases by his login without the login in clear (`PersonalData.login_lookup`).
INDEX_SUBJECT_PREFIX = "cdk-subject:"

# The free texts sealed in each event that carries one: (event class name, attribute, field name).
# A status change's reason, an escalation request's explanation, a rating's comment, a callback's
# note, a merge's and a repeat's reason (the spam closing's explanation is its status reason).
FREE_TEXTS: tuple[tuple[str, str, str], ...] = (
    ("StatusChanged", "reason", FIELD_STATUS_REASON),
    ("EscalationRequested", "explanation", FIELD_ESCALATION_EXPLANATION),
    ("AnswerRated", "comment", FIELD_RATING_COMMENT),
    ("CallbackRecorded", "note", FIELD_CALLBACK_NOTE),
    ("MergedInto", "reason", FIELD_MERGE_REASON),
    ("Repeated", "reason", FIELD_REPEAT_REASON),
)


__all__ = [
    "CITIZEN_FIELDS",
    "CONTENT_FIELDS",
    "FIELD_ACTOR_ID",
    "FIELD_CALLBACK_NOTE",
    "FIELD_ESCALATION_EXPLANATION",
    "FIELD_MERGE_REASON",
    "FIELD_RATING_COMMENT",
    "FIELD_REPEAT_REASON",
    "FIELD_STATUS_REASON",
    "FREE_TEXTS",
    "FREE_TEXT_FIELDS",
    "INDEX_SUBJECT_PREFIX",
    "ORIGIN_FIELDS",
    "TOKEN_PREFIX",
    "CitizenErased",
    "PersonalDataUnavailable",
    "PersonalDataUnreadable",
    "attachment_field",
    "citizen_field",
    "comment_field",
    "content_field",
    "index_login",
    "origin_field",
]


def index_login(account_login: str) -> str:
    """What the case index keeps as a case's citizen login: the login as stored when it is not
    sealed (cases stored with the setting off), else the subject its token names."""
    if not account_login.startswith(TOKEN_PREFIX):
        return account_login
    from casedesk_keys import FieldUnreadable, header_of, is_encrypted  # only once sealed

    if not is_encrypted(account_login):
        return account_login
    try:
        return INDEX_SUBJECT_PREFIX + str(header_of(account_login).subject)
    except FieldUnreadable:
        return ""


class CitizenErased(PreconditionFailed):
    """The citizen's key was destroyed: the case's personal fields cannot be read or written any
    more; its other parts (status, channel, tier, category, times) still can (ListCases)."""

    def __init__(self, case_id: str, subject: object, erased_at: datetime | None) -> None:
        when = f" at {erased_at.isoformat()}" if erased_at else ""
        super().__init__(
            f"the citizen of case {case_id} was erased{when}: the case's personal data can no "
            "longer be read or added to; its status, channel, tier and category still can "
            "(ListCases)"
        )
        self.case_id = case_id
        self.subject = subject
        self.erased_at = erased_at


class PersonalDataUnavailable(CaseError):
    """The key service (or its store or HSM) cannot be reached: retry later (UNAVAILABLE)."""


class PersonalDataUnreadable(CaseError):
    """A sealed field does not open with its key: altered, moved, or from another key store
    (DATA_LOSS)."""
