"""E-mail over SMTP (aiosmtplib) through a small pool of kept-open connections.

Opening a connection (TCP, EHLO, STARTTLS, AUTH) costs more than sending one notification, so a
few connections are kept and reused; a connection the server dropped is reopened once on the spot.
SMTP reply codes decide what a failure is: 4xx temporary, 5xx permanent (RFC 5321 §4.2.1).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Literal

import aiosmtplib

from casedesk_notify.adapters.senders.base import (
    EmailMessage,
    PermanentFailure,
    SendReceipt,
    TemporaryFailure,
)
from casedesk_notify.adapters.senders.mime import address_header, build_message
from casedesk_runtime.masking import mask_text

TlsMode = Literal["none", "starttls", "tls"]


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 25
    tls: TlsMode = "none"  # "starttls": upgrade after EHLO (required); "tls": implicit TLS
    username: str | None = None
    password: str | None = None
    timeout_s: float = 10.0
    pool_size: int = 4
    sender: str = "Служба поддержки <support@casedesk.local>"
    reply_to: str | None = None  # intake's ingestion mailbox, when it is not `sender`
    validate_certs: bool = True


def classify(error: Exception) -> TemporaryFailure | PermanentFailure:
    """Provider error -> failure kind, with a text free of the recipient's address."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        codes = [refusal.code for refusal in error.recipients]
        detail = "; ".join(f"{r.code} {r.message}" for r in error.recipients)
        failure = TemporaryFailure if all(400 <= c < 500 for c in codes) else PermanentFailure
        return failure(mask_text(f"SMTP recipient refused: {detail}"))
    if isinstance(error, aiosmtplib.SMTPResponseException):
        failure = TemporaryFailure if 400 <= error.code < 500 else PermanentFailure
        return failure(mask_text(f"SMTP {error.code} {error.message}"))
    return TemporaryFailure(mask_text(f"SMTP unavailable: {type(error).__name__}: {error}"))


class SmtpEmailSender:
    def __init__(self, config: SmtpConfig) -> None:
        self._config = config
        self._from_header, self._envelope_from = address_header(config.sender)
        # LIFO: the warmest connection goes out first, idle ones age out on the server side.
        self._idle: asyncio.LifoQueue[aiosmtplib.SMTP] = asyncio.LifoQueue()
        for _ in range(config.pool_size):
            self._idle.put_nowait(self._new_client())

    def _new_client(self) -> aiosmtplib.SMTP:
        config = self._config
        return aiosmtplib.SMTP(
            hostname=config.host,
            port=config.port,
            username=config.username,
            password=config.password,
            timeout=config.timeout_s,
            use_tls=config.tls == "tls",
            start_tls=config.tls == "starttls",
            validate_certs=config.validate_certs,
        )

    async def send(self, message: EmailMessage) -> SendReceipt:
        mime = build_message(message, self._from_header, self._config.reply_to)
        client = await self._idle.get()
        try:
            response = await self._send_on(client, message.to, mime)
        except aiosmtplib.SMTPResponseException as error:
            raise classify(error) from None  # the session is reset and stays usable
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            _discard(client)  # state unknown: the next use reconnects
            raise classify(error) from None
        finally:
            self._idle.put_nowait(client)
        return SendReceipt(provider_message_id=response)

    async def _send_on(self, client: aiosmtplib.SMTP, recipient: str, mime: bytes) -> str:
        reused = client.is_connected
        if not reused:
            await _connect(client)
        try:
            _, response = await client.sendmail(self._envelope_from, [recipient], mime)
        except aiosmtplib.SMTPServerDisconnected:
            if not reused:
                raise
            # The server closed an idle connection: one fresh attempt on a new one.
            _discard(client)
            await _connect(client)
            _, response = await client.sendmail(self._envelope_from, [recipient], mime)
        return response

    async def close(self) -> None:
        while not self._idle.empty():
            client = self._idle.get_nowait()
            if client.is_connected:
                try:
                    await asyncio.wait_for(client.quit(), timeout=2)
                except (aiosmtplib.SMTPException, OSError, TimeoutError):
                    client.close()


async def _connect(client: aiosmtplib.SMTP) -> None:
    """Connect, upgrade and authenticate, or leave the client closed (never half-way)."""
    try:
        await client.connect()
    except BaseException:
        _discard(client)
        raise


def _discard(client: aiosmtplib.SMTP) -> None:
    if client.is_connected:
        client.close()
