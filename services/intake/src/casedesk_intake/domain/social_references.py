"""Where a social network's answer goes: the post or private message a case came from, in the
network's own terms (types.proto `SocialOrigin`, services/notify/README.md "Social networks"), so
that notify's connectors can answer exactly there.

- telegram: `<chat_id>:<message_id>`. A private chat's id is the citizen's user id (a positive
  integer); a group's or channel's is negative, or a public channel's `@username`. The message id
  is a positive integer.
- vk: a wall post `<owner_id>_<post_id>` (the owner a non-zero integer, negative for a community;
  the post a positive integer), a private message `<peer_id>:<message_id>` (both positive).

`private_message` says which of the two it is, and the reference must agree: a public answer
carries no personal data, so mistaking a private message for a post (or the other way round)
would answer in the wrong place. Other networks' references are kept as given (no connector
answers there).
"""

from __future__ import annotations

import re

_ID = r"[1-9]\d{0,18}"
_TELEGRAM = re.compile(rf"^(?P<chat>-?{_ID}|@[A-Za-z][A-Za-z0-9_]{{3,31}}):(?P<message>{_ID})$")
_VK_WALL_POST = re.compile(rf"^-?{_ID}_{_ID}$")
_VK_PRIVATE_MESSAGE = re.compile(rf"^{_ID}:{_ID}$")

TELEGRAM_FORM = '"<chat_id>:<message_id>", e.g. "123456789:42" or "@channel:42"'
VK_WALL_FORM = '"<owner_id>_<post_id>", e.g. "-1_2"'
VK_PRIVATE_FORM = '"<peer_id>:<message_id>", e.g. "123456789:42"'


def reference_problem(network: str, reference: str, private_message: bool) -> str | None:
    """What is wrong with `reference` on `network` (lower case), or None."""
    if network == "telegram":
        return _telegram(reference, private_message)
    if network == "vk":
        return _vk(reference, private_message)
    return None


def _telegram(reference: str, private_message: bool) -> str | None:
    found = _TELEGRAM.fullmatch(reference)
    if found is None:
        return f"a telegram reference is {TELEGRAM_FORM}"
    private_chat = found["chat"][0].isdigit()  # a user's chat: a positive id
    if private_message and not private_chat:
        return (
            "a telegram private message is in the citizen's own chat, whose chat_id is his "
            'user id (a positive integer), e.g. "123456789:42"'
        )
    if not private_message and private_chat:
        return (
            "a positive chat_id is a citizen's private chat: set private_message, or give the "
            "group's or channel's chat_id (negative, or \"@channel\")"
        )
    return None


def _vk(reference: str, private_message: bool) -> str | None:
    if private_message:
        if _VK_PRIVATE_MESSAGE.fullmatch(reference):
            return None
        if _VK_WALL_POST.fullmatch(reference):
            return (
                f"a vk private message is {VK_PRIVATE_FORM}; {VK_WALL_FORM} is a wall post: "
                "clear private_message"
            )
        return f"a vk private message is {VK_PRIVATE_FORM}"
    if _VK_WALL_POST.fullmatch(reference):
        return None
    if _VK_PRIVATE_MESSAGE.fullmatch(reference):
        return (
            f"a vk wall post is {VK_WALL_FORM}; {VK_PRIVATE_FORM} is a private message: "
            "set private_message"
        )
    return (
        f"a vk wall post is {VK_WALL_FORM} (a private message is {VK_PRIVATE_FORM}, with "
        "private_message set)"
    )
