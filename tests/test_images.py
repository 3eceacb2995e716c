"""Image input: orientation, modes, limits, and every way a file can be bad."""

from __future__ import annotations

import base64
import io
import struct
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image

from grounding import ImageError, get_profile, load_image, prepare_image
from tests.conftest import photo

SQUARE = (400, 100, 500, 200)  # upright pixels of the red square
# exif_transpose applies the inverse of these to the stored pixels
STORED = {
    3: Image.Transpose.ROTATE_180,
    6: Image.Transpose.ROTATE_90,
    8: Image.Transpose.ROTATE_270,
}


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
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


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
def test_bad_files_raise_image_error_naming_the_file(
    tmp_path, name: str, content: bytes, reason: str
) -> None:
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
    rotated = prepare_image(
        server.image_url("r.jpg")
    )  # the server might not rotate it: send pixels
    assert rotated.url.startswith("data:image/jpeg") and rotated.size == (640, 480)
    with pytest.raises(ImageError, match="cannot be downloaded"):
        prepare_image(server.image_url("missing.jpg"))


def test_banded_resize_equals_one_pass() -> None:
    from grounding._downscale import downscale

    big = photo(3000, 2000, (100, 100, 2900, 1900)).rotate(7)
    one_pass = big.resize((2100, 1400), Image.Resampling.BOX)
    assert np.array_equal(np.asarray(downscale(big, (2100, 1400))), np.asarray(one_pass))


def jpeg_bytes(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92, **options)
    return buffer.getvalue()


def _exif(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif


def sent_bytes(url: str) -> bytes:
    return base64.b64decode(url.split(",", 1)[1])


@pytest.mark.parametrize(
    ("make", "media"),
    [
        # a camera-style JPEG under GLM's limit
        (lambda: jpeg_bytes(photo(640, 480, SQUARE)), "image/jpeg"),
        # a greyscale progressive JPEG
        (lambda: jpeg_bytes(photo(640, 480).convert("L"), progressive=True), "image/jpeg"),
        # an EXIF block with orientation 1 (upright as stored)
        (lambda: jpeg_bytes(photo(64, 48), exif=_exif(orientation=1)), "image/jpeg"),
        # an 8-bit RGB PNG
        (lambda: _png(photo(64, 48)), "image/png"),
    ],
)
def test_an_untouched_image_is_sent_byte_identical(tmp_path, make, media: str) -> None:
    original = make()
    path = tmp_path / "x.img"
    path.write_bytes(original)
    data_url = f"data:{media};base64,{base64.b64encode(original).decode()}"
    for source in (path, str(path), original, data_url):
        prepared = prepare_image(source, profile=get_profile("glm-4.5v"))
        assert prepared.url.startswith(f"data:{media};base64,")
        assert sent_bytes(prepared.url) == original
        assert prepared.size == prepared.sent_size == Image.open(path).size


def _png(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", **options)
    return buffer.getvalue()


def test_bytes_after_the_jpeg_are_not_sent() -> None:
    """A Motion Photo carries a video after the JPEG's end-of-image marker."""
    original = jpeg_bytes(photo(64, 48))
    prepared = prepare_image(original + b"\0\0\0\x18ftypmp42" + bytes(5000))
    assert sent_bytes(prepared.url) == original


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        # the end-of-image marker is missing (the file was cut after the last scan)
        ("cut.jpg", jpeg_bytes(photo(64, 48))[:-2], "truncated"),
        # a bit flipped in a PNG data chunk
        ("flip.png", (lambda b: b[:60] + bytes([b[60] ^ 1]) + b[61:])(_png(photo(64, 48))), "CRC"),
        # a PNG without its IEND chunk
        ("noend.png", _png(photo(64, 48))[:-12], "truncated"),
    ],
)
def test_the_structure_check_finds_broken_files(
    tmp_path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImageError, match=reason):
        prepare_image(path)


def _cmyk_jpeg() -> bytes:
    return jpeg_bytes(photo(640, 480, SQUARE).convert("CMYK"))


def _palette_png() -> bytes:
    return _png(photo(640, 480, SQUARE).quantize(8))


def _png16() -> bytes:
    grey = np.where(np.asarray(photo(640, 480, SQUARE).convert("L")) < 100, 0, 50000)
    return _png(Image.fromarray(grey.astype(np.uint16)))


def _transparent_png() -> bytes:
    image = photo(640, 480, SQUARE).convert("RGBA")
    image.putpixel((0, 0), (255, 255, 255, 0))
    return _png(image)


