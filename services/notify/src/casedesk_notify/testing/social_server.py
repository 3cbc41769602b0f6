"""A local HTTP server speaking the subset of the Telegram Bot API and the VK API notify uses.

Those services cannot be reached from the test machines, so notify's connectors are tested
against this: `POST /bot<token>/sendMessage` (JSON or form, as the Bot API takes either) and
`POST /method/wall.createComment` / `/method/messages.send` (form, `access_token` and `v` in the
body). Like the real APIs it checks the token and the required parameters and answers in their
JSON shapes, errors included:

- Telegram: `{"ok": true, "result": Message}`; `{"ok": false, "error_code": 401|400|403|429,
  "description", "parameters": {"retry_after": N}}` with that HTTP status;
- VK: `{"response": ...}`; `{"error": {"error_code", "error_msg", "request_params"}}` with HTTP
  200 (5: authorization failed, 100: a parameter missing or invalid, 6: too many requests per
  second, 901: the user does not allow messages ...). A `random_id` (messages.send) or `guid`
  (wall.createComment) seen before gets the first answer again and posts nothing, as VK's do.

Every accepted post is recorded (`posts`), every request too (`requests`, whatever its answer).
`fail_next` makes the next requests of a network fail the way the real API does when overloaded
or refusing. Nothing in the service imports this module.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from casedesk_notify.testing.sinks import free_port

VK_METHODS = {
    # method -> the parameters VK requires of it (besides access_token and v)
    "wall.createComment": ("owner_id", "post_id", "message"),
    "messages.send": ("peer_id", "random_id", "message"),
}
_DEDUPE_KEY = {"wall.createComment": "guid", "messages.send": "random_id"}
TELEGRAM_TEXT_CHARS = 4096


@dataclass(frozen=True)
class SocialRequest:
    """One request as the server read it: network, method, parameters (the token left out)."""

    at: float
    network: str
    method: str
    params: dict[str, Any]


@dataclass
class _Failures:
    remaining: int = 0
    answer: tuple[int, dict[str, Any]] = (200, {})


@dataclass
class SocialServer:
    telegram_token: str = "123456:telegram-test-token"
    vk_token: str = "vk-test-token"
    vk_version: str = "5.199"
    port: int = 0
    requests: list[SocialRequest] = field(default_factory=list)
    posts: list[SocialRequest] = field(default_factory=list)
    repeated: list[SocialRequest] = field(default_factory=list)
    _failures: dict[str, _Failures] = field(default_factory=dict)
    _answers: dict[tuple[str, str], Any] = field(default_factory=dict)
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """The base URL of both APIs (notify's CASEDESK_TELEGRAM_API_URL and _VK_API_URL)."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> SocialServer:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._telegram)
        app.router.add_post("/method/{method}", self._vk)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        self.port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def posts_to(self, network: str) -> list[SocialRequest]:
        return [post for post in self.posts if post.network == network]

    def fail_next(self, network: str, count: int, kind: str = "overloaded") -> None:
        """The next `count` requests to `network` fail: `overloaded` (Telegram 429 with
        retry_after 1, VK error 6) or `refused` (Telegram 403 blocked by the user, VK 901)."""
        self._failures[network] = _Failures(count, _FAILURES[(network, kind)])

    # -- Telegram ---------------------------------------------------------------------------

    async def _telegram(self, request: web.Request) -> web.Response:
        params = await _telegram_params(request)
        method = request.match_info["method"]
        self.requests.append(SocialRequest(time.time(), "telegram", method, params))
        if request.match_info["token"] != self.telegram_token:
            return _telegram_error(401, "Unauthorized")
        if method != "sendMessage":
            return _telegram_error(404, "Not Found: method not found")
        if failed := self._failing("telegram"):
            return web.json_response(failed[1], status=failed[0])
        problem = _telegram_problem(params)
        if problem:
            return _telegram_error(400, f"Bad Request: {problem}")
        post = SocialRequest(time.time(), "telegram", method, params)
        self.posts.append(post)
        chat = params["chat_id"]
        message: dict[str, Any] = {
            "message_id": 1000 + len(self.posts),
            "date": int(post.at),
            "chat": {"id": chat, "type": "private" if _positive(chat) else "supergroup"},
            "text": params["text"],
        }
        replied = params.get("reply_parameters") or {}
        if isinstance(replied, dict) and "message_id" in replied:
            message["reply_to_message"] = {
                "message_id": replied["message_id"],
                "chat": {"id": chat},
            }
        return web.json_response({"ok": True, "result": message})

    # -- VK ---------------------------------------------------------------------------------

    async def _vk(self, request: web.Request) -> web.Response:
        form = {str(k): str(v) for k, v in (await request.post()).items()}
        method = request.match_info["method"]
        token = form.pop("access_token", None)
        params = dict(form)
        self.requests.append(SocialRequest(time.time(), "vk", method, params))
        if not token:
            return _vk_error(5, "User authorization failed: no access_token passed.", params)
        if token != self.vk_token:
            return _vk_error(5, "User authorization failed: invalid access_token (4).", params)
        if params.get("v") != self.vk_version:
            return _vk_error(8, "Invalid request: v (version) is required", params)
        if method not in VK_METHODS:
            return _vk_error(3, "Unknown method passed.", params)
        if failed := self._failing("vk"):
            error = dict(failed[1]["error"], request_params=_echo(params))
            return web.json_response({"error": error})
        for name in VK_METHODS[method]:
            if not params.get(name):
                why = f"One of the parameters specified was missing or invalid: {name} is undefined"
                return _vk_error(100, why, params)
        key = (method, params.get(_DEDUPE_KEY[method], ""))
        post = SocialRequest(time.time(), "vk", method, params)
        if key[1] and key in self._answers:
            self.repeated.append(post)
            return web.json_response({"response": self._answers[key]})
        self.posts.append(post)
        if method == "wall.createComment":
            response: Any = {"comment_id": 500 + len(self.posts), "parents_stack": []}
        else:
            response = 2000 + len(self.posts)
        if key[1]:
            self._answers[key] = response
        return web.json_response({"response": response})

    def _failing(self, network: str) -> tuple[int, dict[str, Any]] | None:
        failures = self._failures.get(network)
        if failures is None or failures.remaining <= 0:
            return None
        failures.remaining -= 1
        return failures.answer


_FAILURES: Mapping[tuple[str, str], tuple[int, dict[str, Any]]] = {
    ("telegram", "overloaded"): (429, {
        "ok": False, "error_code": 429, "description": "Too Many Requests: retry after 1",
        "parameters": {"retry_after": 1},
    }),
    ("telegram", "refused"): (403, {
        "ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user",
    }),
    ("vk", "overloaded"): (200, {
        "error": {"error_code": 6, "error_msg": "Too many requests per second"},
    }),
    ("vk", "refused"): (200, {
        "error": {"error_code": 901,
                  "error_msg": "Can't send messages for users without permission"},
    }),
}  # fmt: skip


async def _telegram_params(request: web.Request) -> dict[str, Any]:
    """The Bot API takes JSON or a form (whose object fields are JSON-serialized strings)."""
    if request.content_type == "application/json":
        body = await request.json()
        return dict(body) if isinstance(body, dict) else {}
    params: dict[str, Any] = {str(k): str(v) for k, v in (await request.post()).items()}
    if isinstance(params.get("reply_parameters"), str):
        params["reply_parameters"] = json.loads(params["reply_parameters"])
    return params


def _telegram_problem(params: Mapping[str, Any]) -> str:
    if params.get("chat_id") in (None, ""):
        return "chat_id is empty"
    text = params.get("text")
    if not isinstance(text, str) or not text.strip():
        return "message text is empty"
    if len(text) > TELEGRAM_TEXT_CHARS:
        return "message is too long"
    replied = params.get("reply_parameters")
    if replied is not None and not (isinstance(replied, dict) and "message_id" in replied):
        return "invalid reply parameters specified"
    return ""


def _positive(chat: Any) -> bool:
    try:
        return int(chat) > 0
    except (TypeError, ValueError):
        return False


def _telegram_error(code: int, description: str) -> web.Response:
    body = {"ok": False, "error_code": code, "description": description}
    return web.json_response(body, status=code)


def _echo(params: Mapping[str, Any]) -> list[dict[str, str]]:
    # VK echoes the request's parameters, never the token (already taken out).
    return [{"key": key, "value": str(value)} for key, value in params.items()]


def _vk_error(code: int, message: str, params: Mapping[str, Any]) -> web.Response:
    error = {"error_code": code, "error_msg": message, "request_params": _echo(params)}
    return web.json_response({"error": error})
