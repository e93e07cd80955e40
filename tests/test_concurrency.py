"""Many trainings on one box while someone browses: 8 writer processes log at
once while ``trackui ls`` runs over and over in other processes. Nobody sees a
lock error or a traceback, every listing is valid JSON, and afterwards every
point is in the catalog."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from trackui.store.queries import Store

WRITERS = 8
STEPS = 2000
KEYS = ("a", "b", "c")

WRITER = """
import os, sys, time
import trackui

index, steps, resume = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
run = trackui.init(project="conc", name=f"w{index}", console=False)

def log(step):
    run.log({"a": float(step), "b": index + step / 1000, "c": -step})

for step in range(steps // 2):
    log(step)
print("half", flush=True)
deadline = time.time() + 120  # the parent lists the store while every writer is mid-run
while not os.path.exists(resume) and time.time() < deadline:
    time.sleep(0.01)
for step in range(steps // 2, steps):
    log(step)
run.finish()
"""

# Lists the store in a loop, each time in a fresh process, until told to stop.
LISTER = """
import json, os, subprocess, sys
stop, out = sys.argv[1], sys.argv[2]
with open(out, "w") as fh:
    while True:
        last = os.path.exists(stop)
        p = subprocess.run([sys.executable, "-m", "trackui", "ls", "--json"],
                           capture_output=True, text=True)
        fh.write(json.dumps({"rc": p.returncode, "out": p.stdout, "err": p.stderr}) + "\\n")
        fh.flush()
        if last:
            break
"""


def ls_json(env: dict[str, str]) -> dict[str, Any]:
    p = subprocess.run(
        [sys.executable, "-m", "trackui", "ls", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    return {"rc": p.returncode, "out": p.stdout, "err": p.stderr}


def check_listing(result: dict[str, Any]) -> list[dict[str, Any]]:
    assert result["rc"] == 0, result["err"]
    assert "lock" not in result["err"].lower(), result["err"]
    assert "Traceback" not in result["err"], result["err"]
    runs = json.loads(result["out"])
    assert isinstance(runs, list)
    assert all(r["project"] == "conc" for r in runs)
    return runs


def test_eight_writers_and_a_lister(tmp_path: Path) -> None:
    root = tmp_path / "store"
    root.mkdir()
    env = {**os.environ, "TRACKUI_DIR": str(root)}
    (tmp_path / "writer.py").write_text(WRITER)
    (tmp_path / "lister.py").write_text(LISTER)
    resume, stop, listed = tmp_path / "resume", tmp_path / "stop", tmp_path / "listed.jsonl"

    procs: list[subprocess.Popen[str]] = []
    try:
        lister = subprocess.Popen(
            [sys.executable, str(tmp_path / "lister.py"), str(stop), str(listed)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(lister)
        writers = [
            subprocess.Popen(
                [sys.executable, str(tmp_path / "writer.py"), str(i), str(STEPS), str(resume)],
                env=env,
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(WRITERS)
        ]
        procs.extend(writers)
        for w in writers:
            assert w.stdout is not None
            assert w.stdout.readline() == "half\n", w.stderr.read() if w.stderr else ""

        # every writer is alive and half-way: list now, beside the looping lister
        midway = check_listing(ls_json(env))
        assert len(midway) == WRITERS
        assert {r["status"] for r in midway} == {"running"}
        resume.touch()
        while any(w.poll() is None for w in writers):
            check_listing(ls_json(env))
        for w in writers:
            _, err = w.communicate(timeout=120)
            assert w.returncode == 0, err
            assert "Traceback" not in err and "lock" not in err.lower(), err
            assert err == "", err  # not even a warning

        stop.touch()
        _, err = lister.communicate(timeout=300)
        assert lister.returncode == 0 and "Traceback" not in err, err
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()

    results = [json.loads(line) for line in listed.read_text().splitlines()]
    assert len(results) >= 2
    for result in results:
        check_listing(result)
    final = check_listing(results[-1])  # started after every writer had finished
    assert len(final) == WRITERS and {r["status"] for r in final} == {"finished"}

    with Store(root) as store:
        runs = store.list_runs()
        assert sorted(r.name for r in runs) == [f"w{i}" for i in range(WRITERS)]
        for run in runs:
            index = int(run.name[1:])
            expected = {
                "a": [float(s) for s in range(STEPS)],
                "b": [index + s / 1000 for s in range(STEPS)],
                "c": [float(-s) for s in range(STEPS)],
            }
            for key in KEYS:
                points = store.history(run.id, key)
                assert [p.step for p in points] == list(range(STEPS)), (run.name, key)
                assert [p.value for p in points] == expected[key], (run.name, key)
            assert {m.key: m.count for m in store.metric_summaries(run.id)} == dict.fromkeys(
                KEYS, STEPS
            )


def test_reading_while_a_writer_appends_sees_a_prefix(tmp_path: Path) -> None:
    """Each refresh taken while a writer appends sees the points logged so
    far, in order, never a torn or duplicated one."""
    root = tmp_path / "store"
    root.mkdir()
    env = {**os.environ, "TRACKUI_DIR": str(root)}
    (tmp_path / "writer.py").write_text(WRITER)
    resume = tmp_path / "resume"
    writer = subprocess.Popen(
        [sys.executable, str(tmp_path / "writer.py"), "0", str(STEPS), str(resume)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline() == "half\n"
        seen: list[int] = []
        with Store(root) as store:
            resume.touch()  # the writer goes on while the store is read
            while True:
                done = writer.poll() is not None
                store.refresh()
                (run,) = store.list_runs()
                points = store.history(run.id, "a")
                assert [p.value for p in points] == [float(s) for s in range(len(points))]
                seen.append(len(points))
                if done:
                    break
        assert seen == sorted(seen) and seen[0] >= STEPS // 2 and seen[-1] == STEPS
    finally:
        if writer.poll() is None:
            writer.kill()
        writer.communicate()
