"""Images a run logs (``run.log_image``) and images among any run's artifacts.

Standard library only (this is imported into training code): arrays become
PNG through ``zlib`` and ``struct``; numpy is never imported (an array is
read through its ``.tolist()``), nor Pillow. A logged image is an artifact
named ``media/<key>/<step>.<ext>``; :func:`media_info` reads key and step
back from that name, so a reader needs no more than the artifact's name.

Arrays: height x width (gray), height x width x 3 (RGB) or x 4 (RGBA);
channels first (3 x H x W, as torch keeps them) is turned around. Integers
are 0-255; as soon as one value is a float, all are taken as 0-1 (clipped,
NaN as 0), as W&B and matplotlib read floats.
"""

from __future__ import annotations

import itertools
import os
import struct
import zlib
from pathlib import Path
from typing import Any

MEDIA_DIR = "media"
#: Extensions shown as images (logged or among any run's artifacts).
IMAGE_EXTS = frozenset({"png", "jpg", "jpeg", "gif", "webp", "bmp"})
#: Longest side accepted for an array (a mistaken 1 x 10^8 "image" is refused).
MAX_SIDE = 16384
_HEAD = 1 << 20  # bytes read to find a JPEG's size (EXIF may come first)


# -- what an image file is --------------------------------------------------------


def sniff(head: bytes) -> tuple[str, int | None, int | None] | None:
    """``(ext, width, height)`` of the image whose first bytes are ``head``,
    or ``None`` when it is no image format this knows."""
    if head.startswith(b"\x89PNG\r\n\x1a\n") and len(head) >= 24:
        width, height = struct.unpack(">II", head[16:24])
        return "png", width, height
    if head[:6] in (b"GIF87a", b"GIF89a") and len(head) >= 10:
        width, height = struct.unpack("<HH", head[6:10])
        return "gif", width, height
    if head.startswith(b"\xff\xd8\xff"):
        return ("jpg", *_jpeg_size(head))
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp", None, None
    if head[:2] == b"BM" and len(head) >= 26:
        width, height = struct.unpack("<ii", head[18:26])
        return "bmp", abs(width), abs(height)
    return None


def _jpeg_size(data: bytes) -> tuple[int | None, int | None]:
    """Width and height from the first start-of-frame marker, walking segments."""
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None, None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        i += 2 + length
    return None, None


def sniff_file(path: str | os.PathLike[str]) -> tuple[str, int | None, int | None] | None:
    with open(path, "rb") as fh:
        return sniff(fh.read(_HEAD))


def is_image_name(name: str) -> bool:
    """Does an artifact's name say it is an image (by its extension)?"""
    return name.rsplit(".", 1)[-1].lower() in IMAGE_EXTS if "." in name else False


# -- names of logged images ---------------------------------------------------------


def media_name(key: str, step: int, ext: str) -> str:
    return f"{MEDIA_DIR}/{key}/{step}.{ext}"


def media_info(name: str) -> tuple[str, int] | None:
    """``(key, step)`` of an artifact that ``log_image`` named, else ``None``."""
    if not name.startswith(MEDIA_DIR + "/"):
        return None
    key, _, last = name[len(MEDIA_DIR) + 1 :].rpartition("/")
    stem, dot, ext = last.rpartition(".")
    if not key or not dot or ext.lower() not in IMAGE_EXTS:
        return None
    try:
        step = int(stem)
    except ValueError:
        return None
    return key, step


def artifact_fields(name: str) -> dict[str, Any]:
    """What ``show --json`` adds to an artifact: ``kind`` (``image`` or
    ``file``) and, for an image, its ``key`` and ``step`` (a logged image's,
    else its name and ``None``)."""
    logged = media_info(name)
    if logged is not None:
        return {"kind": "image", "key": logged[0], "step": logged[1]}
    if is_image_name(name):
        return {"kind": "image", "key": name, "step": None}
    return {"kind": "file"}


# -- arrays to PNG ------------------------------------------------------------------


