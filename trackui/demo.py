"""``trackui demo``: a realistic store written through the logging shim itself.

Runs are simulated over the past few days (the shim's clock is pointed at
the simulated time while they are written), with YOLO-like detection
curves, a classifier and a language-model fine-tune; one run fails with an
exception, one is killed, one crashes (no end recorded, a torn last line,
a stale heartbeat). A seed sweep (``group`` set, seeds 1-3), two long names
that share a 40-character prefix and a CJK/emoji name show how runs are told
apart. Every run has console output. ``--live`` starts a few background
trainings that log every half second for a few minutes, so the TUI has
something moving; they are stopped when the TUI quits.
"""

from __future__ import annotations

import atexit
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import trackui
from trackui.store import paths, writer

MARKER = ".trackui-demo-v1"
LIVE_STEPS = 600
LIVE_PERIOD_S = 0.5


def default_dir() -> Path:
    env = os.environ.get("TRACKUI_DEMO_DIR")
    return Path(env).expanduser() if env else paths.cache_dir() / "demo"


class _SimClock:
    def __init__(self, start: float):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += seconds


def ensure(root: Path, *, fresh: bool = False) -> bool:
    """Write the demo store unless it is already there. True when written."""
    if (root / MARKER).exists() and not fresh:
        return False
    if root.exists():
        if not (root / MARKER).exists() and any(root.iterdir()):
            raise FileExistsError(17, "not a demo store; refusing to overwrite", str(root))
        shutil.rmtree(root)
    root.mkdir(parents=True)
    generate(root)
    (root / MARKER).write_text("written by `trackui demo`\n")
    return True


def generate(root: Path, seed: int = 7) -> None:
    rng = random.Random(seed)
    clock = _SimClock(time.time() - 4 * 86400)
    real_now = writer._now
    writer._now = clock
    try:
        _detect_runs(root, rng, clock)
        _seed_sweep(root, rng, clock)
        _classify_runs(root, rng, clock)
        _llm_runs(root, rng, clock)
        _long_name_runs(root, rng, clock)
    finally:
        writer._now = real_now


def _yolo_epoch(
    epoch: int, epochs: int, lr0: float, batch: int, opt: str, rng: random.Random
) -> dict:
    speed = lr0 * (6 if opt == "AdamW" else 1) * 40 * (16 / batch) ** 0.3
    progress = 1 - math.exp(-epoch * speed / 10)
    noise = lambda s: rng.gauss(0, s)  # noqa: E731
    ceiling = (
        0.52 + 0.06 * math.tanh((0.01 - abs(lr0 - 0.008)) * 80) + (0.03 if opt == "AdamW" else 0)
    )
    lr = lr0 * (0.01 + 0.99 * (1 - epoch / epochs))
    return {
        "train/box_loss": 1.9 - 0.9 * progress + noise(0.02),
        "train/cls_loss": 3.2 - 2.1 * progress + noise(0.04),
        "train/dfl_loss": 1.6 - 0.5 * progress + noise(0.01),
        "metrics/precision(B)": _unit(0.2 + 0.6 * progress + noise(0.02)),
        "metrics/recall(B)": _unit(0.15 + 0.55 * progress + noise(0.02)),
        "metrics/mAP50(B)": _unit(ceiling * 1.4 * progress + noise(0.01)),
        "metrics/mAP50-95(B)": _unit(ceiling * progress + noise(0.008)),
        "val/box_loss": 2.0 - 0.8 * progress + noise(0.03),
        "val/cls_loss": 3.0 - 1.8 * progress + noise(0.05),
        "lr/pg0": lr,
        "lr/pg1": lr,
        "lr/pg2": lr * 10 if epoch < 3 else lr,
    }


def _unit(value: float) -> float:
    """A score as a detector reports it: between 0 and 1."""
    return min(0.99, max(0.0, value))


def _say(run: trackui.Run, text: str) -> None:
    """A line of the run's console output, as capture would have written it
    (the demo writes its runs from one process, so nothing is captured)."""
    with open(run.dir / paths.CONSOLE, "a", encoding="utf-8") as out:
        out.write(text + "\n")


