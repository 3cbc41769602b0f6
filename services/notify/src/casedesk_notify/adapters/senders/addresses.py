"""How a citizen's e-mail address is written in one SMTP transaction.

Intake accepts internationalised addresses (`ivan@почта.рф`). An ASCII address goes as it is. A
server that offers SMTPUTF8 (RFC 6531) takes the address as the citizen wrote it. Without
SMTPUTF8 the envelope and the header must be ASCII: a non-ASCII domain is written as its IDNA
A-label (`xn--80a1acny.xn--p1ai`, the same domain for DNS and every mail server), but a non-ASCII
local part has no ASCII form at all (only the receiving domain could interpret one), so that
delivery fails for good at once, with the reason, instead of being retried into a dead letter.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from casedesk_notify.adapters.senders.base import PermanentFailure

# Failure texts never quote the address (the journal and logs carry masked recipients only).
NEEDS_SMTPUTF8 = (
    "recipient's local part is not ASCII and the SMTP server does not offer SMTPUTF8 "
    "(RFC 6531): no server configured here can deliver it"
)
INVALID_DOMAIN = "recipient domain is not a valid internationalised domain name (IDNA)"


@dataclass(frozen=True)
class Recipient:
    address: str  # for RCPT TO and the To header
    smtputf8: bool  # the transaction needs SMTPUTF8 (MAIL FROM ... SMTPUTF8)


def recipient_for(address: str, server_offers_smtputf8: bool) -> Recipient:
    """The recipient as this server can take it; raises `PermanentFailure` when it cannot."""
    # One spelling of the same characters (composed), as IDNA and the mailbox would use.
    address = unicodedata.normalize("NFC", address)
    if address.isascii():
        return Recipient(address, smtputf8=False)
    local, _, domain = address.rpartition("@")
    a_label = ascii_domain(domain)  # checked either way: an invalid domain never delivers
    if server_offers_smtputf8:
        return Recipient(address, smtputf8=True)
    if not local.isascii():
        raise PermanentFailure(NEEDS_SMTPUTF8)
    return Recipient(f"{local}@{a_label}", smtputf8=False)


def ascii_domain(domain: str) -> str:
    """The domain's IDNA A-labels (Python's codec: IDNA 2003 with nameprep, which lowercases).

    For Cyrillic (and most scripts) IDNA 2003 and 2008 give the same labels; the standard
    library's codec avoids a dependency for the few characters where they differ (ß, ς).
    """
    if domain.isascii():
        return domain
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise PermanentFailure(INVALID_DOMAIN) from None