def is_array(value: Any) -> bool:
    """What ``log_image`` takes as pixels: nested lists or tuples, or anything
    with ``.tolist()`` (numpy, torch, jax), never a str or bytes."""
    if isinstance(value, (str, bytes, bytearray)):
        return False
    return isinstance(value, (list, tuple)) or callable(getattr(value, "tolist", None))


def array_png(value: Any) -> tuple[bytes, int, int]:
    """PNG bytes, width and height of an array of pixels; ``ValueError``
    saying what is wrong with its shape or values."""
    fast = _numpy_png(value)
    if fast is not None:
        return fast
    rows = value.tolist() if callable(getattr(value, "tolist", None)) else value
    rows = _as_lists(rows)
    if not rows or not isinstance(rows, list) or not isinstance(rows[0], list):
        raise ValueError("is not 2-D (height x width) or 3-D (height x width x channels)")
    if rows[0] and isinstance(rows[0][0], list):
        first = rows[0][0]
        if len(first) not in (1, 3, 4) and len(rows) in (1, 3, 4):
            rows = _channels_last(rows)
    height, width = len(rows), len(rows[0])
    if not width:
        raise ValueError("has no columns")
    if height > MAX_SIDE or width > MAX_SIDE:
        raise ValueError(f"is {height} x {width}; at most {MAX_SIDE} a side")
    pixel = rows[0][0]
    channels = len(pixel) if isinstance(pixel, list) else 0
    if channels not in (0, 1, 3, 4):
        raise ValueError(f"has {channels} channels; 1 (gray), 3 (RGB) or 4 (RGBA) expected")
    flat: list[Any] = []
    for y, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != width:
            raise ValueError(f"row {y} is not {width} pixels long")
        if channels:
            for px in row:
                if not isinstance(px, list) or len(px) != channels:
                    raise ValueError(f"a pixel in row {y} is not {channels} values")
            flat.extend(itertools.chain.from_iterable(row))
        else:
            flat.extend(row)
    data = _bytes_of(flat)
    kind = {0: 0, 1: 0, 3: 2, 4: 6}[channels]  # PNG colour types: gray, RGB, RGBA
    return encode_png(data, width, height, max(channels, 1), kind), width, height


def _numpy_png(value: Any) -> tuple[bytes, int, int] | None:
    """A numpy array through its own methods (numpy is never imported here):
    the same result as the generic path, without a Python loop per pixel.
    ``None`` for anything else, or any surprise, and the generic path decides."""
    kind = str(getattr(value, "dtype", ""))
    if type(value).__module__ != "numpy" or not (kind == "uint8" or kind.startswith("float")):
        return None
    try:
        shape = tuple(value.shape)
        if len(shape) == 3 and shape[2] not in (1, 3, 4) and shape[0] in (1, 3, 4):
            value, shape = value.transpose(1, 2, 0), (shape[1], shape[2], shape[0])
        if len(shape) == 2:
            shape = (*shape, 1)
        height, width, channels = shape
        if len(shape) != 3 or channels not in (1, 3, 4) or not height or not width:
            return None
        if max(height, width) > MAX_SIDE:
            return None
        if kind != "uint8":
            value = value.clip(0, 1)
            value[value != value] = 0  # NaN
            value = (value * 255 + 0.5).astype("uint8")
        data = value.tobytes()
    except Exception:  # noqa: BLE001 - the generic path says what is wrong
        return None
    kind_code = {1: 0, 3: 2, 4: 6}[channels]
    return encode_png(data, width, height, channels, kind_code), width, height


def _as_lists(rows: Any) -> Any:
    """Tuples at any of the three levels as lists; the caller's data is never changed."""
    if isinstance(rows, tuple):
        rows = list(rows)
    if not isinstance(rows, list):
        return rows
    out = []
    for r in rows:
        if isinstance(r, (list, tuple)) and any(isinstance(p, tuple) for p in r):
            r = [list(p) if isinstance(p, tuple) else p for p in r]
        elif isinstance(r, tuple):
            r = list(r)
        out.append(r)
    return out


def _channels_last(planes: list[Any]) -> list[Any]:
    """C x H x W (a torch image) -> H x W x C."""
    if not all(isinstance(p, list) and len(p) == len(planes[0]) for p in planes):
        raise ValueError("channel planes differ in height")
    return [list(map(list, zip(*rows))) for rows in zip(*planes)]