def _detect_runs(root: Path, rng: random.Random, clock: _SimClock) -> None:
    grid = [
        ("SGD", 0.01, 16),
        ("SGD", 0.02, 16),
        ("SGD", 0.005, 32),
        ("SGD", 0.01, 64),
        ("AdamW", 0.002, 16),
        ("AdamW", 0.001, 32),
        ("AdamW", 0.004, 16),
    ]
    for i, (opt, lr0, batch) in enumerate(grid):
        name = f"yolo26n-{opt.lower()}-lr{lr0:g}" + (f"-b{batch}" if batch != 16 else "")
        epochs = 60
        config = {
            "model": "yolo26n.pt",
            "data": "coco128.yaml",
            "epochs": epochs,
            "imgsz": 640,
            "batch": batch,
            "lr0": lr0,
            "lrf": 0.01,
            "momentum": 0.937,
            "weight_decay": 0.0005,
            "optimizer": opt,
            "augment": {"mosaic": 1.0, "mixup": 0.1 if i % 3 == 0 else 0.0, "fliplr": 0.5},
            "seed": i,
        }
        fail_at = 23 if i == 3 else None
        try:
            _detect_run(root, rng, clock, name, config, opt, lr0, batch, epochs, fail_at)
        except RuntimeError:
            pass  # the failure is recorded in the run; the demo goes on
        clock.tick(600)


def _seed_sweep(root: Path, rng: random.Random, clock: _SimClock) -> None:
    """One setting trained with three seeds: a group to compare as one."""
    for seed in (1, 2, 3):
        config = {
            "model": "yolo26n.pt",
            "data": "coco128.yaml",
            "epochs": 40,
            "imgsz": 640,
            "batch": 16,
            "lr0": 0.01,
            "optimizer": "SGD",
            "seed": seed,
        }
        name = f"yolo26n-sgd-lr0.01-seed{seed}"
        _detect_run(
            root, random.Random(seed), clock, name, config, "SGD", 0.01, 16, 40, None, "seed-sweep"
        )
        clock.tick(300)


def _detect_run(
    root: Path,
    rng: random.Random,
    clock: _SimClock,
    name: str,
    config: dict,
    opt: str,
    lr0: float,
    batch: int,
    epochs: int,
    fail_at: int | None,
    group: str = "lr-sweep",
) -> None:
    with _quiet_init(
        project="detect",
        name=name,
        config=config,
        dir=root,
        tags=["yolo26n", opt.lower(), "sweep-lr" if group == "lr-sweep" else "seeds"],
        group=group,
    ) as run:
        _say(run, "Ultralytics 8.4.2 🚀 Python-3.11.9 torch-2.6.0 CUDA:0 (NVIDIA A10G, 22.5GB)")
        _say(
            run,
            f"engine/trainer: model={config['model']}, lr0={lr0}, batch={batch}, optimizer={opt}",
        )
        _say(run, "      Epoch    GPU_mem   box_loss   cls_loss   dfl_loss  Instances       Size")
        for epoch in range(epochs):
            for b in range(40):
                clock.tick(1.5)
                run.log(
                    {
                        "train/loss": 6.5 * math.exp(-(epoch * 40 + b) / (900 / lr0 / 60))
                        + 0.8
                        + rng.gauss(0, 0.08)
                    },
                    step=epoch * 40 + b,
                )
            if fail_at is not None and epoch == fail_at:
                message = (
                    "CUDA out of memory. Tried to allocate 1.56 GiB "
                    "(GPU 0; 23.69 GiB total capacity)"
                )
                _say(run, "Traceback (most recent call last):")
                _say(run, '  File "train.py", line 41, in <module>')
                _say(run, f"torch.OutOfMemoryError: {message}")
                raise RuntimeError(message)
            clock.tick(8)
            row = _yolo_epoch(epoch, epochs, lr0, batch, opt, rng)
            run.log({**row, "epoch": epoch + 1}, step=epoch * 40 + 39)
            _say(
                run,
                f"{epoch + 1:>7}/{epochs:<4} {2.1 + batch / 32:>6.2f}G "
                f"{row['train/box_loss']:>10.4f} {row['train/cls_loss']:>10.4f} "
                f"{row['train/dfl_loss']:>10.4f} {rng.randint(80, 240):>10}        640",
            )
            _say(
                run,
                f"                 all        128        929 {row['metrics/precision(B)']:>10.3f} "
                f"{row['metrics/recall(B)']:>10.3f} {row['metrics/mAP50(B)']:>10.3f} "
                f"{row['metrics/mAP50-95(B)']:>10.3f}",
            )
        _say(run, f"{epochs} epochs completed. Results saved to runs/detect/{name}")
        weights = root / ".best.pt"
        weights.write_bytes(bytes(rng.getrandbits(8) for _ in range(4096)))
        run.log_artifact(weights, name="weights/best.pt")
        weights.unlink()


