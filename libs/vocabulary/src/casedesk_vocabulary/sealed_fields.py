"""The names citizens' sealed personal fields are bound to (issue #18), for every process that
seals or opens them: the case service seals them inside its events, notify opens the few it
sends with. A `casedesk_keys` token opens only with its case id and this name
(`FieldContext(case_id, name)`), so a name spelled differently by two services is a field that
never opens: both take it from here. Names and prefixes only; no key library.
"""

from __future__ import annotations

CITIZEN_FIELDS = ("full_name", "snils", "inn", "account_login", "mobile_phone", "email")
CONTENT_FIELDS = ("subject", "description", "steps_taken")
# The provenance's personal parts: the sender's address and the Message-ID (which often carries
# the sender's mailbox), the caller's number, a social network's author handle and the post's
# reference (it leads to the author). Not personal, left in clear: chat session, form, call and
# office ids, the operator's id, the network's name and the caller checks.
ORIGIN_FIELDS = ("from_address", "message_id", "caller_number", "author_handle", "post_reference")
# How a sealed field begins (casedesk_keys.fields, format version 1).
TOKEN_PREFIX = "cdk1."

# A citizen who acts (comments, confirms, rates, repeats) is named in each event's context by his
# portal login: sealed too, in every event of his case.
FIELD_ACTOR_ID = "actor.id"

# The free texts of the staff and citizens in a case's events: not personal by kind, but a person
# may write anything in them (a name, a phone number, a diagnosis), so they are sealed too. One
# name per kind of text, bound like the others to the case id.
# A status change's reason (a spam closing's explanation, a merged duplicate's closing included).
FIELD_STATUS_REASON = "status.reason"
# An escalation request's explanation (EscalationRequested.explanation).
FIELD_ESCALATION_EXPLANATION = "escalation.explanation"
# The citizen's comment on his rating of the answer (AnswerRated.comment, the case's rating).
FIELD_RATING_COMMENT = "rating.comment"
# A callback's note (CallbackRecorded.note).
FIELD_CALLBACK_NOTE = "callback.note"
# Why a duplicate was merged (MergedInto.reason).
FIELD_MERGE_REASON = "merge.reason"
# The citizen's reason for repeating a case, on the original (Repeated.reason; the new case has
# it as its sealed description).
FIELD_REPEAT_REASON = "repeat.reason"
# Every free text's name, for a reader that opens them all.
FREE_TEXT_FIELDS = (
    FIELD_STATUS_REASON,
    FIELD_ESCALATION_EXPLANATION,
    FIELD_RATING_COMMENT,
    FIELD_CALLBACK_NOTE,
    FIELD_MERGE_REASON,
    FIELD_REPEAT_REASON,
)


def citizen_field(name: str) -> str:
    """`citizen.<field>`: a field of the citizen record (`CITIZEN_FIELDS`)."""
    return f"citizen.{name}"


def content_field(name: str) -> str:
    """`content.<field>`: the case's subject, description, steps taken (`CONTENT_FIELDS`)."""
    return f"content.{name}"


def origin_field(name: str) -> str:
    """`origin.<field>`: a personal part of the provenance (`ORIGIN_FIELDS`)."""
    return f"origin.{name}"


def attachment_field(attachment_id: str) -> str:
    """An attachment's file name."""
    return f"attachment/{attachment_id}/file_name"


def comment_field(comment_id: str) -> str:
    """A comment's body (the citizen's and the specialists', public or internal)."""
    return f"comment/{comment_id}/body"


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
    "FREE_TEXT_FIELDS",
    "ORIGIN_FIELDS",
    "TOKEN_PREFIX",
    "attachment_field",
    "citizen_field",
    "comment_field",
    "content_field",
    "origin_field",
]
