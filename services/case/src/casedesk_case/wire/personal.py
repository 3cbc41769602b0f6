"""Sealed personal fields opened in the read RPCs' replies (issue #18; application/personal_data.py
seals them as commands are decided).

`ReplyOpener.open(message)` walks a protobuf reply (CaseView, CaseSummary, CaseEvent and whatever
holds them) and replaces each token (`cdk1.…`) by its text in place, under the field names the
sealing used: `citizen.<field>` in a Citizen, `content.<field>` in a CaseContent,
`origin.<field>` in a Provenance's variant, `attachment/<id>/file_name` in an Attachment,
`comment/<id>/body` in a CommentView or a Commented event, `actor.id` in an Actor (a citizen
who acts: an event's `meta.actor`, a comment's author), the free texts (`status.reason` in a
StatusChanged, `escalation.explanation`, `rating.comment` in an AnswerRated or the view's
AnswerRating, `callback.note`, `merge.reason`, `repeat.reason`: personal_fields.FREE_TEXTS);
the case id from the nearest CaseView, CaseSummary (`case_id`) or CaseEvent (`meta.case_id`).
Texts that are not tokens (cases stored with sealing off) are left as they are.

A case whose citizen was erased: a view of that one case (GetCase, GetHistory, WatchCase, a
command's reply) is refused with `CitizenErased` (FAILED_PRECONDITION, grpc_api/errors.py);
a list view (CaseSummary: ListCases, WatchQueue) shows `ERASED` in place of each personal text,
so the desk's queue and reports still list and count the case.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from google.protobuf.message import Message

from casedesk_case.application.personal_fields import (
    CITIZEN_FIELDS,
    CONTENT_FIELDS,
    FIELD_ACTOR_ID,
    FIELD_RATING_COMMENT,
    FREE_TEXTS,
    ORIGIN_FIELDS,
    CitizenErased,
    attachment_field,
    citizen_field,
    comment_field,
    content_field,
    origin_field,
)

if TYPE_CHECKING:  # casedesk_keys is imported only when sealing is on
    from casedesk_case.application.personal_data import PersonalData

# What a list view shows in place of an erased citizen's personal texts.
ERASED = "[erased]"

_ACTOR = "casedesk.common.v1.Actor"
_CITIZEN = "casedesk.common.v1.Citizen"
_CONTENT = "casedesk.common.v1.CaseContent"
_PROVENANCE = "casedesk.common.v1.Provenance"
_ATTACHMENT = "casedesk.common.v1.Attachment"
_COMMENT_VIEW = "casedesk.case.v1.CommentView"
_COMMENTED = "casedesk.case.v1.Commented"
_CASE_VIEW = "casedesk.case.v1.CaseView"
_CASE_SUMMARY = "casedesk.case.v1.CaseSummary"
_CASE_EVENT = "casedesk.case.v1.CaseEvent"
# The free texts: each event message that carries one (named as the domain's events), and the
# case view's rating; (attribute, field name).
_FREE_TEXTS = {
    f"casedesk.case.v1.{kind}": (attribute, field) for kind, attribute, field in FREE_TEXTS
}
_FREE_TEXTS["casedesk.case.v1.AnswerRating"] = ("comment", FIELD_RATING_COMMENT)


class ReplyOpener:
    """Opens the sealed fields of replies; one per process, used on the event loop."""

    def __init__(self, personal: PersonalData) -> None:
        self._personal = personal

    async def open(self, message: Message, erased: str | None = None) -> Message:
        """`message` with its sealed fields opened (in place; returned for convenience).
        `erased`: what an erased citizen's texts become everywhere (a command's reply: the
        command is stored, its reply must not look refused); None: ERASED in list views,
        CitizenErased elsewhere."""
        await self._walk(message, "", erased)
        return message

    async def _walk(self, message: Message, case_id: str, erased: str | None) -> None:
        kind = message.DESCRIPTOR.full_name
        if kind in (_CASE_VIEW, _CASE_SUMMARY):
            case_id = message.case_id  # type: ignore[attr-defined]
        elif kind == _CASE_EVENT:
            case_id = message.meta.case_id  # type: ignore[attr-defined]
        if kind == _CASE_SUMMARY:
            erased = ERASED if erased is None else erased
            await self._summary(message, case_id, erased)
        elif kind == _CITIZEN:
            await self._fields(message, case_id, CITIZEN_FIELDS, citizen_field, erased)
        elif kind == _CONTENT:
            await self._fields(message, case_id, CONTENT_FIELDS, content_field, erased)
        elif kind == _PROVENANCE:
            variant_name = message.WhichOneof("origin")
            if variant_name is not None:
                variant = getattr(message, variant_name)
                names = [n for n in ORIGIN_FIELDS if n in variant.DESCRIPTOR.fields_by_name]
                await self._fields(variant, case_id, names, origin_field, erased)
            return
        elif kind == _ACTOR:  # a citizen who acts is named by his sealed login
            actor: Any = message
            actor.id = await self._text(case_id, FIELD_ACTOR_ID, actor.id, erased)
            return
        elif kind == _ATTACHMENT:
            attachment: Any = message
            field = attachment_field(attachment.attachment_id)
            attachment.file_name = await self._text(case_id, field, attachment.file_name, erased)
            return
        elif kind in _FREE_TEXTS:
            attribute, field = _FREE_TEXTS[kind]
            text = getattr(message, attribute)
            if text:
                setattr(message, attribute, await self._text(case_id, field, text, erased))
            return
        elif kind in (_COMMENT_VIEW, _COMMENTED):
            comment: Any = message
            field = comment_field(comment.comment_id)
            comment.body = await self._text(case_id, field, comment.body, erased)
        for descriptor, value in message.ListFields():
            if descriptor.message_type is None or descriptor.message_type.GetOptions().map_entry:
                continue
            if descriptor.message_type.full_name.startswith("google.protobuf."):
                continue
            if descriptor.is_repeated:
                for item in value:
                    await self._walk(item, case_id, erased)
            else:
                await self._walk(value, case_id, erased)

    async def _summary(self, summary: Any, case_id: str, erased: str) -> None:
        subject = content_field("subject")
        summary.subject = await self._text(case_id, subject, summary.subject, erased)

    async def _fields(
        self, message: Any, case_id: str, names: Any, field_name: Any, erased: str | None
    ) -> None:
        for name in names:
            value = getattr(message, name)
            if value:
                setattr(message, name, await self._text(case_id, field_name(name), value, erased))

    async def _text(self, case_id: str, field: str, value: str, erased: str | None) -> str:
        try:
            return await self._personal.open(case_id, field, value)
        except CitizenErased:
            if erased is None:
                raise
            return erased