def _classify_runs(root: Path, rng: random.Random, clock: _SimClock) -> None:
    for arch, lr, name in (
        ("resnet18", 0.1, None),
        ("resnet50", 0.05, None),
        ("vit-s16", 0.001, None),
        ("vit-s16", 0.003, "vit-s16-lr0.003-no-aug"),
        ("resnet50", 0.2, None),
        ("resnet18", 0.05, "图像分类-resnet18-微调-🚀"),
    ):
        with _quiet_init(
            project="classify",
            name=name or f"{arch}-lr{lr:g}",
            dir=root,
            config={
                "arch": arch,
                "lr": lr,
                "epochs": 30,
                "batch": 256,
                "label_smoothing": 0.1,
                "augment": name is None or "no-aug" not in name,
            },
            tags=["imagenet-100"],
        ) as run:
            steps = 1500 if name is None else 600
            _say(run, f"=> creating model '{arch}'; {steps} steps, batch 256")
            for step in range(steps):
                clock.tick(0.8)
                frac = step / steps
                loss = 4.6 * math.exp(-4 * frac * (lr * 20) ** 0.25) + 0.5 + rng.gauss(0, 0.05)
                row = {"train/loss": loss}
                if step % 50 == 49:
                    acc = _unit(0.9 * (1 - math.exp(-5 * frac)) + rng.gauss(0, 0.01))
                    row.update({"val/acc": min(0.95, acc), "val/loss": loss * 1.1})
                    _say(run, f"step {step + 1}/{steps}  loss {loss:.4f}  val/acc {acc:.4f}")
                run.log(row)
            if arch == "resnet50" and lr == 0.2:
                _say(run, "Terminated")
                run.finish("killed", signal_name="SIGTERM")
        clock.tick(1200)


def _llm_runs(root: Path, rng: random.Random, clock: _SimClock) -> None:
    for name, lr, crash in (
        ("qwen-0.5b-lora-r16", 2e-4, False),
        ("qwen-0.5b-lora-r64", 1e-4, True),
    ):
        run = _quiet_init(
            project="llm-finetune",
            name=name,
            dir=root,
            config={
                "base": "qwen2.5-0.5b",
                "lora": {"r": 16 if "r16" in name else 64, "alpha": 32, "dropout": 0.05},
                "lr": lr,
                "seq_len": 2048,
            },
            tags=["lora"],
            notes="SFT on the support-tickets set",
        )
        steps = 3000 if not crash else 1700
        for step in range(steps):
            clock.tick(2.0)
            spike = 1.5 if rng.random() < 0.004 else 0.0
            loss = 2.9 * math.exp(-step / 700) + 1.1 + rng.gauss(0, 0.04) + spike
            row = {
                "train/loss": loss,
                "train/grad_norm": abs(rng.gauss(1.0, 0.3)) + spike * 4,
                "train/lr": lr * min(1.0, step / 100),
            }
            if step % 250 == 249:
                row["eval/perplexity"] = math.exp(loss - 0.1)
                _say(
                    run,
                    f"{{'loss': {loss:.4f}, 'eval_perplexity': {row['eval/perplexity']:.3f}, "
                    f"'step': {step + 1}}}",
                )
            run.log(row)
        if crash:
            _abandon(run, clock)
        else:
            run.finish()
        clock.tick(300)


def _long_name_runs(root: Path, rng: random.Random, clock: _SimClock) -> None:
    """Names that share their first 40+ characters and differ at the end."""
    prefix = "qwen2.5-0.5b-instruct-sft-support-tickets-2026-11-"
    for suffix, r in (("lora-r8-seq1024", 8), ("lora-r8-seq4096", 8)):
        seq = int(suffix.rsplit("seq", 1)[1])
        with _quiet_init(
            project="llm-finetune",
            name=prefix + suffix,
            dir=root,
            config={
                "base": "qwen2.5-0.5b-instruct",
                "lora": {"r": r, "alpha": 16, "dropout": 0.05},
                "lr": 2e-4,
                "seq_len": seq,
            },
            tags=["lora", "long-context"],
        ) as run:
            _say(run, f"loading qwen2.5-0.5b-instruct, seq_len {seq}")
            for step in range(600):
                clock.tick(3.0)
                loss = 2.7 * math.exp(-step / (250 if seq == 1024 else 320)) + 1.05
                loss += rng.gauss(0, 0.03)
                row = {"train/loss": loss, "train/lr": 2e-4 * min(1.0, step / 50)}
                if step % 100 == 99:
                    row["eval/perplexity"] = math.exp(loss - 0.05)
                    _say(run, f"step {step + 1}: loss {loss:.4f}")
                run.log(row)
        clock.tick(200)


