"""The sweep's float shortcut for geometric lines (engine.grid.sweep._geometric_lines) gives exactly
grid_lines' lines, or hands over to it (None)."""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.grid.lines import grid_lines
from engine.grid.sweep import GridPoint, _geometric_lines


@settings(max_examples=400, deadline=None)
@given(
    lower_cents=st.integers(1, 20_000_000),
    width=st.integers(1, 300_000),  # upper = lower x (1 + width / 100,000)
    count=st.integers(1, 300),
    tick=st.sampled_from([D("0.01"), D("0.1"), D("0.5"), D(1), D(10), D("0.0001"), D("0.00000001")]),
)
def test_float_geometric_lines_are_grid_lines(lower_cents, width, count, tick):
    lower = D(lower_cents) / 100
    upper = (lower * (1 + D(width) / 100_000)).quantize(D("0.01"))
    fast = _geometric_lines(GridPoint(lower, upper, count, "geometric"), tick)
    if fast is None:
        return
    lines = grid_lines(lower, upper, count, "geometric", tick)
    assert fast == lines
    assert [str(x) for x in fast] == [str(x) for x in lines]  # the same digits in the output too


def test_a_line_on_a_half_tick_is_left_to_grid_lines():
    # 1000 x (4000/1000)^(1/2) = 2000 = 2.5 ticks of 800: ties to even give 1600, while the float
    # (2000.0000000000002) would round up to 2400; so floats must not decide this one
    assert grid_lines(D(1000), D(4000), 2, "geometric", D(800)) == [D(800), D(1600), D(4000)]
    assert _geometric_lines(GridPoint(D(1000), D(4000), 2, "geometric"), D(800)) is None


def test_real_sweep_lines():
    for lower in range(49000, 56001, 1000):
        for upper in range(62000, 70001, 1333):
            for count in range(10, 101, 9):
                point = GridPoint(D(lower), D(upper), count, "geometric")
                fast = _geometric_lines(point, D("0.01"))
                assert fast == grid_lines(D(lower), D(upper), count, "geometric", D("0.01"))
