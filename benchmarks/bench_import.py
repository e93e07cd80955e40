"""Points per second reading TensorBoard event files and an MLflow file store,
scaled up from the shapes of the fixtures (default 100 runs x 100 k points each).

    python benchmarks/bench_import.py [--runs 100] [--points 100000] [--mode read|import|both]
                                      [--tool tensorboard|mlflow|both] [--profile]
                                      [--pure-crc] [--no-numpy] [--no-c] [--keep DIR]

Prints one figure per line, per tool. ``read`` (read-through, what
``trackui PATH`` does): the first read end to end (files -> catalog), a
reopen with nothing new, a refresh after one new point per run, and the
catalog's disk per point beside the source's bytes per point. ``import``:
the import (foreign files -> trackui run files), the catalog ingest of what
was imported, both together, and a re-import with nothing new. ``--profile``
prints where the first read spends its time. ``--tool mlflow-sqlite`` reads
an ``mlflow.db`` (read mode only); ``--keep DIR`` builds that database once
in DIR and reads a fresh copy of it each time (building takes minutes).
"""

from __future__ import annotations

import argparse
import os
import shutil
import struct
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from trackui.store.importers import _protobuf, _tfscalars, import_path
from trackui.store.importers._protobuf import masked_crc32c
from trackui.store.queries import Store
from trackui.store.sources import bind

KEYS = (
    "train/loss",
    "train/box_loss",
    "train/cls_loss",
    "metrics/mAP50_B_",
    "metrics/mAP50-95_B_",
    "lr/pg0",
    "lr/pg1",
    "lr/pg2",
    "val/box_loss",
    "val/cls_loss",
)


def _value(step: int, i: int) -> float:
    """A loss-like curve per key with some noise: like real logs, hardly any
    value repeats (a bench whose values repeat flatters caches)."""
    noise = ((step * 7919 + i * 104729) % 1000) / 1e6
    return (1.0 + 0.1 * i) / (1.0 + step / 50.0) + noise


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(num: int, wire: int, payload: bytes) -> bytes:
    return _varint((num << 3) | wire) + payload


def _ld(num: int, data: bytes) -> bytes:
    return _field(num, 2, _varint(len(data)) + data)


def _record(data: bytes) -> bytes:
    header = struct.pack("<Q", len(data))
    return (
        header
        + struct.pack("<I", masked_crc32c(header))
        + data
        + struct.pack("<I", masked_crc32c(data))
    )


def _event(wall: float, step: int, tag: str, value: float) -> bytes:
    val = _ld(1, tag.encode()) + _field(2, 5, struct.pack("<f", value))
    summary = _ld(1, val)
    return _field(1, 1, struct.pack("<d", wall)) + _field(2, 0, _varint(step)) + _ld(5, summary)


def make_tensorboard(root: Path, runs: int, points: int) -> None:
    """One real-shaped event file, copied into ``runs`` run directories (the
    CRC is costly to compute in Python; the reader still checks every one)."""
    steps = points // len(KEYS)
    t0 = 1_795_700_000.0
    parts = [_record(_field(1, 1, struct.pack("<d", t0)) + _ld(3, b"brain.Event:2"))]
    for step in range(steps):
        for i, key in enumerate(KEYS):
            parts.append(_record(_event(t0 + step * 0.01, step, key, _value(step, i))))
    blob = b"".join(parts)
    for r in range(runs):
        run = root / f"run-{r:03d}"
        run.mkdir(parents=True)
        (run / f"events.out.tfevents.{int(t0)}.bench.{r}.0").write_bytes(blob)


def make_mlflow(root: Path, runs: int, points: int) -> None:
    steps = points // len(KEYS)
    exp = root / "mlruns" / "1"
    exp.mkdir(parents=True)
    (exp / "meta.yaml").write_text(
        "artifact_location: file:///nowhere\nexperiment_id: '1'\nlifecycle_stage: active\n"
        "name: bench\ncreation_time: 1795700000000\nlast_update_time: 1795700000000\n"
    )
    lines_per_key = {
        key: "".join(f"{1795700000000 + s * 10} {_value(s, i)!r} {s}\n" for s in range(steps))
        for i, key in enumerate(KEYS)
    }
    for r in range(runs):
        run_id = f"{r:032x}"
        run = exp / run_id
        (run / "params").mkdir(parents=True)
        (run / "tags").mkdir()
        (run / "params" / "lr0").write_text(str(0.001 * (r + 1)))
        (run / "tags" / "mlflow.runName").write_text(f"bench-{r}")
        (run / "meta.yaml").write_text(
            f"artifact_uri: file:///nowhere\nend_time: 1795700100000\nexperiment_id: '1'\n"
            f"lifecycle_stage: active\nrun_id: {run_id}\nrun_name: bench-{r}\nstart_time: "
            f"1795700000000\nstatus: 3\nuser_id: bench\n"
        )
        for key, text in lines_per_key.items():
            metric = run / "metrics" / key
            metric.parent.mkdir(parents=True, exist_ok=True)
            metric.write_text(text)


