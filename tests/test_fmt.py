"""The one number formatter and the one terminal sanitizer (store/fmt.py)."""

from __future__ import annotations

import json
import math
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from trackui.store import fmt

CUT = re.compile(r"(e[-+]?$|\.$|^-?$)")


def _shown_precision_ok(text: str, value: float) -> bool:
    """Parsing ``text`` gives ``value`` to the precision shown: the error is at
    most half a unit in the last shown significant digit."""
    shown = float(text)
    if value == 0 or shown == value:
        return True
    mantissa, _, exponent = text.partition("e")
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    unit = 10.0 ** (-decimals + (int(exponent) if exponent else 0))
    if "." not in mantissa and not exponent:
        # an integer text: trailing zeros may be padding of a rounded value
        unit = 1.0
    return abs(shown - value) <= unit / 2 * (1 + 1e-9)


@settings(max_examples=400, deadline=None)
@given(
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300)
    | st.sampled_from([5e-05, -5.3e-05, 0.5166, 1e-300, -1e-300, 1e300, 0.1 + 0.2]),
    st.integers(min_value=1, max_value=14),
)
def test_number_fit_is_never_a_cut_string_and_always_true(value, width):
    text = fmt.number_fit(value, width)
    assert not CUT.search(text), text
    assert _shown_precision_ok(text, value), (value, width, text)


def test_number_fit_prefers_precision_within_the_width():
    assert fmt.number_fit(5e-05, 8) == "5e-05"
    assert fmt.number_fit(-5.3e-05, 8) == "-5.3e-05"
    assert fmt.number_fit(0.5166, 6) == "0.5166"
    assert fmt.number_fit(0.5166, 4) == "0.52"
    assert fmt.number_fit(123456789.0, 5) == "1e+08"


def test_number_keeps_the_exponent_and_drops_padding_zeros():
    assert fmt.number(5e-05) == "5e-05"
    assert fmt.number(1.25e-07) == "1.25e-07"
    assert fmt.number(0.0034) == "0.0034"


@given(st.integers(min_value=-(10**40), max_value=10**40), st.integers(min_value=1, max_value=12))
def test_integers_are_whole_or_a_true_exponent_form(value, width):
    text = fmt.number_fit(value, width)
    assert not CUT.search(text)
    assert _shown_precision_ok(text, float(value)) or text == str(value)


def test_delta_keeps_sign_and_exponent():
    assert fmt.delta(1e-4, 1.53e-4) == "-5.3e-05"
    assert fmt.delta(0.02, 0.01) == "+0.01"
    assert fmt.delta(3, 3) == "0"
    assert fmt.delta(None, 3) == ""


HOSTILE = [
    "\x1b[2J",  # clear screen
    "\x1b]0;pwned\x07",  # window title
    "\x1b]52;c;aGVsbG8=\x07",  # OSC 52 clipboard write
    "\x9b2J",  # 8-bit CSI
    "a\u202eb",  # right-to-left override
    "a\u200bb",  # zero width space
    "a\u2066b\u2069",  # bidi isolates
    "a\x7fb\x85c",  # DEL, C1 NEL
    "a\x00b\x08c",
]


def test_printable_makes_every_control_visible():
    for text in HOSTILE:
        shown = fmt.printable(text)
        assert not any(
            ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or c in "\u202e\u200b\u2066\u2069"
            for c in shown
        ), repr(shown)
        assert "\\x" in shown or "\\u" in shown


def test_printable_console_drops_colour_but_shows_other_escapes():
    assert fmt.printable("\x1b[31mred\x1b[0m", console=True) == "red"
    assert "\\x1b" in fmt.printable("\x1b]0;t\x07", console=True)


def test_json_text_escapes_c1_and_stays_exact():
    obj = {"name": "a\x85b\x1b[2J\u202e", "x": 5e-05}
    text = fmt.json_text(obj)
    assert not any(0x7F <= ord(c) <= 0x9F or ord(c) < 0x20 or c == "\u202e" for c in text)
    assert json.loads(text) == obj


def test_repair_surrogates():
    undecodable = b"lat\xe9n".decode("utf-8", "surrogateescape")
    assert fmt.repair(undecodable, path=True) == "lat\\xe9n"
    assert fmt.repair("a\ud800b") == "a\ufffdb"
    assert fmt.repair("ok ☃") == "ok ☃"
    fmt.repair(undecodable).encode("utf-8")
    assert not math.isnan(0.0)
