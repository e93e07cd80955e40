"""``trackui sql`` over the documented views, and ``trackui export``."""

from __future__ import annotations

import csv
import io
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

import trackui
from trackui.cli import main
from trackui.store.catalog import Catalog
from trackui.store.views import VIEWS, Workspace

DOC = Path(__file__).resolve().parent.parent / "docs" / "sql.md"


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse's own errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def sql_json(capsys: pytest.CaptureFixture[str], store: Path, query: str) -> list[dict]:
    code, out, err = run_cli(capsys, "sql", query, str(store), "--json")
    assert code == 0, err
    return json.loads(out)


def workspace_rows(store: Path, query: str) -> tuple[list[str], list[tuple]]:
    with Catalog(store) as catalog:
        catalog.refresh()
        with Workspace(catalog, str(store)) as space:
            result = space.query(query)
    return list(result.columns), result.rows


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    """A store of five detect runs (lr0 and best mAP known) and one cls run,
    with the values JSON cannot hold and a name with LaTeX specials."""
    root = tmp_path / "sweep"
    runs = [
        ("detect", "lr-001", 0.001, [0.1, 0.5, 0.45]),
        ("detect", "lr-005", 0.005, [0.1, 0.2]),
        ("detect", "lr-02", 0.02, [0.3, 0.6]),
        ("detect", "lr-03", 0.03, [0.1]),
        ("detect", "a_b&c%$#{}~^\\", 0.002, [0.05, 0.3]),
        ("cls", "resnet", 0.001, [0.9]),
    ]
    for project, name, lr0, maps in runs:
        run = trackui.init(
            project=project,
            name=name,
            dir=root,
            config={"lr0": lr0, "optimizer": {"name": "SGD"}, "seed": 12345678901234567890},
            tags=["baseline"] if name == "lr-001" else [],
            console=False,
            system_interval=0,
        )
        for step, value in enumerate(maps):
            run.log({"metrics/mAP50-95(B)": value, "train/box_loss": 1.0 / (step + 1)}, step=step)
        run.log({"odd": float("nan")}, step=len(maps))
        run.log({"odd": float("inf")}, step=len(maps) + 1)
        run.finish()
    return root


# -- the views and their documentation ------------------------------------------------------


def documented_views() -> dict[str, list[tuple[str, str]]]:
    views: dict[str, list[tuple[str, str]]] = {}
    current = None
    for line in DOC.read_text().splitlines():
        heading = re.match(r"^### (\w+)$", line)
        if heading:
            current = heading.group(1)
            views[current] = []
            continue
        if line.startswith("## "):
            current = None
        row = re.match(r"^\| (\w+) \| ([A-Z\[\]]+) \|", line)
        if current and row:
            views[current].append((row.group(1), row.group(2)))
    return views


def test_views_columns_match_the_documentation_exactly(fixture_store: Path) -> None:
    documented = documented_views()
    assert list(documented) == ["runs", "params", "metrics", "summaries", "artifacts"]
    assert set(documented) == set(VIEWS)
    for view, columns in documented.items():
        _, rows = workspace_rows(fixture_store, f"DESCRIBE {view}")
        assert [(r[0], r[1]) for r in rows] == columns, view


def test_only_the_views_are_visible(fixture_store: Path) -> None:
    _, rows = workspace_rows(fixture_store, "SHOW TABLES")
    assert sorted(r[0] for r in rows) == sorted(VIEWS)


def doc_examples() -> list[str]:
    return re.findall(r"```sql\n(.*?)```", DOC.read_text(), re.S)


