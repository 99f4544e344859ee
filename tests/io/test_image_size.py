"""image_size reads a PNG's size and EXIF orientation from its chunk headers, without decoding its pixels."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFile

from detviewer.io.dataset_types import image_size
from detviewer.io.images import load_image


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_with_exif_after_pixels(path, width: int, height: int, orientation: int) -> None:
    """A PNG whose eXIf chunk comes after IDAT (legal; Pillow finds it only once the pixels are decoded)."""
    Image.new("RGB", (width, height), (0, 128, 255)).save(path)
    raw = path.read_bytes()
    exif = Image.Exif()
    exif[0x0112] = orientation
    iend = raw.rindex(b"IEND") - 4
    path.write_bytes(raw[:iend] + _chunk(b"eXIf", exif.tobytes()) + raw[iend:])


def test_exif_after_the_pixels_still_rotates(tmp_path):
    path = tmp_path / "late.png"
    _png_with_exif_after_pixels(path, 6, 4, orientation=6)
    assert "exif" not in Image.open(path).info  # Pillow would not see it from the header alone
    assert image_size(path) == (4, 6)
    assert load_image(path).shape[:2] == (6, 4)  # (H, W): what the viewer shows, 4 wide and 6 high


def test_exif_before_the_pixels_rotates(tmp_path):
    path = tmp_path / "early.png"
    exif = Image.Exif()
    exif[0x0112] = 8
    Image.new("RGB", (6, 4)).save(path, exif=exif)
    assert image_size(path) == (4, 6)


def test_png_without_exif_is_not_decoded(tmp_path, monkeypatch):
    path = tmp_path / "plain.png"
    Image.fromarray(np.zeros((4, 6, 3), np.uint8)).save(path)

    def no_decoding(self):
        raise AssertionError("image_size decoded the pixels")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    assert image_size(path) == (6, 4)


@pytest.mark.parametrize("cut", [12, 40])
def test_truncated_png_is_one_answer_not_a_crash(tmp_path, cut):
    path = tmp_path / "cut.png"
    Image.new("RGB", (6, 4)).save(path)
    path.write_bytes(path.read_bytes()[:-cut])
    assert image_size(path) in (None, (6, 4))
