"""How a team calendar names its members at each privacy level (converters.disclosure.member_labels)."""

from __future__ import annotations

from caldav_bridge.converters.disclosure import member_labels
from caldav_bridge.model.feeds import Privacy

NAMES = {"c1": "Anna Fischer", "c2": "Ben Okafor", "c3": "Anna Berg", "c4": "Cleo", "c5": "  ", "c6": "Ben"}


def test_full_names_the_member() -> None:
    assert member_labels(NAMES, Privacy.FULL) == {
        "c1": "Anna Fischer",
        "c2": "Ben Okafor",
        "c3": "Anna Berg",
        "c4": "Cleo",
        "c6": "Ben",
    }


def test_minimal_gives_first_names_with_an_initial_where_two_share_one() -> None:
    assert member_labels(NAMES, Privacy.MINIMAL) == {
        "c1": "Anna F.",
        "c2": "Ben O.",
        "c3": "Anna B.",
        "c4": "Cleo",
        "c6": "Ben",  # no last name to tell them apart by
    }


def test_busy_names_nobody() -> None:
    assert member_labels(NAMES, Privacy.BUSY) == {}
