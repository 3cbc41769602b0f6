"""Raw mail is read on worker threads, never on the event loop.

Even within its limits (domain/mail_limits.py) the standard library's parser takes up to a second
of pure Python on a large message; on the loop that second would stall every call in progress.
On a worker the loop keeps running: the interpreter hands it the GIL every few milliseconds (its
switch interval), so other calls are answered, a little slower, while a message is read. The
workers are few, so a burst of large messages queues for them instead of taking more of the CPU;
how many calls can wait is bounded by the edge's calls-in-progress limit per frontend.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

from casedesk_intake.domain.errors import InvalidRequest
from casedesk_intake.domain.inbound_email import InboundEmail, MalformedEmail, parse_email
from casedesk_intake.domain.mail_limits import MailLimits
from casedesk_intake.domain.mail_rules import MailIgnored, why_ignored


@dataclasses.dataclass(frozen=True)
class ReadMail:
    email: InboundEmail
    ignored: MailIgnored | None  # why intake leaves it alone; None: a person's mail


class MailReader:
    def __init__(
        self,
        limits: MailLimits,
        trusted_authserv_ids: Iterable[str] = (),
        workers: int = 2,
        parse: Callable[[bytes, MailLimits], InboundEmail] = parse_email,
    ) -> None:
        if workers < 1:
            raise ValueError("mail parse workers must be at least 1")
        self._limits = limits
        self._trusted = frozenset(trusted_authserv_ids)
        self._parse = parse
        self._workers = ThreadPoolExecutor(workers, thread_name_prefix="mail-parse")

    async def read(self, raw: bytes) -> ReadMail:
        """The message and the verdict on it; InvalidRequest on `raw_message` when unreadable or
        over a limit (the text names which)."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._workers, self._read, raw)
        except MalformedEmail as problem:
            raise InvalidRequest([("raw_message", str(problem))]) from None

    def _read(self, raw: bytes) -> ReadMail:
        email = self._parse(raw, self._limits)
        return ReadMail(email, why_ignored(email.marks, email.subject, self._trusted))

    def close(self) -> None:
        """Stop the workers once the messages being read are done (at shutdown)."""
        self._workers.shutdown(wait=False, cancel_futures=True)
