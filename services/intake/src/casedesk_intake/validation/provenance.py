"""Provenance: where a case came from, in the form of the channel it came through."""

from __future__ import annotations

from collections.abc import Collection

from casedesk.common.v1 import types_pb2
from casedesk_intake.domain.identifiers import is_russian_phone
from casedesk_intake.validation import fields
from casedesk_intake.validation.fields import Violations

ORIGIN_OF_CHANNEL = {
    "PORTAL_CHAT": "chat",
    "PERSONAL_ACCOUNT": "personal_account",
    "EMAIL": "email",
    "PHONE": "phone",
    "SOCIAL": "social",
    "MFC": "mfc",
}


class ProvenanceCheck:
    """Checks and normalises the provenance in place; the channel decides which one is due."""

    def __init__(self, social_networks: Collection[str], reference_limit: int) -> None:
        self._networks = frozenset(n.lower() for n in social_networks)
        self._reference = reference_limit

    def check(self, found: Violations, origin: types_pb2.Provenance, channel: str) -> None:
        expected = ORIGIN_OF_CHANNEL.get(channel)
        if expected is None:
            return
        given = origin.WhichOneof("origin")
        if given is None:
            found.add(f"provenance.{expected}", f"is required for channel {channel}")
            return
        if given != expected:
            found.add("provenance", f"channel {channel} needs provenance.{expected}, not {given}")
            return
        reference = self._reference
        if given == "chat":
            origin.chat.session_id = found.text(
                "provenance.chat.session_id", origin.chat.session_id, reference, True
            )
        elif given == "personal_account":
            form = origin.personal_account
            form.form_id = found.text(
                "provenance.personal_account.form_id", form.form_id, reference, True
            )
        elif given == "email":
            mail = origin.email
            mail.message_id = found.text(
                "provenance.email.message_id", mail.message_id, reference, True
            )
            if not mail.from_address:
                found.add("provenance.email.from_address", "is required")
            mail.from_address = fields.email(
                found, "provenance.email.from_address", mail.from_address
            )
        elif given == "phone":
            self._phone_origin(found, origin.phone)
        elif given == "social":
            self._social_origin(found, origin.social)
        else:
            desk = origin.mfc
            desk.office_code = found.text("provenance.mfc.office_code", desk.office_code, 64, True)
            desk.operator_id = found.text("provenance.mfc.operator_id", desk.operator_id, 128, True)

    def _phone_origin(self, found: Violations, call: types_pb2.PhoneOrigin) -> None:
        call.call_id = found.text("provenance.phone.call_id", call.call_id, 128, True)
        if not call.caller_number:
            found.add("provenance.phone.caller_number", "is required for the callback")
            return
        call.caller_number = fields.phone(
            found, "provenance.phone.caller_number", call.caller_number
        )
        # A Russian number may still call from abroad (the international line), so the
        # contact centre's flag is kept; a foreign number is flagged whatever it said.
        if call.caller_number and not is_russian_phone(call.caller_number):
            call.from_abroad = True

    def _social_origin(self, found: Violations, post: types_pb2.SocialOrigin) -> None:
        network = post.network.strip().lower()
        if not network:
            found.add("provenance.social.network", "is required")
        elif network not in self._networks:
            found.add(
                "provenance.social.network", f"must be one of {', '.join(sorted(self._networks))}"
            )
        post.network = network
        post.post_reference = found.text(
            "provenance.social.post_reference", post.post_reference, self._reference, True
        )
        post.author_handle = found.text("provenance.social.author_handle", post.author_handle, 256)
