"""detviewer.io.images: every file kind is generated in tmp_path; expected pixels are hand-computed."""

from __future__ import annotations

import builtins
import errno
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageFile

from detviewer.errors import DetviewerError, ImageLoadError
from detviewer.io.images import IMAGE_EXTENSIONS, MAX_PIXELS, list_images, load_image

RED, GREEN, BLUE, WHITE, BLACK = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255), (0, 0, 0)
# Colours of the web-safe palette survive GIF quantisation exactly.
QUADRANTS = (RED, (0, 102, 255), (255, 255, 0), (51, 51, 51))


def quadrant_image(h: int = 40, w: int = 60) -> np.ndarray:
    """(h, w, 3) uint8 with four solid quadrants: TL, TR, BL, BR = QUADRANTS."""
    a = np.zeros((h, w, 3), np.uint8)
    a[: h // 2, : w // 2] = QUADRANTS[0]
    a[: h // 2, w // 2:] = QUADRANTS[1]
    a[h // 2:, : w // 2] = QUADRANTS[2]
    a[h // 2:, w // 2:] = QUADRANTS[3]
    return a


def quadrant_centres(img: np.ndarray) -> list[np.ndarray]:
    h, w = img.shape[:2]
    return [img[h // 4, w // 4], img[h // 4, 3 * w // 4], img[3 * h // 4, w // 4], img[3 * h // 4, 3 * w // 4]]


def png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG whose IHDR claims width x height but holds almost no data (no pixels allocated)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
                     + chunk(b"IEND", b""))


def assert_rgb(img: np.ndarray, h: int, w: int) -> None:
    assert img.shape == (h, w, 3)
    assert img.dtype == np.uint8
    assert img.flags.c_contiguous


def assert_one_sentence(exc: DetviewerError, path: Path, *words: str) -> None:
    msg = str(exc)
    assert "\n" not in msg and msg.endswith(".")
    assert str(path) in msg
    for word in words:
        assert word in msg.lower(), msg


# ------------------------------------------------------------------------ formats


@pytest.mark.parametrize(
    "ext, save_kwargs, tolerance",
    [
        (".png", {}, 0),
        (".bmp", {}, 0),
        (".tif", {}, 0),
        (".tiff", {"compression": "tiff_lzw"}, 0),
        (".webp", {"lossless": True}, 0),
        (".gif", {}, 0),
        (".jpg", {"quality": 95}, 12),
        (".ppm", {}, 0),
    ],
)
def test_formats_decode_to_rgb(tmp_path, ext, save_kwargs, tolerance):
    src = quadrant_image()
    path = tmp_path / f"q{ext}"
    Image.fromarray(src).save(path, **save_kwargs)
    img = load_image(path)
    assert_rgb(img, 40, 60)
    for got, want in zip(quadrant_centres(img), QUADRANTS):
        assert np.abs(got.astype(int) - want).max() <= tolerance, (got, want)


def test_result_is_writable(tmp_path):
    path = tmp_path / "a.png"
    Image.new("RGB", (3, 2), RED).save(path)
    img = load_image(path)
    img[0, 0] = 0  # callers draw into frames
    assert img.flags.writeable


def test_grayscale_and_bilevel(tmp_path):
    gray = np.array([[0, 17, 128, 255]], np.uint8)
    Image.fromarray(gray, "L").save(tmp_path / "g.png")
    img = load_image(tmp_path / "g.png")
    assert_rgb(img, 1, 4)
    assert img.tolist() == [[[v, v, v] for v in (0, 17, 128, 255)]]

    Image.fromarray(np.array([[True, False]])).convert("1").save(tmp_path / "b.png")
    assert load_image(tmp_path / "b.png").tolist() == [[[255, 255, 255], [0, 0, 0]]]


def test_16bit_grayscale_png_is_scaled_not_clipped(tmp_path):
    # round(v * 255 / 65535) = round(v / 257): 257 -> 1, 32896 -> 128, 65535 -> 255, 1000 -> 4
    values = np.array([[0, 257, 1000, 32896, 65535]], np.uint16)
    Image.fromarray(values).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode.startswith("I;16")
    img = load_image(tmp_path / "g16.png")
    assert img[0, :, 0].tolist() == [0, 1, 4, 128, 255]
    assert (img[..., 0] == img[..., 1]).all() and (img[..., 0] == img[..., 2]).all()


def test_16bit_rgb_png_and_tiff(tmp_path):
    rgb16 = np.array([[[65535, 0, 32896], [257, 51400, 12850]]], np.uint16)
    expected = [[[255, 0, 128], [1, 200, 50]]]  # v / 257
    for ext in (".png", ".tif"):
        ok, data = cv2.imencode(ext, rgb16[..., ::-1])  # cv2 writes BGR
        assert ok
        path = tmp_path / f"rgb16{ext}"
        path.write_bytes(data.tobytes())
        img = load_image(path)
        assert_rgb(img, 1, 2)
        assert np.abs(img.astype(int) - expected).max() <= 1, (ext, img.tolist())


def test_float_tiff_in_unit_range(tmp_path):
    values = np.array([[0.0, 0.5, 1.0]], np.float32)
    Image.fromarray(values, "F").save(tmp_path / "f.tif")
    assert load_image(tmp_path / "f.tif")[0, :, 0].tolist() == [0, 128, 255]


def test_alpha_is_composited_on_white(tmp_path):
    rgba = np.array([[[255, 0, 0, 0], [0, 0, 255, 255], [0, 0, 0, 128]]], np.uint8)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    img = load_image(tmp_path / "a.png")
    assert_rgb(img, 1, 3)
    assert img[0, 0].tolist() == list(WHITE)  # fully transparent red -> background
    assert img[0, 1].tolist() == list(BLUE)  # opaque stays
    # black at alpha 128 over white: 255 * (1 - 128/255) = 127
    assert np.abs(img[0, 2].astype(int) - 127).max() <= 1

    la = Image.fromarray(np.array([[[0, 0], [0, 255]]], np.uint8), "LA")
    la.save(tmp_path / "la.png")
    assert load_image(tmp_path / "la.png").tolist() == [[list(WHITE), list(BLACK)]]


def test_palette_with_and_without_transparency(tmp_path):
    pal = Image.new("P", (2, 1))
    pal.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    pal.putpixel((0, 0), 0)
    pal.putpixel((1, 0), 1)
    pal.save(tmp_path / "p.png")
    assert load_image(tmp_path / "p.png").tolist() == [[list(RED), list(GREEN)]]
    pal.save(tmp_path / "pt.png", transparency=0)
    assert load_image(tmp_path / "pt.png").tolist() == [[list(WHITE), list(GREEN)]]


def test_cmyk_jpeg(tmp_path):
    cmyk = Image.new("CMYK", (16, 8), (255, 0, 0, 0))  # pure cyan ink
    cmyk.paste((0, 0, 0, 255), (8, 0, 16, 8))  # pure black ink on the right half
    cmyk.save(tmp_path / "c.jpg", quality=95)
    assert Image.open(tmp_path / "c.jpg").mode == "CMYK"
    img = load_image(tmp_path / "c.jpg")
    assert_rgb(img, 8, 16)
    assert np.abs(img[4, 2].astype(int) - (0, 255, 255)).max() <= 6
    assert np.abs(img[4, 13].astype(int) - (0, 0, 0)).max() <= 6


@pytest.mark.parametrize(
    "orientation, expected_shape, top_left, bottom_right",
    [
        # stored 20 wide x 10 tall: left half red, right half blue
        (1, (10, 20), RED, BLUE),
        (3, (10, 20), BLUE, RED),  # rotated 180
        (6, (20, 10), RED, BLUE),  # rotate 90 clockwise: left column becomes the top row
        (8, (20, 10), BLUE, RED),  # rotate 90 counter-clockwise: right column on top
    ],
)
def test_exif_orientation_is_applied(tmp_path, orientation, expected_shape, top_left, bottom_right):
    a = np.zeros((10, 20, 3), np.uint8)
    a[:, :10] = RED
    a[:, 10:] = BLUE
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"o{orientation}.jpg"
    Image.fromarray(a).save(path, exif=exif, quality=95)
    img = load_image(path)
    assert img.shape[:2] == expected_shape
    assert np.abs(img[1, 1].astype(int) - top_left).max() <= 12
    assert np.abs(img[-2, -2].astype(int) - bottom_right).max() <= 12


def test_broken_exif_does_not_prevent_loading(tmp_path):
    path = tmp_path / "badexif.jpg"
    Image.new("RGB", (4, 4), GREEN).save(path, exif=b"Exif\x00\x00garbage-not-tiff")
    img = load_image(path)
    assert img.shape == (4, 4, 3)


def test_gif_first_frame(tmp_path):
    frames = [Image.new("RGB", (8, 6), c) for c in (RED, BLUE, GREEN)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=50, loop=0)
    assert Image.open(tmp_path / "anim.gif").n_frames == 3
    img = load_image(tmp_path / "anim.gif")
    assert_rgb(img, 6, 8)
    assert (img == RED).all()


def test_non_ascii_path(tmp_path):
    folder = tmp_path / "données ünï"
    folder.mkdir()
    path = folder / "猫 photo é.png"
    Image.fromarray(quadrant_image()).save(path)
    img = load_image(str(path))
    assert_rgb(img, 40, 60)
    assert img[0, 0].tolist() == list(RED)


# ------------------------------------------------------------------------ failures


def test_missing_file(tmp_path):
    path = tmp_path / "nope.png"
    with pytest.raises(ImageLoadError) as info:
        load_image(path)
    assert_one_sentence(info.value, path, "does not exist")


def test_folder(tmp_path):
    with pytest.raises(ImageLoadError) as info:
        load_image(tmp_path)
    assert_one_sentence(info.value, tmp_path, "folder")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(ImageLoadError) as info:
        load_image(path)
    assert_one_sentence(info.value, path, "empty")


def test_text_file_is_not_an_image(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("this is not a picture\n")
    with pytest.raises(ImageLoadError) as info:
        load_image(path)
    assert_one_sentence(info.value, path, "not an image", "text")


@pytest.mark.parametrize("ext", [".jpg", ".png", ".gif", ".bmp"])
def test_truncated_file_is_reported(tmp_path, ext):
    rng = np.random.default_rng(1)
    full = tmp_path / f"full{ext}"
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(full)
    data = full.read_bytes()
    path = tmp_path / f"cut{ext}"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageLoadError) as info:
        load_image(path)
    assert_one_sentence(info.value, path, "truncated")
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_corrupt_png_data_is_reported(tmp_path):
    rng = np.random.default_rng(2)
    path = tmp_path / "corrupt.png"
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(path)
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid: mid + 32] = bytes(b ^ 0xFF for b in data[mid: mid + 32])
    path.write_bytes(bytes(data))
    with pytest.raises(ImageLoadError) as info:
        load_image(path)
    assert_one_sentence(info.value, path, "corrupt")


def test_truncated_stays_an_error_even_if_someone_flips_pillows_global(tmp_path, monkeypatch):
    path = tmp_path / "cut.jpg"
    rng = np.random.default_rng(3)
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(tmp_path / "f.jpg")
    data = (tmp_path / "f.jpg").read_bytes()
    path.write_bytes(data[: len(data) // 2])
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(ImageLoadError):
        load_image(path)


@pytest.mark.parametrize("width, height", [(12_000, 10_000), (100_000, 100_000)])
def test_too_large_is_refused_from_the_header(tmp_path, width, height):
    # 120 MP is above our limit only; 10 GP also trips Pillow's own decompression-bomb check.
    assert width * height > MAX_PIXELS
    path = tmp_path / "huge.png"
    png_header_only(path, width, height)
    assert path.stat().st_size < 200
    with pytest.raises(ImageLoadError) as info:
        load_image(path)
    assert_one_sentence(info.value, path, "limit")


def test_peak_memory_per_pixel_keeps_the_limit_under_two_gigabytes(tmp_path):
    # RGBA is the costliest path (decode, composite on white, output array). Measure the
    # peak resident memory of a fresh process decoding 16 MP and scale it to MAX_PIXELS.
    w, h = 4000, 4000
    rgba = np.zeros((h, w, 4), np.uint8)
    rgba[..., 0] = np.arange(w, dtype=np.uint32) % 256
    rgba[..., 3] = 200
    path = tmp_path / "big.png"
    Image.fromarray(rgba, "RGBA").save(path, compress_level=1)
    del rgba
    script = (
        "import resource, sys\n"
        "from detviewer.io.images import load_image\n"
        "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "img = load_image(sys.argv[1])\n"
        "assert img.shape == (4000, 4000, 3)\n"
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) * 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True)
    bytes_per_pixel = int(out.stdout.strip()) / (w * h)
    assert bytes_per_pixel * MAX_PIXELS < 2 * 1024**3, bytes_per_pixel


def test_permission_denied(tmp_path, monkeypatch):
    path = tmp_path / "secret.png"
    Image.new("RGB", (2, 2)).save(path)
    path.chmod(0)
    if os.access(path, os.R_OK):  # running as root: mode bits do not stop us, simulate the OS
        real_open, real_os_open = builtins.open, os.open

        def denying(real):
            def opener(file, *args, **kwargs):
                if Path(os.fsdecode(file)) == path:
                    raise PermissionError(errno.EACCES, "Permission denied", str(file))
                return real(file, *args, **kwargs)
            return opener

        monkeypatch.setattr(builtins, "open", denying(real_open))
        monkeypatch.setattr(os, "open", denying(real_os_open))  # load_image opens without blocking (os.open)
    try:
        with pytest.raises(ImageLoadError) as info:
            load_image(path)
    finally:
        path.chmod(0o644)
    assert_one_sentence(info.value, path, "permission denied")


def test_errors_are_detviewer_errors():
    assert issubclass(ImageLoadError, DetviewerError)


# ------------------------------------------------------------------------ folders


def test_list_images_natural_order_and_filters(tmp_path):
    names = ["img10.png", "img2.jpg", "IMG1.JPEG", "img2b.webp", "a.TIF", ".hidden.png", "notes.txt",
             "img002x.bmp"]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "folder.png").mkdir()
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "img3.png").write_bytes(b"x")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "img4.png").write_bytes(b"x")

    got = [p.name for p in list_images(tmp_path)]
    assert got == ["a.TIF", "IMG1.JPEG", "img2.jpg", "img2b.webp", "img002x.bmp", "img10.png"]
    got_rec = [p.relative_to(tmp_path).as_posix() for p in list_images(tmp_path, recursive=True)]
    assert got_rec == ["a.TIF", "IMG1.JPEG", "img2.jpg", "img2b.webp", "img002x.bmp", "img10.png", "sub/img3.png"]


def test_list_images_errors(tmp_path):
    with pytest.raises(ImageLoadError, match="does not exist"):
        list_images(tmp_path / "missing")
    (tmp_path / "f.png").write_bytes(b"x")
    with pytest.raises(ImageLoadError, match="not a folder"):
        list_images(tmp_path / "f.png")


def test_extensions_cover_the_supported_formats():
    for ext in (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif"):
        assert ext in IMAGE_EXTENSIONS


@pytest.mark.parametrize("options", [{"quality": 90}, {"quality": 95, "subsampling": 0}, {"progressive": True}])
def test_a_plain_jpeg_decodes_to_the_same_pixels_as_pillow(tmp_path, options):
    """Plain RGB JPEGs go through OpenCV (the GIL is released while it decodes); the pixels must stay Pillow's."""
    rng = np.random.default_rng(3)
    smooth = cv2.resize(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8), (160, 120), interpolation=cv2.INTER_CUBIC)
    path = tmp_path / "photo.jpg"
    Image.fromarray(smooth).save(path, **options)
    with Image.open(path) as reference:
        expected = np.asarray(reference.convert("RGB"))
    got = load_image(path)
    assert got.shape == (120, 160, 3) and got.flags.c_contiguous and got.flags.writeable
    np.testing.assert_array_equal(got, expected)


def test_is_text_reads_utf8_without_nul_bytes_only():
    from detviewer.io.sniff import is_text

    assert is_text(b"hello, world\n") and is_text("größe".encode())
    assert not is_text(b"abc\x00def") and not is_text(b"\xff\xfe\xfa")
