"""The numpy half of ``ingest_big``: a group's lines read by DuckDB's JSON
reader straight into numpy columns (one line, one row: the keys named up
front, every one read as DOUBLE), then the points and their summaries built
in numpy. No Python runs per line, and DuckDB neither unpivots, joins nor
sorts. Where every line has every key, the (keys x lines) table is inserted
as it is, one INSERT a key (``_insert_wide``); otherwise the present cells
are laid out as long columns in series order and written with ``columns``
a part at a time. Either way each series lands contiguous, seq ascending.

DuckDB keeps a registered array until the transaction commits, so what is
registered is kept small: about 12 bytes a point (10 keys) in the wide form.

The rows are checked before anything is written, as ``ingest_big`` checks
its insert: as many rows as lines, and as many values as the bytes have
``:`` separators besides those of ``_step``, ``_t`` and the keys' own. A
value that is missing (a key the sample missed), ``null``, not a number, or
on a line without an integer ``_step`` leaves a separator without a value:
then ``None``, and the caller reads the group another way.

The summaries are those of ``ingest._summary_aggregate``, computed per run
on its (keys x lines) block: first/last/count include NaN, min/max and their
steps ignore it (the first point holding the minimum or maximum), first/last
time are those of the first/last point with a time.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from . import columns
from .catalog_schema import quote

np: Any = None  # numpy, set by ``ingest`` (imported on first use)

#: (run key, run_no, first row in the file, lines, line number of its first line)
Span = tuple[str, int, int, int, int]
_SUMMARIES = "numpy_summaries"
_WIDE = "numpy_wide"
#: Cells (points and the missing ones between) laid out and inserted at a time.
PART_POINTS = 2_000_000


def available() -> bool:
    return columns.numpy_module() is not None


class Read(NamedTuple):
    """A group's lines as read by ``read``: (keys x lines) values and where
    a value is (on a line with a step), each line's step and time."""

    keys: list[str]
    values: Any
    present: Any
    dense: bool
    step_v: Any
    t_v: Any
    t_ok: Any


def ingest(
    cur: Any, tmpdir: str, source: str, spans: list[Span], keys: list[str], expected: int
) -> int | None:
    """Points of the lines of ``source`` (``spans`` in run_no order), their
    summaries into ``chunk_summaries``; None (nothing written) when the
    values read do not account for ``expected`` separators."""
    got = read(cur, source, sum(span[3] for span in spans), keys, expected)
    if got is None:
        return None
    return write(cur, tmpdir, got, spans, columns.key_numbers(cur, got.keys))


def read(con: Any, source: str, lines: int, keys: list[str], expected: int) -> Read | None:
    """The ``lines`` lines of ``source`` read by ``con`` (any DuckDB
    connection: nothing is written), or None when the values read do not
    account for ``expected`` separators. Keys no line has are left out."""
    global np
    np = columns.numpy_module()
    kinds = {"_step": "JSON", "_t": "DOUBLE", **{k: "DOUBLE" for k in keys}}
    spec = ", ".join(f"{_sql_text(k)}: '{kind}'" for k, kind in kinds.items())
    # A step counts only when it reads back as the same integer (``2.0``,
    # ``"1"``, ``true`` are no step on the Python path either).
    step = (
        "CASE WHEN CAST(TRY_CAST(_step AS BIGINT) AS VARCHAR) = CAST(_step AS VARCHAR) "
        "THEN TRY_CAST(_step AS BIGINT) END"
    )
    got = con.execute(
        f"SELECT {step} AS s, _t AS t, "
        + ", ".join(f"{quote(k)} AS c{i}" for i, k in enumerate(keys))
        + " FROM read_json(?, format='newline_delimited', "
        f"columns={{{spec}}}, ignore_errors=true, maximum_object_size=67108864)",
        [source],
    ).fetchnumpy()
    if len(got["s"]) != lines:
        return None  # a line the reader dropped or split
    step_v, step_ok = _unmask(got["s"], "int64")
    t_v, t_ok = _unmask(got["t"], "float64")
    n_keys = len(keys)
    values = np.empty((n_keys, lines), dtype="float64")
    present = np.empty((n_keys, lines), dtype=bool)
    for i in range(n_keys):
        values[i], ok = _unmask(got.pop(f"c{i}"), "float64")
        np.logical_and(ok, step_ok, out=present[i])
    del got
    cells = present.sum(axis=1)
    own = np.array([k.count(":") for k in keys], dtype="int64")
    if int(cells.sum()) != expected - int((cells * own).sum()):
        return None
    if not cells.all():  # keys known from other groups that no line here has
        kept = np.flatnonzero(cells)
        keys = [keys[i] for i in kept]
        values, present = values[kept], present[kept]
    return Read(keys, values, present, bool(present.all()), step_v, t_v, t_ok)


