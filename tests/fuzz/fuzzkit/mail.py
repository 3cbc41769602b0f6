"""Random RFC 5322 messages, as an e-mail gateway could pass them on.

`mails(numbers)` draws whole messages as bytes: header fields common and strange (encoded words
in valid and broken base64/quoted-printable, unknown charsets, folded and very long lines, raw
8-bit bytes, thousands of fields), a From of every shape (display names, groups, several
addresses, none), subjects naming existing case numbers and many number-shaped words, and bodies
that are plain or HTML text in any transfer encoding, or MIME multiparts nested a few levels deep
with attachments (RFC 2231 file names), message/rfc822 parts, and broken boundaries (missing,
mismatched, never closed). Some messages are then spoiled byte-wise, and some are random bytes.
"""

from __future__ import annotations

import base64
import quopri
from collections.abc import Sequence
from email.message import EmailMessage

from hypothesis import strategies as st

from fuzzkit.protobuf import spoiled, weighted

CITIZEN_EMAIL = "ivanov@example.ru"
HEADER_NAMES = [
    "From", "To", "Cc", "Subject", "Message-ID", "Date", "Reply-To", "Sender", "In-Reply-To",
    "References", "MIME-Version", "Content-Type", "Content-Transfer-Encoding",
    "Content-Disposition", "Received", "Return-Path", "Auto-Submitted", "Precedence", "List-Id",
    "List-Unsubscribe", "Authentication-Results", "ARC-Authentication-Results", "DKIM-Signature",
    "X-Mailer", "X-Spam-Flag", "Thread-Topic",
]  # fmt: skip
CHARSETS = ["utf-8", "UTF-8", "koi8-r", "windows-1251", "iso-8859-5", "us-ascii", "x-unknown",
            "utf-7", "", "utf-16"]  # fmt: skip
ENCODINGS = ["7bit", "8bit", "binary", "base64", "quoted-printable", "x-uuencode", "bogus", ""]
WORDS = ["Обращение", "в", "службу", "поддержки", "-", "Re:", "Fwd:", "№", "заявка", "ответ",
         "Не", "приходит", "СМС-код", "#", "[", "]", ":", "N"]  # fmt: skip
# Floods: a Subject of many short words took minutes to parse in the event loop, and every
# different number-shaped word in it cost a case lookup (issue 21); intake now refuses long
# headers, so the word floods go past its limit and the number floods stay just under it.
FLOOD_WORDS = 200_000
FLOOD_NUMBERS = 700
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)


def plain_mail(subject: str, body: str = "Добрый день!", sender: str = CITIZEN_EMAIL) -> bytes:
    """A well-formed message as a mail client writes it."""
    message = EmailMessage()
    message["From"] = f"Иван Иванов <{sender}>"
    message["To"] = "support@example.ru"
    message["Subject"] = subject
    message["Message-ID"] = "<m-1@example.ru>"
    message.set_content(body)
    return message.as_bytes()


def _encode(text: str, charset: str) -> bytes:
    try:
        return text.encode(charset or "utf-8")
    except (LookupError, UnicodeEncodeError):
        return text.encode("utf-8", "surrogatepass")


def encoded_words() -> st.SearchStrategy[str]:
    """RFC 2047 words, valid or not (a charset nobody knows, base64 cut short)."""

    def word(text: str, charset: str, kind: str, cut: int) -> str:
        raw = _encode(text, charset)
        body = (
            base64.b64encode(raw).decode()
            if kind in "bB"
            else quopri.encodestring(raw, header=True).decode()
        )
        return f"=?{charset}?{kind}?{body[: len(body) - cut] if cut else body}?="

    return st.builds(word, TEXT, st.sampled_from(CHARSETS), st.sampled_from("bBqQx"),
                     st.sampled_from([0, 0, 0, 1, 3]))  # fmt: skip


