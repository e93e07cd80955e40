"""The catalog's tables and the small records its ingest keeps per run and file."""

from __future__ import annotations

from dataclasses import dataclass, field

SCHEMA_VERSION = "5"

# ``runs.run_id`` is the catalog's key of a run and the id users see: the
# run directory's name, or ``<project dir>/<name>`` for a second directory of
# the same name (a run copied into another project). ``rel_dir`` is where it
# lives under the store; ``problems`` (JSON: file -> reason) makes it
# ``unreadable``; ``read_notes`` says what was read differently from written.
SCHEMA = """
CREATE TABLE IF NOT EXISTS catalog_info(key VARCHAR, value VARCHAR);
CREATE TABLE IF NOT EXISTS runs(
    run_id VARCHAR, run_no INTEGER, project VARCHAR, name VARCHAR, grp VARCHAR, tags VARCHAR[], notes VARCHAR,
    created DOUBLE, ended DOUBLE, last_t DOUBLE, host VARCHAR, username VARCHAR, pid BIGINT,
    argv VARCHAR[], cwd VARCHAR, python VARCHAR, git_commit VARCHAR, git_branch VARCHAR,
    git_dirty BOOLEAN, git_remote VARCHAR, dir VARCHAR, heartbeat_interval DOUBLE,
    heartbeat_mtime DOUBLE, finish_status VARCHAR, finish_reason VARCHAR, exit_code BIGINT,
    signal VARCHAR, exc_type VARCHAR, exc_message VARCHAR, exc_traceback VARCHAR,
    status VARCHAR, status_reason VARCHAR, source_kind VARCHAR, source_path VARCHAR,
    source_id VARCHAR, parent_id VARCHAR, has_console BOOLEAN, has_diff BOOLEAN,
    dropped BIGINT, meta_json VARCHAR, rel_dir VARCHAR, problems VARCHAR, read_notes VARCHAR);
CREATE TABLE IF NOT EXISTS params(run_id VARCHAR, key VARCHAR, value_json VARCHAR, num DOUBLE, txt VARCHAR);
-- Points carry small integer ids of their run and key: DuckDB's min/max
-- statistics per row group then skip everything but the series asked for.
CREATE TABLE IF NOT EXISTS metrics(run_no INTEGER, key_no INTEGER, seq BIGINT, step BIGINT, t DOUBLE, value DOUBLE);
CREATE TABLE IF NOT EXISTS metric_keys(key_no INTEGER, key VARCHAR);
CREATE TABLE IF NOT EXISTS summaries(
    run_id VARCHAR, key VARCHAR, first DOUBLE, last DOUBLE, min DOUBLE, max DOUBLE, count BIGINT,
    step_min BIGINT, step_max BIGINT, last_step BIGINT, first_t DOUBLE, last_t DOUBLE, last_seq BIGINT);
CREATE TABLE IF NOT EXISTS summary_overrides(run_id VARCHAR, key VARCHAR, value_json VARCHAR, num DOUBLE);
CREATE TABLE IF NOT EXISTS artifacts(
    run_id VARCHAR, seq BIGINT, name VARCHAR, path VARCHAR, size BIGINT, sha256 VARCHAR,
    copied BOOLEAN, t DOUBLE);
CREATE TABLE IF NOT EXISTS events(run_id VARCHAR, seq BIGINT, event VARCHAR, t DOUBLE, body VARCHAR);
CREATE TABLE IF NOT EXISTS files(
    run_id VARCHAR, name VARCHAR, ino BIGINT, size BIGINT, mtime_ns BIGINT, "offset" BIGINT, lines BIGINT);
"""

TABLES = (
    "runs",
    "params",
    "metrics",
    "metric_keys",
    "summaries",
    "summary_overrides",
    "artifacts",
    "events",
    "files",
)

FILE_COLUMNS = {
    "run_id": "VARCHAR",
    "name": "VARCHAR",
    "ino": "BIGINT",
    "size": "BIGINT",
    "mtime_ns": "BIGINT",
    "offset": "BIGINT",
    "lines": "BIGINT",
}


#: The ``files`` row of a finished run's directory itself, once a look at its
#: files found it quiet: ``ino`` and ``mtime_ns`` of the directory, ``offset``
#: when that look began (ns), ``lines`` 1 (see ``catalog_sync``).
FOLDER = "."


class CatalogError(Exception):
    """A store or catalog problem, with a message fit for one line."""


@dataclass(slots=True)  # one or more per run: 100 k runs keep them in memory
class FileState:
    """How far a run's file was read: its identity, size and the lines taken."""

    ino: int = 0
    size: int = 0
    mtime_ns: int = 0
    offset: int = 0
    lines: int = 0


@dataclass(slots=True)
class RunState:
    """What the catalog knows of a run's files between refreshes."""

    files: dict[str, FileState] = field(default_factory=dict)
    finished: bool = False
    heartbeat_mtime: float | None = None
    slot: int | None = None  # its turn among live refreshes, once finished
    dir: str = ""  # the directory this key was read from
    problems: dict[str, str] = field(default_factory=dict)  # file -> why it was not read
    shown: list[bool] | None = None  # console.log and code.diff there, as last written
    #: Only the files a quiet finished run is checked by are loaded (``FOLDER``,
    #: meta.json): the rest are loaded before it is read (``Catalog._complete``).
    partial: bool = False


@dataclass(frozen=True)
class RefreshStats:
    """What one refresh read: runs seen and changed, points, seconds."""

    runs_seen: int
    runs_changed: int
    points: int
    seconds: float


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
