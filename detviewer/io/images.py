"""Robust image decoding to RGB uint8 arrays (Qt-free, Pillow-based; plain JPEGs through OpenCV).

``load_image(path)`` returns ``(H, W, 3) uint8``, RGB, C-contiguous, with the EXIF
orientation already applied, or raises :class:`~detviewer.errors.ImageLoadError` whose
message is one sentence naming the file and the reason.

Decisions, so that every caller sees the same pixels:

- Transparency is composited on **white** (what a browser shows on a white page), not
  dropped: dropping alpha reveals whatever colour the encoder left under transparent
  pixels, often black, which detectors then "see".
- 16-bit samples are scaled with ``round(v * 255 / 65535)``, never clipped at 255.
  32-bit integer and float grayscale (scientific TIFFs) are scaled to 0..255 by a rule
  documented in :func:`_wide_gray_to_uint8`.
- CMYK uses Pillow's conversion (no ICC colour management).
- Multi-frame files (GIF, animated WebP, multi-page TIFF) give their first frame.
- Pillow opens files lazily: the header (size, mode) is read first and images above
  :data:`MAX_PIXELS` are refused before any pixel is decoded. Pillow stores at most 4 bytes
  per pixel; with the converted copy and the output array the peak is ~14 bytes per pixel
  (measured: 1.34 GiB for a 100 MP RGBA PNG, 0.97 GiB for a 100 MP JPEG, 0.59 GiB for a
  100 MP 16-bit PNG), so ``MAX_PIXELS`` = 100 MP keeps decoding under 2 GB.
- ``PIL.ImageFile.LOAD_TRUNCATED_IMAGES`` stays ``False`` so that a truncated file raises
  instead of coming back half grey.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from detviewer.errors import ImageLoadError, first_line
from detviewer.io.limits import NotRegularFile, not_regular_reason, open_regular
from detviewer.io.sniff import is_text

__all__ = ["IMAGE_EXTENSIONS", "MAX_PIXELS", "load_image", "check_image_file", "list_images", "is_image_path"]

#: Largest accepted image, in pixels (width * height): 100 MP, e.g. 10000 x 10000.
MAX_PIXELS = 100_000_000

#: Lower-case file suffixes treated as images when listing folders.
IMAGE_EXTENSIONS = frozenset({
    ".jpg", ".jpeg", ".jpe", ".jfif",
    ".png", ".apng",
    ".bmp", ".dib",
    ".tif", ".tiff",
    ".webp",
    ".gif",
    ".ppm", ".pgm", ".pbm", ".pnm",
})

_WHITE = (255, 255, 255)
# round(v * 255 / 65535) for every 16-bit value: one lookup instead of wide temporaries.
_LUT16 = np.round(np.arange(65536, dtype=np.float64) * (255.0 / 65535.0)).astype(np.uint8)
_ORIENTATION_TAG = 0x0112
_MODES_WITH_ALPHA = {"RGBA", "LA", "PA", "RGBa", "La"}


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Decode an image file to ``(H, W, 3) uint8`` RGB, C-contiguous.

    Applies the EXIF orientation, composites transparency on white, scales 16-bit data
    to 8-bit and takes the first frame of animations.

    Raises ImageLoadError (one sentence) for a missing file, a folder, a pipe or device, an empty file, a file
    that is not an image, truncated or corrupt data, an image above MAX_PIXELS, or a file
    that cannot be read (permission denied).
    """
    path = Path(path)
    # Keep the project-wide guarantee even if some other module flipped it.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with open_regular(path) as (fh, info):  # a pipe, a device or a folder is refused before a byte is read
            if info.st_size == 0:
                raise _error(path, "the file is empty")
            image = _open_checked(path, fh)
            fast = _decode_jpeg_with_opencv(fh, image)
            if fast is not None:
                return fast
            try:
                image.load()
            except Image.DecompressionBombError:
                raise _error(path, "the image is too large to decode safely") from None
            except (OSError, SyntaxError, ValueError, EOFError) as exc:
                raise _error(path, _decode_failure(exc)) from None
            _apply_exif_orientation(image)
            return _to_rgb_array(path, image)
    except FileNotFoundError:
        raise _error(path, "the file does not exist") from None
    except IsADirectoryError:
        raise _error(path, "it is a folder, not an image file") from None
    except NotRegularFile as exc:
        _refuse_non_regular(path, exc.mode)  # its sentence
        raise
    except PermissionError:
        if path.is_dir():  # Windows reports opening a folder as permission denied
            raise _error(path, "it is a folder, not an image file") from None
        raise _error(path, "permission denied") from None
    except ImageLoadError:
        raise
    except MemoryError:
        raise _error(path, "there is not enough memory to decode it") from None
    except OSError as exc:
        raise _error(path, f"it could not be read ({first_line(exc)})") from None


