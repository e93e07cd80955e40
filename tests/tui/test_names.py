"""Names that fit and stay distinct (tui/names.py), in terminal cells."""

from __future__ import annotations

from trackui.tui.names import cells, distinct, fit, fit_start


def test_seed_sweep_keeps_the_seed():
    base = "yolo26n-coco-" + "x" * 40 + "-seed"
    names = [f"{base}{i}" for i in (1, 2, 3)]
    shown = distinct(names, 12)
    assert len(set(shown)) == 3
    assert [s[-5:] for s in shown] == ["seed1", "seed2", "seed3"]
    assert all(cells(s) <= 12 for s in shown)


def test_cjk_and_emoji_are_counted_in_cells():
    names = [
        "训练运行一号实验-种子1",
        "训练运行一号实验-种子2",
        "🚀🚀🚀🚀-rocket-a",
        "🚀🚀🚀🚀-rocket-b",
    ]
    shown = distinct(names, 9)
    assert all(cells(s) <= 9 for s in shown)
    assert len(set(shown)) == 4


def test_fit_keeps_both_ends():
    assert fit("abcdefghijklmnop", 8) == "abc…mnop"
    assert cells(fit("训练运行一号实验种子", 7)) <= 7
    assert fit_start("prefix-seed3", 6) == "…seed3"
    assert fit("short", 10) == "short"


def test_hostile_names_are_made_visible():
    assert "\\x1b" in fit("\x1b[2Jname", 20)