def write(cur: Any, tmpdir: str, got: Read, spans: list[Span], ids: dict[str, int]) -> int:
    """Insert the points ``read`` gave (``spans`` in run_no order) and
    their summaries into ``chunk_summaries``; ``ids``: each key's key_no."""
    global np
    np = columns.numpy_module()
    keys, values, present, dense = got.keys, got.values, got.present, got.dense
    order = sorted(range(len(keys)), key=lambda i: ids[keys[i]])  # key_no order: series order
    if order != list(range(len(keys))):
        keys = [keys[i] for i in order]
        values, present = values[order], present[order]
    step_v, t_v, t_ok = got.step_v, got.t_v, got.t_ok
    if dense:
        n = _insert_wide(cur, spans, ids, keys, values, step_v, t_v, t_ok)
        _summaries(cur, spans, [ids[k] for k in keys], values, present, dense, step_v, t_v, t_ok)
        return n
    n = 0
    for part in _parts(spans, len(keys)):  # the long columns of a part at a time
        points = _sparse_points(part, ids, keys, values, present, step_v, t_v, t_ok)
        n += columns.insert_metrics(cur, tmpdir, points, None, ordered=True)
        del points
    _summaries(cur, spans, [ids[k] for k in keys], values, present, dense, step_v, t_v, t_ok)
    return n


def _insert_wide(cur, spans, ids, keys, values, step_v, t_v, t_ok) -> int:  # type: ignore[no-untyped-def]
    """Every key on every line: the (keys x lines) table registered as it is,
    with each line's run and seq, and one INSERT a key, so each series lands
    contiguous (by key, then run and line). DuckDB holds what is registered
    until the transaction ends: these columns take about 12 bytes a point
    for 10 keys, where the long ones of ``_sparse_points`` take 41."""
    lines = values.shape[1]
    run_of_line = np.empty(lines, dtype="int32")
    seq_of_line = np.empty(lines, dtype="int64")
    for _, run, lo, n, first_line in spans:
        run_of_line[lo : lo + n] = run
        seq_of_line[lo : lo + n] = np.arange(first_line, first_line + n)
    wide = {"run_no": run_of_line, "seq": seq_of_line, "step": step_v, "t": t_v}
    # The array scan reads NaN as NULL: NULL is NaN again (no cell is missing).
    t_sql = "coalesce(t, 'NaN'::DOUBLE)"
    if not t_ok.all():
        wide["t_null"] = ~t_ok
        t_sql = f"CASE WHEN t_null THEN NULL ELSE {t_sql} END"
    for i in range(len(keys)):
        wide[f"c{i}"] = values[i]
    cur.register(_WIDE, wide)
    try:
        with columns.one_thread(cur):
            for i, key in enumerate(keys):
                cur.execute(
                    f"INSERT INTO metrics SELECT run_no, {int(ids[key])}, seq, step, {t_sql}, "
                    f"coalesce(c{i}, 'NaN'::DOUBLE) FROM {_WIDE}"
                )
    finally:
        cur.unregister(_WIDE)
    return len(keys) * lines


def _parts(spans: list[Span], n_keys: int) -> list[list[Span]]:
    """``spans`` cut into runs of at most ``PART_POINTS`` cells (a longer
    run on its own), so the long columns stay small beside the wide ones."""
    parts: list[list[Span]] = [[]]
    cells = 0
    for span in spans:
        if parts[-1] and cells + span[3] * n_keys > PART_POINTS:
            parts.append([])
            cells = 0
        parts[-1].append(span)
        cells += span[3] * n_keys
    return parts


def _unmask(col: Any, dtype: str) -> tuple[Any, Any]:
    """A fetched column's values and where they are not NULL."""
    data = np.ma.getdata(col).astype(dtype, copy=False)
    mask = np.ma.getmask(col)
    if mask is np.ma.nomask:
        return data, np.ones(len(data), dtype=bool)
    return data, ~mask


