"""Replies posted to VK through its API (https://dev.vk.com/ru/method): `wall.createComment` under
the citizen's wall post, `messages.send` into his conversation as a reply to his message.

Requests are form POSTs to `<api>/method/<name>` with `access_token` and `v` (the API version) in
the body, never in the URL. Both methods take an id that makes a resend harmless: the comment's
`guid` is the notification id, the message's `random_id` derives from it (VK drops a second
message with the same one). Answers are `{"response": ...}` or `{"error": {"error_code",
"error_msg"}}` with HTTP 200; codes 1 (unknown), 6 (too many requests per second), 9 (flood
control) and 10 (internal error) are temporary, the others (no access, privacy settings, a
deleted post, a bad token) permanent.
"""

from __future__ import annotations

import zlib
from typing import Any

from casedesk_notify.adapters.senders.base import (
    DeliveryFailure,
    PermanentFailure,
    SendReceipt,
    TemporaryFailure,
)
from casedesk_notify.adapters.senders.social_http import ApiAnswer, SocialApiConfig, SocialHttp
from casedesk_notify.application.ports import SocialPost
from casedesk_notify.domain.reply_routes import VkMessage, VkWallPost
from casedesk_runtime.masking import mask_text

API_VERSION = "5.199"
TEMPORARY_ERRORS = frozenset({1, 6, 9, 10})


def random_id(notification_id: str) -> int:
    """messages.send's `random_id` (int32) of a notification: the same on every resend."""
    return zlib.crc32(notification_id.encode()) & 0x7FFFFFFF


class VkConnector:
    def __init__(self, config: SocialApiConfig, api_version: str = API_VERSION) -> None:
        self._http = SocialHttp(config, "vk")
        self._base = f"{config.api_url.rstrip('/')}/method"
        self._auth = {"access_token": config.token, "v": api_version}

    async def post(self, post: SocialPost) -> SendReceipt:
        method, params = _request(post)
        answer = await self._http.post(f"{self._base}/{method}", data={**params, **self._auth})
        response = answer.document.get("response")
        if answer.status == 200 and response is not None:
            sent = response.get("comment_id", "") if isinstance(response, dict) else response
            return SendReceipt(provider_message_id=str(sent))
        raise _failure(method, answer)

    async def close(self) -> None:
        await self._http.close()


def _request(post: SocialPost) -> tuple[str, dict[str, Any]]:
    place = post.destination
    if isinstance(place, VkWallPost):
        return "wall.createComment", {
            "owner_id": place.owner_id,
            "post_id": place.post_id,
            "message": post.text,
            "guid": post.notification_id,
        }
    if isinstance(place, VkMessage):
        return "messages.send", {
            "peer_id": place.peer_id,
            "random_id": random_id(post.notification_id),
            "reply_to": place.message_id,
            "message": post.text,
        }
    raise PermanentFailure(f"not a VK wall post or message: {type(place).__name__}")


def _failure(method: str, answer: ApiAnswer) -> DeliveryFailure:
    error = answer.document.get("error")
    if not isinstance(error, dict):
        # A 200 without either shape is a proxy's page or a broken answer: try again later.
        temporary = answer.status >= 500 or answer.status in (200, 429)
        kind = TemporaryFailure if temporary else PermanentFailure
        return kind(f"VK {method}: HTTP {answer.status} without a response")
    code = error.get("error_code")
    text = mask_text(f"VK {method} error {code}: {str(error.get('error_msg', ''))[:200]}")
    return TemporaryFailure(text) if code in TEMPORARY_ERRORS else PermanentFailure(text)
