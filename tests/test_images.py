"""Image input: orientation, modes, limits, and every way a file can be bad."""

from __future__ import annotations

import base64
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from grounding import ImageError, get_profile, load_image, prepare_image
from tests.conftest import photo

SQUARE = (400, 100, 500, 200)  # upright pixels of the red square
# exif_transpose applies the inverse of these to the stored pixels
STORED = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}


def exif_jpeg(orientation: int) -> bytes:
    """A JPEG whose stored pixels need ``orientation`` to show the upright test photo."""
    stored = photo(640, 480, SQUARE).transpose(STORED[orientation])
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    stored.save(buffer, "JPEG", quality=95, exif=exif)
    return buffer.getvalue()


def red_box(image: Image.Image) -> tuple[int, int, int, int]:
    rgb = np.asarray(image.convert("RGB")).astype(int)
    mask = (rgb[:, :, 0] > 200) & (rgb[:, :, 1] < 80) & (rgb[:, :, 2] < 80)
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


def sent_image(url: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_orientation_gives_the_upright_image(tmp_path, orientation: int) -> None:
    path = tmp_path / f"o{orientation}.jpg"
    path.write_bytes(exif_jpeg(orientation))
    assert Image.open(path).size == ((480, 640) if orientation in (6, 8) else (640, 480))
    prepared = prepare_image(path, profile=get_profile("glm-4.5v"))
    assert prepared.size == (640, 480) and prepared.sent_size == (640, 480)
    assert np.allclose(red_box(sent_image(prepared.url)), SQUARE, atol=2)


@pytest.mark.parametrize(
    ("make", "mode", "media"),
    [
        # CMYK JPEG -> RGB
        (lambda: Image.new("CMYK", (64, 48), (0, 255, 255, 0)), "RGB", "image/jpeg"),
        # 16-bit greyscale PNG -> 8-bit L
        (lambda: Image.fromarray(np.full((48, 64), 65535, dtype=np.uint16)), "L", "image/jpeg"),
        # greyscale with an opaque alpha -> L
        (lambda: Image.new("LA", (64, 48), (10, 255)), "L", "image/jpeg"),
        # RGBA, fully opaque -> RGB (JPEG)
        (lambda: Image.new("RGBA", (64, 48), (1, 2, 3, 255)), "RGB", "image/jpeg"),
        # RGBA with real transparency -> PNG
        (lambda: Image.new("RGBA", (64, 48), (1, 2, 3, 0)), "RGBA", "image/png"),
    ],
)
def test_modes(tmp_path, make, mode: str, media: str) -> None:
    path = tmp_path / ("x.jpg" if make().mode == "CMYK" else "x.png")
    make().save(path)
    assert load_image(path).mode == mode
    assert prepare_image(path).url.startswith(f"data:{media};base64,")


def test_16_bit_values_are_scaled_not_clipped(tmp_path) -> None:
    path = tmp_path / "depth.png"
    Image.fromarray(np.array([[0, 32896, 65535]], dtype=np.uint16)).save(path)
    assert np.asarray(load_image(path)).tolist() == [[0, 128, 255]]


def test_palette_with_transparency_is_sent_as_png(tmp_path) -> None:
    image = Image.new("P", (32, 32), 0)
    image.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    image.paste(1, (0, 0, 16, 32))
    path = tmp_path / "p.png"
    image.save(path, transparency=0)
    prepared = prepare_image(path)
    assert prepared.url.startswith("data:image/png;base64,")
    assert sent_image(prepared.url).mode == "RGBA"


def _huge_png_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _truncated_jpeg() -> bytes:
    buffer = io.BytesIO()
    photo(640, 480).save(buffer, "JPEG")
    return buffer.getvalue()[:2000]


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        # zero bytes
        ("empty.jpg", b"", "empty file"),
        # text named .jpg
        ("notes.jpg", b"this is not a picture\n", "not an image"),
        # cut off mid-stream
        ("cut.jpg", _truncated_jpeg(), "truncated or corrupt"),
        # a 60000x60000 header: refused before decoding
        ("bomb.png", _huge_png_header(60000, 60000), "too large"),
    ],
)
def test_bad_files_raise_image_error_naming_the_file(tmp_path, name: str, content: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImageError, match=reason) as info:
        prepare_image(path)
    assert name in str(info.value)


def test_missing_file(tmp_path) -> None:
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "nope.jpg")


def test_configurable_pixel_limit(tmp_path) -> None:
    path = tmp_path / "big.png"
    photo(200, 100).save(path)
    with pytest.raises(ImageError, match="over the limit of 0 MP"):
        load_image(path, max_image_pixels=10_000)


def test_downscale_to_the_profile_limit_keeps_the_aspect_ratio() -> None:
    prepared = prepare_image(photo(4000, 3000), profile=get_profile("glm-4.5v"))
    w, h = prepared.sent_size
    assert prepared.size == (4000, 3000)
    assert w * h <= 5_900_000 and abs(w / h - 4 / 3) < 0.01
    assert sent_image(prepared.url).size == (w, h)


def test_qwen25_is_sent_at_its_smart_resize_size() -> None:
    prepared = prepare_image(photo(1280, 960), profile=get_profile("qwen2.5-vl"))
    assert prepared.sent_size == (1288, 952) == sent_image(prepared.url).size


@pytest.mark.parametrize(
    "source",
    [
        # RGB array
        np.zeros((48, 64, 3), dtype=np.uint8),
        # float array in [0, 1]
        np.ones((48, 64), dtype=np.float32) * 0.5,
        # PIL image
        photo(64, 48),
    ],
)
def test_other_sources(source) -> None:
    assert prepare_image(source).size == (64, 48)


def test_bytes_source_and_digest_is_stable() -> None:
    buffer = io.BytesIO()
    photo(64, 48).save(buffer, "PNG")
    a, b = prepare_image(buffer.getvalue()), prepare_image(buffer.getvalue())
    assert a.size == (64, 48) and a.digest == b.digest


def test_url_is_passed_through_when_nothing_needs_changing(server) -> None:
    buffer = io.BytesIO()
    photo(640, 480).save(buffer, "JPEG")
    server.images["p.jpg"] = buffer.getvalue()
    server.images["r.jpg"] = exif_jpeg(6)
    plain = prepare_image(server.image_url("p.jpg"))
    assert plain.url == server.image_url("p.jpg") and plain.size == (640, 480)
    rotated = prepare_image(server.image_url("r.jpg"))  # the server might not rotate it: send pixels
    assert rotated.url.startswith("data:image/jpeg") and rotated.size == (640, 480)
    with pytest.raises(ImageError, match="cannot be downloaded"):
        prepare_image(server.image_url("missing.jpg"))


def test_banded_resize_equals_one_pass() -> None:
    from grounding.images import _resize

    big = photo(3000, 2000, (100, 100, 2900, 1900)).rotate(7)
    one_pass = big.resize((2100, 1400), Image.Resampling.BOX)
    assert np.array_equal(np.asarray(_resize(big, (2100, 1400))), np.asarray(one_pass))
