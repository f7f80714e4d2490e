"""``fewer_collections`` raises the generation-0 threshold for bulk work and always puts it back."""

from __future__ import annotations

import gc

import pytest

from caldav_bridge.infra.gc_pacing import fewer_collections


def test_raises_and_restores_even_on_error() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), fewer_collections(12_345):
        assert gc.get_threshold() == (12_345, *before[1:])
        with fewer_collections(1_000):  # an inner bulk job keeps the outer setting
            assert gc.get_threshold()[0] == 12_345
        assert gc.get_threshold()[0] == 12_345
        raise RuntimeError("boom")
    assert gc.get_threshold() == before
