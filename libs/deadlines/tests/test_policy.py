"""Shipped policies and the policy file format."""

from datetime import datetime, timedelta

import pytest

from casedesk_deadlines import (
    DEFAULT_POLICY_VERSION,
    MOSCOW,
    CalendarOverrides,
    Deadlines,
    NoTargetError,
    PolicyFormatError,
    ProductionCalendar,
    Target,
    TargetKind,
    Unit,
    UnknownCalendarError,
    UnknownChannelError,
    UnknownPolicyError,
    default_policy,
    load_policy,
    parse_policy,
    policy_versions,
)

CHANNELS = ("PORTAL_CHAT", "PERSONAL_ACCOUNT", "EMAIL", "PHONE", "SOCIAL", "MFC")


def test_shipped_versions() -> None:
    assert policy_versions() == ("2023.1", "2026.1", "test-seconds")
    # DESIGN.md "Deadlines": 2026.1 is the default for new cases.
    assert DEFAULT_POLICY_VERSION == "2026.1"
    assert default_policy().version == "2026.1"


def test_policy_2023_1_matches_the_2023_regulation() -> None:
    policy = load_policy("2023.1")

    def spec(channel: str, kind: TargetKind) -> tuple[Unit, timedelta] | None:
        target = policy.find_target(channel, kind)
        return None if target is None else (target.unit, target.amount)

    table = {
        channel: (spec(channel, TargetKind.FIRST_RESPONSE), spec(channel, TargetKind.RESOLUTION))
        for channel in policy.channels
    }
    assert table == {
        "PORTAL_CHAT": (
            (Unit.WALL_CLOCK, timedelta(minutes=5)),
            (Unit.WALL_CLOCK, timedelta(hours=2)),
        ),
        "PHONE": (
            (Unit.WALL_CLOCK, timedelta(minutes=30)),
            (Unit.WORKING_DAYS, timedelta(days=1)),
        ),
        "EMAIL": (
            (Unit.WORKING_DAY_HOURS, timedelta(hours=24)),
            (Unit.WORKING_DAYS, timedelta(days=3)),
        ),
        "PERSONAL_ACCOUNT": (
            (Unit.WALL_CLOCK, timedelta(hours=12)),
            (Unit.WORKING_DAYS, timedelta(days=3)),
        ),
        "SOCIAL": (
            (Unit.BUSINESS_HOURS, timedelta(hours=2)),
            (Unit.WORKING_DAYS, timedelta(days=3)),
        ),
        "MFC": (None, (Unit.WORKING_DAYS, timedelta(days=1))),
    }
    assert all(target.warning_fraction == 0.8 for target in _targets(policy.version))
    assert policy.category_targets == {}  # a sign-in problem waits as long as its channel


def test_the_default_policy_differs_from_2023_1_where_the_seed_says_so() -> None:
    old, new = load_policy("2023.1"), default_policy()

    changed = {
        (channel, kind)
        for channel in old.channels
        for kind in TargetKind
        if old.find_target(channel, kind) != new.find_target(channel, kind)
    }
    assert changed == {("SOCIAL", TargetKind.FIRST_RESPONSE)}
    social = new.target("SOCIAL", TargetKind.FIRST_RESPONSE)
    assert (social.unit, social.amount) == (Unit.WALL_CLOCK, timedelta(hours=2))
    assert {
        category: {kind: (t.unit, t.amount) for kind, t in targets.items()}
        for category, targets in new.category_targets.items()
    } == {
        "REGISTRATION_SIGN_IN": {
            TargetKind.RESOLUTION: (Unit.WALL_CLOCK, timedelta(hours=24)),
        },
    }


def test_test_seconds_policy_covers_every_channel_in_seconds() -> None:
    policy = load_policy("test-seconds")

    assert set(policy.channels) == set(CHANNELS)
    assert policy.target("PORTAL_CHAT", "FIRST_RESPONSE").amount == timedelta(seconds=4)
    assert policy.target("PORTAL_CHAT", "RESOLUTION").amount == timedelta(seconds=8)
    assert all(
        target.unit is Unit.WALL_CLOCK and target.amount <= timedelta(seconds=8)
        for target in _targets("test-seconds")
    )


