"""run.log_image: files copied as they are, arrays as PNG written by the
standard library, records in artifacts.jsonl, and what reaches show --json."""

from __future__ import annotations

import json
import struct
import warnings
import zlib

import pytest

import trackui
from trackui.store import images

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


def records(run) -> list[dict]:
    return [json.loads(line) for line in (run.dir / "artifacts.jsonl").read_text().splitlines()]


def pixels_of(path) -> tuple[int, int, int, bytes]:
    return images.decode_png(path.read_bytes())


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKUI_SYSTEM_INTERVAL", "0")
    r = trackui.init(project="img", dir=tmp_path / "store", console=False)
    yield r
    r.finish()


def test_an_rgb_array_round_trips_with_its_step(run):
    array = [[RED, GREEN, BLUE], [WHITE, (0, 0, 0), (10, 20, 30)]]
    record = run.log_image("val/pred", array, step=7)
    assert record is not None
    path = run.dir / "artifacts" / "media" / "val" / "pred" / "7.png"
    assert record["path"] == "artifacts/media/val/pred/7.png"
    width, height, channels, data = pixels_of(path)
    assert (width, height, channels) == (3, 2, 3)
    assert data == bytes([255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 10, 20, 30])
    (line,) = records(run)
    assert line == record
    assert {k: line[k] for k in ("kind", "key", "step", "name", "width", "height")} == {
        "kind": "image",
        "key": "val/pred",
        "step": 7,
        "name": "media/val/pred/7.png",
        "width": 3,
        "height": 2,
    }
    assert line["size"] == path.stat().st_size and len(line["sha256"]) == 64
    assert images.media_info(line["name"]) == ("val/pred", 7)


