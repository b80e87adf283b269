"""The one cosine every step compares vectors with."""

from __future__ import annotations

import pytest

from index.embed.base import cosine


def test_cosine_is_one_for_one_direction_zero_across_and_zero_for_an_empty_vector() -> None:
    assert cosine([1.0, 2.0], [2.0, 4.0]) == pytest.approx(1.0)
    assert cosine([1.0, 0.0], [0.0, 3.0]) == 0.0
    assert cosine([1.0, 1.0], [-1.0, -1.0]) == pytest.approx(-1.0)
    assert cosine([0.0, 0.0], [1.0, 2.0]) == 0.0
