"""The citizen a case is about, and the identity intake keys his rate limit and files by."""

from __future__ import annotations

from dataclasses import dataclass

from casedesk_vocabulary.enums import ContactChannel


@dataclass(frozen=True)
class Citizen:
    full_name: str = ""
    snils: str = ""
    inn: str = ""
    account_login: str = ""
    mobile_phone: str = ""  # E.164 once checked
    email: str = ""
    preferred_contact: ContactChannel = ContactChannel.UNSPECIFIED

    def identity(self) -> str:
        return citizen_identity(self.account_login, self.email, self.mobile_phone)


def citizen_identity(login: str = "", email: str = "", phone: str = "") -> str:
    """The strongest identifier a request carries: the account login, else e-mail, else phone."""
    if login:
        return f"login:{login}"
    if email:
        return f"email:{email.lower()}"
    if phone:
        return f"phone:{phone}"
    return ""