def check_image_file(path: str | os.PathLike) -> None:
    """ImageLoadError (one sentence) unless ``path`` is a regular file; nothing is opened or read, so a
    pipe or a device (a dataset's ``file_name`` of /dev/zero) is refused before anything hashes or decodes it."""
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise _error(path, "the file does not exist") from None
    except OSError as exc:
        raise _error(path, f"it could not be read ({first_line(exc)})") from None
    _refuse_non_regular(path, mode)


def _refuse_non_regular(path: Path, mode: int) -> None:
    reason = not_regular_reason(mode)
    if reason is not None:
        raise _error(path, "it is a folder, not an image file" if stat.S_ISDIR(mode) else f"it {reason}")


def _open_checked(path: Path, fh: BinaryIO) -> Image.Image:
    """Open lazily (header only) and refuse images above MAX_PIXELS before decoding."""
    try:
        with warnings.catch_warnings():
            # We apply our own, documented limit below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(fh)
    except Image.DecompressionBombError as exc:
        size = _size_from_bomb_message(str(exc))
        raise _error(path, f"the image{size} is larger than the {MAX_PIXELS:,}-pixel limit") from None
    except UnidentifiedImageError:
        raise _error(path, f"it is not an image file detviewer can read ({_sniff_kind(fh)})") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise _error(path, _decode_failure(exc)) from None
    width, height = image.size
    if width <= 0 or height <= 0:
        raise _error(path, f"its header gives an empty size {width}x{height}")
    if width * height > MAX_PIXELS:
        raise _error(
            path,
            f"the image is {width}x{height} pixels, larger than the {MAX_PIXELS:,}-pixel limit",
        )
    return image


def _decode_jpeg_with_opencv(fh: BinaryIO, image: Image.Image) -> np.ndarray | None:
    """A complete 8-bit RGB JPEG without an EXIF rotation, decoded by OpenCV: the same libjpeg-turbo gives the
    same pixels as Pillow, but with the GIL released, where Pillow holds it while it allocates and copies
    (36 ms and 21 ms for 24 MP, a stall of the window's thread while a background task decodes a photo).
    None for anything else (grey, CMYK, rotated, truncated: no end-of-image marker): Pillow decodes those."""
    if image.format != "JPEG" or image.mode != "RGB":
        return None
    try:
        if image.getexif().get(_ORIENTATION_TAG, 1) != 1:
            return None
    except Exception:  # a malformed EXIF block: Pillow's path ignores it
        return None
    import cv2

    fh.seek(0)
    data = np.frombuffer(fh.read(), np.uint8)
    if len(data) < 2 or data[-2] != 0xFF or data[-1] != 0xD9:
        return None
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if bgr is None or bgr.shape[:2] != (image.height, image.width):
        return None
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _apply_exif_orientation(image: Image.Image) -> None:
    """Rotate/flip in place as the EXIF Orientation tag says; a broken EXIF block is ignored."""
    with contextlib.suppress(Exception):  # malformed EXIF must not make a decodable image unreadable
        ImageOps.exif_transpose(image, in_place=True)


def _to_rgb_array(path: Path, image: Image.Image) -> np.ndarray:
    """Convert any Pillow mode to (H, W, 3) uint8 RGB."""
    mode = image.mode
    if mode.startswith("I;16"):
        gray = _LUT16[np.asarray(image).astype(np.uint16, copy=False)]
        return _gray_to_rgb(gray)
    if mode in ("I", "F"):
        return _gray_to_rgb(_wide_gray_to_uint8(np.asarray(image)))
    if mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode in _MODES_WITH_ALPHA:
        rgba = image if mode == "RGBA" else image.convert("RGBA")
        del image
        out = Image.new("RGB", rgba.size, _WHITE)
        out.paste(rgba, (0, 0), rgba)  # uses rgba's alpha band as the mask
        del rgba
        return _as_array(out)
    if mode != "RGB":
        try:
            image = image.convert("RGB")
        except ValueError:
            raise _error(path, f"its colour mode {mode!r} cannot be converted to RGB") from None
    return _as_array(image)


