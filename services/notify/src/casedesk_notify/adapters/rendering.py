"""Rendering a `Notice` into the e-mail, SMS or social-network text the citizen receives.

Templates are Jinja2 files under templates/<version>/<kind>/ (email.txt.j2, email.html.j2,
sms.txt.j2, and social.txt.j2 for the kinds that carry a reply), so wording changes ship as a new
version directory and the journal records exactly which one every message used (`kind@version`).
HTML is autoescaped; undefined variables fail loudly instead of sending a message with a hole in
it. Words other services also use (status labels, the
news of a change and who made it, tier names, how a deadline reads) come from the vocabulary, so
the portal, replies and messages agree. Every version gets the whole context; an older one
ignores what it does not use.

An e-mail in the citizen's own thread replies to his message: `In-Reply-To` and `References` name
it, and the subject is «Re: <his subject> [Обращение в службу поддержки - N]».
"""

from __future__ import annotations

import pathlib
import re
from datetime import timedelta
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from casedesk_notify.adapters.phrases import clipped, duration_phrase, gist
from casedesk_notify.application.deliveries import RenderedMessage
from casedesk_notify.domain import DeliveryChannel, Notice
from casedesk_notify.domain.sms_segments import count_segments
from casedesk_vocabulary.wording import (
    ESCALATION_NEWS,
    STATUS_NEWS,
    STATUS_NEWS_SHORT,
    TIER_ESCALATED_TO,
    deadline_phrase,
    deadline_phrase_short,
    repeated_case_phrase,
    status_label,
    status_news,
)

# The templates are data of the package, beside the code that reads them.
TEMPLATES_ROOT = pathlib.Path(__file__).parents[1] / "templates"
_BLANK_LINES = re.compile(r"\n{3,}")
# «передано …» by tier name, as the templates see the tier.
_ESCALATED_TO = {tier.value: words for tier, words in TIER_ESCALATED_TO.items()}
# What Telegram's sendMessage and VK's messages take in one message (4096 characters).
SOCIAL_TEXT_CHARS = 4096

__all__ = ["SOCIAL_TEXT_CHARS", "TemplateCatalog", "gist"]


def _tidy(text: str) -> str:
    """Plain text free of the blank lines that template conditionals leave behind."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines))


class TemplateCatalog:
    def __init__(
        self,
        portal_base_url: str,
        version: str = "v2",
        root: pathlib.Path = TEMPLATES_ROOT,
        *,
        auto_close_after: timedelta | None = None,
    ) -> None:
        """`auto_close_after`: how long a case stays at «Ответ готов» before the case service
        closes it (its `CASEDESK_AUTO_CLOSE_AFTER`), which «Ответ готов» tells; None: not said."""
        directory = root / version
        if not directory.is_dir():
            raise ValueError(f"no template version {version!r} under {root}")
        self.version = version
        self._portal_base_url = portal_base_url.rstrip("/")
        self._auto_close = duration_phrase(auto_close_after) if auto_close_after else ""
        self._env = Environment(
            loader=FileSystemLoader(directory),
            autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,  # a version directory never changes under a running process
        )
        self._env.filters["deadline"] = deadline_phrase
        self._env.filters["deadline_short"] = deadline_phrase_short
        self._env.filters["gist"] = gist
        self._env.filters["clipped"] = clipped

    def case_url(self, number: str) -> str:
        return f"{self._portal_base_url}/{quote(number)}"

    def render(self, notice: Notice) -> RenderedMessage:
        context = self._context(notice)
        template = f"{notice.kind.value}@{self.version}"
        if notice.channel is DeliveryChannel.SMS:
            text = " ".join(self._render(f"{notice.kind.value}/sms.txt.j2", context).split())
            return RenderedMessage(template, text=text, sms_segments=count_segments(text).segments)
        if notice.channel is DeliveryChannel.SOCIAL:
            text = _tidy(self._render(f"{notice.kind.value}/social.txt.j2", context))
            return RenderedMessage(template, text=clipped(text, SOCIAL_TEXT_CHARS))
        thread = notice.thread
        own_message = f"<{thread.message_id}>" if thread else ""
        return RenderedMessage(
            template,
            subject=self._render("subject.txt.j2", context).strip(),
            text=_tidy(self._render(f"{notice.kind.value}/email.txt.j2", context)),
            html=self._render(f"{notice.kind.value}/email.html.j2", context).strip() + "\n",
            # The thread is his first message: intake records no later Message-IDs of his.
            in_reply_to=own_message,
            references=own_message,
        )

    def _render(self, name: str, context: dict[str, object]) -> str:
        return self._env.get_template(name).render(context)

    def _context(self, notice: Notice) -> dict[str, object]:
        card = notice.card
        # A notice built without its news reads as the status alone would (who acted unknown).
        news = notice.status_news or status_news(None, card.status, None)
        why = notice.escalation_news
        return {
            "number": card.number,
            "status": card.status.value,
            "status_label": status_label(card.status),
            "case_url": self.case_url(card.number),
            "first_response_due": card.deadlines.first_response_due,
            "resolution_due": card.deadlines.resolution_due,
            "tier": card.tier.value,
            "tier_escalated_to": _ESCALATED_TO,
            "callback_required": notice.callback_required,
            "portal_account": card.portal_account,
            "news": STATUS_NEWS[news],
            "news_short": STATUS_NEWS_SHORT.get(news, ""),
            "escalation_why": ESCALATION_NEWS[why] if why else "",
            "answer": notice.answer,
            "question": notice.question,
            "repeat_phrase": repeated_case_phrase(notice.repeat_of) if notice.repeat_of else "",
            "reply_subject": notice.thread.reply_subject(card.number) if notice.thread else "",
            "private": notice.private,
            "close_reason": notice.close_reason.value if notice.close_reason else "",
            "merged_into": card.merged_into,
            "merged_into_url": self.case_url(card.merged_into) if card.merged_into else "",
            "rejection": notice.rejection.value if notice.rejection else "",
            "auto_close_after": self._auto_close,
        }
