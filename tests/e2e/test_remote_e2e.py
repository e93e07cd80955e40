"""``trackui box1:PATH box2:PATH`` end to end: the installed command, real
ssh to loopback sshds the tests start, the TUI in tmux at 80×24 (TERM=xterm).

Each box is its own sshd (tests/remote/loopback.py: own keys, a free port,
key login only) named by an alias in one generated ssh config, which the
code under test uses through ``TRACKUI_SSH="ssh -F CONFIG"``, as a user's
``~/.ssh/config`` would. box1's path holds a trackui store (fixtures/store),
box2's a folder of Ultralytics runs (fixtures/ultralytics). Where sshd or
tmux cannot run these tests skip, saying why; CI installs both. Every wait
polls the screen; refreshes are driven by the ``r`` key, never by sleeping
for the live tick.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..conftest import FIXTURES, copy_store
from ..remote.loopback import LoopbackSshd, Unavailable
from .conftest import TIMEOUT, Tmux, apply_filter, lr0_row, marked_count, require_trackui
from .conftest import trackui_env as private_dirs

pytestmark = pytest.mark.e2e

BOX1_RUNS = ("yolo-sgd", "yolo-adamw", "yolo-oom", "resnet-kill", "resnet-crash")
BOX2_RUNS = ("exp_a", "exp_b", "exp_c_crashed", "exp_d_resumed")
#: runs the two boxes compare: lr0 0.01 on box1, 0.002 on box2
PAIR = {"yolo-sgd": "0.01", "exp_b": "0.002"}
_OUTSIDE_TMUX = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}


def _server(workdir: Path, **kwargs: bool) -> LoopbackSshd:
    try:
        return LoopbackSshd(workdir, **kwargs)
    except Unavailable as exc:
        pytest.skip(str(exc))


@dataclass
class Boxes:
    box1: LoopbackSshd
    box2: LoopbackSshd
    store: Path  # box1: a trackui store
    folder: Path  # box2: a folder of Ultralytics runs
    config: Path  # the ssh client config naming them
    env: dict[str, str]

    @property
    def specs(self) -> list[str]:
        return [f"box1:{self.store}", f"box2:{self.folder}"]

    def trackui(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The installed ``trackui ARGS``, its output captured."""
        return subprocess.run(
            [str(require_trackui()), *args],
            env={**_OUTSIDE_TMUX, **self.env},
            capture_output=True,
            text=True,
            timeout=4 * TIMEOUT,
        )

    def add_alias(self, alias: str, server: LoopbackSshd) -> None:
        extra = server.client_config(self.config.with_name(f"{alias}.conf"), {alias: {}})
        self.config.write_text(self.config.read_text() + "\n" + extra.read_text())


@pytest.fixture
def boxes(tmp_path: Path) -> Iterator[Boxes]:
    ssh = shutil.which("ssh")
    one, two = _server(tmp_path / "sshd1"), _server(tmp_path / "sshd2")
    assert ssh is not None  # _server skipped otherwise
    config = tmp_path / "ssh_config"
    config.write_text(
        one.client_config(tmp_path / "box1.conf", {"box1": {}}).read_text()
        + "\n"
        + two.client_config(tmp_path / "box2.conf", {"box2": {}}).read_text()
    )
    store = copy_store(tmp_path / "box1" / "runs")
    folder = tmp_path / "box2" / "runs"
    shutil.copytree(FIXTURES / "ultralytics" / "runs", folder)
    env = {
        **private_dirs(tmp_path),
        "TRACKUI_SSH": f"{shlex.quote(ssh)} -F {shlex.quote(str(config))}",
        "COLORTERM": "",
    }
    one.start()
    two.start()
    try:
        yield Boxes(one, two, store, folder, config, env)
    finally:
        one.stop()
        two.stop()


def start_tui(tmux: Tmux, boxes: Boxes) -> str:
    tmux.start(
        [str(require_trackui()), *boxes.specs], width=80, height=24, term="xterm", env=boxes.env
    )
    assert tmux.size() == (80, 24)
    return tmux.wait_until(
        lambda s: all(n in s for n in (*BOX1_RUNS[:3], *BOX2_RUNS[:2])),
        "runs of both boxes in the run list",
        timeout=4 * TIMEOUT,
    )


def row_of(screen: str, name: str) -> list[str]:
    """The words of the run list's row for the run ``name``."""
    for line in screen.splitlines():
        words = line.replace("│", " ").split()
        if name in words:
            return words
    return []


