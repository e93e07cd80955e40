"""Property test: whatever sequence of ``log()`` calls a training script makes,
the files and then the catalog give back exactly what was logged.

Random sequences of calls (random subsets of tricky keys, non-finite and
extreme values, repeated / jumping / omitted steps) are written by the real
shim, read into a catalog with refreshes interleaved at random points
(incremental ingest), and compared both with what was logged and with a
catalog built in one go from the same files.
"""

from __future__ import annotations

import math
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trackui.store import catalog
from trackui.store.models import MetricSummary
from trackui.store.queries import Store
from trackui.store.writer import Run

# Keys chosen to trip a JSON reader that infers columns: case twins, nested
# paths, unicode, names that look like columns DuckDB or the catalog itself
# uses, and names DuckDB would invent when it renames a duplicate.
TRICKY_KEYS = [
    "loss",
    "Loss",
    "LOSS",
    "train/box_loss",
    "metrics/mAP50-95(B)",
    "a/b/c/d",
    "värde",
    "損失",
    "emoji🙂",
    "with space",
    'quote"d',
    "back\\slash",
    "dot.ted",
    "ordinality",
    "seq",
    "step",
    "value",
    "key",
    "t",
    "C1",
    "loss_1",
    "1",
]
EXTREME_VALUES = [
    math.nan,
    math.inf,
    -math.inf,
    1e-300,
    -1e-300,
    1e300,
    -1e300,
    5e-324,
    -0.0,
    0.0,
    1.7976931348623157e308,
    0,
    1,
    -7,
    2**53 + 1,
    True,
    False,
]

keys = st.one_of(
    st.sampled_from(TRICKY_KEYS),
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12
    ).filter(lambda k: not k.startswith("_")),
)
values = st.one_of(
    st.sampled_from(EXTREME_VALUES),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**62), max_value=2**62),
    st.booleans(),
)
# A step directive: None (omitted: auto-increment), ("same",) repeats the
# last step, ("jump", n) jumps forward or back to n.
steps = st.one_of(
    st.none(),
    st.just(("same", 0)),
    st.tuples(st.just("jump"), st.integers(min_value=0, max_value=2**40)),
)
calls = st.lists(
    st.tuples(
        st.dictionaries(keys, values, max_size=6),
        steps,
        # refresh the catalog after this call? (a refresh costs DuckDB round trips)
        st.sampled_from([False, False, False, True]),
    ),
    min_size=1,
    max_size=16,
)


@dataclass
class Logged:
    """What a test logged, as the catalog should give it back."""

    points: dict[str, list[tuple[int, int, float]]] = field(default_factory=dict)

    def add(self, seq: int, step: int, data: dict[str, Any]) -> None:
        for key, value in data.items():
            self.points.setdefault(key, []).append((seq, step, float(value)))


def same(a: float | None, b: float | None) -> bool:
    """Equal as stored doubles: NaN equals NaN, -0.0 differs from 0.0."""
    if a is None or b is None:
        return a is b
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return struct.pack("<d", a) == struct.pack("<d", b)


def check_history(store: Store, run_id: str, logged: Logged) -> None:
    for key, expected in logged.points.items():
        got = store.history(run_id, key)
        assert [(p.seq, p.step) for p in got] == [(s, st) for s, st, _ in expected], key
        for point, (_, _, value) in zip(got, expected):
            assert same(point.value, value), (key, point, value)
            assert point.t is not None


def check_summaries(store: Store, run_id: str, logged: Logged) -> dict[str, MetricSummary]:
    summaries = {m.key: m for m in store.metric_summaries(run_id)}
    assert set(summaries) == set(logged.points)
    for key, pts in logged.points.items():
        m = summaries[key]
        vals = [v for _, _, v in pts]
        finite_or_inf = [v for v in vals if not math.isnan(v)]
        assert m.count == len(vals), key
        assert same(m.first, vals[0]), (key, m)
        assert same(m.last, vals[-1]), (key, m)
        assert m.last_step == pts[-1][1], (key, m)
        if finite_or_inf:
            lo, hi = min(finite_or_inf), max(finite_or_inf)
            # == rather than same(): min of {-0.0, 0.0} may be either zero
            assert m.min == lo and m.max == hi, (key, m, lo, hi)
            assert m.step_min in {s for _, s, v in pts if v == lo}, (key, m)
            assert m.step_max in {s for _, s, v in pts if v == hi}, (key, m)
        else:
            assert m.min is None and m.max is None, (key, m)
    return summaries


