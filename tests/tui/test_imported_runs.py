"""Imported runs (Ultralytics, MLflow) in the TUI beside a native run: listed,
opened and compared like any other run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import trackui
from trackui.store.importers import import_path
from trackui.store.queries import Store
from trackui.tui.app import make_app
from trackui.tui.compare_screen import CompareScreen
from trackui.tui.run_screen import RunScreen

from .helpers import screen_text, settle

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
NOW = 1_900_000_000.0  # far after every fixture: stale runs read crashed

pytestmark = pytest.mark.anyio


@pytest.fixture
def mixed_store(tmp_path: Path) -> Path:
    root = tmp_path / "store"
    shutil.copytree(FIXTURES / "ultralytics", tmp_path / "yolo")
    import_path(root, tmp_path / "yolo", kind="ultralytics")
    import_path(root, FIXTURES / "mlflow", kind="mlflow")
    with trackui.init(
        project="detect",
        name="native-sgd",
        dir=root,
        console=False,
        config={"lr0": 0.005, "optimizer": "SGD", "epochs": 5},
    ) as run:
        for epoch in range(1, 6):
            run.log({"metrics/mAP50-95(B)": 0.05 * epoch}, step=epoch)
    return root


async def test_imported_runs_list_open_and_compare_like_native_ones(mixed_store: Path) -> None:
    with Store(mixed_store, clock=lambda: NOW) as store:
        exp_a = store.resolve("detect/exp_a")
        native = store.resolve("detect/native-sgd")
        crashed = store.resolve("detect/exp_c_crashed")
        app = make_app(store, clock=lambda: NOW, live_interval=0)
        async with app.run_test(size=(160, 50)) as pilot:
            await settle(pilot)
            text = screen_text(app.screen)
            for name in ("exp_a", "exp_b", "exp_f_yolo11n", "native-sgd", "yolo26n-lr0.01-b16-sgd"):
                assert name in text
            assert store.get_run(crashed).run.status == "crashed"

            app.push_screen(RunScreen(exp_a))
            await settle(pilot)
            overview = screen_text(app.screen)
            assert "✔ finished" in overview and "detect/exp_a" in overview
            assert "ultralytics" in overview  # where it came from
            await pilot.press("3")
            await settle(pilot)
            assert "metrics/mAP50-95(B)" in screen_text(app.screen)
            await pilot.press("escape")
            await settle(pilot)

            app.push_screen(CompareScreen([exp_a, native]))
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, CompareScreen)
            compared = screen_text(app.screen)
            assert "exp_a" in compared and "native-sgd" in compared
            assert "metrics/mAP50-95(B)" in compared and "0.25 +0.25" in compared
            assert screen.diff is not None
            rows = {row.key: row.values for row in screen.diff.rows}
            assert rows["lr0"] == (0.01, 0.005)
            # equal values from args.yaml and from trackui.init compare equal
            assert "optimizer" not in rows and "epochs" not in rows