def _targets(version: str) -> list[Target]:
    policy = load_policy(version)
    return [target for by_kind in policy.targets.values() for target in by_kind.values()]


def test_policies_are_cached() -> None:
    assert default_policy() is load_policy("2026.1")
    assert load_policy("2023.1") is load_policy("2023.1")


def test_policy_uses_the_given_calendar() -> None:
    calendar = ProductionCalendar(CalendarOverrides.from_bytes(b"holidays = [2027-01-11]"))

    policy = load_policy("2023.1", calendar)

    assert policy.calendar is calendar
    assert policy.calendar_version == calendar.version != default_policy().calendar_version


@pytest.mark.parametrize("version", ["2099.1", "../policies/2023.1", ""])
def test_unknown_versions_are_rejected(version: str) -> None:
    with pytest.raises(UnknownPolicyError, match=r"available: 2023\.1, 2026\.1, test-seconds"):
        load_policy(version)


def test_unknown_channel_is_rejected() -> None:
    with pytest.raises(UnknownChannelError, match="no targets for channel 'FAX'"):
        default_policy().target("FAX", "RESOLUTION")


def test_missing_target_is_reported() -> None:
    assert default_policy().find_target("MFC", TargetKind.FIRST_RESPONSE) is None
    with pytest.raises(NoTargetError, match="no FIRST_RESPONSE target for MFC"):
        default_policy().target("MFC", "FIRST_RESPONSE")


def test_unknown_target_kind_is_rejected() -> None:
    with pytest.raises(ValueError, match="ACKNOWLEDGEMENT"):
        default_policy().target("EMAIL", "ACKNOWLEDGEMENT")


VALID = """
version = "x.1"
calendar = "RU"
[channels.EMAIL]
resolution = { unit = "working_days", days = 3 }
"""


def test_parse_policy_accepts_a_minimal_file() -> None:
    policy = parse_policy(VALID)

    assert policy.version == "x.1"
    assert policy.target("EMAIL", "RESOLUTION").amount == timedelta(days=3)
    assert policy.target("EMAIL", "RESOLUTION").warning_fraction == 0.8


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ("version = ", PolicyFormatError, "not valid TOML"),
        (VALID.replace('version = "x.1"', ""), PolicyFormatError, "version must be a str"),
        (VALID.replace('"RU"', '"BY"'), UnknownCalendarError, "unknown production calendar"),
        (VALID + "warning_fraction = 1.5", PolicyFormatError, "warning_fraction"),
        (VALID.replace("EMAIL", "email"), PolicyFormatError, "enum names"),
        (VALID.replace("resolution", "first_response"), PolicyFormatError, "needs a resolution"),
        (VALID.replace("resolution", "answer"), PolicyFormatError, "unknown targets"),
        (VALID.replace('"working_days"', '"fortnights"'), PolicyFormatError, "unit must be"),
        (VALID.replace("days = 3", "days = 3, weeks = 1"), PolicyFormatError, "unknown fields"),
        (VALID.replace("days = 3", "days = 2.5"), PolicyFormatError, "whole numbers"),
        (VALID.replace("days = 3", "days = 3, hours = 4"), PolicyFormatError, "whole days"),
        (VALID.replace("days = 3", "days = 0"), PolicyFormatError, "must be positive"),
    ],
)
def test_parse_policy_rejects_malformed_files(
    text: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        parse_policy(text)


def test_deadlines_for_an_unknown_channel_are_rejected() -> None:
    with pytest.raises(UnknownChannelError, match="known channels: PORTAL_CHAT"):
        Deadlines().compute("FAX", datetime(2025, 10, 24, 15, tzinfo=MOSCOW))