def test_the_png_is_valid_for_a_strict_decoder(run):
    """Checked with Pillow when it is installed (the test extra has it); the
    chunk CRCs by hand either way."""
    run.log_image("g", [[0, 128], [255, 64]], step=0)
    blob = (run.dir / "artifacts/media/g/0.png").read_bytes()
    pos = 8
    while pos < len(blob):
        (length,) = struct.unpack(">I", blob[pos : pos + 4])
        body = blob[pos + 4 : pos + 8 + length]
        (crc,) = struct.unpack(">I", blob[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(body) == crc
        pos += 12 + length
    PIL = pytest.importorskip("PIL.Image", reason="Pillow is in the test and images extras")
    with PIL.open(run.dir / "artifacts/media/g/0.png") as im:
        assert im.mode == "L" and im.size == (2, 2)
        assert list(im.tobytes()) == [0, 128, 255, 64]


def test_gray_rgba_floats_and_channels_first(run):
    run.log_image("gray", [[0, 255]], step=1)
    assert pixels_of(run.dir / "artifacts/media/gray/1.png")[:3] == (2, 1, 1)
    run.log_image("rgba", [[(1, 2, 3, 4)]], step=1)
    assert pixels_of(run.dir / "artifacts/media/rgba/1.png") == (1, 1, 4, bytes([1, 2, 3, 4]))
    run.log_image("float", [[0.0, 0.5, 1.0, 2.0, -1.0, float("nan")]], step=1)
    assert pixels_of(run.dir / "artifacts/media/float/1.png")[3] == bytes([0, 128, 255, 255, 0, 0])
    # 3 x 1 x 2 (channels first, as torch keeps images) -> 1 x 2 RGB
    run.log_image("chw", [[[255, 0]], [[0, 255]], [[0, 0]]], step=1)
    assert pixels_of(run.dir / "artifacts/media/chw/1.png")[:3] == (2, 1, 3)
    assert pixels_of(run.dir / "artifacts/media/chw/1.png")[3] == bytes([255, 0, 0, 0, 255, 0])


def test_numpy_arrays_through_tolist(run):
    np = pytest.importorskip(
        "numpy", reason="numpy is in the test extra; the shim never imports it"
    )
    a = np.zeros((2, 3, 3), dtype=np.uint8)
    a[0, 0] = RED
    run.log_image("np", a, step=2)
    assert pixels_of(run.dir / "artifacts/media/np/2.png")[3][:6] == bytes([255, 0, 0, 0, 0, 0])
    run.log_image("npf", np.ones((2, 2), dtype=np.float32), step=2)
    assert pixels_of(run.dir / "artifacts/media/npf/2.png")[3] == bytes([255] * 4)


def test_numpy_fast_path_matches_the_generic_one(run):
    """numpy arrays are encoded through their own methods; the pixels are
    the ones the list path gives, and the caller's array is untouched."""
    np = pytest.importorskip(
        "numpy", reason="numpy is in the test extra; the shim never imports it"
    )
    rng = np.random.default_rng(0)
    cases = [
        (rng.random((5, 7, 3)) * 255).astype(np.uint8),
        rng.random((5, 7), dtype=np.float32),
        rng.random((3, 6, 5)),  # channels first
        rng.random((5, 7, 4)) * 1.5 - 0.2,  # clipped
    ]
    cases[1][0, 0] = np.nan
    for i, array in enumerate(cases):
        kept = array.copy()
        fast = images.decode_png(images.array_png(array)[0])
        slow = images.decode_png(images.array_png(array.tolist())[0])
        assert fast == slow, i
        assert np.array_equal(array, kept, equal_nan=True)
    run.log_image("fast", cases[0], step=1)
    assert pixels_of(run.dir / "artifacts/media/fast/1.png")[3] == cases[0].tobytes()


def test_a_file_is_copied_as_it_is(run, tmp_path):
    src = tmp_path / "confusion_matrix.jpg"
    jpeg = (
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
        b"\xff\xc0\x00\x11\x08\x00\x30\x00\x40\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01"
        b"\xff\xd9"
    )
    src.write_bytes(jpeg)
    record = run.log_image("plots/confusion", str(src), step=3)
    dest = run.dir / "artifacts/media/plots/confusion/3.jpg"
    assert dest.read_bytes() == jpeg
    assert (record["width"], record["height"]) == (64, 48)
    assert records(run)[-1]["kind"] == "image"


def test_default_step_is_the_latest_logged_step(run):
    run.log_image("a", [[1]])
    run.log({"loss": 1.0}, step=5)
    run.log_image("a", [[1]])
    assert [r["step"] for r in records(run)] == [0, 5]


def test_module_level_log_image(run):
    trackui.log_image("m", [[9]], step=4)
    assert records(run)[-1]["name"] == "media/m/4.png"


@pytest.mark.parametrize(
    ("image", "why"),
    [
        ([[1, 2], [3]], "row 1"),
        ([[(1, 2)], [(3, 4)]], "channels"),
        ([[300]], "0-255"),
        ([["a"]], "str"),
        ([], "2-D"),
        ("missing.png", "No such file"),
    ],
)
def test_bad_content_warns_and_is_dropped(run, image, why):
    with pytest.warns(trackui.TrackuiWarning, match=why):
        assert run.log_image("bad", image, step=1) is None
    assert not (run.dir / "artifacts.jsonl").exists()


def test_a_file_that_is_no_image_is_dropped(run, tmp_path):
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.warns(trackui.TrackuiWarning, match="is not a PNG"):
        assert run.log_image("bad", tmp_path / "notes.png") is None


def test_a_key_leaving_media_is_refused(run):
    with pytest.warns(trackui.TrackuiWarning, match=r"'\.\.'"):
        assert run.log_image("../../x", [[1]], step=0) is None
    assert not (run.dir / "artifacts").exists()


@pytest.mark.parametrize(
    ("key", "image", "step", "match"),
    [
        (3, [[1]], 0, "key 3 is int"),
        ("k", 3.5, 0, "float, not a path or an array"),
        ("k", b"\x89PNG", 0, "bytes"),
        ("k", [[1]], "one", "step"),
    ],
)
def test_a_wrong_type_raises_at_the_call(run, key, image, step, match):
    with pytest.raises(TypeError, match=match):
        run.log_image(key, image, step=step)


def test_after_finish_it_warns_and_never_raises(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKUI_SYSTEM_INTERVAL", "0")
    run = trackui.init(project="img", dir=tmp_path / "store", console=False)
    run.finish()
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        assert run.log_image("late", [[1]], step=0) is None
    assert any("not logged" in str(w.message) for w in got)


def test_media_names_and_image_names():
    assert images.media_info("media/a/b/12.png") == ("a/b", 12)
    assert images.media_info("media/a/-1.JPG") == ("a", -1)
    assert images.media_info("media/a/x.png") is None
    assert images.media_info("media/3.png") is None
    assert images.media_info("weights/best.pt") is None
    assert images.is_image_name("results.png") and images.is_image_name("val_batch0_pred.jpg")
    assert not images.is_image_name("best.pt") and not images.is_image_name("png")


def test_the_callers_array_is_left_as_it_was(run):
    array = [[(1, 2, 3), (4, 5, 6)], ((7, 8, 9), (10, 11, 12))]
    run.log_image("t", array, step=0)
    assert array == [[(1, 2, 3), (4, 5, 6)], ((7, 8, 9), (10, 11, 12))]
    assert pixels_of(run.dir / "artifacts/media/t/0.png")[3] == bytes(range(1, 13))


def test_artifact_fields_for_show_json():
    assert images.artifact_fields("media/val/pred/3.png") == {
        "kind": "image",
        "key": "val/pred",
        "step": 3,
    }
    assert images.artifact_fields("results.png") == {
        "kind": "image",
        "key": "results.png",
        "step": None,
    }
    assert images.artifact_fields("weights/best.pt") == {"kind": "file"}


def test_show_json_lists_images_with_key_and_step(run, tmp_path, capsys):
    from trackui import cli

    run.log_image("samples", [[1, 2]], step=3)
    (tmp_path / "best.pt").write_bytes(b"weights")
    run.log_artifact(tmp_path / "best.pt")
    run.log({"loss": 1.0})
    run.finish()
    code = cli.main(["show", "--store", str(tmp_path / "store"), run.id, "--json"])
    assert code in (0, None)
    shown = json.loads(capsys.readouterr().out)
    artifact, weights = shown["artifacts"]
    assert weights["name"] == "best.pt" and weights["kind"] == "file" and "step" not in weights
    assert artifact["name"] == "media/samples/3.png"
    assert artifact.get("kind") == "image"
    assert artifact.get("key") == "samples" and artifact.get("step") == 3
