"""The sealed fields' names: one spelling for the service that seals and those that open."""

from __future__ import annotations

import os

from casedesk_keys import FieldContext, decrypt_field, encrypt_field
from casedesk_keys.data_keys import DataKey
from casedesk_keys.subjects import SubjectId
from casedesk_vocabulary import sealed_fields
from casedesk_vocabulary.sealed_fields import (
    TOKEN_PREFIX,
    attachment_field,
    citizen_field,
    comment_field,
    content_field,
    origin_field,
)


def test_names_are_the_wire_paths_tokens_are_bound_to() -> None:
    assert citizen_field("mobile_phone") == "citizen.mobile_phone"
    assert content_field("subject") == "content.subject"
    assert origin_field("message_id") == "origin.message_id"
    assert comment_field("c-7") == "comment/c-7/body"
    assert attachment_field("a-1") == "attachment/a-1/file_name"
    assert sealed_fields.FIELD_ACTOR_ID == "actor.id"


def test_the_sealed_lists_name_the_personal_fields() -> None:
    assert "mobile_phone" in sealed_fields.CITIZEN_FIELDS
    assert "email" in sealed_fields.CITIZEN_FIELDS
    assert "subject" in sealed_fields.CONTENT_FIELDS
    assert {"from_address", "message_id", "post_reference"} <= set(sealed_fields.ORIGIN_FIELDS)


def test_a_token_sealed_under_one_name_opens_under_the_same_name_only() -> None:
    key = DataKey(SubjectId(os.urandom(16)), 1, os.urandom(32))
    token = encrypt_field(
        key, "+79161234567", FieldContext("case-1", citizen_field("mobile_phone"))
    )
    assert token.startswith(TOKEN_PREFIX)
    opened = decrypt_field(key, token, FieldContext("case-1", citizen_field("mobile_phone")))
    assert opened == "+79161234567"


def test_the_staff_and_citizens_free_texts_have_distinct_names() -> None:
    names = sealed_fields.FREE_TEXT_FIELDS
    assert sealed_fields.FIELD_STATUS_REASON == "status.reason"
    assert sealed_fields.FIELD_RATING_COMMENT == "rating.comment"
    assert sealed_fields.FIELD_CALLBACK_NOTE == "callback.note"
    assert len(set(names)) == len(names) == 6
    # None collides with a citizen's, content's or provenance's field or the actor's login.
    others = {sealed_fields.FIELD_ACTOR_ID}
    others |= {citizen_field(n) for n in sealed_fields.CITIZEN_FIELDS}
    others |= {content_field(n) for n in sealed_fields.CONTENT_FIELDS}
    others |= {origin_field(n) for n in sealed_fields.ORIGIN_FIELDS}
    assert not set(names) & others
