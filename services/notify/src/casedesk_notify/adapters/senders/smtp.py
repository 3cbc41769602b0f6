"""E-mail over SMTP (aiosmtplib) through a small pool of kept-open connections.

Opening a connection (TCP, EHLO, STARTTLS, AUTH) costs more than sending one notification, so a
few connections are kept and reused; a connection the server dropped is reopened once on the spot.
SMTP reply codes decide what a failure is: 4xx temporary, 5xx permanent (RFC 5321 §4.2.1).

The transaction is written out step by step (MAIL, RCPT, DATA, the message) rather than through
`sendmail`, for two reasons. The recipient's form depends on what the server offers (SMTPUTF8 or
an IDNA domain, see `addresses`). And a failure after the whole message was handed over differs
from every other one: the server may have taken responsibility for the message and only its 250
got lost, so it is `OutcomeUnknown`, never an ordinary retry. That wait has its own, longer
timeout (RFC 5321 §4.5.3.2.6 recommends 10 minutes for it, because a spurious timeout there
duplicates the message).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Literal

import aiosmtplib

from casedesk_notify.adapters.senders.addresses import recipient_for
from casedesk_notify.adapters.senders.base import (
    EmailMessage,
    OutcomeUnknown,
    PermanentFailure,
    SendReceipt,
    TemporaryFailure,
)
from casedesk_notify.adapters.senders.mime import address_header, build_message
from casedesk_runtime.masking import mask_email, mask_text

TlsMode = Literal["none", "starttls", "tls"]


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 25
    tls: TlsMode = "none"  # "starttls": upgrade after EHLO (required); "tls": implicit TLS
    username: str | None = None
    password: str | None = None
    timeout_s: float = 10.0  # connecting and every command
    data_timeout_s: float = 60.0  # the reply to the end of the message (see the module text)
    pool_size: int = 4
    sender: str = "Служба поддержки <support@casedesk.local>"
    reply_to: str | None = None  # intake's ingestion mailbox, when it is not `sender`
    validate_certs: bool = True


_LEADING_DOT = re.compile(rb"^\.", re.MULTILINE)
# Any address-like word: the runtime's `mask_text` knows ASCII addresses only, and a server's
# refusal may quote `иван@почта.рф` back.
_ANY_ADDRESS = re.compile(r"""[^\s<>()\[\]"',;:@]+@[^\s<>()\[\]"',;:@]+""")


def _masked(text: str) -> str:
    return mask_text(_ANY_ADDRESS.sub(lambda m: mask_email(m.group()), text))


def classify(error: Exception) -> TemporaryFailure | PermanentFailure:
    """Provider error -> failure kind, with a text free of the recipient's address."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        codes = [refusal.code for refusal in error.recipients]
        detail = "; ".join(f"{r.code} {r.message}" for r in error.recipients)
        failure = TemporaryFailure if all(400 <= c < 500 for c in codes) else PermanentFailure
        return failure(_masked(f"SMTP recipient refused: {detail}"))
    if isinstance(error, aiosmtplib.SMTPRecipientRefused):
        failure = TemporaryFailure if 400 <= error.code < 500 else PermanentFailure
        return failure(_masked(f"SMTP recipient refused: {error.code} {error.message}"))
    if isinstance(error, aiosmtplib.SMTPResponseException):
        failure = TemporaryFailure if 400 <= error.code < 500 else PermanentFailure
        return failure(_masked(f"SMTP {error.code} {error.message}"))
    return TemporaryFailure(_masked(f"SMTP unavailable: {type(error).__name__}: {error}"))


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
        client = await self._idle.get()
        try:
            response = await self._send_on(client, message)
        except aiosmtplib.SMTPResponseException as error:
            raise classify(error) from None  # the session is reset and stays usable
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            _discard(client)  # state unknown: the next use reconnects
            raise classify(error) from None
        finally:
            self._idle.put_nowait(client)
        return SendReceipt(provider_message_id=response)

    async def _send_on(self, client: aiosmtplib.SMTP, message: EmailMessage) -> str:
        reused = client.is_connected
        if not reused:
            await _connect(client)
        try:
            return await self._transaction(client, message)
        except aiosmtplib.SMTPServerDisconnected:
            if not reused:
                raise
            # The server closed an idle connection: one fresh attempt on a new one. (Never after
            # the message was handed over: that is `OutcomeUnknown`, not a disconnect.)
            _discard(client)
            await _connect(client)
            return await self._transaction(client, message)

    async def _transaction(self, client: aiosmtplib.SMTP, message: EmailMessage) -> str:
        if client.is_ehlo_or_helo_needed:
            # The server's extensions decide how the recipient is written.
            try:
                await client.ehlo()
            except aiosmtplib.SMTPHeloError:
                await client.helo()  # a server without ESMTP: no SMTPUTF8, no SIZE
        recipient = recipient_for(message.to, client.supports_extension("smtputf8"))
        mime = build_message(
            message, self._from_header, self._config.reply_to, to=recipient.address
        )
        options, encoding = [], "ascii"
        if client.supports_extension("size"):
            options.append(f"SIZE={len(mime)}")
        if recipient.smtputf8:
            # RFC 6531 §3.4: SMTPUTF8 on MAIL; the UTF-8 header is 8-bit content (8BITMIME).
            options.append("SMTPUTF8")
            if client.supports_extension("8bitmime"):
                options.append("BODY=8BITMIME")
            encoding = "utf-8"
        try:
            await client.mail(self._envelope_from, options=options, encoding=encoding)
            await client.rcpt(recipient.address, encoding=encoding)
            start = await client.execute_command(b"DATA")
            if start.code != 354:
                raise aiosmtplib.SMTPDataError(start.code, start.message)
        except aiosmtplib.SMTPResponseException:
            await _reset(client)
            raise
        return await self._hand_over(client, mime)

    async def _hand_over(self, client: aiosmtplib.SMTP, mime: bytes) -> str:
        """Send the message and wait for the server to take responsibility for it (250)."""
        protocol = client.protocol
        if protocol is None:
            raise aiosmtplib.SMTPServerDisconnected("connection lost before the message")
        protocol.write(_LEADING_DOT.sub(b"..", mime) + b".\r\n")
        try:
            reply = await protocol.read_response(timeout=self._config.data_timeout_s)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            _discard(client)  # the reply may still come: this connection is out of step
            raise OutcomeUnknown(
                f"SMTP outcome unknown: no reply to the end of the message "
                f"({type(error).__name__}); it may have been accepted"
            ) from None
        if reply.code != 250:
            raise aiosmtplib.SMTPDataError(reply.code, reply.message)
        return reply.message

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


async def _reset(client: aiosmtplib.SMTP) -> None:
    """RSET after a refusal, so the kept connection starts its next transaction clean."""
    try:
        await client.rset()
    except (aiosmtplib.SMTPException, OSError, TimeoutError):
        _discard(client)


def _discard(client: aiosmtplib.SMTP) -> None:
    if client.is_connected:
        client.close()
