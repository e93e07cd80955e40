"""One rule for the names and projects of runs that other tools wrote.

* **Name**: the tool's own name field when it has one (W&B display name,
  MLflow run name, Ultralytics ``name``, Trackio run name, a Hugging Face
  ``run_name`` that is not just the output directory); otherwise the run's
  own directory name (``runs/exp3`` is ``exp3``, ``lightning_logs/version_2``
  is ``version_2``).
* **Project**: the tool's own project or experiment field when it has one
  (W&B project, MLflow experiment, Ultralytics ``project``, Trackio project);
  otherwise the folder that holds the run, passing over folders whose name
  only says "runs live here" (``runs``, ``logs``, ``lightning_logs``,
  ``outputs`` ...): ``repo/runs/exp3`` is in project ``repo``. When that
  walk reaches the import root and the root itself is such a folder, the
  root's parent directory names the project (its name only: nothing
  outside the import root is read).

The identity of a run (``source_id``) stays its path relative to the import
root, so two runs with one name in two projects never merge.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Folder names that hold runs rather than name a project.
CONTAINERS = frozenset(
    {
        "runs",
        "run",
        "logs",
        "log",
        "lightning_logs",
        "tb_logs",
        "tensorboard_logs",
        "outputs",
        "output",
        "results",
        "experiments",
        "exps",
        "checkpoints",
        "mlruns",
        "wandb",
        "events",
    }
)


def dir_name(run_dir: Path) -> str:
    """The run directory's own name (resolved when it is ``.``)."""
    name = run_dir.name
    return name if name not in ("", ".", "..") else Path(os.path.abspath(run_dir)).name


def project_for(run_dir: Path, root: Path) -> str:
    """The project of a run found at ``run_dir`` under the import ``root`` (rule above)."""
    run_abs = Path(os.path.abspath(run_dir))
    root_abs = Path(os.path.abspath(root))
    here = run_abs.parent
    while True:
        inside = here == root_abs or root_abs in here.parents
        if not inside:
            break
        if here.name.lower() not in CONTAINERS:
            return here.name or "default"
        if here == root_abs:
            break
        here = here.parent
    # at (or above) the root: the root's name unless it is a container,
    # then its parent's name, as far as the path spells it
    for candidate in (root_abs, *root_abs.parents):
        if candidate == run_abs:
            continue
        if candidate.name and candidate.name.lower() not in CONTAINERS:
            return candidate.name
    return root_abs.name or "default"