def normalised(summaries: dict[str, MetricSummary]) -> dict[str, tuple[Any, ...]]:
    """Summaries comparable with NaN (NaN != NaN) and without step_min/max ties."""

    def fix(v: Any) -> Any:
        return "nan" if isinstance(v, float) and math.isnan(v) else v

    return {
        k: (fix(m.first), fix(m.last), m.min, m.max, m.count, m.last_step, m.last_t)
        for k, m in summaries.items()
    }


@pytest.mark.parametrize(
    "small_chunk_bytes",
    [0, 1 << 30],
    ids=["duckdb-reader", "python-parser"],  # the catalog's two ways to read metrics
)
@settings(
    max_examples=20,  # per reading path (the suite runs within CI's 15 minutes)
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(calls=calls)
def test_logged_sequences_come_back_exactly(calls: list[Any], small_chunk_bytes: int) -> None:
    with (
        mock.patch.object(catalog, "SMALL_CHUNK_BYTES", small_chunk_bytes),
        tempfile.TemporaryDirectory() as tmp,
    ):
        root = Path(tmp) / "store"
        root.mkdir()
        # In-memory catalogs: the same ingest code as a catalog file, faster.
        live = Store(root, private=True)
        run = Run(project="prop", dir=root, console=False, handle_signals=False)
        logged = Logged()
        step = 0
        try:
            for seq, (data, directive, refresh) in enumerate(calls):
                if directive is None:
                    run.log(data)
                    used = step
                elif directive[0] == "same":
                    used = max(step - 1, 0)
                    run.log(data, step=used)
                else:
                    used = directive[1]
                    run.log(data, step=used)
                step = used + 1
                logged.add(seq, used, data)
                if refresh:
                    live.refresh()
            assert run.dropped == 0
        finally:
            run.finish()
        live.refresh()
        check_history(live, run.id, logged)
        incremental = check_summaries(live, run.id, logged)

        whole = Store(root, private=True)
        check_history(whole, run.id, logged)
        at_once = check_summaries(whole, run.id, logged)
        assert normalised(incremental) == normalised(at_once)
        live.close()
        whole.close()


def test_interleaved_refreshes_see_every_prefix(tmp_path: Path) -> None:
    """A refresh after each call sees exactly the calls made so far."""
    root = tmp_path / "store"
    root.mkdir()
    store = Store(root)
    run = Run(project="p", dir=root, console=False, handle_signals=False)
    for i in range(5):
        run.log({"loss": float(i), "Loss": -float(i)} if i % 2 else {"loss": float(i)})
        store.refresh()
        assert [p.value for p in store.history(run.id, "loss")] == [float(j) for j in range(i + 1)]
    run.finish()
    assert [p.value for p in store.history(run.id, "Loss")] == [-1.0, -3.0]
    store.close()


@pytest.mark.parametrize("values", [(0.0, -0.0), (-0.0, 0.0), (False, -0.0), (-0.0, 0, 0.0)])
@pytest.mark.parametrize("small_chunk_bytes", [0, 1 << 30], ids=["duckdb-reader", "python-parser"])
def test_a_last_zero_keeps_its_sign_across_refreshes(
    tmp_path: Path, values: tuple[float, ...], small_chunk_bytes: int
) -> None:
    """DuckDB skips an update to a value equal to the old one, and -0.0
    equals 0.0: the summary's last value must still be the last logged
    (hypothesis found ``False`` then ``-0.0`` read back as 0.0)."""
    root = tmp_path / "store"
    root.mkdir()
    with mock.patch.object(catalog, "SMALL_CHUNK_BYTES", small_chunk_bytes):
        store = Store(root, private=True)
        run = Run(project="p", dir=root, console=False, handle_signals=False)
        for value in values:
            run.log({"loss": value})
            store.refresh()
        run.finish()
        store.refresh()
        (m,) = store.metric_summaries(run.id)
        assert same(m.last, float(values[-1])) and same(m.first, float(values[0]))
        store.close()