def make_mlflow_sqlite(root: Path, runs: int, points: int) -> Path:
    """An ``mlflow.db`` with MLflow's own schema (the fixture's dump, its rows
    dropped) holding the same runs and points as ``make_mlflow``."""
    import sqlite3

    dump = Path(__file__).resolve().parents[1] / "fixtures" / "mlflow" / "sqlite" / "mlflow.sql"
    root.mkdir(parents=True)
    db = root / "mlflow.db"
    con = sqlite3.connect(db)
    con.executescript(dump.read_text())
    for table in ("metrics", "latest_metrics", "params", "tags", "runs", "experiments"):
        con.execute(f"DELETE FROM {table}")
    con.commit()
    # written once, fast: no journal, no syncs, metrics' indexes made after the rows
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    indexes = con.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'metrics' "
        "AND sql IS NOT NULL"
    ).fetchall()
    for name, _ in indexes:
        con.execute(f'DROP INDEX "{name}"')
    con.execute(
        "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, "
        "creation_time, last_update_time) VALUES (1, 'bench', 'file:///nowhere', 'active', "
        "1795700000000, 1795700000000)"
    )
    steps = points // len(KEYS)
    for r in range(runs):
        run_id = f"{r:032x}"
        con.execute(
            "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, "
            "user_id, status, start_time, end_time, source_version, lifecycle_stage, "
            "artifact_uri, experiment_id) VALUES (?, ?, 'LOCAL', '', '', 'bench', 'FINISHED', "
            "1795700000000, 1795700100000, '', 'active', 'file:///nowhere', 1)",
            (run_id, f"bench-{r}"),
        )
        con.execute(
            "INSERT INTO params (key, value, run_uuid) VALUES ('lr0', ?, ?)",
            (str(0.001 * (r + 1)), run_id),
        )
    # the first run's points, then copied in SQL for the others: each run's rows
    # together, as runs logged one after another leave them
    con.executemany(
        "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
        "VALUES (?, ?, ?, ?, ?, 0)",
        (
            (key, _value(s, i), 1795700000000 + s * 10, f"{0:032x}", s)
            for s in range(steps)
            for i, key in enumerate(KEYS)
        ),
    )
    for r in range(1, runs):
        con.execute(
            "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
            "SELECT key, value, timestamp, ?, step, is_nan FROM metrics WHERE run_uuid = ? "
            "ORDER BY rowid",
            (f"{r:032x}", f"{0:032x}"),
        )
    for _, sql in indexes:
        con.execute(sql)
    con.commit()
    con.execute("PRAGMA journal_mode=DELETE")
    con.close()
    return db


def measure(kind: str, source: Path, work: Path) -> None:
    store_root = work / f"store-{kind}"
    started = time.perf_counter()
    report = import_path(store_root, source, kind=kind)
    imported = time.perf_counter() - started
    if report.problems:
        print(f"# {kind} problems: {report.problems[:3]}", file=sys.stderr)
    started = time.perf_counter()
    with Store(store_root, catalog_path=work / f"{kind}.duckdb") as store:
        ingested = time.perf_counter() - started
        assert store.count_runs() == report.runs
    started = time.perf_counter()
    again = import_path(store_root, source, kind=kind)
    reimport = time.perf_counter() - started
    points = report.points
    print(f"{kind}_runs {report.runs}")
    print(f"{kind}_points {points}")
    print(f"{kind}_import_points_per_s {points / imported:,.0f}")
    print(f"{kind}_catalog_ingest_points_per_s {points / ingested:,.0f}")
    print(f"{kind}_end_to_end_points_per_s {points / (imported + ingested):,.0f}")
    print(f"{kind}_reimport_no_change_s {reimport:.2f} (new points: {again.new_points})")


def _append_one(kind: str, source: Path, step: int) -> None:
    """One new point in every run."""
    if kind == "tensorboard":
        for f in sorted(source.glob("run-*/events.out.tfevents.*")):
            with open(f, "ab") as fh:
                fh.write(_record(_event(1_795_800_000.0, step, KEYS[0], 0.5)))
    elif source.is_file():  # an MLflow database: one row per run
        import sqlite3

        with sqlite3.connect(source) as con:
            uuids = [u for (u,) in con.execute("SELECT run_uuid FROM runs")]
            con.executemany(
                "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
                "VALUES (?, 0.5, 1795800000000, ?, ?, 0)",
                [(KEYS[0], u, step) for u in uuids],
            )
        con.close()
    else:
        for f in sorted(source.glob(f"mlruns/1/*/metrics/{KEYS[0]}")):
            with open(f, "a") as fh:
                fh.write(f"1795800000000 0.5 {step}\n")


