"""What the Telegram and VK connectors share: a lazily made HTTP session, one POST whose JSON
answer is returned, and the transport failures translated as for the SMS gateway.

A request not even connected is a `TemporaryFailure`; one sent and then unanswered (a timeout, a
dropped connection) is `OutcomeUnknown`: the network may have posted the reply. Error texts carry
the exception's type only: an aiohttp error's text may quote the URL, and Telegram's URL holds
the bot's token.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiohttp

from casedesk_notify.adapters.senders.base import OutcomeUnknown, TemporaryFailure


@dataclass(frozen=True)
class SocialApiConfig:
    api_url: str  # https://api.telegram.org, https://api.vk.com (a test server's elsewhere)
    token: str
    timeout_s: float = 10.0
    max_connections: int = 8


@dataclass(frozen=True)
class ApiAnswer:
    status: int
    document: dict[str, Any]  # the JSON object answered ({} when the body was none)


class SocialHttp:
    def __init__(self, config: SocialApiConfig, network: str) -> None:
        self.config = config
        self._network = network
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        # Created lazily: a ClientSession must be made inside the running event loop.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                # Connecting has its own limit, so that a timeout there reads as "not sent".
                timeout=aiohttp.ClientTimeout(
                    total=self.config.timeout_s, sock_connect=self.config.timeout_s / 2
                ),
                connector=aiohttp.TCPConnector(limit=self.config.max_connections),
            )
        return self._session

    async def post(self, url: str, **payload: Any) -> ApiAnswer:
        """POST to `url` (aiohttp's `json=` or `data=`); the JSON object answered."""
        try:
            async with self._client().post(url, **payload) as response:
                text = await response.text()
                return ApiAnswer(response.status, _json_object(text))
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as error:
            raise self._unavailable(error) from None
        except (aiohttp.ServerDisconnectedError, TimeoutError) as error:
            raise OutcomeUnknown(
                f"{self._network} API outcome unknown: no answer ({type(error).__name__}); "
                "it may have posted the reply"
            ) from None
        except aiohttp.ClientError as error:
            raise self._unavailable(error) from None

    def _unavailable(self, error: Exception) -> TemporaryFailure:
        return TemporaryFailure(f"{self._network} API unavailable: {type(error).__name__}")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def _json_object(text: str) -> dict[str, Any]:
    try:
        document = json.loads(text) if text else {}
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}
