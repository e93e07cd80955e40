"""Hostile strings for the CLI tests, and a run directory holding them in
every field, written by hand so they reach the catalog whatever the writer
would accept."""

from __future__ import annotations

import json
import re
from pathlib import Path

CLEAR = "\x1b[2J\x1b[H"
OSC52 = "\x1b]52;c;cm0gLXJmIH4K\x07"
TITLE = "\x1b]0;owned\x1b\\"
HOSTILE = [
    f"clear{CLEAR}me",
    f"clip{OSC52}board",
    f"title{TITLE}set",
    "bell\x07and\x7fdel",
    "c1\x9b31mred\x85nel",
    "bidi\u202eevil\u2066iso\u2069",
    "zero\u200bwidth\u200d\ufeff",
    "line\nbreak\rreturn",
]
#: What may never reach the terminal: C0 but tab/newline, DEL, C1, bidi
#: controls and isolates, zero-width and BOM.
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


def write_run(root: Path, run_id: str, project: str, name: str, *, value: float) -> None:
    """A run directory as the writer lays it out, written by hand so the
    hostile strings reach the catalog whatever the writer would accept."""
    run = root / "p" / run_id
    run.mkdir(parents=True)
    meta = {
        "format": 1,
        "id": run_id,
        "project": project,
        "name": name,
        "group": HOSTILE[6],
        "tags": HOSTILE[:4],
        "notes": HOSTILE[1],
        "created": 1795705868.0 + value,
        "host": HOSTILE[4],
        "user": "u",
        "pid": 1,
        "argv": ["train.py", HOSTILE[0], HOSTILE[5]],
        "cwd": ".",
        "python": "3.11",
        "heartbeat_interval": 5.0,
        "git": {"commit": HOSTILE[2], "branch": HOSTILE[3], "dirty": True},
    }
    (run / "meta.json").write_text(json.dumps(meta))
    config = {h: f"{h}-{value}" for h in HOSTILE}
    config["lr"] = value
    (run / "config.json").write_text(json.dumps(config))
    rows = [
        {"_step": s, "_t": 1795705868.0 + s, **{h: value * s for h in HOSTILE}} for s in range(3)
    ]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    events = [
        {"event": "start", "t": 1795705868.0, "pid": 1},
        {
            "event": "finish",
            "t": 1795705878.0,
            "status": "failed",
            "exception": {"type": HOSTILE[0], "message": HOSTILE[1]},
        },
    ]
    (run / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    (run / "heartbeat").touch()
