"""What the case service's sealing of personal data (application/personal_data.py, issue #18)
names and refuses, without the key library: the field names tokens are bound to, what the case
index keeps for a sealed login, and the refusals. Imported wherever the service runs, so that a
process with `CASEDESK_SEAL_PERSONAL_DATA` off needs neither casedesk_keys nor a key service.
"""

from __future__ import annotations

from datetime import datetime

from casedesk_case.domain.errors import CaseError, PreconditionFailed

CITIZEN_FIELDS = ("full_name", "snils", "inn", "account_login", "mobile_phone", "email")
CONTENT_FIELDS = ("subject", "description", "steps_taken")
# The provenance's personal parts: the sender's address and the Message-ID (which often carries
# the sender's mailbox), the caller's number, a social network's author handle and the post's
# reference (it leads to the author). Not personal, left in clear: chat session, form, call and
# office ids, the operator's id, the network's name and the caller checks.
ORIGIN_FIELDS = ("from_address", "message_id", "caller_number", "author_handle", "post_reference")
# What the case index keeps for a sealed account login: the subject its token names (the keyed
# hash of the login, the citizen's strongest identifier), so that ListCases can still find a
# citizen's cases by his login without the login in clear (`PersonalData.login_lookup`).
INDEX_SUBJECT_PREFIX = "cdk-subject:"
# How a sealed field begins (casedesk_keys.fields, format version 1).
TOKEN_PREFIX = "cdk1."


# A citizen who acts (comments, confirms, rates, repeats) is named in each event's context by his
# portal login: sealed too, in every event of his case.
FIELD_ACTOR_ID = "actor.id"


def citizen_field(name: str) -> str:
    return f"citizen.{name}"


def content_field(name: str) -> str:
    return f"content.{name}"


def origin_field(name: str) -> str:
    return f"origin.{name}"


def attachment_field(attachment_id: str) -> str:
    return f"attachment/{attachment_id}/file_name"


def comment_field(comment_id: str) -> str:
    return f"comment/{comment_id}/body"


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