def _sparse_points(spans, ids, keys, values, present, step_v, t_v, t_ok) -> columns.Points:  # type: ignore[no-untyped-def]
    """Keys missing from some lines: the present cells, found run by run in
    (key, line) order, gathered by their place in the (keys x lines) table."""
    lines = values.shape[1]
    parts = []
    for _, _, lo, n, _ in spans:
        local = np.flatnonzero(present[:, lo : lo + n])
        parts.append((local // n) * lines + lo + local % n)
    flat = np.concatenate(parts) if parts else np.empty(0, dtype="int64")
    line = flat % lines
    run_of_line = np.empty(lines, dtype="int32")
    seq_of_line = np.empty(lines, dtype="int64")
    for _, run, lo, n, first_line in spans:
        run_of_line[lo : lo + n] = run
        seq_of_line[lo : lo + n] = np.arange(first_line, first_line + n)
    key_ids = np.array([ids[k] for k in keys], dtype="int32")
    t_null = None if t_ok.all() else ~t_ok[line]
    return columns.Points(
        run_of_line[line],
        key_ids[flat // lines],
        seq_of_line[line],
        step_v[line],
        t_v[line],
        values.ravel()[flat],
        t_null,
    )


def _summaries(cur, spans, key_ids, values, present, dense, step_v, t_v, t_ok) -> None:  # type: ignore[no-untyped-def]
    """One summary row per run and key with points, into ``chunk_summaries``."""
    n_keys = len(key_ids)
    rows = n_keys * len(spans)
    out = {
        name: np.zeros(rows, dtype=kind)
        for name, kind in (
            ("run_no", "int32"),
            ("key_no", "int32"),
            ("first", "float64"),
            ("last", "float64"),
            ("min", "float64"),
            ("max", "float64"),
            ("count", "int64"),
            ("step_min", "int64"),
            ("step_max", "int64"),
            ("last_step", "int64"),
            ("first_t", "float64"),
            ("last_t", "float64"),
            ("last_seq", "int64"),
            ("has_min", "bool"),
            ("has_first_t", "bool"),
            ("has_last_t", "bool"),
        )
    }
    keys_col = np.array(key_ids, dtype="int32")
    every = np.arange(n_keys)
    all_t = bool(t_ok.all())
    for j, (_, run, lo, n, first_line) in enumerate(spans):
        hi = lo + n
        part = slice(j * n_keys, (j + 1) * n_keys)
        block = values[:, lo:hi]
        if dense:
            count = np.full(n_keys, n)
            first = np.zeros(n_keys, dtype="int64")
            last = np.full(n_keys, n - 1)
            mask = None
        else:
            mask = present[:, lo:hi]
            count = mask.sum(axis=1)
            first = mask.argmax(axis=1)
            last = n - 1 - mask[:, ::-1].argmax(axis=1)
        numbers = ~np.isnan(block) if mask is None else mask & ~np.isnan(block)
        plain = bool(numbers.all())
        lo_at = (block if plain else np.where(numbers, block, np.inf)).argmin(axis=1)
        hi_at = (block if plain else np.where(numbers, block, -np.inf)).argmax(axis=1)
        has = numbers.any(axis=1)
        if not plain:  # an infinity the NaN stand-ins tie with: its first place
            lo_at = _first_true(numbers, lo_at, block, np.inf)
            hi_at = _first_true(numbers, hi_at, block, -np.inf)
        o = {name: col[part] for name, col in out.items()}
        o["run_no"][:] = run
        o["key_no"][:] = keys_col
        o["count"][:] = count
        o["first"][:] = block[every, first]
        o["last"][:] = block[every, last]
        o["min"][:] = block[every, lo_at]
        o["max"][:] = block[every, hi_at]
        o["has_min"][:] = has
        steps = step_v[lo:hi]
        o["step_min"][:] = steps[lo_at]
        o["step_max"][:] = steps[hi_at]
        o["last_step"][:] = steps[last]
        o["last_seq"][:] = first_line + last
        times = t_v[lo:hi]
        if all_t:
            o["first_t"][:] = times[first]
            o["last_t"][:] = times[last]
            o["has_first_t"][:] = o["has_last_t"][:] = True
        else:
            timed = t_ok[lo:hi][None, :] if mask is None else mask & t_ok[lo:hi][None, :]
            timed = np.broadcast_to(timed, block.shape)
            any_t = timed.any(axis=1)
            o["first_t"][:] = times[timed.argmax(axis=1)]
            o["last_t"][:] = times[n - 1 - timed[:, ::-1].argmax(axis=1)]
            o["has_first_t"][:] = o["has_last_t"][:] = any_t
    keep = out["count"] > 0
    if not keep.all():
        out = {name: col[keep] for name, col in out.items()}
    cur.register(_SUMMARIES, out)
    try:
        # The array scan reads NaN as NULL: NULL is NaN again where a value is
        # certain to be there, and the flags say where one is not.
        cur.execute(
            f"""INSERT INTO chunk_summaries
                SELECT r.run_id, k.key, coalesce(s.first, 'NaN'::DOUBLE),
                       coalesce(s.last, 'NaN'::DOUBLE),
                       CASE WHEN s.has_min THEN s.min END, CASE WHEN s.has_min THEN s.max END,
                       s.count, CASE WHEN s.has_min THEN s.step_min END,
                       CASE WHEN s.has_min THEN s.step_max END, s.last_step,
                       CASE WHEN s.has_first_t THEN coalesce(s.first_t, 'NaN'::DOUBLE) END,
                       CASE WHEN s.has_last_t THEN coalesce(s.last_t, 'NaN'::DOUBLE) END,
                       s.last_seq
                FROM {_SUMMARIES} s JOIN runs r ON r.run_no = s.run_no
                     JOIN metric_keys k ON k.key_no = s.key_no"""
        )
    finally:
        cur.unregister(_SUMMARIES)


def _first_true(numbers: Any, at: Any, block: Any, stand_in: float) -> Any:
    """``at`` moved, in rows whose extreme is ``stand_in`` (±inf, what NaN
    and missing cells were replaced by), to that value's first real place."""
    rows = np.flatnonzero(~numbers[np.arange(len(at)), at])
    for row in rows:
        real = np.flatnonzero(numbers[row] & (block[row] == stand_in))
        if len(real):
            at[row] = real[0]
    return at


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
