"""Loading policies: the packaged file, an override file, and clear errors for bad files."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from casedesk_escalation.adapters.policy_file import PolicyError, load_policy
from casedesk_escalation.domain.triggers import REASONS
from casedesk_vocabulary.enums import Channel, EscalationReason, Priority, Status, Tier

VALID = """
version = "test-policy-3"
cooldown_seconds = 5
callback_channels = ["PHONE", "MFC"]

[rules.FIRST_RESPONSE_BREACH]
to_tier = "L2"

[rules.UNSATISFYING_ANSWER]
requires_status = ["ANSWER_READY"]

[rules.CRITICAL_ERROR]
to_tier = "L2"
priority = "CRITICAL"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_packaged_policy_has_a_rule_for_every_reason() -> None:
    policy = load_policy()
    assert set(policy.rules) == set(REASONS)
    assert policy.highest_tier is Tier.L3
    assert policy.cooldown == timedelta(minutes=30)
    assert policy.callback_channels == {Channel.PHONE}
    assert policy.rules[EscalationReason.NO_ANSWER_IN_TIME].requires_breach
    assert policy.rules[EscalationReason.UNSATISFYING_ANSWER].requires_status == {
        Status.ANSWER_READY
    }
    assert policy.rules[EscalationReason.CRITICAL_ERROR].priority is Priority.CRITICAL


def test_override_file_is_read_with_its_own_version(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, VALID))
    assert policy.version == "test-policy-3"
    assert policy.cooldown == timedelta(seconds=5)
    assert policy.callback_channels == {Channel.PHONE, Channel.MFC}
    assert (
        policy.rules[EscalationReason.UNSATISFYING_ANSWER].to_tier is None
    )  # "next" is the default
    assert EscalationReason.RESOLUTION_BREACH not in policy.rules


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('cooldown_seconds = 1\n[rules.CRITICAL_ERROR]\nto_tier="L2"', "`version`"),
        ('version="v"\ncooldown_seconds=-1\n[rules.CRITICAL_ERROR]', "`cooldown_seconds`"),
        ('version="v"', "`rules`"),
        ('version="v"\n[rules.PANIC]\nto_tier="L2"', "`rules`: 'PANIC' is not one of"),
        ('version="v"\n[rules.CRITICAL_ERROR]\nto_tier="L4"', "`rules.CRITICAL_ERROR.to_tier`"),
        ('version="v"\n[rules.CRITICAL_ERROR]\npriority="URGENT"', "CRITICAL_ERROR.priority"),
        ('version="v"\n[rules.CRITICAL_ERROR]\nto_teir="L2"', "unknown keys: to_teir"),
        ('version="v"\n[rules.NO_ANSWER_IN_TIME]\nrequires_breach="yes"', "requires_breach"),
        ('version="v"\ncallback_channels=["FAX"]\n[rules.CRITICAL_ERROR]', "callback_channels"),
        ("version = ", "not valid TOML"),
    ],
)
def test_bad_policy_is_refused_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(PolicyError) as error:
        load_policy(path)
    assert message in str(error.value)
    assert str(path) in str(error.value)


def test_missing_policy_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read escalation policy"):
        load_policy(tmp_path / "absent.toml")
