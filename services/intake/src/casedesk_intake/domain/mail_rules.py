"""Which mail intake leaves alone: written by a program, sent to many, or likely forged.

Such a message naming a case must not become the citizen's comment (the case service would take
it for his answer and resume the case's SLA clock), nor a new case (whose acknowledgement would
answer a robot, which may answer back: a mail loop). It is accepted and ignored, with its reason.

The marks are the sender's own (RFC 3834 Auto-Submitted, the de-facto X-Autoreply, X-Autorespond
and Precedence, RFC 2369/2919 List-*, a delivery or read report), so a forged mark only gets its
forger's mail ignored. An authentication failure is the opposite: only the organisation's gateway
may say it, under its authserv-id, which must therefore be configured (`trusted_authserv_ids`);
the gateway must remove such fields that arrive with its id (RFC 8601 section 5). A DMARC fail
under it counts whatever else is claimed there; SPF and DKIM fails give way to a DMARC pass.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass

from casedesk_intake.domain.authentication_results import parse_authentication_results

SCREENED_FIELDS = frozenset(
    {
        "auto-submitted",
        "x-autoreply",
        "x-autorespond",
        "precedence",
        "list-id",
        "list-unsubscribe",
        "return-path",
        "content-type",
        "authentication-results",
    }
)
# Mail clients' and servers' subjects of out-of-office replies (Outlook, Exchange, Yandex, Mail.ru,
# Gmail's default), always followed by a colon, so a citizen's "Автоответ не пришёл" is not one.
_OUT_OF_OFFICE = re.compile(
    r"^\s*(automatic reply|auto[- ]?reply|autoresponse|out of (the )?office|"
    r"автоматический ответ|автоответ|автоответчик|вне офиса|нет на месте)\s*:",
    re.IGNORECASE,
)
_TOKEN = re.compile(r"[a-z0-9_.-]{1,40}")
_REPORTS = frozenset(
    {"multipart/report", "message/delivery-status", "message/disposition-notification"}
)
_AUTORESPONDER_FIELDS = {"x-autoreply": "X-Autoreply", "x-autorespond": "X-Autorespond"}


class IgnoredReason(enum.Enum):
    AUTOMATIC = "AUTOMATIC"
    BULK = "BULK"
    FAILED_AUTHENTICATION = "FAILED_AUTHENTICATION"


@dataclass(frozen=True)
class MailIgnored:
    reason: IgnoredReason
    detail: str  # the header that decided, in intake's words: no address, no free text


def why_ignored(
    marks: Iterable[tuple[str, str]], subject: str, trusted_authserv_ids: Iterable[str] = ()
) -> MailIgnored | None:
    """The reason to leave the message alone, or None for a person's mail.

    `marks`: the message's top-level SCREENED_FIELDS as (lower-case name, raw value)."""
    marks = list(marks)
    return (
        _automatic(marks, subject)
        or _bulk(marks)
        or _failed_authentication(marks, {i.lower() for i in trusted_authserv_ids})
    )


def _first_token(value: str) -> str:
    words = value.strip().lower().replace(";", " ").split()
    return words[0] if words else ""


def _shown(token: str) -> str:
    return token if _TOKEN.fullmatch(token) else "(other)"


def _automatic(marks: list[tuple[str, str]], subject: str) -> MailIgnored | None:
    def automatic(detail: str) -> MailIgnored:
        return MailIgnored(IgnoredReason.AUTOMATIC, detail)

    for name, value in marks:
        token = _first_token(value)
        if name == "auto-submitted" and token != "no":
            return automatic(f"Auto-Submitted: {_shown(token)}")
        if name in _AUTORESPONDER_FIELDS and token not in ("no", "false", "0"):
            return automatic(f"{_AUTORESPONDER_FIELDS[name]} present")
        if name == "precedence" and token == "auto_reply":
            return automatic("Precedence: auto_reply")
        if name == "return-path" and value.replace(" ", "") == "<>":
            return automatic("Return-Path: <> (a delivery report)")
        if name == "content-type" and token in _REPORTS:
            return automatic(f"Content-Type: {token}")
    if _OUT_OF_OFFICE.match(subject):
        return automatic("an out-of-office subject")
    return None


def _bulk(marks: list[tuple[str, str]]) -> MailIgnored | None:
    for name, value in marks:
        token = _first_token(value)
        if name == "precedence" and token in ("bulk", "list", "junk"):
            return MailIgnored(IgnoredReason.BULK, f"Precedence: {token}")
        if name == "list-id":
            return MailIgnored(IgnoredReason.BULK, "List-Id present")
        if name == "list-unsubscribe":
            return MailIgnored(IgnoredReason.BULK, "List-Unsubscribe present")
    return None


def _failed_authentication(marks: list[tuple[str, str]], trusted: set[str]) -> MailIgnored | None:
    if not trusted:
        return None
    found = [
        results
        for name, value in marks
        if name == "authentication-results"
        and (results := parse_authentication_results(value)) is not None
        and results.authserv_id in trusted
    ]

    def says(method: str, result: str) -> bool:
        return any(results.says(method, result) for results in found)

    def failed(method: str) -> MailIgnored:
        gateway = found[0].authserv_id
        return MailIgnored(IgnoredReason.FAILED_AUTHENTICATION, f"{method}=fail by {gateway}")

    # DMARC is the verdict on the From address itself; SPF or DKIM alone fail for forwarded or
    # re-signed mail that DMARC still passes.
    if says("dmarc", "fail"):
        return failed("dmarc")
    if says("dmarc", "pass"):
        return None
    if says("spf", "fail"):
        return failed("spf")
    if says("dkim", "fail") and not says("dkim", "pass"):
        return failed("dkim")
    return None