def _disk(path: Path) -> int:
    sidecars = (path, Path(f"{path}.wal"), Path(f"{path}-wal"))
    return sum(os.path.getsize(p) for p in sidecars if p.exists())


def _source_bytes(source: Path) -> int:
    if source.is_file():  # a database
        return _disk(source)
    return sum(p.stat().st_size for p in source.rglob("*") if p.is_file())


def measure_read(
    kind: str,
    source: Path,
    work: Path,
    *,
    profile: bool,
    label: str | None = None,
    profile_refresh: bool = False,
) -> None:
    """The read-through figures; ``label`` names them (default: ``kind``)."""
    root = work / f"read-{label or kind}"
    bind(root, source, kind)
    db = work / f"read-{label or kind}.duckdb"
    started = time.perf_counter()
    cpu = time.process_time()
    if profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
    store = Store(root, catalog_path=db)
    first = time.perf_counter() - started
    first_cpu = time.process_time() - cpu
    if profile:
        prof.disable()
        stats = pstats.Stats(prof, stream=sys.stderr)
        stats.sort_stats("tottime").print_stats(18)
    (points,) = store.catalog.query("SELECT count(*) FROM metrics")[0]
    runs = store.count_runs()
    store.close()
    reopens = []  # three times, the median quoted
    for i in range(3):
        started = time.perf_counter()
        cpu = time.process_time()
        store = Store(root, catalog_path=db)
        reopens.append((time.perf_counter() - started, time.process_time() - cpu))
        reopen_read = store.catalog.sources[0].progress.bytes_read
        if i < 2:
            store.close()
    reopen, reopen_cpu = sorted(reopens)[1]
    # a refresh after one new point per run, three times (the median is quoted)
    refreshes = []
    refresh_cpus = []
    for i in range(3):
        _append_one(kind, source, 10_000_000 + i)
        before = store.catalog.sources[0].progress.bytes_read
        rows_before = store.catalog.sources[0].progress.rows_read
        if profile_refresh and i == 2:
            import cProfile
            import pstats

            prof = cProfile.Profile()
            prof.enable()
        started = time.perf_counter()
        cpu = time.process_time()
        stats = store.refresh(full=False)
        refreshes.append(time.perf_counter() - started)
        refresh_cpus.append(time.process_time() - cpu)
        if profile_refresh and i == 2:
            prof.disable()
            pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
        read = store.catalog.sources[0].progress.bytes_read - before
        rows = store.catalog.sources[0].progress.rows_read - rows_before
        scanned = store.catalog.sources[0].listing.scanned
    refresh = sorted(refreshes)[1]
    store.close()
    name = label or kind
    print(f"{name}_read_runs {runs}")
    print(f"{name}_read_points {points}")
    print(f"{name}_read_first_s {first:.2f}")
    print(f"{name}_read_first_points_per_s {points / first:,.0f} (budget 1,000,000)")
    print(
        f"{name}_read_first_cpu_s {first_cpu:.2f} (this process's CPU, DuckDB's threads "
        f"included: {points / first_cpu:,.0f} points per CPU-second)"
    )
    print(
        f"{name}_read_reopen_no_change_s {reopen:.3f} (budget 0.3; median of "
        f"{', '.join(f'{r:.3f}' for r, _ in reopens)}; its CPU {reopen_cpu:.3f} s; "
        f"bytes read: {reopen_read})"
    )
    print(
        f"{name}_read_refresh_one_point_per_run_s {refresh:.3f} (budget 0.1; median of "
        f"{', '.join(f'{r:.3f}' for r in refreshes)}; CPU {sorted(refresh_cpus)[1]:.3f} s, "
        f"median of {', '.join(f'{c:.3f}' for c in refresh_cpus)}; each: points: "
        f"{stats.points}, bytes read: {read}, rows read: {rows}, folders listed again: "
        f"{scanned}; load {os.getloadavg()[0]:.2f})"
    )
    print(
        f"{name}_catalog_bytes_per_point {_disk(db) / points:.1f} "
        f"(the source's: {_source_bytes(source) / points:.1f})"
    )


def _mlflow_db(work: Path, keep: Path | None, runs: int, points: int) -> Path:
    """The MLflow database to read: built in WORK, or a copy of the one kept
    in KEEP (built there first when it is not there yet)."""
    if keep is None:
        return make_mlflow_sqlite(work / "mlflow-sqlite", runs, points)
    kept = keep / f"{runs}x{points}" / "mlflow.db"
    if not kept.exists():
        make_mlflow_sqlite(kept.parent, runs, points)
    (work / "mlflow-sqlite").mkdir()
    shutil.copyfile(kept, work / "mlflow-sqlite" / "mlflow.db")
    return work / "mlflow-sqlite" / "mlflow.db"