def refresh_until(tmux: Tmux, done: Callable[[str], bool], what: str) -> str:
    """Press ``r`` (refresh now) until ``done(screen)``: a box coming back is
    tried again on the connection's backoff, so one press may be early."""
    deadline = time.monotonic() + 4 * TIMEOUT
    while True:
        tmux.send("r")
        try:
            return tmux.wait_until(done, what, timeout=3)
        except AssertionError:
            if time.monotonic() > deadline:
                raise


def append_points(run_dir: Path, values: list[float]) -> None:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    last = json.loads(lines[-1])
    with open(run_dir / "metrics.jsonl", "a") as fh:
        for i, value in enumerate(values, start=1):
            point = {"_step": last["_step"] + i, "_t": last["_t"] + i, "loss": value}
            fh.write(json.dumps(point) + "\n")


def run_dir(store: Path, name: str) -> Path:
    for meta in store.glob("*/*/meta.json"):
        if json.loads(meta.read_text()).get("name") == name:
            return meta.parent
    raise AssertionError(f"no run {name} in {store}")


# -- the CLI ----------------------------------------------------------------------


def test_ls_json_lists_both_boxes_with_box_location_and_host(boxes: Boxes) -> None:
    done = boxes.trackui("ls", "--json", *boxes.specs)
    assert done.returncode == 0, done.stderr
    runs = json.loads(done.stdout)
    by_box: dict[str, list[dict]] = {}
    for run in runs:
        by_box.setdefault(run["box"], []).append(run)
    assert sorted(by_box) == ["box1", "box2"]
    assert {r["name"] for r in by_box["box1"]} == set(BOX1_RUNS)
    assert set(BOX2_RUNS) <= {r["name"] for r in by_box["box2"]}
    assert {r["location"] for r in by_box["box1"]} == {boxes.specs[0]}
    assert {r["location"] for r in by_box["box2"]} == {boxes.specs[1]}
    # host stays the hostname a run recorded; source the tool that wrote it
    recorded = {json.loads(m.read_text()).get("host") for m in boxes.store.glob("*/*/meta.json")}
    assert {r["host"] for r in by_box["box1"]} == recorded
    assert {r["source"] for r in by_box["box2"]} == {"ultralytics"}
    # the table names each run's box
    done = boxes.trackui("ls", *boxes.specs)
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    assert header.split("\t")[-2:] == ["box", "source"]
    assert {row.split("\t")[-2] for row in rows} == {"box1", "box2"}


def test_diff_and_show_across_boxes(boxes: Boxes) -> None:
    done = boxes.trackui("diff", "--json", *(f"-d{s}" for s in boxes.specs), *PAIR)
    assert done.returncode == 0, done.stderr
    diff = json.loads(done.stdout)
    assert [r["box"] for r in diff["runs"]] == ["box1", "box2"]
    lr0 = next(p for p in diff["params"] if p["key"] == "lr0")
    assert lr0["values"] == [float(v) for v in PAIR.values()] and lr0["differs"]
    done = boxes.trackui("show", "--json", *(f"-d{s}" for s in boxes.specs), "exp_b")
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert (shown["box"], shown["location"]) == ("box2", boxes.specs[1])


def test_bad_specs_are_one_line_each(boxes: Boxes, tmp_path: Path) -> None:
    password = _server(tmp_path / "sshd-password", password_only=True)
    password.start()
    try:
        boxes.add_alias("pwbox", password)
        cases = {
            f"box1:{tmp_path / 'no-such-dir'}": "no such directory",
            "nohost.invalid:/runs": "nohost.invalid",
            f"pwbox:{boxes.store}": "pwbox",
            str(tmp_path / "no-such-local-dir"): "no such store or directory",
        }
        for spec, said in cases.items():
            for argv in (["ls", spec], [spec]):  # the list, and the TUI before it opens
                started = time.monotonic()
                done = boxes.trackui(*argv)
                took = time.monotonic() - started
                assert done.returncode == 2, (argv, done.stdout, done.stderr)
                assert done.stdout == "", (argv, done.stdout)
                assert done.stderr.count("\n") == 1 and said in done.stderr, (argv, done.stderr)
                assert "Traceback" not in done.stderr
                print(f"{argv}: {took:.1f} s: {done.stderr.strip()}")
        # BatchMode: the password sshd is refused, not asked; the line says so
        done = boxes.trackui("ls", f"pwbox:{boxes.store}")
        assert "ermission denied" in done.stderr or "password" in done.stderr, done.stderr
    finally:
        password.stop()