def _bytes_of(flat: list[Any]) -> bytes:
    for v in flat:
        if type(v) is float:
            return bytes(
                0 if v != v else 255 if v >= 1 else 0 if v <= 0 else int(v * 255 + 0.5)
                for v in flat
            )
    try:
        return bytes(flat)
    except ValueError:
        raise ValueError("has integers outside 0-255") from None
    except TypeError:
        bad = next(v for v in flat if not isinstance(v, int))
        raise ValueError(f"holds {type(bad).__name__}, not numbers") from None


def encode_png(data: bytes, width: int, height: int, channels: int, kind: int) -> bytes:
    """8-bit PNG of ``data`` (rows of ``width * channels`` bytes)."""
    stride = width * channels
    raw = b"".join(b"\x00" + data[y * stride : (y + 1) * stride] for y in range(height))

    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

    header = struct.pack(">IIBBBBB", width, height, 8, kind, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def decode_png(blob: bytes) -> tuple[int, int, int, bytes]:
    """``(width, height, channels, pixels)`` of an 8-bit, non-interlaced PNG
    this module wrote (filter 0 rows only): for tests and the fallback view."""
    if not blob.startswith(b"\x89PNG\r\n\x1a\n"):
        raise ValueError("not a PNG")
    pos, idat, header = 8, b"", b""
    while pos < len(blob):
        (length,) = struct.unpack(">I", blob[pos : pos + 4])
        tag, body = blob[pos + 4 : pos + 8], blob[pos + 8 : pos + 8 + length]
        if tag == b"IHDR":
            header = body
        elif tag == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, kind, _, _, interlace = struct.unpack(">IIBBBBB", header)
    channels = {0: 1, 2: 3, 6: 4}.get(kind)
    if depth != 8 or channels is None or interlace:
        raise ValueError("not an 8-bit gray/RGB/RGBA PNG")
    raw = zlib.decompress(idat)
    stride = width * channels
    rows = []
    for y in range(height):
        line = raw[y * (stride + 1) : (y + 1) * (stride + 1)]
        if line[0] != 0:
            raise ValueError("filtered rows are not read here")
        rows.append(line[1:])
    return width, height, channels, b"".join(rows)


def image_file_info(path: Path) -> tuple[str, int | None, int | None]:
    """``(ext, width, height)`` of an image file, ``ValueError`` if it is none."""
    found = sniff_file(path)
    if found is None:
        raise ValueError("is not a PNG, JPEG, GIF, WebP or BMP image")
    return found


# -- saving one into a run ------------------------------------------------------------


def save_image(
    run_dir: Path, key: str, image: Any, step: int, copy_limit: int, now: float
) -> dict[str, Any]:
    """Put an image into ``run_dir/artifacts/media/<key>/<step>.<ext>`` and
    return its ``artifacts.jsonl`` record (not yet appended). A path is
    copied as it is (a huge one recorded by reference); pixels become PNG.
    ``ValueError``/``OSError`` say what was wrong."""
    from .writer_io import artifact_name, copy_artifact, sha256, write_artifact

    record: dict[str, Any] = {"kind": "image", "key": key, "step": step}
    if is_array(image):
        blob, width, height = array_png(image)
        name = artifact_name(media_name(key, step, "png"))
        record.update(name=name, size=len(blob), t=now)
        record["sha256"] = write_artifact(blob, run_dir, name)
        record.update(path=f"artifacts/{name}", copied=True)
    else:
        src = Path(image)
        ext, width, height = image_file_info(src)
        name = artifact_name(media_name(key, step, ext))
        size = src.stat().st_size
        record.update(name=name, size=size, t=now)
        if size <= copy_limit:
            record["sha256"] = copy_artifact(src, run_dir, name)
            record.update(path=f"artifacts/{name}", copied=True)
        else:
            from .fmt import repair

            record.update(path=repair(str(src.resolve()), path=True), copied=False)
            record["sha256"] = sha256(src)
    if width is not None and height is not None:
        record.update(width=width, height=height)
    return record