def _dark_box(image: Image.Image) -> tuple[int, int, int, int]:
    """The red square, found in any mode: it is the darkest thing in greyscale too."""
    grey = np.asarray(image.convert("L")).astype(int)
    ys, xs = np.nonzero(grey < 100)
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


@pytest.mark.parametrize(
    ("make", "passed_through"),
    [
        # EXIF orientations that rotate and one that mirrors
        (lambda: exif_jpeg(6), False),
        (lambda: exif_jpeg(8), False),
        (lambda: exif_jpeg(3), False),
        # CMYK JPEG
        (_cmyk_jpeg, False),
        # palette PNG
        (_palette_png, False),
        # 16-bit greyscale PNG
        (_png16, False),
        # RGBA with one transparent pixel
        (_transparent_png, False),
        # plain JPEG: its own bytes
        (lambda: jpeg_bytes(photo(640, 480, SQUARE)), True),
    ],
)
def test_locate_finds_the_square_in_every_kind_of_file(
    tmp_path, server, make, passed_through: bool
) -> None:
    """The fixture server reads the image it was sent and answers where the square is (0-1000):
    the box comes back in upright pixels of the original whatever the file's mode."""
    from grounding import Client
    from tests.server import chat

    def answer(body) -> object:
        url = body["messages"][0]["content"][0]["image_url"]["url"]
        image = Image.open(io.BytesIO(sent_bytes(url)))
        x1, y1, x2, y2 = _dark_box(image)
        w, h = image.size
        box = [
            round(x1 / w * 1000),
            round(y1 / h * 1000),
            round((x2 + 1) / w * 1000),
            round((y2 + 1) / h * 1000),
        ]
        return chat(f"<|begin_of_box|>[{box}]<|end_of_box|>")

    server.default = answer
    original = make()
    path = tmp_path / "img"
    path.write_bytes(original)
    with Client("openai", base_url=server.url) as client:
        result = client.locate(path, "the square", model="glm-4.5v")
    assert np.allclose(result.boxes[0], (400, 100, 501, 201), atol=1.5)
    assert result.image_size == (640, 480)
    url = server.requests[-1].body["messages"][0]["content"][0]["image_url"]["url"]
    assert (sent_bytes(url) == original) is passed_through


def _in_forked_child(target, *args):
    """What ``target(queue, *args)`` puts in its queue, run in a forked child (60 s at most)."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=target, args=(queue, *args))
    child.start()
    child.join(60)
    alive = child.is_alive()
    if alive:
        child.kill()
    assert not alive, "the forked child hung in prepare_image"
    return queue.get(timeout=5)


def _prepare_4mp_in_child(queue) -> None:  # a module-level function: multiprocessing pickles it
    prepared = prepare_image(photo(2400, 1800), max_pixels=1_000_000)
    queue.put(prepared.sent_size)


@pytest.mark.parametrize("way", ["os.fork", "multiprocessing"])
def test_a_forked_child_can_resize_after_the_parent_did(way: str) -> None:
    """The parent's resize threads do not exist in a forked child; a pool inherited from the
    parent would make the child's first large resize wait forever."""
    import os
    import time

    assert prepare_image(photo(2400, 1800), max_pixels=1_000_000).sent_size == (1154, 866)
    if way == "multiprocessing":
        assert _in_forked_child(_prepare_4mp_in_child) == (1154, 866)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads: that is the point
        pid = os.fork()
    if pid == 0:
        try:
            ok = prepare_image(photo(2400, 1800), max_pixels=1_000_000).sent_size == (1154, 866)
        finally:
            os._exit(0 if ok else 1)
    deadline = time.monotonic() + 60
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    if done[0] == 0:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("the forked child hung in prepare_image")
    assert os.waitstatus_to_exitcode(done[1]) == 0


