"""A real SMTP server and a real HTTP SMS gateway on loopback that keep what they receive, for the
one-time codes intake sends (each on its own thread, so sync and async tests alike can use them)."""

from __future__ import annotations

import email
import email.policy
import json
import re
import socket
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

CODE = re.compile(r"\b(\d{6})\b")


def code_in(text: str) -> str:
    found = CODE.search(text)
    assert found, f"no code in {text!r}"
    return found.group(1)


@dataclass
class MailSink:
    """aiosmtpd on 127.0.0.1; `messages` are the parsed messages it accepted."""

    messages: list[EmailMessage] = field(default_factory=list)

    def __post_init__(self) -> None:
        # aiosmtpd checks its server by connecting to the port, so it needs one up front.
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    def start(self) -> MailSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 2.0.0 accepted"

    def code_sent_to(self, address: str) -> str:
        (message,) = [m for m in self.messages if m["To"] == address]
        return code_in(message.get_content())


class SmsSink:
    """POST / with a JSON body; `received` keeps (fields, Authorization header)."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], str]] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                fields = json.loads(self.rfile.read(length))
                sink.received.append((fields, self.headers.get("Authorization", "")))
                body = b'{"message_id": "sms-1"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def start(self) -> SmsSink:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
