"""Textual's parsed CSS kept on disk (tui/css_cache.py): the next launch
unpickles what the last one parsed, and gets the same rules; another theme,
another CSS or a damaged file are parsed afresh."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# One launch's stylesheet: the app's screens and widgets, in a theme; prints
# how many CSS texts were really parsed and the rules as CSS.
LAUNCH = """
import json, sys
from pathlib import Path
import textual.css.stylesheet as stylesheet_module
from textual.css.stylesheet import Stylesheet
from trackui.tui import css_cache
css_cache.install(Path(sys.argv[1]))
parsed = []
real = stylesheet_module.parse
def counting(scope, css, *args, **kwargs):
    parsed.append(len(css))
    return real(scope, css, *args, **kwargs)
stylesheet_module.parse = counting
from textual.app import App
from textual.widgets import DataTable, Input, OptionList
from trackui.tui.app import TrackuiApp
from trackui.tui.run_screen import RunScreen
from trackui.tui.runs_screen import RunsScreen
app = App()
app.theme = sys.argv[2]
sheet = Stylesheet(variables=app.get_css_variables())
extra = sys.argv[3] if len(sys.argv) > 3 else ""
for cls in (TrackuiApp, RunsScreen, RunScreen, DataTable, OptionList, Input):
    for base in cls.__mro__:
        css = base.__dict__.get("DEFAULT_CSS")
        if css:
            sheet.add_source(css + extra, read_from=("", base.__name__), is_default_css=True)
sheet.parse()
css_cache.save()
rules = [
    f"{rule.selectors} {{{sorted(map(repr, rule.styles.get_rules().items()))}}}"
    for rule in sheet.rules
]
print(json.dumps({"parsed": len(parsed), "rules": rules}))
"""


def launch(cache: Path, theme: str = "textual-dark", extra: str = "") -> dict:
    out = subprocess.run(
        [sys.executable, "-c", LAUNCH, str(cache), theme, extra],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,  # a launch that waits on a FIFO fails here, not the whole run
    )
    return json.loads(out.stdout)


def test_the_next_launch_parses_no_css_and_gets_the_same_rules(tmp_path: Path) -> None:
    first = launch(tmp_path)
    assert first["parsed"] > 5 and len(first["rules"]) > 20
    assert len(list(tmp_path.glob("css-*.pickle"))) == 1
    again = launch(tmp_path)
    assert again["parsed"] == 0  # every text unpickled
    assert again["rules"] == first["rules"]


def test_another_theme_or_other_css_is_parsed_afresh(tmp_path: Path) -> None:
    dark = launch(tmp_path)
    light = launch(tmp_path, theme="textual-light")
    assert light["parsed"] == dark["parsed"]  # the theme's colours are in the rules
    assert light["rules"] != dark["rules"]
    assert launch(tmp_path, theme="textual-light")["parsed"] == 0
    changed = launch(tmp_path, extra="\nDataTable { height: 3; }\n")
    assert changed["parsed"] == dark["parsed"]
    assert changed["rules"] != dark["rules"]


def test_a_damaged_cache_file_is_parsed_again_and_rewritten(tmp_path: Path) -> None:
    first = launch(tmp_path)
    (cache,) = tmp_path.glob("css-*.pickle")
    cache.write_bytes(b"\x80\x05not a pickle")
    again = launch(tmp_path)
    assert again["parsed"] == first["parsed"] and again["rules"] == first["rules"]
    assert launch(tmp_path)["parsed"] == 0  # written whole again


def test_a_cache_file_others_may_write_is_not_loaded(tmp_path: Path) -> None:
    """Unpickling runs code: a file anyone else may write is parsed over, and replaced."""
    first = launch(tmp_path)
    (cache,) = tmp_path.glob("css-*.pickle")
    assert cache.stat().st_mode & 0o077 == 0  # written for this user only
    cache.chmod(0o666)
    assert launch(tmp_path)["parsed"] == first["parsed"]
    assert cache.stat().st_mode & 0o077 == 0
    assert launch(tmp_path)["parsed"] == 0


def test_a_fifo_or_a_link_in_its_place_is_not_read(tmp_path: Path) -> None:
    """Hostile files where the cache is: a FIFO does not hang the launch, a
    link (even to a good cache file) is not followed; each is replaced."""
    import os

    good = tmp_path / "good"
    first = launch(good)
    (cache,) = good.glob("css-*.pickle")
    hostile = tmp_path / "hostile"
    hostile.mkdir()
    os.mkfifo(hostile / cache.name)
    assert launch(hostile)["parsed"] == first["parsed"]  # returned: the FIFO was not waited on
    assert (hostile / cache.name).is_file()
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / cache.name).symlink_to(cache)
    assert launch(linked)["parsed"] == first["parsed"]
    assert not (linked / cache.name).is_symlink()
