"""Real receiving ends for tests and the benchmark: an SMTP server and an HTTP SMS gateway.

Both record what they accepted (with the instant of acceptance) and can be told to answer with
temporary failures for a while, so retry behaviour is exercised against real protocols. The SMTP
server can also stall (accept a message and answer too late, or stall before the message) and
offer SMTPUTF8 or not. The SMTP server needs the dev dependency aiosmtpd; nothing in the service
imports this module.
"""

from __future__ import annotations

import asyncio
import email
import email.parser
import email.policy
import functools
import socket
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiohttp import web


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


_HEADERS = email.parser.BytesHeaderParser()


@dataclass
class AcceptedEmail:
    accepted_at: float  # time.time() when the server answered 250 to DATA
    recipients: tuple[str, ...]
    raw: bytes
    peer: tuple[str, int]  # the client's address: one per SMTP connection
    smtputf8: bool = False  # MAIL FROM carried the SMTPUTF8 parameter
    message_id: str = ""

    def __post_init__(self) -> None:
        # Headers only: cheap enough for the benchmark's hundreds of messages per second.
        self.message_id = str(_HEADERS.parsebytes(self.raw)["Message-ID"])

    @functools.cached_property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        return parsed  # type: ignore[return-value]

    def body(self, subtype: str) -> str:
        part = self.message.get_body(preferencelist=(subtype,))
        return part.get_content() if part is not None else ""


@dataclass
class _Failures:
    remaining: int = 0
    reply: str = "451 4.3.0 Temporary local problem, try later"


@dataclass
class _Stalls:
    remaining: int = 0
    seconds: float = 0.0
    at: str = "data"  # "data": keep the message, answer late; "rcpt": before any message


class SmtpSink:
    """An aiosmtpd server on 127.0.0.1 (own thread) that keeps every accepted message.

    `smtputf8`: the server offers SMTPUTF8 (RFC 6531); without it, aiosmtpd refuses non-ASCII
    in MAIL and RCPT, as a strict ASCII server does.
    """

    def __init__(
        self, username: str | None = None, password: str | None = None, *, smtputf8: bool = False
    ) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        self.port = free_port()
        self.accepted: list[AcceptedEmail] = []
        self.refused = 0
        self.stalled = 0
        self._failures = _Failures()
        self._stalls = _Stalls()
        self._lock = threading.Lock()
        auth: dict[str, Any] = {}
        if username is not None:

            def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any):
                ok = data.login.decode() == username and data.password.decode() == password
                return AuthResult(success=ok)

            auth = {
                "authenticator": authenticator,
                "auth_require_tls": False,
                "auth_required": True,
            }
        self._controller = Controller(
            self, hostname="127.0.0.1", port=self.port, enable_SMTPUTF8=smtputf8, **auth
        )

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def fail_next(self, count: int, reply: str = "451 4.3.0 Temporary local problem, try later"):
        with self._lock:
            self._failures = _Failures(count, reply)

    def stall_next(self, count: int, seconds: float, at: str = "data") -> None:
        """Stall the next `count` transactions for `seconds`: at "data" the message is kept (the
        server took responsibility) and the 250 comes too late; at "rcpt" nothing is kept."""
        with self._lock:
            self._stalls = _Stalls(count, seconds, at)

    def _stall_at(self, stage: str) -> float:
        with self._lock:
            if self._stalls.remaining > 0 and self._stalls.at == stage:
                self._stalls.remaining -= 1
                self.stalled += 1
                return self._stalls.seconds
        return 0.0

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if stall := self._stall_at("rcpt"):
            await asyncio.sleep(stall)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            if self._failures.remaining > 0:
                self._failures.remaining -= 1
                self.refused += 1
                return self._failures.reply
        accepted = AcceptedEmail(
            time.time(),
            tuple(envelope.rcpt_tos),
            envelope.content,
            tuple(session.peer),
            smtputf8=bool(envelope.smtp_utf8),
        )
        with self._lock:
            self.accepted.append(accepted)
        if stall := self._stall_at("data"):
            await asyncio.sleep(stall)  # accepted, but the client gives up before the 250
        return "250 2.0.0 Message accepted for delivery"

    def snapshot(self) -> list[AcceptedEmail]:
        with self._lock:
            return list(self.accepted)


@dataclass(frozen=True)
class AcceptedSms:
    accepted_at: float
    fields: dict[str, str]
    authorization: str


@dataclass
class SmsSink:
    """A minimal HTTP SMS gateway: POST / with JSON or form fields, answers {"message_id": ...}.

    With `deduplicate`, it behaves like a gateway that honours client message ids (notify sends
    its notification id as one): a request repeating an accepted id (notify's retry after a
    timed-out answer) gets the first answer and is kept in `repeated`, not sent again.
    """

    token: str | None = None
    deduplicate: bool = False
    accepted: list[AcceptedSms] = field(default_factory=list)
    repeated: list[AcceptedSms] = field(default_factory=list)
    port: int = 0
    _fail_remaining: int = 0
    _fail_status: int = 503
    _delay_s: float = 0.0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/send"

    def fail_next(self, count: int, status: int = 503) -> None:
        self._fail_remaining, self._fail_status = count, status

    def delay(self, seconds: float) -> None:
        self._delay_s = seconds

    async def start(self) -> SmsSink:
        app = web.Application()
        app.router.add_post("/send", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        self.port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        if self._delay_s:
            await asyncio.sleep(self._delay_s)
        authorization = request.headers.get("Authorization", "")
        if self.token is not None and authorization != f"Bearer {self.token}":
            return web.json_response({"error": "unauthorized"}, status=401)
        if self._fail_remaining > 0:
            self._fail_remaining -= 1
            return web.json_response({"error": "try later"}, status=self._fail_status)
        if request.content_type == "application/json":
            fields = {str(k): str(v) for k, v in (await request.json()).items()}
        else:
            fields = {str(k): str(v) for k, v in (await request.post()).items()}
        sms = AcceptedSms(time.time(), fields, authorization)
        client_id = fields.get("client_message_id")
        if self.deduplicate and client_id:
            for number, earlier in enumerate(self.accepted, start=1):
                if earlier.fields.get("client_message_id") == client_id:
                    self.repeated.append(sms)
                    return web.json_response({"message_id": f"gw-{number}"})
        self.accepted.append(sms)
        return web.json_response({"message_id": f"gw-{len(self.accepted)}"})