def test_every_example_in_the_documentation_runs(
    sweep: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    examples = doc_examples()
    assert len(examples) >= 6
    for query in examples:
        code, out, err = run_cli(capsys, "sql", query, str(sweep), "--csv")
        assert code == 0, (query, err)
        assert out.splitlines(), query


def test_low_lr_runs_above_their_project_median(
    sweep: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # detect best mAPs: 0.5 0.2 0.6 0.1 0.3 -> median 0.3; lr0 < 0.01 and above it: lr-001 only.
    rows = sql_json(capsys, sweep, doc_examples()[0])
    assert rows == [{"project": "detect", "name": "lr-001", "lr0": 0.001, "best_map": 0.5}]


def test_runs_carry_source_box_and_host(sweep: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    rows = sql_json(capsys, sweep, "SELECT DISTINCT source, box, host FROM runs")
    assert rows == [{"source": "trackui", "box": "local", "host": socket.gethostname()}]


def test_runs_of_other_tools_carry_their_tool_and_box(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    folder = shutil.copytree(DOC.parent.parent / "fixtures" / "ultralytics", tmp_path / "yolo")
    rows = sql_json(capsys, folder, "SELECT DISTINCT source, box FROM runs")
    assert rows == [{"source": "ultralytics", "box": "local"}]
    rows = sql_json(capsys, folder, "SELECT count(*) AS n FROM runs WHERE location LIKE '%yolo%'")
    assert rows[0]["n"] > 0


# -- output formats ---------------------------------------------------------------------------


def test_json_round_trips_exact_values(sweep: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for query in (
        "SELECT * FROM runs ORDER BY id",
        "SELECT * FROM params ORDER BY run, key",
        "SELECT * FROM summaries ORDER BY run, key",
        "SELECT * FROM metrics ORDER BY run, key, seq",
    ):
        got = sql_json(capsys, sweep, query)
        columns, rows = workspace_rows(sweep, query)
        assert len(got) == len(rows) > 0
        for record, row in zip(got, rows):
            assert list(record) == columns
            for name, value in zip(columns, row):
                shown = record[name]
                if isinstance(value, float) and math.isnan(value):
                    assert shown == "NaN"
                elif isinstance(value, float) and math.isinf(value):
                    assert shown == ("Infinity" if value > 0 else "-Infinity")
                elif query.startswith("SELECT * FROM params") and name == "value":
                    assert shown == json.loads(value)
                else:
                    assert shown == value, (name, shown, value)
    params = sql_json(capsys, sweep, "SELECT value, type FROM params WHERE key = 'seed' LIMIT 1")
    assert params == [{"value": 12345678901234567890, "type": "integer"}]


def test_json_of_any_duckdb_type(fixture_store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = sql_json(
        capsys,
        fixture_store,
        "SELECT 1 AS a, 2 AS a, TIMESTAMPTZ '2026-01-02 03:04:05+00' AS at, 0.25::DECIMAL(4, 2) AS d,"
        " [1, 2] AS l, {'x': 'y'} AS s, 12345678901234567890123::HUGEINT AS h, NULL AS n",
    )
    assert rows == [
        {
            "a": 1,
            "a_1": 2,
            "at": "2026-01-02 03:04:05+00",
            "d": 0.25,
            "l": [1, 2],
            "s": {"x": "y"},
            "h": 12345678901234567890123,
            "n": None,
        }
    ]


def test_a_terminal_table_stops_at_a_thousand_rows(
    fixture_store: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKUI_FORCE_RICH", "1")
    code, out, err = run_cli(
        capsys, "sql", "SELECT range AS r FROM range(1003)", str(fixture_store)
    )
    assert code == 0 and "│ 999 │" in out and "│ 1000 │" not in out
    assert "3 more rows not shown" in err


def test_csv_md_plain_and_parquet(
    sweep: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    query = (
        "SELECT name, num FROM runs r JOIN params p ON p.run = r.id WHERE key = 'lr0' ORDER BY name"
    )
    expected = workspace_rows(sweep, query)[1]
    code, out, _ = run_cli(capsys, "sql", query, str(sweep), "--csv")
    assert code == 0
    parsed = list(csv.reader(io.StringIO(out)))
    assert parsed[0] == ["name", "num"]
    assert [(n, float(v)) for n, v in parsed[1:]] == expected
    code, out, _ = run_cli(capsys, "sql", query, str(sweep), "--md")
    assert out.splitlines()[:2] == ["| name | num |", "|---|---|"]
    code, out, _ = run_cli(capsys, "sql", query, str(sweep))  # piped: tab-separated
    assert out.splitlines()[0] == "name\tnum"
    assert "lr-001\t0.001" in out.splitlines()
    target = tmp_path / "out.parquet"
    code, _, err = run_cli(capsys, "sql", query, str(sweep), "--parquet", str(target))
    assert code == 0 and "6 rows" in err
    back = duckdb.sql(f"SELECT * FROM read_parquet('{target}')").fetchall()
    assert back == expected


def test_text_is_sanitized_in_tables(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "hostile"
    run = trackui.init(project="p", name="red\x1b[31mname", dir=root, console=False)
    run.finish()
    code, out, _ = run_cli(capsys, "sql", "SELECT name FROM runs", str(root))
    assert code == 0 and "\x1b" not in out and "\\x1b[31mname" in out
    code, out, _ = run_cli(capsys, "sql", "SELECT name FROM runs", str(root), "--json")
    assert json.loads(out) == [{"name": "red\x1b[31mname"}] and "\x1b" not in out


def test_several_sources_are_one_view(
    fixture_store: Path, sweep: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = sql_json(
        capsys,
        fixture_store,
        "SELECT store, count(*) AS n FROM runs GROUP BY ALL ORDER BY n",
    )
    assert rows == [{"store": str(fixture_store), "n": 5}]
    code, out, err = run_cli(
        capsys,
        "sql",
        "SELECT store, count(*) AS n FROM runs GROUP BY ALL ORDER BY n",
        str(fixture_store),
        str(sweep),
        "--json",
    )
    assert code == 0, err
    assert json.loads(out) == [{"store": str(fixture_store), "n": 5}, {"store": str(sweep), "n": 6}]
    points = "SELECT count(*) AS n FROM metrics"
    alone = [sql_json(capsys, s, points)[0]["n"] for s in (fixture_store, sweep)]
    code, out, err = run_cli(capsys, "sql", points, str(fixture_store), str(sweep), "--json")
    assert code == 0 and json.loads(out) == [{"n": sum(alone)}] and min(alone) > 0


def test_works_while_this_process_holds_the_catalog(
    fixture_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Catalog(fixture_store) as held:
        held.refresh()
        assert sql_json(capsys, fixture_store, "SELECT count(*) AS n FROM runs") == [{"n": 5}]


# -- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "INSERT INTO runs (id) VALUES ('x')",
        "DELETE FROM runs",
        "UPDATE runs SET name = 'x'",
        "DROP VIEW runs",
        "CREATE TABLE x AS SELECT 1",
        "COPY runs TO 'stolen.csv'",
        "ATTACH 'other.duckdb' AS o",
        "SET threads = 1",
        "PRAGMA enable_profiling",
        "CHECKPOINT",
        "INSTALL httpfs",
        "USE memory",
        "EXPORT DATABASE 'dumped'",
        "SELECT 1; DELETE FROM runs",
        "EXPLAIN ANALYZE DELETE FROM runs",
    ],
)
def test_anything_but_one_query_is_refused(
    fixture_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], query: str
) -> None:
    code, out, err = run_cli(capsys, "sql", query, str(fixture_store))
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith("trackui: ")
    assert not (tmp_path / "stolen.csv").exists()
    assert sql_json(capsys, fixture_store, "SELECT count(*) AS n FROM runs") == [{"n": 5}]


@pytest.mark.parametrize(
    "query, words",
    [
        ("SELEC * FROM runs", "syntax"),
        ("SELECT nope FROM runs", "nope"),
        ("SELECT * FROM nowhere", "nowhere"),
        ("SELECT * FROM metric_keys", "metric_keys"),
        ("SELECT * FROM files", "files"),
        ("   ", "empty"),
    ],
)
def test_a_bad_query_is_one_line_and_exit_2(
    fixture_store: Path, capsys: pytest.CaptureFixture[str], query: str, words: str
) -> None:
    code, out, err = run_cli(capsys, "sql", query, str(fixture_store))
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and words in err.lower()
    assert "s0." not in err and ".main." not in err  # internal names stay hidden


def test_bad_query_in_a_real_process_has_no_traceback(fixture_store: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "trackui", "sql", "SELECT * FROM runs WHERE", str(fixture_store)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert len(proc.stderr.splitlines()) == 1 and "Traceback" not in proc.stderr


# -- export ----------------------------------------------------------------------------------------


def test_export_csv_is_the_run_list_with_exact_values(
    sweep: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "runs.csv"
    code, _, err = run_cli(
        capsys,
        "export",
        str(sweep),
        "-c",
        "lr0",
        "-c",
        "max(metrics/mAP50-95(B))",
        "--project",
        "detect",
        "--sort",
        "lr0",
        "-o",
        str(target),
    )
    assert code == 0, err
    rows = list(csv.DictReader(target.open()))
    assert [r["name"] for r in rows] == ["lr-001", "a_b&c%$#{}~^\\", "lr-005", "lr-02", "lr-03"]
    assert [float(r["lr0"]) for r in rows] == [0.001, 0.002, 0.005, 0.02, 0.03]
    assert float(rows[0]["max(metrics/mAP50-95(B))"]) == 0.5
    assert rows[0]["tags"] == "baseline" and rows[0]["status"] == "finished"


def test_export_latex_escapes_every_special(
    sweep: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(
        capsys, "export", str(sweep), "--format", "latex", "-c", "lr0", "--where", "lr0=0.002"
    )
    assert code == 0
    assert "\\begin{tabular}{lllllrlr}" in out and "\\end{tabular}" in out
    assert r"a\_b\&c\%\$\#\{\}\textasciitilde{}\textasciicircum{}\textbackslash{}" in out
    body = [line for line in out.splitlines() if line.endswith("\\\\")]
    assert len(body) == 2  # the header and the one run
    assert all(line.count(" & ") == 7 for line in body)


def test_export_diff_as_markdown_and_parquet(
    sweep: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(
        capsys, "export", "diff", "lr-001", "lr-02", "-d", str(sweep), "--format", "md"
    )
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "| section | key | detect/lr-001 | detect/lr-02 |"
    assert "| param | lr0 | 0.001 | 0.02 |" in lines
    assert "| best | metrics/mAP50-95(B) | 0.5 | 0.6 |" in lines
    target = tmp_path / "diff.parquet"
    code, _, err = run_cli(
        capsys, "export", "diff", "lr-001", "lr-02", "-d", str(sweep), "-o", str(target)
    )
    assert code == 0, err
    back = duckdb.sql(
        f"SELECT * FROM read_parquet('{target}') WHERE section = 'last' AND key = 'train/box_loss'"
    ).fetchall()
    assert back == [("last", "train/box_loss", 1 / 3, 0.5)]


@pytest.mark.parametrize(
    "args, words",
    [
        (["--format", "parquet"], "needs -o"),
        (["diff", "lr-001"], "at least two"),
        (["diff", "lr-001", "lr-001"], "twice"),
        (["diff", "lr-001", "nope"], "no run 'nope'"),
        (["diff", "lr-001", "lr-02", "--where", "x=1"], "--where"),
        (["--format", "docx"], "invalid choice"),
        (["--where", "lr0 <"], "bad filter"),
    ],
)
def test_export_errors_are_one_line_exit_2(
    sweep: Path, capsys: pytest.CaptureFixture[str], args: list[str], words: str
) -> None:
    code, out, err = run_cli(capsys, "export", *args, "-d", str(sweep))
    assert code == 2 and out == "", err
    assert len(err.splitlines()) == 1 and words in err


def test_a_relative_store_path_reads_its_runs(
    fixture_store: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(fixture_store.parent)
    rows = sql_json(capsys, Path(fixture_store.name), "SELECT name FROM runs ORDER BY name")
    assert [r["name"] for r in rows] == [
        "resnet-crash",
        "resnet-kill",
        "yolo-adamw",
        "yolo-oom",
        "yolo-sgd",
    ]
