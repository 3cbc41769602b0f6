"""Provenance: where a case came from, in the form of the channel it came through.

A call from abroad (the international number, or a foreign caller number) is taken only from a
caller the operator identified in all three ways the seed's «Звонок из-за границы» lists: the
Russian mobile number of his personal account, his full name, date of birth and SNILS as in the
profile, and a one-time code sent by SMS to that mobile. Other calls keep the checks as given.
A social post or private message is named in its network's own terms (social_references.py).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace

from casedesk_intake.domain import field_rules
from casedesk_intake.domain.field_rules import Violations
from casedesk_intake.domain.identifiers import is_russian_phone
from casedesk_intake.domain.social_references import reference_problem
from casedesk_intake.domain.submissions import (
    ORIGIN_NAMES,
    ORIGIN_OF_CHANNEL,
    CallerCheck,
    ChatOrigin,
    EmailOrigin,
    MfcOrigin,
    Origin,
    PersonalAccountOrigin,
    PhoneOrigin,
    SocialOrigin,
)
from casedesk_vocabulary.enums import Channel


class ProvenanceRules:
    """Checks and normalises the provenance; the channel decides which one is due."""

    def __init__(self, social_networks: Collection[str], reference_limit: int) -> None:
        self._networks = frozenset(n.lower() for n in social_networks)
        self._reference = reference_limit

    def check(
        self, found: Violations, origin: Origin | None, channel: Channel | None
    ) -> Origin | None:
        """The normalised provenance (as given when it cannot be checked)."""
        expected = ORIGIN_OF_CHANNEL.get(channel) if channel is not None else None
        if expected is None:
            return origin
        if origin is None:
            found.add(f"provenance.{expected}", f"is required for channel {channel.value}")  # type: ignore[union-attr]
            return origin
        given = ORIGIN_NAMES[type(origin)]
        if given != expected:
            found.add(
                "provenance",
                f"channel {channel.value} needs provenance.{expected}, not {given}",  # type: ignore[union-attr]
            )
            return origin
        reference = self._reference
        if isinstance(origin, ChatOrigin):
            return ChatOrigin(
                found.text("provenance.chat.session_id", origin.session_id, reference, True)
            )
        if isinstance(origin, PersonalAccountOrigin):
            return PersonalAccountOrigin(
                found.text("provenance.personal_account.form_id", origin.form_id, reference, True)
            )
        if isinstance(origin, EmailOrigin):
            message_id = found.text(
                "provenance.email.message_id", origin.message_id, reference, True
            )
            if not origin.from_address:
                found.add("provenance.email.from_address", "is required")
            from_address = field_rules.email(
                found, "provenance.email.from_address", origin.from_address
            )
            return EmailOrigin(message_id, from_address)
        if isinstance(origin, PhoneOrigin):
            return self._phone_origin(found, origin)
        if isinstance(origin, SocialOrigin):
            return self._social_origin(found, origin)
        assert isinstance(origin, MfcOrigin)
        return MfcOrigin(
            found.text("provenance.mfc.office_code", origin.office_code, 64, True),
            found.text("provenance.mfc.operator_id", origin.operator_id, 128, True),
        )

    def _phone_origin(self, found: Violations, call: PhoneOrigin) -> PhoneOrigin:
        call = replace(
            call, call_id=found.text("provenance.phone.call_id", call.call_id, 128, True)
        )
        if not call.caller_number:
            found.add("provenance.phone.caller_number", "is required for the callback")
            return call
        number = field_rules.phone(found, "provenance.phone.caller_number", call.caller_number)
        # A Russian number may still call from abroad (the international line), so the
        # contact centre's flag is kept; a foreign number is flagged whatever it said.
        from_abroad = call.from_abroad or bool(number and not is_russian_phone(number))
        _caller_checks(found, call.caller_checks, from_abroad)
        return replace(call, caller_number=number, from_abroad=from_abroad)

    def _social_origin(self, found: Violations, post: SocialOrigin) -> SocialOrigin:
        network = post.network.strip().lower()
        if not network:
            found.add("provenance.social.network", "is required")
        elif network not in self._networks:
            found.add(
                "provenance.social.network", f"must be one of {', '.join(sorted(self._networks))}"
            )
        field = "provenance.social.post_reference"
        reference = found.text(field, post.post_reference, self._reference, True)
        if reference and not _reported(found, field):
            problem = reference_problem(network, reference, post.private_message)
            if problem is not None:
                found.add(field, problem)
        return SocialOrigin(
            network=network,
            post_reference=reference,
            author_handle=found.text("provenance.social.author_handle", post.author_handle, 256),
            private_message=post.private_message,
        )


def _caller_checks(
    found: Violations, checks: tuple[CallerCheck | None, ...], from_abroad: bool
) -> None:
    """None in `checks`: a value the contract does not know (or its zero)."""
    field = "provenance.phone.caller_checks"
    unknown = [str(index) for index, check in enumerate(checks) if check is None]
    if unknown:
        found.add(field, f"[{', '.join(unknown)}] not a known check: {', '.join(_CHECK_NAMES)}")
    if not from_abroad:
        return
    missing = [check.value for check in CallerCheck if check not in checks]
    if missing:
        found.add(
            field,
            "a call from abroad is taken only from a caller identified in all three ways "
            f"(«Звонок из-за границы»); missing: {', '.join(missing)}",
        )


_CHECK_NAMES = tuple(check.value for check in CallerCheck)


def _reported(found: Violations, field: str) -> bool:
    return any(reported == field for reported, _ in found.items)
