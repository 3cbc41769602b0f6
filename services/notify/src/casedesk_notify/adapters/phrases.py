"""Text helpers of the templates (Jinja2 filters): an answer's gist, a text clipped to a network's
limit, a period in Russian words."""

from __future__ import annotations

from datetime import timedelta

# An answer's or a question's gist in an SMS: about one UCS-2 part of its own.
GIST_CHARS = 70
_ELLIPSIS = "…"
# (seconds in the unit, forms for 1, 2–4, 5+) — «1 день», «3 дня», «14 дней».
_UNITS = (
    (86_400, ("день", "дня", "дней")),
    (3_600, ("час", "часа", "часов")),
    (60, ("минута", "минуты", "минут")),
    (1, ("секунда", "секунды", "секунд")),
)


def gist(text: str, limit: int = GIST_CHARS) -> str:
    """`text` on one line, cut at a word boundary to at most `limit` characters (with «…»)."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    cut = line[: limit - len(_ELLIPSIS)]
    head = cut.rsplit(" ", 1)[0] if " " in cut else cut
    return head.rstrip(" ,.;:—-") + _ELLIPSIS


def clipped(text: str, limit: int) -> str:
    """`text` with its lines kept, cut at a word boundary to at most `limit` characters."""
    if len(text) <= limit:
        return text
    cut = text[: limit - len(_ELLIPSIS)]
    head = cut.rsplit(None, 1)[0] if cut.strip() and " " in cut else cut
    return head.rstrip(" ,.;:—-\n") + _ELLIPSIS


def plural(count: int, forms: tuple[str, str, str]) -> str:
    """The Russian form of a noun after `count` (1 день, 2 дня, 5 дней, 11 дней, 21 день)."""
    tens, ones = count % 100, count % 10
    if ones == 1 and tens != 11:
        return forms[0]
    if 2 <= ones <= 4 and not 12 <= tens <= 14:
        return forms[1]
    return forms[2]


def duration_phrase(period: timedelta) -> str:
    """«14 дней», «36 часов», «90 секунд»: in the largest unit that divides the period whole."""
    seconds = int(period.total_seconds())
    if seconds <= 0:
        return ""
    for size, forms in _UNITS:
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {plural(count, forms)}"
    raise AssertionError("every whole number of seconds is divisible by one")
