"""The assignment rule and the roster file it reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from casedesk_case.adapters.roster_file import RosterError, load_roster, parse_roster
from casedesk_case.domain.assignment import Roster, Specialist, choose_specialist
from casedesk_case.domain.values import Category, Tier

ROSTER = Roster(
    specialists=(
        Specialist("anna", Tier.L1, frozenset({"sign-in"})),
        Specialist("boris", Tier.L1, frozenset({"sign-in", "general"})),
        Specialist("clara", Tier.L1, frozenset({"sign-in"}), active=False),
        Specialist("dmitry", Tier.L2, frozenset({"sign-in", "senior"})),
    ),
    routes={
        Tier.L1: {"REGISTRATION_SIGN_IN": "sign-in", "default": "general"},
        Tier.L2: {"default": "senior"},
        Tier.L3: {"default": "qc"},
    },
)


def test_least_loaded_specialist_of_the_tier_in_the_queue_gets_the_case() -> None:
    chosen = choose_specialist(ROSTER, "sign-in", Tier.L1, {"anna": 3, "boris": 1})
    assert chosen is not None and chosen.id == "boris"


def test_nobody_loaded_counts_as_zero_and_ties_go_to_the_smallest_id() -> None:
    assert choose_specialist(ROSTER, "sign-in", Tier.L1, {"anna": 2}).id == "boris"  # type: ignore[union-attr]
    assert choose_specialist(ROSTER, "sign-in", Tier.L1, {}).id == "anna"  # type: ignore[union-attr]


def test_inactive_specialists_are_never_chosen() -> None:
    chosen = choose_specialist(ROSTER, "sign-in", Tier.L1, {"anna": 9, "boris": 9})
    assert chosen is not None and chosen.id != "clara"


def test_only_the_cases_tier_counts() -> None:
    chosen = choose_specialist(ROSTER, "sign-in", Tier.L2, {"dmitry": 50})
    assert chosen is not None and chosen.id == "dmitry"


def test_nobody_serving_the_queue_leaves_the_case_unassigned() -> None:
    assert choose_specialist(ROSTER, "qc", Tier.L3, {}) is None


def test_category_routes_to_its_queue_per_tier_with_default() -> None:
    assert ROSTER.queue_for(Category.REGISTRATION_SIGN_IN, Tier.L1) == "sign-in"
    assert ROSTER.queue_for(Category.TECHNICAL_FAULT, Tier.L1) == "general"
    assert ROSTER.queue_for(Category.REGISTRATION_SIGN_IN, Tier.L2) == "senior"


def test_shipped_roster_covers_every_category_and_tier() -> None:
    roster = load_roster()
    for tier in Tier:
        for category in Category:
            queue = roster.queue_for(category, tier)
            assert roster.candidates(queue, tier), f"nobody serves {queue} at {tier.value}"


def test_roster_file_is_read_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "roster.toml"
    path.write_text(
        '[routes.L1]\ndefault = "a"\n[routes.L2]\ndefault = "b"\n[routes.L3]\ndefault = "c"\n'
        '[[specialists]]\nid = "x"\ntier = "L1"\nqueues = ["a"]\nactive = false\n',
        encoding="utf-8",
    )
    roster = load_roster(path)
    assert roster.specialists == (Specialist("x", Tier.L1, frozenset({"a"}), active=False),)


def test_a_roster_slot_may_name_the_person_who_works_it() -> None:
    roster = parse_roster(
        {
            "routes": {"L1": {"default": "a"}, "L2": {"default": "b"}, "L3": {"default": "c"}},
            "specialists": [
                {"id": "x", "tier": "L1", "queues": ["a"], "username": "l1.ivanova"},
                {"id": "y", "tier": "L1", "queues": ["a"]},
            ],
        }
    )
    assert roster.ids_of("l1.ivanova") == frozenset({"x"})
    assert roster.ids_of("") == roster.ids_of("l2.petrov") == frozenset()
    # Naming the person does not make a routed case theirs to hold: it is still nobody's.
    assert roster.person_holder("x") == ""
    with pytest.raises(RosterError) as refused:
        parse_roster(
            {
                "routes": {"L1": {"default": "a"}, "L2": {"default": "b"}, "L3": {"default": "c"}},
                "specialists": [
                    {"id": "x", "tier": "L1", "queues": ["a"], "username": "l1.ivanova"},
                    {"id": "y", "tier": "L1", "queues": ["a"], "username": "l1.ivanova"},
                    {"id": "z", "tier": "L1", "queues": ["a"], "username": "l1 ivanova"},
                ],
            }
        )
    assert "username 'l1.ivanova' names another slot too" in str(refused.value)
    assert "'z': username must be a username without spaces" in str(refused.value)


def test_invalid_roster_lists_every_problem() -> None:
    with pytest.raises(RosterError) as refused:
        parse_roster(
            {
                "routes": {"L1": {"NO_SUCH": "q"}, "L2": {"default": "b"}, "L4": {}},
                "specialists": [
                    {"id": "x", "tier": "L9", "queues": ["a"]},
                    {"id": "y", "tier": "L1", "queues": []},
                    {"id": "z", "tier": "L1", "queues": ["a"]},
                    {"id": "z", "tier": "L1", "queues": ["a"]},
                ],
            }
        )
    message = str(refused.value)
    for problem in (
        "unknown category 'NO_SUCH'",
        "[routes.L1] has no queue for",
        "[routes.L3] is missing",
        "[routes.L4] is not a tier",
        "tier 'L9'",
        "'y' must list at least one queue",
        "'z' appears more than once",
    ):
        assert problem in message
