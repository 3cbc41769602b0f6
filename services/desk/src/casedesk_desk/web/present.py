"""What the templates show: the citizen card masked or revealed, times in Moscow time, who else
has the case open."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from casedesk_desk.application.ports import CitizenCard
from casedesk_desk.domain.presence import Viewer
from casedesk_runtime.masking import mask_email, mask_phone, mask_text
from casedesk_vocabulary.moscow import MOSCOW


@dataclass(frozen=True)
class CardLine:
    label: str
    value: str


def card(citizen: CitizenCard, revealed: bool) -> list[CardLine]:
    """The citizen card; personal data masked unless the specialist asked to see it (that read
    went to the access journal with its own purpose)."""
    lines = [
        ("ФИО", citizen.full_name, _mask_name),
        ("Учётная запись портала", citizen.account_login, _mask_login),
        ("СНИЛС", citizen.snils, mask_text),
        ("ИНН", citizen.inn, mask_text),
        ("Мобильный телефон", citizen.mobile_phone, mask_phone),
        ("Электронная почта", citizen.email, mask_email),
    ]
    return [
        CardLine(label, value if revealed else mask(value)) for label, value, mask in lines if value
    ]


def _mask_name(name: str) -> str:
    return " ".join(f"{word[:1]}***" for word in name.split())


def _mask_login(login: str) -> str:
    return f"{login[:2]}***" if len(login) > 2 else "***"


def moscow(at: datetime | None) -> str:
    if at is None:
        return "—"
    return at.astimezone(MOSCOW).strftime("%d.%m.%Y %H:%M")


def viewers_text(others: list[Viewer]) -> str:
    """«Сейчас открыто также у: Петров Пётр (L2)», or that nobody else has it open."""
    if not others:
        return "Сейчас это обращение больше никто не открыл."
    names = [f"{v.display_name} ({v.tier})" if v.tier else v.display_name for v in others]
    return "Сейчас это обращение открыто также у: " + ", ".join(names) + "."
