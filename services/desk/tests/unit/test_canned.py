"""Canned replies from TOML: the packaged file loads; a broken one says where and what."""

from __future__ import annotations

from pathlib import Path

import pytest

from casedesk_desk.adapters.canned_replies import CannedRepliesError, load_canned_replies


def test_the_packaged_replies_load_in_russian() -> None:
    replies = load_canned_replies()
    assert len(replies) >= 3
    assert all(r.text.startswith("Здравствуйте") for r in replies)
    assert len({r.key for r in replies}) == len(replies)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[[reply]]\nkey = 'a'\ntitle = 'Т'\n", "needs exactly key, title and text"),
        ("[[reply]]\nkey = 'a b'\ntitle = 'Т'\ntext = 'т'\n", "key must be"),
        ("[[reply]]\nkey = 'a'\ntitle = ' '\ntext = 'т'\n", "title must be"),
        ("[[reply]]\nkey = 'a'\ntitle = 'Т'\ntext = 'т'\n" * 2, "used twice"),
        ("reply = 'x'\n", "only [[reply]] tables"),
        ("[[reply]\n", "not valid TOML"),
    ],
)
def test_a_broken_file_is_refused_naming_the_problem(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "replies.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CannedRepliesError) as caught:
        load_canned_replies(path)
    assert says in str(caught.value) and str(path) in str(caught.value)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CannedRepliesError, match="cannot read"):
        load_canned_replies(tmp_path / "none.toml")
