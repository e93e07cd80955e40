"""Seed groups in the store: which runs are one experiment, and each metric
aggregated per group and step, checked against numpy over runs whose step
sets differ (union of steps, n varies)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest

import trackui
from trackui.store import group_keys, groups
from trackui.store.models import MISSING
from trackui.store.queries import Store

# Three seeds of lr=0.01 and two of lr=0.02, each logging its own set of steps:
# {step: value}. Run "a1" logs step 2 twice (the last value counts) and a NaN
# at step 3 (left out: n counts finite values).
LOSS = {
    "a1": {0: 1.0, 1: 0.8, 2: 0.7, 4: 0.5},
    "a2": {0: 1.2, 2: 0.6, 3: 0.55, 4: 0.45, 6: 0.3},
    "a3": {1: 0.9, 2: 0.65, 3: 0.52},
    "b1": {0: 2.0, 5: 1.0, 10: 0.2},
    "b2": {0: 2.5, 5: 1.5},
}
CONFIGS = {
    "a1": {"name": "a1", "lr": 0.01, "seed": 1, "output_dir": "/out/a1", "device": "cuda:0"},
    "a2": {"name": "a2", "lr": 0.01, "seed": 2, "output_dir": "/out/a2", "device": "cuda:1"},
    "a3": {"name": "a3", "lr": 0.01, "seed": 3, "output_dir": "/out/a3", "device": "cpu"},
    "b1": {"name": "b1", "lr": 0.02, "seed": 1, "output_dir": "/out/b1", "device": "cuda:0"},
    "b2": {"name": "b2", "lr": 0.02, "seed": 2, "output_dir": "/out/b2", "device": "cuda:0"},
}


def log_run(root: Path, name: str, config: dict, points: dict, **kwargs) -> None:
    run = trackui.init(project="sweep", name=name, config=config, dir=root, console=False, **kwargs)
    for step, value in points.items():
        run.log({"val/loss": value, "lr_sched": 0.1 * step}, step=step)
        if name == "a1" and step == 2:
            run.log({"val/loss": 0.75}, step=2)  # logged twice: this one counts
        if name == "a1" and step == 2:
            run.log({"val/loss": float("nan")}, step=3)
    run.finish()


@pytest.fixture
def sweep(tmp_path: Path) -> Store:
    root = tmp_path / "store"
    for name, points in LOSS.items():
        log_run(root, name, CONFIGS[name], points)
    with Store(root) as store:
        yield store


def ids(store: Store) -> dict[str, str]:
    return {run.name: run.id for run in store.list_runs(sort="created", descending=False)}


def effective(name: str) -> dict[int, float]:
    """What the store should aggregate for a run: last value per step, finite only."""
    points = dict(LOSS[name])
    if name == "a1":
        points[2] = 0.75
    return points


def expected(names: list[str]) -> dict[int, tuple[int, float, float, float, float | None]]:
    per_step: dict[int, list[float]] = {}
    for name in names:
        for step, value in effective(name).items():
            per_step.setdefault(step, []).append(value)
    out = {}
    for step, values in sorted(per_step.items()):
        a = np.array(values)
        std = float(np.std(a, ddof=1)) if len(a) > 1 else None
        out[step] = (len(a), float(a.mean()), float(a.min()), float(a.max()), std)
    return out


def test_auto_grouping_ignores_seed_name_and_output_dir_but_not_lr(sweep: Store) -> None:
    by_name = ids(sweep)
    grouping = groups.group_runs(sweep, list(by_name.values()))
    assert grouping.mode == "auto"
    assert [g.label for g in grouping.groups] == ["lr=0.01", "lr=0.02"]
    assert [g.run_ids for g in grouping.groups] == [
        (by_name["a1"], by_name["a2"], by_name["a3"]),
        (by_name["b1"], by_name["b2"]),
    ]
    assert [g.n for g in grouping.groups] == [3, 2]
    assert grouping.groups[0].key_values == (("lr", 0.01),)
    assert set(grouping.ignored) == {"name", "seed", "output_dir", "device"}
    assert grouping.varying == ("lr",)


def test_group_series_matches_numpy_over_the_union_of_steps(sweep: Store) -> None:
    by_name = ids(sweep)
    grouping = groups.group_runs(sweep, list(by_name.values()))
    series = groups.group_series(sweep, grouping.groups, "val/loss", buckets=None)
    for group_series, names in zip(series, (["a1", "a2", "a3"], ["b1", "b2"])):
        want = expected(names)
        assert group_series.steps == tuple(want)  # the union: 0,1,2,3,4,6 for lr=0.01
        assert group_series.n == tuple(w[0] for w in want.values())
        assert group_series.mean == pytest.approx([w[1] for w in want.values()])
        assert group_series.min == pytest.approx([w[2] for w in want.values()])
        assert group_series.max == pytest.approx([w[3] for w in want.values()])
        for got, w in zip(group_series.std, want.values()):
            assert (got is None) == (w[4] is None)
            if got is not None:
                assert got == pytest.approx(w[4])
        assert not group_series.downsampled
    first = series[0]
    # By hand at step 2: a1 0.75 (its last value), a2 0.6, a3 0.65.
    i = first.steps.index(2)
    assert first.n[i] == 3
    assert first.mean[i] == pytest.approx((0.75 + 0.6 + 0.65) / 3)
    # Step 3: a1's NaN left out, so n = 2 (a2, a3).
    assert first.n[first.steps.index(3)] == 2
    # Step 6: a2 alone: n = 1, no std, band collapsed on the value.
    j = first.steps.index(6)
    assert (first.n[j], first.std[j], first.min[j], first.max[j]) == (1, None, 0.3, 0.3)
    assert [s.runs for s in series] == [3, 2]


def test_group_series_downsampled_averages_runs_per_cell(tmp_path: Path) -> None:
    root = tmp_path / "store"
    rng = np.random.default_rng(7)
    data = {}
    for seed in range(3):
        steps = sorted(rng.choice(1000, size=400, replace=False).tolist())
        data[seed] = {int(s): float(v) for s, v in zip(steps, rng.normal(size=len(steps)))}
        run = trackui.init(
            project="p", name=f"s{seed}", config={"seed": seed}, dir=root, console=False
        )
        for step, value in data[seed].items():
            run.log({"loss": value}, step=step)
        run.finish()
    with Store(root) as store:
        grouping = groups.group_runs(store, [r.id for r in store.list_runs()])
        assert len(grouping.groups) == 1 and grouping.groups[0].label == "all runs"
        (full,) = groups.group_series(store, grouping.groups, "loss", buckets=None)
        (small,) = groups.group_series(store, grouping.groups, "loss", buckets=20)
    every_step = sorted({s for points in data.values() for s in points})
    assert full.steps == tuple(every_step) and not full.downsampled
    assert small.downsampled and small.total == full.total == 1200
    # By hand: 40 cells of equal width over the steps; each run's values in
    # a cell averaged; mean, std and n over those averages; min and max over
    # every point of the cell; the point at the cell's mean step.
    lo, hi = every_step[0], every_step[-1]
    width = -(-(hi - lo + 1) // 40)
    cells: dict[int, dict[int, list[tuple[int, float]]]] = {}
    for seed, points in data.items():
        for step, value in points.items():
            cells.setdefault((step - lo) // width, {}).setdefault(seed, []).append((step, value))
    assert len(small.x) == len(cells) <= 40
    for k, cell in enumerate(sorted(cells)):
        runs = cells[cell]
        averages = np.array([np.mean([v for _, v in pts]) for pts in runs.values()])
        every = [p for pts in runs.values() for p in pts]
        assert small.n[k] == len(runs)
        assert small.mean[k] == pytest.approx(averages.mean())
        want_std = np.std(averages, ddof=1) if len(averages) > 1 else None
        assert small.std[k] == (pytest.approx(want_std) if want_std is not None else None)
        assert small.min[k] == pytest.approx(min(v for _, v in every))
        assert small.max[k] == pytest.approx(max(v for _, v in every))
        assert small.x[k] == pytest.approx(np.mean([s for s, _ in every]))


def test_group_by_picks_the_keys(sweep: Store) -> None:
    by_name = ids(sweep)
    grouping = groups.group_runs(sweep, list(by_name.values()), by=groups.parse_keys("seed"))
    assert grouping.mode == "keys"
    assert [g.label for g in grouping.groups] == ["seed=1", "seed=2", "seed=3"]
    assert grouping.groups[0].run_ids == (by_name["a1"], by_name["b1"])
    two = groups.group_runs(sweep, list(by_name.values()), by=groups.parse_keys("lr, seed"))
    assert len(two.groups) == 5
    assert two.groups[0].key_values == (("lr", 0.01), ("seed", 1))
    with pytest.raises(groups.GroupError, match="'nope'"):
        groups.group_runs(sweep, list(by_name.values()), by=("nope",))
    with pytest.raises(groups.GroupError):
        groups.parse_keys(" , ")


def test_group_field_wins_and_missing_keys_are_a_value(tmp_path: Path) -> None:
    root = tmp_path / "store"
    log_run(root, "g1", {"lr": 0.1, "seed": 1}, {0: 1.0}, group="baseline")
    log_run(root, "g2", {"lr": 0.2, "seed": 2}, {0: 2.0}, group="baseline")
    log_run(root, "c1", {"lr": 0.1, "seed": 3}, {0: 3.0})
    log_run(root, "c2", {"seed": 4}, {0: 4.0})
    with Store(root) as store:
        by_name = ids(store)
        grouping = groups.group_runs(store, list(by_name.values()))
        picked = groups.group_runs(store, list(by_name.values()), by=("lr",))
    assert [g.label for g in grouping.groups] == ["baseline", "lr=0.1", "lr=—"]
    assert grouping.groups[0].key_values == (("group", "baseline"),)
    assert grouping.groups[0].run_ids == (by_name["g1"], by_name["g2"])
    assert grouping.groups[2].key_values == (("lr", MISSING),)
    # Picked keys replace the group field.
    assert [g.run_ids for g in picked.groups][0] == (by_name["g1"], by_name["c1"])


def test_ints_and_floats_of_one_value_group_together(tmp_path: Path) -> None:
    root = tmp_path / "store"
    log_run(root, "x1", {"batch": 16, "seed": 1}, {0: 1.0})
    log_run(root, "x2", {"batch": 16.0, "seed": 2}, {0: 2.0})
    log_run(root, "x3", {"batch": "16", "seed": 3}, {0: 3.0})
    with Store(root) as store:
        grouping = groups.group_runs(store, list(ids(store).values()))
    assert [g.n for g in grouping.groups] == [2, 1]


def test_summary_mean_std_n_of_last_and_best(sweep: Store) -> None:
    by_name = ids(sweep)
    grouping = groups.group_runs(sweep, list(by_name.values()))
    comparison = groups.compare_groups(sweep, grouping)
    rows = {row.key: row for row in comparison.rows}
    loss = rows["val/loss"]
    assert loss.direction == "min"
    for gi, names in enumerate((["a1", "a2", "a3"], ["b1", "b2"])):
        lasts = np.array([LOSS[n][max(LOSS[n])] for n in names])
        bests = np.array([min(effective(n).values()) for n in names])
        assert loss.last[gi].n == len(names)
        assert loss.last[gi].mean == pytest.approx(lasts.mean())
        assert loss.last[gi].std == pytest.approx(np.std(lasts, ddof=1))
        assert loss.best[gi].mean == pytest.approx(bests.mean())
        assert loss.best[gi].std == pytest.approx(np.std(bests, ddof=1))
    # Best of lr=0.01: mean of 0.5, 0.3, 0.52 = 0.44; of lr=0.02: mean of 0.2, 1.5 = 0.85.
    assert loss.best[0].mean == pytest.approx(0.44) and loss.best[1].mean == pytest.approx(0.85)
    assert loss.best_group == 0  # lower is better
    # A schedule has no direction: no best, no best group.
    assert rows["lr_sched"].direction is None
    assert rows["lr_sched"].best is None and rows["lr_sched"].best_group is None
    assert groups.Stat(1.5, None, 1).text() == "1.5"
    assert groups.Stat(1.5, 0.25, 3).text() == "1.5 ± 0.25"


@pytest.mark.parametrize(
    ("key", "describes"),
    [
        ("lr", True),
        ("lr0", True),
        ("batch", True),
        ("model.name", True),
        ("data", True),
        ("model_name_or_path", True),
        ("data_dir", True),
        ("torch_seed", False),
        ("seeds", False),
        ("seed", False),
        ("random_seed", False),
        ("rng_seed", False),
        ("manual_seed", False),
        ("data_seed", False),
        ("trainer.seed", False),
        ("seed_everything", False),
        ("name", False),
        ("run_name", False),
        ("output_dir", False),
        ("save_dir", False),
        ("model.logging.output_dir", False),
        ("args.output_dir", False),
        ("args.name", False),
        ("project", False),
        ("exist_ok", False),
        ("device", False),
        ("workers", False),
        ("trainer.default_root_dir", False),
        ("trainer.logger.init_args.save_dir", False),
        ("trainer.callbacks", False),
        ("report_to", False),
        ("push_to_hub", False),
        ("dataloader_num_workers", False),
        ("timestamp", False),
    ],
)
def test_which_keys_describe_an_experiment(key: str, describes: bool) -> None:
    assert group_keys.describes_experiment(key) is describes


# -- the CLI: trackui diff --group / --group-by ------------------------------------------


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    from trackui.cli import main

    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_diff_group_json(sweep: Store, capsys: pytest.CaptureFixture[str]) -> None:
    by_name = ids(sweep)
    root = str(sweep.root)
    code, out, err = run_cli(capsys, "diff", "-d", root, "--group", "--json", *by_name.values())
    assert code == 0, err
    doc = json.loads(out)
    assert doc["mode"] == "auto" and doc["group_by"] is None
    assert set(doc["ignored_keys"]) == {"name", "seed", "output_dir", "device"}
    assert [g["label"] for g in doc["groups"]] == ["lr=0.01", "lr=0.02"]
    assert [g["n"] for g in doc["groups"]] == [3, 2]
    assert doc["groups"][0]["key_values"] == {"lr": 0.01}
    assert [r["name"] for r in doc["groups"][1]["runs"]] == ["b1", "b2"]
    metrics = {m["key"]: m for m in doc["metrics"]}
    loss = metrics["val/loss"]
    assert loss["direction"] == "min" and loss["best_group"] == 0
    for gi, names in enumerate((["a1", "a2", "a3"], ["b1", "b2"])):
        lasts = np.array([LOSS[n][max(LOSS[n])] for n in names])
        bests = np.array([min(effective(n).values()) for n in names])
        assert loss["last"][gi]["n"] == len(names)
        assert loss["last"][gi]["mean"] == pytest.approx(lasts.mean())
        assert loss["last"][gi]["std"] == pytest.approx(np.std(lasts, ddof=1))
        assert loss["best"][gi]["mean"] == pytest.approx(bests.mean())
    assert metrics["lr_sched"]["direction"] is None and metrics["lr_sched"]["best"] is None


def test_cli_diff_group_by_keys(sweep: Store, capsys: pytest.CaptureFixture[str]) -> None:
    runs = list(ids(sweep).values())
    root = str(sweep.root)
    code, out, err = run_cli(capsys, "diff", "-d", root, "--group-by", "seed", "--json", *runs)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["mode"] == "keys" and doc["group_by"] == ["seed"]
    assert [g["label"] for g in doc["groups"]] == ["seed=1", "seed=2", "seed=3"]
    assert [g["n"] for g in doc["groups"]] == [2, 2, 1]
    # one run in a group: its std is null, not 0
    assert doc["metrics"][1]["last"][2]["std"] is None
    code, out, err = run_cli(capsys, "diff", "-d", root, "--group-by", "lr,seed", "--csv", *runs)
    assert code == 0, err
    table = list(csv.reader(io.StringIO(out)))
    assert table[0] == ["", "lr=0.01 seed=1", "lr=0.01 seed=2", "lr=0.01 seed=3",
                        "lr=0.02 seed=1", "lr=0.02 seed=2"]  # fmt: skip
    assert table[1] == ["runs (n)", "1", "1", "1", "1", "1"]
    assert [row[0] for row in table[2:4]] == ["lr", "seed"]


def test_cli_diff_group_table_and_errors(sweep: Store, capsys: pytest.CaptureFixture[str]) -> None:
    runs = list(ids(sweep).values())
    root = str(sweep.root)
    code, out, err = run_cli(capsys, "diff", "-d", root, "--group", *runs)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("# 2 groups of 5 runs (ignoring ")
    assert lines[1].split("\t") == ["", "lr=0.01", "lr=0.02"]
    rows = {line.split("\t")[0]: line.split("\t")[1:] for line in lines[2:]}
    assert rows["runs (n)"] == ["3", "2"]
    assert rows["lr"] == ["0.01", "0.02"]
    assert rows["val/loss ↓ best"] == ["0.44 ± 0.12 ★", "0.85 ± 0.92"]
    code, out, err = run_cli(capsys, "diff", "-d", root, "--group-by", "nope", *runs)
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [err.strip()] and "'nope'" in err
    code, out, err = run_cli(capsys, "diff", "-d", root, "--group-by", " , ", *runs)
    assert code == 2 and "--group-by needs at least one param key" in err
    with pytest.raises(SystemExit) as exit_info:
        run_cli(capsys, "diff", "-d", root, "--group", "--group-by", "lr", *runs)
    assert exit_info.value.code == 2
    assert "not allowed with" in capsys.readouterr().err


def test_labels_name_only_what_tells_groups_of_a_project_apart(tmp_path: Path) -> None:
    root = tmp_path / "store"
    for project, name, config in (
        ("cls", "r50", {"arch": "resnet50", "lr": 0.1, "seed": 1}),
        ("cls", "r18", {"arch": "resnet18", "lr": 0.1, "seed": 1}),
        ("det", "y1", {"lr0": 0.01, "batch": 16, "seed": 1}),
        ("det", "y2", {"lr0": 0.02, "batch": 16, "seed": 2}),
        ("det", "y3", {"lr0": 0.02, "batch": 16, "seed": 3}),
    ):
        run = trackui.init(project=project, name=name, config=config, dir=root, console=False)
        run.log({"loss": 1.0}, step=0)
        run.finish()
    with Store(root) as store:
        runs = store.list_runs(sort="created", descending=False)
        grouping = groups.group_runs(store, [r.id for r in runs])
    assert [g.label for g in grouping.groups] == [
        "project=cls arch=resnet50",
        "project=cls arch=resnet18",
        "project=det lr0=0.01",
        "project=det lr0=0.02",
    ]
    assert [g.n for g in grouping.groups] == [1, 1, 1, 2]
    # The table rows still give every key that differs anywhere.
    assert dict(grouping.groups[0].key_values)["lr0"] is MISSING
    assert grouping.varying == ("project", "arch", "batch", "lr", "lr0")
