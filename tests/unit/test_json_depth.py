"""feeds.cli.json_depth follows JSON's nesting on raw bytes, whatever the chunks and the strings hold."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.cli.json_depth import DepthGuard, TooDeep

TEXT = st.text(alphabet=st.sampled_from(list('ab"\\[]{}\n\u00e9')), max_size=8)
VALUES = st.recursive(
    st.none() | st.integers() | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=12,
)


def _depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


@settings(max_examples=200, deadline=None)
@given(value=VALUES, cuts=st.lists(st.integers(0, 10_000), max_size=4))
def test_any_json_in_any_chunks_ends_balanced_and_within_its_depth(value: object, cuts: list[int]) -> None:
    raw = json.dumps(value, ensure_ascii=False).encode()
    points = sorted({c % (len(raw) + 1) for c in cuts})
    guard = DepthGuard(limit=_depth(value))
    for start, end in zip([0, *points], [*points, len(raw)], strict=True):
        guard.feed(raw[start:end])
    assert guard.depth == 0


@pytest.mark.parametrize(
    "raw",
    [b"[" * 65, b'{"a":' * 65, b'[["\\\\"' + b"[" * 63, b'[{"k": "\\"[[["}, ' + b"[" * 64],
)
def test_nesting_past_the_limit_is_refused(raw: bytes) -> None:
    with pytest.raises(TooDeep):
        DepthGuard(limit=64).feed(raw)


def test_brackets_in_strings_do_not_count() -> None:
    guard = DepthGuard(limit=2)
    guard.feed(b'[{"a": "[[[[{{{{\\"[[[[", "b": "\\\\"}]')
    assert guard.depth == 0
