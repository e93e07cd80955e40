"""A Trackio run's output artifacts: the files of the versions it logged,
each by reference to its content-addressed blob next to the database (see
``trackio``'s module doc)."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

from ._trackio_values import json_value
from .base import Artifact, ForeignRun

_SHA256 = re.compile(r"[0-9a-f]{64}")


def add_artifacts(
    db: Path,
    conn: sqlite3.Connection,
    tables: dict[str, set[str]],
    run_id: str | None,
    run_name: str,
    run: ForeignRun,
    problems: list[str],
) -> None:
    needed = {"run_artifact_links", "artifact_versions", "artifacts"}
    if not needed <= tables.keys():
        return
    links = tables["run_artifact_links"]
    if run_id is not None and "run_id" in links:
        where, args = "l.run_id = ?", (run_id,)
    else:
        where, args = "l.run_name = ?", (run_name,)
    try:
        rows = conn.execute(
            "SELECT a.name, v.version, v.manifest, l.direction"
            " FROM run_artifact_links AS l"
            " JOIN artifact_versions AS v ON v.id = l.artifact_version_id"
            " JOIN artifacts AS a ON a.id = v.artifact_id"
            f" WHERE {where} ORDER BY l.id",
            args,
        ).fetchall()
    except sqlite3.Error as exc:
        problems.append(f"{db}: run {run_name!r}: artifacts unreadable ({exc})")
        return
    files: list[tuple[str, dict[str, Any]]] = []
    inputs = []
    for art_name, version, manifest, direction in rows:
        label = f"{art_name}:v{version}"
        if direction != "output":
            inputs.append(label)
            continue
        entries = json_value(manifest)
        if not isinstance(entries, list):
            problems.append(f"{db}: artifact {label}: manifest unreadable")
            continue
        files.extend((str(art_name), e) for e in entries if isinstance(e, dict) and "path" in e)
    if inputs:
        run.extra["input_artifacts"] = inputs
    paths = [str(e["path"]) for _, e in files]
    blob_roots = _blob_roots(db, run.project)
    for art_name, entry in files:
        logical = str(entry["path"])
        name = logical if paths.count(logical) == 1 else f"{art_name}/{logical}"
        digest = str(entry.get("digest") or "")
        if not _SHA256.fullmatch(digest):  # it becomes a path: never let it climb out
            problems.append(f"{db}: artifact {art_name} file {logical!r}: bad digest {digest!r}")
            continue
        blob = next(
            (r / digest[:2] / digest for r in blob_roots if (r / digest[:2] / digest).is_file()),
            None,
        )
        if blob is None:
            expected = blob_roots[0] / digest[:2] / digest
            problems.append(f"{expected}: missing (artifact {art_name}, file {logical!r})")
            continue
        size = entry.get("size")
        run.artifacts.append(
            Artifact(
                name=name,
                path=str(blob.resolve()),
                size=size if isinstance(size, int) else None,
                sha256=digest,
            )
        )


def _blob_roots(db: Path, project: str) -> list[Path]:
    base = db.resolve().parent / "artifacts"
    roots = [base / db.stem / "blobs" / "sha256"]
    if project != db.stem:
        roots.append(base / project / "blobs" / "sha256")
    return roots
