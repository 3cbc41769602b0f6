"""Intake's vault messages -> the desk's attachment values; its status -> Refused.

Intake answers a case the person may not read as the case service answered (NOT_FOUND or
PERMISSION_DENIED), an erased citizen's file with FAILED_PRECONDITION "erased".
"""

from __future__ import annotations

import grpc

from casedesk_desk.domain.errors import RefusalKind, Refused
from casedesk_desk.domain.words import refusal_text


def refused(error: grpc.aio.AioRpcError) -> Refused:
    code, detail = error.code(), error.details() or ""
    if code == grpc.StatusCode.PERMISSION_DENIED:
        return Refused(RefusalKind.FORBIDDEN, refusal_text(detail), detail)
    if code == grpc.StatusCode.NOT_FOUND:
        return Refused(RefusalKind.NOT_FOUND, "Вложение не найдено.", detail)
    if code == grpc.StatusCode.FAILED_PRECONDITION and "erased" in detail:
        return Refused(
            RefusalKind.GONE,
            "Вложение недоступно: персональные данные гражданина удалены по его требованию.",
            detail,
        )
    if code == grpc.StatusCode.FAILED_PRECONDITION:
        return Refused(RefusalKind.CONFLICT, "Вложение сейчас недоступно.", detail)
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return Refused(RefusalKind.SIGNED_OUT, "Сеанс истёк, войдите снова.", detail)
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return Refused(RefusalKind.NOT_FOUND, "Вложение не найдено.", detail)
    return Refused(
        RefusalKind.UNAVAILABLE, "Хранилище вложений недоступно, повторите через минуту.", detail
    )


def refused_empty() -> Refused:
    """Intake ended the stream without describing the file: a broken contract, not the
    specialist's doing."""
    return Refused(
        RefusalKind.UNAVAILABLE,
        "Хранилище вложений не отдало файл, повторите через минуту.",
        "OpenAttachment ended without the attachment's description",
    )
