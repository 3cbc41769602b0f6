"""One-time codes by e-mail (SMTP) and SMS (an HTTP SMS gateway), with the same settings notify
uses for the same servers (CASEDESK_SMTP_*, CASEDESK_SMS_*).

Codes are few (rate-limited per case and per contact), so each goes on its own connection
through the standard library in a worker thread: no connection pool, no HTTP or SMTP client
dependency, and the event loop never waits for a mail server. A failure is a DeliveryFailed
whose text has no address or number in it; nothing is retried (the citizen asks again).
"""

from __future__ import annotations

import asyncio
import json
import smtplib
import ssl
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Literal

from casedesk_intake.application.ports import DeliveryFailed
from casedesk_intake.domain.access_codes import Contact, ContactKind
from casedesk_runtime.masking import mask_text

TlsMode = Literal["none", "starttls", "tls"]


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 25
    tls: TlsMode = "none"  # starttls: upgrade after EHLO (required); tls: implicit TLS
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str = "Служба поддержки <support@casedesk.local>"
    timeout_s: float = 10.0
    validate_certs: bool = True


class SmtpMail:
    def __init__(self, config: SmtpConfig) -> None:
        self._config = config
        domain = parseaddr(config.sender)[1].partition("@")[2]
        self._id_domain = domain or "casedesk.local"

    def message(self, to: str, subject: str, text: str) -> EmailMessage:
        message = EmailMessage()  # the default policy refuses line breaks in header values
        message["From"] = self._config.sender
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = make_msgid(domain=self._id_domain)
        # RFC 3834: no out-of-office replies to a code.
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(text)
        return message

    async def send(self, to: str, subject: str, text: str) -> None:
        try:
            message = self.message(to, subject, text)
        except ValueError:
            raise DeliveryFailed("the case's e-mail address cannot be used") from None
        await asyncio.to_thread(self._send, message)

    def _send(self, message: EmailMessage) -> None:
        config = self._config
        context = ssl.create_default_context()
        if not config.validate_certs:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        try:
            if config.tls == "tls":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    config.host, config.port, timeout=config.timeout_s, context=context
                )
            else:
                smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout_s)
            with smtp:
                if config.tls == "starttls":
                    smtp.starttls(context=context)
                if config.username:
                    smtp.login(config.username, config.password or "")
                smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as error:
            raise DeliveryFailed(mask_text(f"SMTP: {type(error).__name__}: {error}")) from None


@dataclass(frozen=True)
class SmsGatewayConfig:
    url: str
    token: str | None = field(default=None, repr=False)
    sender_name: str = ""
    field_to: str = "to"
    field_text: str = "text"
    field_client_id: str = "client_message_id"
    field_sender: str = "sender"
    timeout_s: float = 5.0


class SmsGateway:
    """POSTs a JSON object of the configured field names, as notify's gateway takes it."""

    def __init__(self, config: SmsGatewayConfig) -> None:
        self._config = config
        # No proxy from the environment and no redirects: the body carries a code.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects())

    def body(self, to: str, text: str) -> dict[str, str]:
        config = self._config
        fields = {
            config.field_to: to,
            config.field_text: text,
            config.field_client_id: str(uuid.uuid4()),
        }
        if config.sender_name:
            fields[config.field_sender] = config.sender_name
        return fields

    async def send(self, to: str, text: str) -> None:
        await asyncio.to_thread(self._send, self.body(to, text))

    def _send(self, fields: dict[str, str]) -> None:
        headers = {"Content-Type": "application/json"}
        if self._config.token:
            headers["Authorization"] = f"Bearer {self._config.token}"
        request = urllib.request.Request(
            self._config.url, data=json.dumps(fields).encode(), headers=headers, method="POST"
        )
        try:
            with self._opener.open(request, timeout=self._config.timeout_s) as response:
                response.read(64 * 1024)
        except urllib.error.HTTPError as error:
            raise DeliveryFailed(f"SMS gateway answered HTTP {error.code}") from None
        except (urllib.error.URLError, OSError) as error:
            raise DeliveryFailed(mask_text(f"SMS gateway unavailable: {error}")) from None


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class CodeSenders:
    """E-mail and SMS as configured; a kind without its server is not offered."""

    def __init__(self, mail: SmtpMail | None, sms: SmsGateway | None) -> None:
        self._mail = mail
        self._sms = sms

    def can_send(self, kind: ContactKind) -> bool:
        return (self._mail if kind == "email" else self._sms) is not None

    async def send(self, contact: Contact, subject: str, text: str) -> None:
        if contact.kind == "email" and self._mail is not None:
            await self._mail.send(contact.address, subject, text)
        elif contact.kind == "sms" and self._sms is not None:
            await self._sms.send(contact.address, text)
        else:
            raise DeliveryFailed(f"no {contact.kind} sender is configured")