def _quiet_init(**kwargs: object) -> trackui.Run:
    return trackui.init(console=False, **kwargs)  # type: ignore[arg-type]


def _abandon(run: trackui.Run, clock: _SimClock) -> None:
    """What `kill -9` leaves: no finish event, a torn last line, a stale heartbeat."""
    os.write(run._fd, b'{"_step": 1700, "_t": %f, "train/loss": 1.1' % clock())
    run._stop.set()
    run._finished = True
    atexit.unregister(run._on_exit)
    if sys.excepthook == run._on_uncaught:
        sys.excepthook = run._prev_excepthook
    os.close(run._fd)
    beat = run.dir / paths.HEARTBEAT
    os.utime(beat, (clock(), clock()))
    writer._forget(run)


def start_live(root: Path, count: int = 3) -> list[subprocess.Popen[bytes]]:
    """Start ``count`` background trainings that log into ``root``."""
    return [
        subprocess.Popen(
            [sys.executable, "-m", "trackui.demo", str(root), str(i)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for i in range(count)
    ]


def stop_live(procs: list[subprocess.Popen[bytes]], timeout: float = 5.0) -> int:
    """Stop the trainings ``start_live`` started (SIGTERM: each records itself
    as killed); how many were still running."""
    running = [p for p in procs if p.poll() is None]
    for proc in running:
        try:
            proc.send_signal(signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + timeout
    for proc in running:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return len(running)


def describe(root: Path, *, made: bool, live: int = 0) -> str:
    """What ``trackui demo`` says without a terminal: where the store is,
    what it holds, and how to browse it."""
    from trackui.store.queries import Store

    with Store(root) as store:
        runs = store.list_runs()
    counts: dict[str, int] = {}
    for run in runs:
        counts[run.status] = counts.get(run.status, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    lines = [
        f"{'wrote' if made else 'found'} the demo store at {root}: {len(runs)} runs ({summary})"
    ]
    if live:
        lines.append(f"{live} runs are training in the background and will finish in a few minutes")
    lines += [
        "browse it with:",
        f"  trackui {root}",
        f"  trackui ls {root}",
        f"  trackui diff -d {root} yolo26n-sgd-lr0.01 yolo26n-adamw-lr0.002",
        f"  trackui show -d {root} yolo26n-sgd-lr0.01-seed2",
    ]
    return "\n".join(lines)


def _live(root: Path, index: int) -> None:
    rng = random.Random(index)
    lr0 = (0.01, 0.003, 0.02)[index % 3]
    opt = "SGD" if index != 1 else "AdamW"
    name = f"live-yolo26s-{opt.lower()}-lr{lr0:g}"
    config = {
        "model": "yolo26s.pt",
        "data": "coco128.yaml",
        "epochs": LIVE_STEPS // 10,
        "batch": 16,
        "lr0": lr0,
        "optimizer": opt,
    }
    with trackui.init(project="detect", name=name, config=config, dir=root, tags=["live"]) as run:
        for step in range(LIVE_STEPS):
            time.sleep(LIVE_PERIOD_S)
            row = {"train/loss": 6.5 * math.exp(-step / 150) + 0.8 + rng.gauss(0, 0.08)}
            if step % 10 == 9:
                epoch = step // 10
                row.update(_yolo_epoch(epoch, LIVE_STEPS // 10, lr0, 16, opt, rng))
                print(
                    f"epoch {epoch + 1}/{LIVE_STEPS // 10}: mAP50-95 {row['metrics/mAP50-95(B)']:.4f}"
                )
            run.log(row, step=step)


if __name__ == "__main__":
    _live(Path(sys.argv[1]), int(sys.argv[2]))
