"""Smoothing equals TensorBoard's classicSmoothing, checked against a reference
written in the test straight from the published TypeScript
(tensorboard/webapp/widgets/line_chart_v2/data_transformer.ts)."""

from __future__ import annotations

import math

import pytest

from trackui.tui.smoothing import DEFAULT_SMOOTHING, SMOOTHING_LEVELS, next_level, smooth


def classic_smoothing(ys: list[float], smoothing_weight: float) -> list[float]:
    """A line-by-line port of TensorBoard's classicSmoothing for one series."""
    if not math.isfinite(smoothing_weight):
        smoothing_weight = 0
    smoothing_weight = max(0, min(smoothing_weight, 1))
    initial = ys[0] if ys else None
    is_constant = all(y == initial for y in ys)
    if is_constant:
        return list(ys)
    last = 0 if len(ys) > 0 else math.nan
    num_accum = 0
    result = []
    for next_val in ys:
        if not math.isfinite(next_val):
            result.append(next_val)
        else:
            last = last * smoothing_weight + (1 - smoothing_weight) * next_val
            num_accum += 1
            debias_weight = (
                1 if smoothing_weight == 1 else 1 - math.pow(smoothing_weight, num_accum)
            )
            result.append(last / debias_weight)
    return result


def same(a: list[float], b: list[float]) -> bool:
    """Equal element by element, NaN equal to NaN, floats within 1e-12 relative."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if math.isnan(x) or math.isnan(y):
            if not (math.isnan(x) and math.isnan(y)):
                return False
        elif math.isinf(x) or math.isinf(y):
            if x != y:
                return False
        elif not math.isclose(x, y, rel_tol=1e-12, abs_tol=1e-15):
            return False
    return True


SERIES = {
    "noisy decay": [math.exp(-i / 7) + 0.1 * math.sin(i * 1.7) for i in range(60)],
    "with nan": [1.0, 2.0, math.nan, 4.0, 3.0, math.nan, math.nan, 0.5],
    "with inf": [0.3, math.inf, 0.1, -math.inf, 0.2, 0.25],
    "starts with nan": [math.nan, 5.0, 4.0, 6.0],
    "all nan": [math.nan, math.nan, math.nan],
    "constant": [2.5] * 10,
    "constant inf": [math.inf] * 3,
    "single point": [7.25],
    "empty": [],
    "negative and large": [-1e6, 3e6, -2e6, 5.0, 1e-9],
    "zero then ones": [0.0, 1.0, 1.0, 1.0],
}


@pytest.mark.parametrize("name", sorted(SERIES))
@pytest.mark.parametrize("weight", [0.0, 0.6, 0.9, 0.99, 0.999, 1.0])
def test_matches_the_published_formula(name: str, weight: float) -> None:
    ys = SERIES[name]
    assert same(smooth(ys, weight), classic_smoothing(ys, weight))


def test_hand_computed_three_points() -> None:
    # w = 0.5, values 1, 3, 2:
    # n=1: last = 0.5   debias = 0.5   -> 1
    # n=2: last = 1.75  debias = 0.75  -> 7/3
    # n=3: last = 1.875 debias = 0.875 -> 15/7
    assert same(smooth([1.0, 3.0, 2.0], 0.5), [1.0, 7 / 3, 15 / 7])


def test_non_finite_points_pass_through_and_do_not_count() -> None:
    out = smooth([1.0, math.nan, 3.0, math.inf, 2.0], 0.5)
    assert math.isnan(out[1]) and out[3] == math.inf
    # the finite points are smoothed as if the others were not there
    assert same([out[0], out[2], out[4]], [1.0, 7 / 3, 15 / 7])


def test_constant_series_stays_constant() -> None:
    assert smooth([0.125] * 5, 0.9) == [0.125] * 5


def test_weight_zero_is_raw_and_first_point_is_kept() -> None:
    ys = SERIES["noisy decay"]
    assert same(smooth(ys, 0.0), ys)
    assert smooth(ys, 0.99)[0] == pytest.approx(ys[0])
    assert smooth(ys, 0.9) != ys


def test_bad_weights_are_clamped_like_tensorboard() -> None:
    ys = [1.0, 4.0, 2.0]
    assert same(smooth(ys, math.nan), ys)
    assert same(smooth(ys, -3.0), ys)
    assert same(smooth(ys, 7.0), classic_smoothing(ys, 1.0))


def test_input_is_not_modified() -> None:
    ys = [1.0, 2.0, 3.0]
    smooth(ys, 0.6)
    assert ys == [1.0, 2.0, 3.0]


def test_levels_and_cycling() -> None:
    assert SMOOTHING_LEVELS == (0.0, 0.6, 0.9, 0.99)
    assert DEFAULT_SMOOTHING == 0.6
    assert next_level(0.6) == 0.9
    assert next_level(0.99) == 0.0
    assert next_level(0.0, -1) == 0.99
    assert next_level(0.9, -1) == 0.6
    assert next_level(0.93) == 0.99  # snaps to the nearest level first (0.9), then steps