def test_ls_with_a_box_down_lists_its_runs_as_last_read(boxes: Boxes) -> None:
    assert boxes.trackui("ls", *boxes.specs).returncode == 0  # read once
    boxes.box1.kill_all()
    done = boxes.trackui("ls", "--json", *boxes.specs)
    assert done.returncode == 1, done.stderr
    runs = json.loads(done.stdout)
    assert {r["box"] for r in runs} == {"box1", "box2"}  # box1's from the catalog
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and "box1" in lines[0] and "as last read" in lines[0], lines


# -- the TUI ----------------------------------------------------------------------


def test_tui_compares_a_run_from_each_box_and_shows_the_param_diff(
    tmux: Tmux, boxes: Boxes
) -> None:
    screen = start_tui(tmux, boxes)
    assert "box1" in screen and "box2" in screen  # the box column: two boxes are open
    for name in PAIR:
        apply_filter(
            tmux,
            f"name:{name}",
            lambda s, name=name: name in s and not any(n in s for n in PAIR if n != name),
            f"only {name}",
        )
        before = marked_count(tmux.screen())
        tmux.send("Space")
        tmux.wait_until(lambda s, n=before: marked_count(s) == n + 1, f"{name} marked")
    tmux.send("c")
    screen = tmux.wait_until(
        lambda s: "Params:" in s and "@box2" in s, "the compare screen", timeout=2 * TIMEOUT
    )
    assert "@box1" in screen and "@box2" in screen, screen  # which box each run is on
    # the params pane, maximized; down its rows (a YOLO run has 100-odd) to lr0
    tmux.send("Tab")
    tmux.send("z")
    tmux.wait_until(lambda s: "Summary:" not in s, "the params pane maximized")
    want = tuple(PAIR.values())
    for _ in range(200):
        if lr0_row(tmux.screen(), *want) is not None:
            break
        tmux.send("Down")
    screen = tmux.wait_until(
        lambda s: lr0_row(s, *want) is not None,
        f"an lr0 diff row with {want[0]} (box1) and {want[1]} (box2)",
    )
    for _ in range(3):  # esc leaves the zoom, then the screen
        tmux.send("Escape")
        try:
            tmux.wait_until(lambda s: "2 marked" in s, "the run list again", timeout=5)
            break
        except AssertionError:
            continue
    tmux.wait_until(lambda s: "2 marked" in s and "Params:" not in s, "the run list again")
    tmux.send("q")
    assert tmux.wait_exit() == 0


def test_tui_live_points_appended_on_a_box_show_after_a_refresh(tmux: Tmux, boxes: Boxes) -> None:
    config = Path(boxes.env["TRACKUI_CONFIG_DIR"])
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.toml").write_text('columns = ["count(loss)"]\n')
    screen = start_tui(tmux, boxes)
    tmux.wait_until(lambda s: "25" in row_of(s, "resnet-kill"), "resnet-kill's 25 points")
    append_points(run_dir(boxes.store, "resnet-kill"), [0.125, 0.0625])  # a writer on box1
    refresh_until(tmux, lambda s: "27" in row_of(s, "resnet-kill"), "the 2 new points")
    tmux.send("q")
    assert tmux.wait_exit() == 0, screen


def test_tui_box_down_shows_unreachable_keeps_working_and_catches_up(
    tmux: Tmux, boxes: Boxes
) -> None:
    config = Path(boxes.env["TRACKUI_CONFIG_DIR"])
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.toml").write_text('columns = ["count(loss)"]\n')
    start_tui(tmux, boxes)
    tmux.wait_until(lambda s: "25" in row_of(s, "resnet-kill"), "resnet-kill's 25 points")

    boxes.box1.kill_all()  # the box and every session process on it
    screen = refresh_until(tmux, lambda s: "box1 unreachable" in s, "box1 unreachable")
    line = next(x for x in screen.splitlines() if "box1 unreachable" in x)
    assert "since" in line and ("refused" in line.lower() or "…" in line), line
    assert "box2 unreachable" not in screen
    # its runs stay, read from the catalog; the app keeps working
    assert all(n in screen for n in ("resnet-kill", *BOX2_RUNS[:2])), screen
    apply_filter(
        tmux,
        "box:box2",
        lambda s: "exp_b" in s and "resnet-kill" not in s,
        "only box2's runs",
    )
    apply_filter(
        tmux,
        "box:box1",
        lambda s: "resnet-kill" in s and "exp_b" not in s,
        "box1's runs, offline",
    )

    append_points(run_dir(boxes.store, "resnet-kill"), [0.125, 0.0625])  # written meanwhile
    boxes.box1.start()
    screen = refresh_until(
        tmux,
        lambda s: "unreachable" not in s and "27" in row_of(s, "resnet-kill"),
        "box1 back, with the points written while it was away",
    )
    tmux.send("q")
    assert tmux.wait_exit() == 0, screen
