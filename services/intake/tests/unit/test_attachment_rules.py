"""Attachment limits: count, size, total, type, content signature, integrity."""

from __future__ import annotations

import hashlib

import pytest

from casedesk_intake.domain.attachment_rules import AttachmentRules, Upload

RULES = AttachmentRules(
    max_count=2,
    max_bytes=100,
    max_total_bytes=150,
    media_types=frozenset({"application/pdf", "image/png", "text/plain", "image/webp"}),
)
PDF = b"%PDF-1.7 content"


def fields(uploads: list[Upload]) -> list[str]:
    return [field for field, _ in RULES.violations(uploads, "attachments")]


def test_a_good_file_passes() -> None:
    digest = hashlib.sha256(PDF).hexdigest()
    assert RULES.violations([Upload("скан.pdf", "application/pdf", PDF, digest)], "a") == []
    assert RULES.violations([Upload("log.txt", "TEXT/PLAIN", b"line\n")], "a") == []


@pytest.mark.parametrize(
    ("upload", "field", "text"),
    [
        (Upload("", "application/pdf", PDF), "attachments[0].file_name", "required"),
        (Upload("../etc/passwd", "application/pdf", PDF), "attachments[0].file_name", "path"),
        (Upload("a\x00.pdf", "application/pdf", PDF), "attachments[0].file_name", "control"),
        (Upload("x" * 256, "application/pdf", PDF), "attachments[0].file_name", "longer"),
        (Upload("a.exe", "application/x-msdownload", b"MZ"), "attachments[0].media_type", "type"),
        (Upload("a.pdf", "application/pdf", b""), "attachments[0].content", "empty"),
        (
            Upload("a.pdf", "application/pdf", b"%PDF" + b"x" * 97),
            "attachments[0].content",
            "exceeds",
        ),
        (Upload("a.pdf", "application/pdf", b"MZ\x90\x00"), "attachments[0].content", "match"),
        (Upload("a.png", "image/png", PDF), "attachments[0].content", "match"),
        (Upload("a.webp", "image/webp", b"RIFF0000WEBX"), "attachments[0].content", "match"),
        (Upload("a.txt", "text/plain", b"bin\x00ary"), "attachments[0].content", "match"),
        (Upload("a.pdf", "application/pdf", PDF, "zz"), "attachments[0].sha256", "64 hex"),
        (Upload("a.pdf", "application/pdf", PDF, "0" * 64), "attachments[0].sha256", "damaged"),
    ],
)
def test_each_problem_names_its_field(upload: Upload, field: str, text: str) -> None:
    (violation,) = RULES.violations([upload], "attachments")
    assert violation[0] == field
    assert text in violation[1]


def test_count_and_total_size_are_limited() -> None:
    big = Upload("a.pdf", "application/pdf", b"%PDF-" + b"x" * 75)  # 80 bytes: two exceed 150
    assert fields([big, big]) == ["attachments"]
    assert fields([big, big, big]) == ["attachments", "attachments"]
