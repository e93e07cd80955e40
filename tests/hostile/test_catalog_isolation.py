"""One bad run file costs one run, never the list: each trigger found in the
field, beside two good runs that must stay listed with every point, on both
ways metrics are read (DuckDB's reader for big chunks, Python for small)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from trackui.store import catalog
from trackui.store.queries import Store

from .catalog_helpers import assert_good_pair, good_pair, metric_lines, statuses, write_run

BAD = "20260101-000000000-bad"


@pytest.fixture(params=["duckdb-reader", "python-parser"])
def ingest_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(
        catalog, "SMALL_CHUNK_BYTES", 0 if request.param == "duckdb-reader" else 1 << 30
    )
    return str(request.param)


def test_metric_line_split_by_a_stray_newline_in_a_big_file(tmp_path: Path) -> None:
    root = tmp_path / "store"
    good_pair(root)
    lines = metric_lines(2000).split(b"\n")
    lines[1000] = lines[1000].replace(b', "m1"', b',\n"m1"')  # one line in two halves
    data = b"\n".join(lines)
    assert len(data) > 64 * 1024  # what DuckDB's reader gets, and fails on
    write_run(root, BAD, files={"metrics.jsonl": data})
    with Store(root) as store:
        assert_good_pair(store)
        assert statuses(store)[BAD][0] == "finished"
        # every line but the broken one; seq is still the line number
        points = store.history(BAD, "m0")
        assert len(points) == 1999
        assert points[-1].step == 1999


@pytest.mark.parametrize("name", ["config.json", "meta.json", "summary.json"])
def test_deeply_nested_document_makes_only_its_run_unreadable(tmp_path: Path, name: str) -> None:
    root = tmp_path / "store"
    good_pair(root)
    deep = b'{"a": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    write_run(root, BAD, files={name: deep})
    with Store(root) as store:
        assert_good_pair(store)
        status, reason = statuses(store)[BAD]
        assert status == "unreadable"
        assert name in reason and "nested deeper" in reason


def test_deeply_nested_event_line_is_skipped(tmp_path: Path) -> None:
    root = tmp_path / "store"
    good_pair(root)
    deep = b'{"event": "x", "b": ' + b'{"c": ' * 100_000 + b"1" + b"}" * 100_000 + b"}\n"
    finish = json.dumps({"event": "finish", "t": 1.0, "status": "failed"}).encode() + b"\n"
    write_run(root, BAD, files={"events.jsonl": deep + finish})
    with Store(root) as store:
        assert_good_pair(store)
        assert statuses(store)[BAD][0] == "failed"


def test_deeply_nested_metric_line_is_skipped(tmp_path: Path, ingest_path: str) -> None:
    root = tmp_path / "store"
    good_pair(root)
    deep = b'{"_step": 99, "m0": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n"
    write_run(
        root, BAD, files={"metrics.jsonl": metric_lines(3000) + deep + metric_lines(1, start=3000)}
    )
    with Store(root) as store:
        assert_good_pair(store)
        assert len(store.history(BAD, "m0")) == 3001


def test_integers_beyond_int64_and_float64(tmp_path: Path, ingest_path: str) -> None:
    root = tmp_path / "store"
    good_pair(root)
    huge = 10**400
    lines = (
        metric_lines(3000)
        + (
            f'{{"_step": 3000, "m0": {huge}, "m1": {2**70}}}\n'
            f'{{"_step": 3001, "m0": {-huge}, "m1": 1}}\n'
            f'{{"_step": {2**64}, "m0": 5}}\n'  # a step past int64: the line is skipped
        ).encode()
    )
    config = f'{{"big": {2**80}, "huge": {huge}, "lr": 0.1}}'.encode()
    meta = {"pid": 2**70}
    events = (
        json.dumps(
            {
                "event": "finish",
                "t": 1.0,
                "status": "failed",
                "exit_code": 2**70,
                "dropped": -(2**70),
            }
        )
        + "\n"
    ).encode()
    write_run(
        root,
        BAD,
        meta=meta,
        files={"metrics.jsonl": lines, "config.json": config, "events.jsonl": events},
    )
    with Store(root) as store:
        assert_good_pair(store)
        values = [p.value for p in store.history(BAD, "m0")]
        assert len(values) == 3002
        assert values[-2:] == [math.inf, -math.inf]
        assert store.history(BAD, "m1")[-2].value == float(2**70)
        detail = store.get_run(BAD)
        assert detail.run.status == "failed"
        assert detail.exit_code is None  # past BIGINT: unknown, not an exception
        params = dict(store._rows("SELECT key, value_json FROM params WHERE run_id = ?", [BAD]))
        assert params["big"] == str(2**80) and params["huge"] == str(huge)  # exact text
        assert "inf" in detail.read_notes
        assert store.get_run("20260101-000000000-good1").read_notes is None


def test_meta_fields_of_the_wrong_type(tmp_path: Path) -> None:
    root = tmp_path / "store"
    good_pair(root)
    meta = {
        "name": ["a", "list"],
        "project": {"a": 1},
        "group": 7,
        "tags": {"not": "a list"},
        "notes": ["x"],
        "created": "yesterday",
        "host": 3.5,
        "user": None,
        "pid": "12",
        "argv": "python train.py",
        "cwd": 1,
        "git": {"commit": 123456789, "branch": ["main"], "dirty": "yes", "remote": {"u": 1}},
        "heartbeat_interval": "fast",
    }
    write_run(root, BAD, meta=meta)
    with Store(root) as store:
        assert_good_pair(store)
        detail = store.get_run(BAD)
        assert detail.run.name == '["a", "list"]'
        assert detail.run.status == "finished"


def test_git_commit_of_the_wrong_type_does_not_break_show(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from trackui.cli import main

    root = tmp_path / "store"
    good_pair(root)
    write_run(root, BAD, meta={"git": {"commit": 123456789012, "dirty": 1}})
    monkeypatch.setenv("TRACKUI_DIR", str(root))
    assert main(["show", BAD]) == 0
    assert "Traceback" not in capsys.readouterr().err
    assert main(["show", "--json", BAD]) == 0
    assert json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("where", ["meta", "config", "metrics", "events", "summary"])
def test_invalid_utf8_and_lone_surrogates(tmp_path: Path, where: str, ingest_path: str) -> None:
    root = tmp_path / "store"
    good_pair(root)
    bad_text = b'"caf\xe9 \\udc80 \\ud800x"'  # invalid byte, escaped lone surrogates
    files: dict[str, bytes] = {}
    if where == "meta":
        files["meta.json"] = (
            b'{"id": "x", "project": "p", "name": ' + bad_text + b', "notes": ' + bad_text + b"}"
        )
    elif where == "config":
        files["config.json"] = b"{" + bad_text + b": " + bad_text + b"}"
    elif where == "summary":
        files["summary.json"] = b"{" + bad_text + b": 1}"
    elif where == "metrics":
        files["metrics.jsonl"] = metric_lines(3000) + b'{"_step": 3000, ' + bad_text + b": 1.5}\n"
    else:
        files["events.jsonl"] = (
            b'{"event": "finish", "status": "failed", "reason": ' + bad_text + b"}\n"
        )
    write_run(root, BAD, files=files)
    with Store(root) as store:
        assert_good_pair(store)
        run = store.get_run(BAD)
        texts = [
            run.run.name,
            run.run.status_reason or "",
            json.dumps(run.meta, ensure_ascii=False),
        ]
        texts += [k for k, _ in run.params] + [str(v) for _, v in run.params]
        texts += store.metric_keys([BAD])
        for text in texts:
            text.encode("utf-8")  # valid UTF-8: no lone surrogate left
        # read and repaired, not dropped: the invalid byte and the lone
        # surrogates each became U+FFFD
        expected = "caf\ufffd \ufffd \ufffdx"
        if where == "metrics":
            assert expected in store.metric_keys([BAD])
            assert store.history(BAD, expected)[0].value == 1.5
        elif where == "meta":
            assert run.run.name == expected and run.notes == expected
        elif where == "config":
            assert dict(run.params)[expected] == expected
        elif where == "summary":
            assert expected in run.summary
        else:
            assert run.run.status == "failed" and run.run.status_reason == expected


def test_duplicate_keys_give_the_same_result_live_and_after_a_rebuild(tmp_path: Path) -> None:
    root = tmp_path / "store"
    good_pair(root)
    run_dir = write_run(root, BAD, points=0, finished=False)
    dup = b'{"_step": 0, "m0": 1.0, "m0": 2.0, "m1": 3.0}\n'
    with Store(root) as store:
        # live: a small append, read by the Python parser
        with open(run_dir / "metrics.jsonl", "ab") as fh:
            fh.write(dup)
        store.refresh(full=False)
        live = [p.value for p in store.history(BAD, "m0")]
        # then a rebuild from a file big enough for DuckDB's reader
        with open(run_dir / "metrics.jsonl", "ab") as fh:
            fh.write(metric_lines(3000, start=1))
        store.refresh()
        before = [p.value for p in store.history(BAD, "m0")][:1]
        store.reindex()
        rebuilt = [p.value for p in store.history(BAD, "m0")][:1]
        assert_good_pair(store)
    assert live == before == rebuilt == [1.0]  # the first of a repeated key wins


def test_duplicate_keys_in_a_document_last_wins(tmp_path: Path) -> None:
    root = tmp_path / "store"
    write_run(root, BAD, files={"config.json": b'{"lr": 1, "lr": 2}'})
    with Store(root) as store:
        params = dict(store._rows("SELECT key, value_json FROM params WHERE run_id = ?", [BAD]))
        assert params == {"lr": "2"}
        store.reindex()
        params = dict(store._rows("SELECT key, value_json FROM params WHERE run_id = ?", [BAD]))
        assert params == {"lr": "2"}


def test_a_run_that_fails_to_ingest_is_listed_unreadable_and_retried_when_it_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever goes wrong inside one run's ingest: the batch is retried run
    by run, the run is listed unreadable with the reason, the others commit."""
    from trackui.store import run_sync

    root = tmp_path / "store"
    good_pair(root)
    run_dir = write_run(root, BAD, config={"boom": 1})
    real = run_sync.config_rows  # what both a new run's batch and an update use

    def exploding(run_id, doc):  # type: ignore[no-untyped-def]
        if "boom" in doc:
            raise RuntimeError("simulated failure")
        return real(run_id, doc)

    monkeypatch.setattr(run_sync, "config_rows", exploding)
    with Store(root) as store:
        assert_good_pair(store)
        status, reason = statuses(store)[BAD]
        assert status == "unreadable" and "simulated failure" in reason
        assert store.refresh().runs_changed == 0  # not retried while unchanged
        (run_dir / "config.json").write_text('{"lr": 0.5}')
        store.refresh()
        assert statuses(store)[BAD][0] == "finished"
        assert_good_pair(store)


def test_undecodable_bytes_in_directory_names(tmp_path: Path) -> None:
    """A project or run directory named with bytes that are not UTF-8 (made
    under a Latin-1 locale): listed, its id and project shown with \\xNN."""
    root = tmp_path / "store"
    good_pair(root)
    project = os.fsdecode(b"caf\xe9")
    run_id = os.fsdecode(b"20260101-000000000-b\xff")
    write_run(root, run_id, project=project, meta={"project": None, "name": None})
    with Store(root) as store:
        assert_good_pair(store)
        (run,) = [r for r in store.list_runs() if r.id.startswith("20260101-000000000-b\\")]
        assert run.id == "20260101-000000000-b\\xff" and run.status == "finished"
        assert run.project == "caf\\xe9"
        assert len(store.history(run.id, "m0")) == 5
        store.reindex()
        assert len(store.history(run.id, "m0")) == 5