def test_decoding_stays_within_the_pixel_budget(tmp_path, monkeypatch) -> None:
    """Eight large PNGs prepared at once by eight threads: never more than the budget decoded at
    a time, and an image larger than the whole budget still goes (alone)."""
    import threading

    from grounding import images
    from grounding._imagefile import PixelBudget

    class Watched(PixelBudget):
        peak = 0

        def hold(self, pixels: int):  # type: ignore[override]
            held = super().hold(pixels)

            class Watch:
                def __enter__(watch) -> None:
                    held.__enter__()
                    Watched.peak = max(Watched.peak, self.in_use)

                def __exit__(watch, *exc: object) -> None:
                    held.__exit__(*exc)

            return Watch()

    monkeypatch.setattr(images, "_BUDGET", Watched(2_500_000))
    paths = []
    for i in range(8):
        paths.append(tmp_path / f"{i}.png")
        photo(1200 + 40 * i, 1000).save(paths[-1])  # 1.2 to 1.5 MP: at most two at a time
    threads = [
        threading.Thread(target=prepare_image, args=(p,), kwargs={"max_pixels": 10_000})
        for p in paths
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert 1_200_000 <= Watched.peak <= 2_500_000
    big = tmp_path / "big.png"
    photo(2000, 1500).save(big)  # 3 MP, over the 2.5 MP budget
    assert prepare_image(big, max_pixels=10_000).size == (2000, 1500)
    assert images._BUDGET.in_use == 0


def test_a_large_jpeg_is_decoded_shrunk_and_stays_faithful() -> None:
    """A 20 MP JPEG sent at 0.3 MP is decoded at a quarter of each side by the JPEG decoder,
    then area-averaged: the same size, the square in place, the pixels as the full decode's."""
    from grounding import images

    square = (2000, 1000, 3200, 2200)
    original = jpeg_bytes(photo(5120, 3840, square).rotate(5, fillcolor=(90, 90, 90)))
    shrunk = prepare_image(original, max_pixels=300_000)
    opened = Image.open(io.BytesIO(original))
    opened.load()
    full = images._send(opened, (5120, 3840), shrunk.sent_size, "full")
    a, b = sent_image(shrunk.url), sent_image(full.url)
    assert shrunk.size == (5120, 3840) and a.size == b.size == shrunk.sent_size
    difference = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    psnr = 10 * np.log10(255**2 / np.mean(difference**2))
    assert psnr > 40, psnr
    assert np.allclose(red_box(a), red_box(b), atol=1)


# --- the fast JPEG downscale (grounding/_jpegshrink.py) and its Pillow fallback ---------------


@pytest.fixture(params=["libvips", "pillow"])
def jpeg_path(request, monkeypatch) -> list[bool]:
    """Each test twice: through libjpeg-turbo + libvips, and with them unavailable (Pillow).
    The list it gives records, per resize, whether the fast path sent the image."""
    from grounding import _jpegshrink, images

    if request.param == "libvips" and _jpegshrink._load() is None:
        pytest.skip("pyvips or simplejpeg not importable here")
    if request.param == "pillow":
        monkeypatch.setattr(_jpegshrink, "_load", lambda: None)
    taken: list[bool] = []
    shrink = _jpegshrink.shrink

    def watched(*args, **kwargs):  # type: ignore[no-untyped-def]
        small = shrink(*args, **kwargs)
        taken.append(small is not None)
        return small

    monkeypatch.setattr(images.jpegshrink, "shrink", watched)
    taken.append(request.param == "libvips")  # taken[0]: whether the fast path is expected
    return taken


def _quadrants(width: int, height: int) -> Image.Image:
    """Four colours, one per quadrant, and the red square: any wrong turn or mirror shows."""
    image = photo(width, height, SQUARE)
    for x, y, colour in ((0, 0, (0, 0, 200)), (1, 1, (0, 160, 0)), (1, 0, (230, 230, 0))):
        box = (x * width // 2, y * height // 2, (x + 1) * width // 2, (y + 1) * height // 2)
        image.paste(colour, box)
    image.paste((255, 0, 0), SQUARE)
    return image


@pytest.mark.parametrize(
    "make",
    [
        # plain baseline JPEG
        lambda: jpeg_bytes(photo(640, 480, SQUARE)),
        # progressive, 4:4:4 chroma
        lambda: jpeg_bytes(photo(640, 480, SQUARE), progressive=True, subsampling=0),
        # greyscale
        lambda: jpeg_bytes(photo(640, 480, SQUARE).convert("L")),
        # EXIF orientations that rotate and one that turns it upside down
        lambda: exif_jpeg(6),
        lambda: exif_jpeg(8),
        lambda: exif_jpeg(3),
    ],
)
def test_locate_finds_the_square_in_a_downscaled_jpeg(tmp_path, server, jpeg_path, make) -> None:
    """The fixture server reads the image it was sent (downscaled to 0.15 MP here) and answers
    where the square is (0-1000): the box comes back in upright pixels of the original on
    either path, and the size sent is exactly the target size."""
    from grounding import Client
    from tests.server import chat

    def answer(body) -> object:
        url = body["messages"][0]["content"][0]["image_url"]["url"]
        image = Image.open(io.BytesIO(sent_bytes(url)))
        x1, y1, x2, y2 = _dark_box(image)
        w, h = image.size
        box = [round(x1 / w * 1000), round(y1 / h * 1000), round((x2 + 1) / w * 1000)]
        return chat(f"<|begin_of_box|>[{[*box, round((y2 + 1) / h * 1000)]}]<|end_of_box|>")

    server.default = answer
    path = tmp_path / "img"
    path.write_bytes(make())
    with Client("openai", base_url=server.url, max_pixels=150_000) as client:
        result = client.locate(path, "the square", model="glm-4.5v")
    assert np.allclose(result.boxes[0], (400, 100, 501, 201), atol=3)
    assert result.image_size == (640, 480)
    url = server.requests[-1].body["messages"][0]["content"][0]["image_url"]["url"]
    sent = Image.open(io.BytesIO(sent_bytes(url)))
    assert sent.size == (447, 335) and sent.format == "JPEG"
    assert sent.mode == Image.open(path).mode  # grey stays grey
    assert jpeg_path == [jpeg_path[0], jpeg_path[0]]  # one resize, on the expected path


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_is_applied_as_pillow_does(jpeg_path, orientation: int) -> None:
    upright = _quadrants(640, 480)
    # the stored pixels that this orientation turns into the upright picture
    inverse = {
        2: Image.Transpose.FLIP_LEFT_RIGHT,
        3: Image.Transpose.ROTATE_180,
        4: Image.Transpose.FLIP_TOP_BOTTOM,
        5: Image.Transpose.TRANSPOSE,
        6: Image.Transpose.ROTATE_90,
        7: Image.Transpose.TRANSVERSE,
        8: Image.Transpose.ROTATE_270,
    }
    stored = upright.transpose(inverse[orientation]) if orientation > 1 else upright
    data = jpeg_bytes(stored, exif=_exif(orientation))
    prepared = prepare_image(data, max_pixels=100_000)
    expected = upright.resize(prepared.sent_size, Image.Resampling.BOX)
    sent = sent_image(prepared.url)
    assert prepared.size == (640, 480) and sent.size == prepared.sent_size == (365, 273)
    assert np.abs(np.asarray(sent, dtype=float) - np.asarray(expected, dtype=float)).mean() < 4
    assert jpeg_path[1:] == [jpeg_path[0]]


def _lanczos(image: Image.Image, size: tuple[int, int]) -> np.ndarray:
    bands = [band.convert("F").resize(size, Image.Resampling.LANCZOS) for band in image.split()]
    return np.stack([np.asarray(band) for band in bands], -1)


def test_the_fast_downscale_is_as_faithful_as_pillows() -> None:
    """Against a float Lanczos downscale of the full decode, the pixels sent by the fast path
    are at least as close as Pillow's area-averaging downscale, after the same JPEG 90."""
    from grounding import _jpegshrink, images

    if _jpegshrink._load() is None:
        pytest.skip("pyvips or simplejpeg not importable here")
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:900, 0:1200].astype(np.float32)
    picture = np.stack([128 + 90 * np.sin(x / 37) * np.cos(y / 53), 128 + 60 * np.sin((x + y) / 71),
                        100 + 60 * np.cos(x / 29)], -1) + rng.normal(0, 3, (900, 1200, 3))  # fmt: skip
    data = jpeg_bytes(Image.fromarray(np.clip(picture, 0, 255).astype(np.uint8)))
    original = Image.open(io.BytesIO(data))
    original.load()
    target = (840, 630)  # the 12 MP benchmark's shrink, 1.43 per side
    fast = _jpegshrink.shrink(data, "RGB", (1200, 900), target, 1)
    assert fast is not None
    pillow = images._send(original, (1200, 900), target, "pillow").url
    reference = _lanczos(original, target)

    def psnr(image: Image.Image) -> float:
        difference = np.asarray(image, dtype=float) - reference
        return float(10 * np.log10(255**2 / np.mean(difference**2)))

    assert psnr(Image.open(io.BytesIO(fast))) >= psnr(sent_image(pillow)) > 35


@pytest.mark.parametrize(
    "make",
    [
        # baseline 4:2:0
        lambda: jpeg_bytes(_quadrants(320, 240)),
        # progressive 4:4:4 with restart markers
        lambda: jpeg_bytes(
            _quadrants(320, 240), progressive=True, subsampling=0, restart_marker_rows=2
        ),
        # greyscale
        lambda: jpeg_bytes(_quadrants(320, 240).convert("L")),
    ],
)
def test_the_fast_path_decodes_the_same_pixels_as_pillow(make) -> None:
    simplejpeg = pytest.importorskip("simplejpeg")
    data = make()
    expected = np.asarray(Image.open(io.BytesIO(data)))
    grey = expected.ndim == 2
    decoded = simplejpeg.decode_jpeg(data, colorspace="GRAY" if grey else "RGB")
    assert np.array_equal(decoded[:, :, 0] if grey else decoded, expected)


@pytest.mark.parametrize(
    ("stored", "target", "mode"),
    [
        # an enlargement (Qwen's smart_resize can round a side up)
        ((320, 240), (336, 224), "RGB"),
        # the same size
        ((320, 240), (320, 240), "RGB"),
        # CMYK: Pillow converts it
        ((320, 240), (160, 120), "CMYK"),
    ],
)
def test_the_fast_path_declines_what_it_does_not_do(stored, target, mode: str) -> None:
    from grounding import _jpegshrink

    data = jpeg_bytes(Image.new("RGB", stored, (10, 20, 30)))
    assert _jpegshrink.shrink(data, mode, stored, target, 1) is None


def test_a_jpeg_the_fast_decoder_objects_to_goes_to_pillow(jpeg_path) -> None:
    """libjpeg warns about junk between segments, which Pillow tolerates: Pillow decodes it.
    A truncated JPEG fails as before, naming the file."""
    good = jpeg_bytes(photo(640, 480, SQUARE))
    scan = good.index(b"\xff\xda")
    junk = good[:scan] + b"\x00\x00\x00" + good[scan:]  # 3 extraneous bytes before a marker
    prepared = prepare_image(junk, max_pixels=150_000)
    assert prepared.sent_size == (447, 335)
    assert np.allclose(red_box(sent_image(prepared.url)), (279, 70, 349, 139), atol=2)
    assert jpeg_path[1:] == [False]
    with pytest.raises(ImageError, match="truncated or corrupt"):
        prepare_image(good[: len(good) // 2], max_pixels=150_000)


def test_without_pyvips_the_fast_path_is_not_taken(monkeypatch) -> None:
    import importlib

    from grounding import _jpegshrink

    def missing(name: str, *args: object) -> object:
        raise ImportError(f"No module named {name!r}")

    monkeypatch.setattr(_jpegshrink, "_loaded_in", 0)
    monkeypatch.setattr(_jpegshrink, "_libraries", None)
    monkeypatch.setattr(importlib, "import_module", missing)
    data = jpeg_bytes(photo(640, 480, SQUARE))
    assert _jpegshrink.shrink(data, "RGB", (640, 480), (320, 240), 1) is None
    assert _jpegshrink._loaded_in == -1
    assert prepare_image(data, max_pixels=150_000).sent_size == (447, 335)


def test_a_forked_child_takes_the_pillow_path_after_the_parent_used_libvips(
    jpeg_path,
) -> None:
    """libvips' thread pool does not survive a fork: a child of a process that loaded it
    downscales with Pillow (and does not hang)."""

    data = jpeg_bytes(photo(2400, 1800, SQUARE))
    assert prepare_image(data, max_pixels=1_000_000).sent_size == (1154, 866)
    assert _in_forked_child(_prepare_in_child, data) == ((1154, 866), None)
    assert jpeg_path[1:] == [jpeg_path[0]]


def _prepare_in_child(queue, data: bytes) -> None:  # module level: multiprocessing pickles it
    from grounding import _jpegshrink

    queue.put((prepare_image(data, max_pixels=1_000_000).sent_size, _jpegshrink._load()))


def test_threads_downscaling_at_once_get_what_one_thread_gets(jpeg_path) -> None:
    """``grounding label`` prepares images in several threads; each gets its own image."""
    from concurrent.futures import ThreadPoolExecutor

    sources = [jpeg_bytes(photo(640, 480, (40 * i, 30, 40 * i + 90, 200))) for i in range(8)]
    alone = [prepare_image(data, max_pixels=150_000).digest for data in sources]
    with ThreadPoolExecutor(8) as pool:
        together = list(
            pool.map(lambda d: prepare_image(d, max_pixels=150_000).digest, sources * 3)
        )
    assert together == alone * 3 and len(set(alone)) == 8
    assert jpeg_path[1:] == [jpeg_path[0]] * 32


def test_a_prepared_image_keeps_no_decoded_pixels_alive() -> None:
    """Issue 14: ``PreparedImage.image`` kept every decoded original alive during its request
    (2.2 GB at -k 32 with 12 MP photos); now nothing of the pixels outlives the preparation."""
    import gc
    import weakref

    original = Image.new("RGB", (2400, 1800), (90, 120, 150))
    watch = weakref.ref(original)
    prepared = prepare_image(original, max_pixels=1_000_000)
    del original
    gc.collect()
    assert watch() is None, "the prepared image still holds the decoded original"
    assert prepared.sent_size == (1154, 866)