def _as_array(image: Image.Image) -> np.ndarray:
    array = np.asarray(image)
    # np.asarray over Pillow may return a read-only view of a bytes object; callers draw
    # into frames, so hand out a writable, C-contiguous array.
    if not array.flags.writeable or not array.flags.c_contiguous:
        array = np.array(array, order="C", copy=True)
    return array


def _gray_to_rgb(gray: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))


def _wide_gray_to_uint8(values: np.ndarray) -> np.ndarray:
    """32-bit int or float grayscale -> uint8.

    strategy: the container does not say the bit depth, so infer it from the values:
    floats within [0, 1] are scaled by 255; values within 0..255 are kept; integers
    within 0..65535 are treated as 16-bit; anything else is stretched min..max.
    """
    finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values
    if finite.size == 0:
        return np.zeros(values.shape, np.uint8)
    lo, hi = float(finite.min()), float(finite.max())
    if values.dtype.kind == "f" and lo >= 0.0 and hi <= 1.0:
        scaled = values * 255.0
    elif lo >= 0 and hi <= 255:
        scaled = values
    elif values.dtype.kind != "f" and lo >= 0 and hi <= 65535:
        return _LUT16[values.astype(np.uint16)]
    else:
        scaled = (values - lo) * (255.0 / (hi - lo))
    return np.clip(np.nan_to_num(np.rint(scaled), nan=0.0), 0, 255).astype(np.uint8)


def _sniff_kind(fh: BinaryIO) -> str:
    """Short description of what a file that Pillow rejected seems to be."""
    try:
        fh.seek(0)
        head = fh.read(512)
    except OSError:
        return "unrecognised format"
    if is_text(head):
        return "it contains text"
    return "unrecognised format"


def _size_from_bomb_message(message: str) -> str:
    match = re.search(r"\((\d+) pixels\)", message)
    return f" has {int(match.group(1)):,} pixels and" if match else ""


def _decode_failure(exc: BaseException) -> str:
    detail = first_line(exc)
    if "truncated" in detail.lower() or isinstance(exc, EOFError):
        return "the file is truncated (its image data ends early)"
    return f"the image data is corrupt ({detail.replace('(', '').replace(')', '')})"


def _error(path: Path, reason: str) -> ImageLoadError:
    return ImageLoadError(f'Cannot read image "{path}": {reason}.')


# --------------------------------------------------------------------------- folders


def is_image_path(path: str | os.PathLike) -> bool:
    """True if the file name has one of IMAGE_EXTENSIONS (case-insensitive)."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def _natural_key(text: str) -> tuple:
    """Sort key where digit runs compare as numbers: img2 < img10; case-insensitive.

    Names that differ only in zero padding or case fall back to plain string order.
    """
    parts = [(0, int(part), "") if part.isdigit() else (1, 0, part.casefold())
             for part in re.split(r"(\d+)", text) if part]
    return parts, text


def list_images(folder: str | os.PathLike, recursive: bool = False) -> list[Path]:
    """Image files in ``folder`` (by extension), sorted naturally (img2 before img10).

    Hidden files and folders (name starting with ".") are skipped. With ``recursive`` the
    sub-folders are searched too and paths are sorted by their relative parts.
    Raises ImageLoadError if ``folder`` is missing, not a folder or not readable.
    """
    folder = Path(folder)
    if not folder.exists():
        raise ImageLoadError(f'Cannot list images in "{folder}": the folder does not exist.')
    if not folder.is_dir():
        raise ImageLoadError(f'Cannot list images in "{folder}": it is not a folder.')
    found: list[Path] = []
    try:
        if recursive:
            for root, dirs, files in os.walk(folder):
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                found.extend(Path(root, f) for f in files if not f.startswith(".") and is_image_path(f))
        else:
            with os.scandir(folder) as entries:
                found = [Path(e.path) for e in entries
                         if not e.name.startswith(".") and is_image_path(e.name) and e.is_file()]
    except PermissionError:
        raise ImageLoadError(f'Cannot list images in "{folder}": permission denied.') from None
    found = [p for p in found if p.is_file()]
    return sorted(found, key=lambda p: [_natural_key(part) for part in p.relative_to(folder).parts])
