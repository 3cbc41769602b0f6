"""Replies posted to Telegram through the Bot API's `sendMessage`
(https://core.telegram.org/bots/api#sendmessage).

The reply goes to the chat of the citizen's message as a reply to it (`reply_parameters` with
`allow_sending_without_reply`: a deleted original still gets the answer). Answers are JSON
`{"ok": true, "result": Message}` or `{"ok": false, "error_code", "description", "parameters"}`:
429 (with `parameters.retry_after`, which the next attempt waits at least) and 5xx are temporary,
other errors (a blocked bot, an unknown chat, a bad token) permanent. The token is part of the
URL (`/bot<token>/sendMessage`), so no URL ever reaches a log or an error text. The Bot API has
no idempotency key: a resend after an unknown outcome may post twice (journaled, counted).
"""

from __future__ import annotations

from casedesk_notify.adapters.senders.base import (
    DeliveryFailure,
    PermanentFailure,
    SendReceipt,
    TemporaryFailure,
)
from casedesk_notify.adapters.senders.social_http import ApiAnswer, SocialApiConfig, SocialHttp
from casedesk_notify.application.ports import SocialPost
from casedesk_notify.domain.reply_routes import TelegramMessage
from casedesk_runtime.masking import mask_text


class TelegramConnector:
    def __init__(self, config: SocialApiConfig) -> None:
        self._http = SocialHttp(config, "telegram")
        self._url = f"{config.api_url.rstrip('/')}/bot{config.token}/sendMessage"

    async def post(self, post: SocialPost) -> SendReceipt:
        place = post.destination
        if not isinstance(place, TelegramMessage):
            raise PermanentFailure(f"not a Telegram message: {type(place).__name__}")
        body = {
            "chat_id": place.chat_id,
            "text": post.text,
            "reply_parameters": {
                "message_id": place.message_id,
                "allow_sending_without_reply": True,
            },
        }
        answer = await self._http.post(self._url, json=body)
        if answer.document.get("ok") is True:
            result = answer.document.get("result")
            sent = result.get("message_id", "") if isinstance(result, dict) else ""
            return SendReceipt(provider_message_id=f"{place.chat_id}:{sent}")
        raise _failure(answer)

    async def close(self) -> None:
        await self._http.close()


def _failure(answer: ApiAnswer) -> DeliveryFailure:
    document = answer.document
    code = document.get("error_code", answer.status)
    code = code if isinstance(code, int) else answer.status
    text = mask_text(f"Telegram sendMessage {code}: {str(document.get('description', ''))[:200]}")
    parameters = document.get("parameters")
    retry_after = parameters.get("retry_after") if isinstance(parameters, dict) else None
    if code == 429 or code >= 500 or "ok" not in document:
        wait = float(retry_after) if isinstance(retry_after, int | float) else None
        return TemporaryFailure(text, retry_after_s=wait)
    return PermanentFailure(text)