def _mlflow_columns() -> Any:
    """The MLflow columns reader (whose C database reader ``--no-c`` turns off)."""
    try:
        from trackui.store.importers import _mlflow_columns as columns
    except ImportError:
        return None
    return columns


def _tb_columns() -> Any:
    """The TensorBoard columns reader (whose C decoder ``--no-c`` turns off), None without NumPy."""
    try:
        from trackui.store.importers import _tfcolumns
    except ImportError:
        return None
    return _tfcolumns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--points", type=int, default=100_000, help="points per run")
    parser.add_argument("--mode", choices=("read", "import", "both"), default="both")
    parser.add_argument("--profile", action="store_true", help="profile the first read")
    parser.add_argument(
        "--profile-refresh", action="store_true", help="profile the third refresh (read mode)"
    )
    parser.add_argument(
        "--tool",
        choices=("tensorboard", "mlflow", "mlflow-sqlite", "both"),
        default="both",
        help="both: TensorBoard and the MLflow file store",
    )
    parser.add_argument(
        "--pure-crc", action="store_true", help="check CRC32C in Python even if a C module is there"
    )
    parser.add_argument(
        "--no-numpy", action="store_true", help="float32 -> shortest decimal without NumPy"
    )
    parser.add_argument(
        "--no-c",
        action="store_true",
        help="TensorBoard: the NumPy decoder even if the C one is built; MLflow database: "
        "rows read by the Python columns reader even if the C one is built",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="mlflow-sqlite: build the database in DIR once, and read a copy of it",
    )
    args = parser.parse_args()
    if args.pure_crc:
        _protobuf._C_CRC32C = None
        _protobuf._C_EXTEND = None
    if args.no_numpy:
        _tfscalars.USE_NUMPY = False
    tfcolumns = _tb_columns()
    if args.no_c and tfcolumns is not None:
        tfcolumns.USE_C = False
    mlflow_columns = _mlflow_columns()
    if args.no_c and mlflow_columns is not None:
        mlflow_columns.USE_C = False
    work = Path(tempfile.mkdtemp(prefix="trackui-bench-import-"))
    os.environ["TRACKUI_CACHE_DIR"] = str(work / "cache")
    try:
        print(f"# {args.runs} runs x {args.points} points per tool", file=sys.stderr)
        crc = "C module" if getattr(_protobuf, "_C_CRC32C", None) else "pure Python"
        print(f"# CRC32C: {crc}", file=sys.stderr)
        numpy = _tfscalars.USE_NUMPY and _tfscalars._numpy() is not None
        print(
            f"# float32 -> shortest decimal: {'NumPy' if numpy else 'pure Python'}", file=sys.stderr
        )
        c_on = numpy and tfcolumns is not None and tfcolumns.c_on()
        print(f"# TensorBoard decoder: {'C' if c_on else 'NumPy/Python'}", file=sys.stderr)
        db_c = mlflow_columns is not None and mlflow_columns.c_on()
        print(
            f"# MLflow database rows: {'C' if db_c else 'Python (columns or rows)'}",
            file=sys.stderr,
        )
        print(f"# load average at start: {os.getloadavg()[0]:.2f}", file=sys.stderr)
        if args.tool in ("tensorboard", "both"):
            make_tensorboard(work / "tb", args.runs, args.points)
            if args.mode in ("import", "both"):
                measure("tensorboard", work / "tb", work)
            if args.mode in ("read", "both"):
                measure_read(
                    "tensorboard",
                    work / "tb",
                    work,
                    profile=args.profile,
                    profile_refresh=args.profile_refresh,
                )
            shutil.rmtree(work / "tb")
        if args.tool in ("mlflow", "both"):
            make_mlflow(work / "mlflow", args.runs, args.points)
            if args.mode in ("import", "both"):
                measure("mlflow", work / "mlflow", work)
            if args.mode in ("read", "both"):
                measure_read(
                    "mlflow",
                    work / "mlflow",
                    work,
                    profile=args.profile,
                    profile_refresh=args.profile_refresh,
                )
        if args.tool == "mlflow-sqlite" and args.mode in ("read", "both"):
            db = _mlflow_db(work, args.keep, args.runs, args.points)
            measure_read(
                "mlflow",
                db,
                work,
                profile=args.profile,
                label="mlflow_sqlite",
                profile_refresh=args.profile_refresh,
            )
        print(f"# load average at end: {os.getloadavg()[0]:.2f}", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