def subjects(numbers: Sequence[str], max_length: int = 1_000_000) -> st.SearchStrategy[str]:
    """Subjects naming cases (formally, after "Re:", bare), encoded words, and long ones: one
    character repeated, many short words, many different number-shaped words (FLOOD_*)."""
    number = st.sampled_from(list(numbers) or ["2026-0000001"]) | st.from_regex(
        r"\A\d{1,5}-\d{1,9}\Z"
    )
    words = st.lists(st.sampled_from(WORDS) | number | TEXT | encoded_words(), max_size=12)
    long = st.builds(lambda c, n: c * n, st.sampled_from(["я", "a", " ", "=?"]),
                     st.integers(min(1_000, max_length), max_length))  # fmt: skip
    word_flood = st.builds(lambda w, k: " ".join([w] * k), st.sampled_from(["a", "Re:", "я"]),
                           st.integers(50, min(FLOOD_WORDS, max_length // 2)))  # fmt: skip
    number_flood = st.integers(10, FLOOD_NUMBERS).map(
        lambda k: " ".join(f"2026-{i:07d}" for i in range(k))
    )
    return weighted((4, words.map(" ".join)), (1, long), (1, word_flood), (1, number_flood))


CITIZEN_SENDERS = st.sampled_from(
    [CITIZEN_EMAIL, f"Иван Иванов <{CITIZEN_EMAIL}>", f"=?utf-8?b?0JjQstCw0L0=?= <{CITIZEN_EMAIL}>"]
)


def senders() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(
            [
                CITIZEN_EMAIL,
                f"Иван Иванов <{CITIZEN_EMAIL}>",
                f'"Иванов, Иван" <{CITIZEN_EMAIL}>',
                f"=?utf-8?b?0JjQstCw0L0=?= <{CITIZEN_EMAIL}>",
                "undisclosed-recipients:;",
                f"a@b.ru, {CITIZEN_EMAIL}",
                "<>",
                "<<ivanov@@example.ru>>",
                "иван@пример.рф",
                "Иван <ivanov@[127.0.0.1]>",
                "(comment) ivanov(more)@example.ru",
                "ivanov@example.ru (" + "(" * 200,
                "",
            ]
        ),
        st.builds(
            lambda name, local: f"{name} <{local}@example.ru>",
            TEXT | encoded_words(),
            st.from_regex(r"\A[a-zA-Z0-9._%+-]{1,64}\Z"),
        ),
        TEXT,
    )


def header_value(numbers: Sequence[str]) -> st.SearchStrategy[str]:
    return st.one_of(TEXT, encoded_words(), subjects(numbers), senders())


def fold(value: str, every: int, newline: str) -> str:
    if every <= 0 or len(value) <= every:
        return value
    return f"{newline} ".join(value[i : i + every] for i in range(0, len(value), every))


@st.composite
def headers(draw: st.DrawFn, numbers: Sequence[str], newline: str) -> list[str]:
    fields: list[tuple[str, str]] = []
    if draw(st.booleans()) or draw(st.booleans()):  # most messages have a From and a Subject
        # The citizen's own address most of the time: what gets past the sender check.
        fields.append(("From", draw(weighted((2, CITIZEN_SENDERS), (1, senders())))))
    if draw(st.booleans()) or draw(st.booleans()):
        fields.append(("Subject", draw(subjects(numbers))))
    names = st.sampled_from(HEADER_NAMES) | st.from_regex(r"\A[!-9;-~]{1,30}\Z") | TEXT
    fields += draw(st.lists(st.tuples(names, header_value(numbers)), max_size=8))
    if draw(st.integers(0, 9)) == 0:  # a flood of fields
        repeated = draw(st.tuples(names, st.text(max_size=20)))
        fields += [repeated] * draw(st.integers(100, 5_000))
    every = draw(st.sampled_from([0, 0, 20, 76, 998]))
    return [f"{name}: {fold(value, every, newline)}" for name, value in fields]


@st.composite
def bodies(draw: st.DrawFn, numbers: Sequence[str], newline: str, depth: int = 0) -> list[str]:
    """A MIME entity (its header lines, a blank line, its body) as lines of text."""
    kinds = ["text", "html", "attachment", "garbage"]
    if depth < 3:
        kinds += ["multipart", "multipart", "rfc822"]
    kind = draw(st.sampled_from(kinds))
    if kind == "multipart":
        return draw(multipart(numbers, newline, depth))
    if kind == "rfc822":
        inner = [*draw(headers(numbers, newline)), "", *draw(bodies(numbers, newline, depth + 1))]
        return ["Content-Type: message/rfc822", "", *inner]
    charset = draw(st.sampled_from(CHARSETS))
    encoding = draw(st.sampled_from(ENCODINGS))
    if kind == "garbage":
        content = draw(st.binary(max_size=200)).decode("latin-1")
        return [f"Content-Type: {draw(TEXT)}", "", content]
    text = draw(
        TEXT | st.sampled_from(["> цитата", "Иван писал(а):", "-----Original Message-----"])
    )
    if kind == "html":
        text = draw(st.sampled_from(["<p>{}</p>", "<script>{}", "<div><br>{}<style>", "{}</p>",
                                     "<!--{}", "&#x110000;{}&amp"])).format(text)  # fmt: skip
    raw = _encode(text, charset) if kind != "attachment" else draw(st.binary(max_size=300))
    payload = _transfer_encoded(raw, encoding, draw(st.booleans()))
    media_type = {"html": "text/html", "text": "text/plain"}.get(kind) or draw(
        st.sampled_from(["application/pdf", "image/jpeg", "application/octet-stream", "", "a/b/c"])
    )
    lines = [
        f'Content-Type: {media_type}; charset="{charset}"',
        f"Content-Transfer-Encoding: {encoding}",
    ]
    if kind == "attachment":
        name = draw(TEXT | st.builds(lambda c, n: c * n, st.just("я"), st.integers(100, 3_000)))
        lines.append(
            draw(
                st.sampled_from(
                    [
                        f'Content-Disposition: attachment; filename="{name}"',
                        f"Content-Disposition: attachment; filename*=utf-8''{name}",
                        "Content-Disposition: attachment; filename*0*=utf-8''%D0%B0; filename*1=b",
                        "Content-Disposition: attachment; filename*=x''%ZZ",
                        "Content-Disposition: inline",
                    ]
                )
            )
        )
    return [*lines, "", payload]


def _transfer_encoded(raw: bytes, encoding: str, valid: bool) -> str:
    if encoding == "base64":
        text = base64.b64encode(raw).decode()
        return text if valid else text[:-1] + "!*"
    if encoding == "quoted-printable":
        text = quopri.encodestring(raw).decode()
        return text if valid else text + "=Z"
    return raw.decode("latin-1")


@st.composite
def multipart(draw: st.DrawFn, numbers: Sequence[str], newline: str, depth: int) -> list[str]:
    boundary = draw(st.sampled_from(["b1", "=_b", "", "a" * 80, " spaced ", "--", 'b1"x']))
    declared = draw(
        st.sampled_from([f'boundary="{boundary}"', f"boundary={boundary}", "", "boundary"])
    )
    subtype = draw(st.sampled_from(["mixed", "alternative", "related", "digest", "x-bogus"]))
    parts = draw(st.lists(bodies(numbers, newline, depth + 1), max_size=4))
    used = boundary if draw(st.integers(0, 4)) else boundary + "x"  # now and then a mismatch
    lines = [f"Content-Type: multipart/{subtype}; {declared}", "", draw(TEXT)]  # preamble
    for part in parts:
        lines += [f"--{used}", *part]
    closing = draw(st.sampled_from([f"--{used}--", f"--{used}--", "", f"--{used}"]))
    return [*lines, closing, draw(TEXT)]  # epilogue


@st.composite
def composed(draw: st.DrawFn, numbers: Sequence[str]) -> bytes:
    newline = draw(st.sampled_from(["\r\n", "\n", "\r\n", "\r"]))
    top = draw(headers(numbers, newline))
    entity = draw(bodies(numbers, newline))
    text = newline.join([*top, *entity])
    return text.encode(draw(st.sampled_from(["utf-8", "utf-8", "latin-1"])), "replace")


def _well_formed(subject: str, body: str) -> bytes:
    """A mail client's message; a subject the standard library cannot write (it refuses line
    breaks, and fails folding some long non-ASCII words) is written without its odd parts."""
    try:
        return plain_mail(subject, body)
    except (ValueError, UnicodeError):
        return plain_mail(" ".join(w for w in subject.split() if w.isalnum())[:200], body)


def mails(numbers: Sequence[str] = ()) -> st.SearchStrategy[bytes]:
    numbers = list(numbers)
    # Short subjects: the standard library's own folding of long ones takes seconds to write.
    valid = st.builds(_well_formed, subjects(numbers, max_length=2_000), TEXT)
    return weighted(
        (4, composed(numbers)), (1, valid), (1, spoiled(valid)), (1, st.binary(max_size=200))
    )
