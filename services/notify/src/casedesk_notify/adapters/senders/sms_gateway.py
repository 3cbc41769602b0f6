"""SMS through an HTTP SMS gateway (aiohttp).

Gateways differ in field names and body encoding, so both are configuration: a JSON object or an
HTML form with configurable field names, a bearer token, and the name of the response field that
carries the provider's message id. The notification id travels as the client message id, so a
gateway that deduplicates on it absorbs the rare duplicate a crash can cause.
Status codes decide the failure kind: 5xx, 408 and 429 are temporary, other 4xx permanent. A
request that was sent and then got no answer (a timeout after connecting, a dropped connection) is
`OutcomeUnknown`: the gateway may have taken the SMS, and the resend under the same client id is a
duplicate a deduplicating gateway drops.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

import aiohttp

from casedesk_notify.adapters.senders.base import (
    OutcomeUnknown,
    PermanentFailure,
    SendReceipt,
    SmsMessage,
    TemporaryFailure,
)
from casedesk_runtime.masking import mask_text

_TEMPORARY_STATUSES = frozenset({408, 425, 429})


@dataclass(frozen=True)
class SmsGatewayConfig:
    url: str
    token: str | None = None
    body_format: Literal["json", "form"] = "json"
    sender_name: str = ""
    field_to: str = "to"
    field_text: str = "text"
    field_client_id: str = "client_message_id"
    field_sender: str = "sender"
    response_id_field: str = "message_id"
    timeout_s: float = 5.0
    max_connections: int = 16


class HttpSmsSender:
    def __init__(self, config: SmsGatewayConfig) -> None:
        self._config = config
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        # Created lazily: a ClientSession must be made inside the running event loop.
        if self._session is None or self._session.closed:
            token = self._config.token
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            self._session = aiohttp.ClientSession(
                headers=headers,
                # Connecting has its own limit, so that a timeout there reads as "not sent".
                timeout=aiohttp.ClientTimeout(
                    total=self._config.timeout_s, sock_connect=self._config.timeout_s / 2
                ),
                connector=aiohttp.TCPConnector(limit=self._config.max_connections),
            )
        return self._session

    def body(self, message: SmsMessage) -> dict[str, str]:
        config = self._config
        fields = {
            config.field_to: message.to,
            config.field_text: message.text,
            config.field_client_id: message.client_id,
        }
        if config.sender_name:
            fields[config.field_sender] = config.sender_name
        return fields

    async def send(self, message: SmsMessage) -> SendReceipt:
        fields = self.body(message)
        payload: dict[str, Any] = (
            {"json": fields} if self._config.body_format == "json" else {"data": fields}
        )
        try:
            async with self._client().post(self._config.url, **payload) as response:
                text = await response.text()
                if response.status >= 500 or response.status in _TEMPORARY_STATUSES:
                    raise TemporaryFailure(_describe(response.status, text))
                if response.status >= 400:
                    raise PermanentFailure(_describe(response.status, text))
                return SendReceipt(provider_message_id=self._provider_id(response, text))
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as error:
            # Not even connected: the gateway cannot have the SMS.
            raise TemporaryFailure(f"SMS gateway unavailable: {type(error).__name__}") from None
        except (aiohttp.ServerDisconnectedError, TimeoutError) as error:
            raise OutcomeUnknown(
                f"SMS gateway outcome unknown: no answer ({type(error).__name__}); "
                "it may have accepted the SMS"
            ) from None
        except aiohttp.ClientError as error:
            raise TemporaryFailure(f"SMS gateway unavailable: {type(error).__name__}") from None

    def _provider_id(self, response: aiohttp.ClientResponse, text: str) -> str:
        if response.content_type != "application/json" or not text:
            return ""
        try:
            document = json.loads(text)
        except ValueError:
            return ""
        value = document.get(self._config.response_id_field) if isinstance(document, dict) else None
        return str(value) if value is not None else ""

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def _describe(status: int, body: str) -> str:
    return mask_text(f"SMS gateway HTTP {status}: {body[:200]}")
