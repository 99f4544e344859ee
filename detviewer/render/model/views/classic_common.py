"""What the three classic-detector views share (Qt-free): the trace of the Inference, its names and coordinates."""

from __future__ import annotations

import numpy as np

from detviewer.core.classic import ClassicTrace, PyramidLevel
from detviewer.core.types import Inference
from detviewer.render.model.primitives import ViewError, fmt_num

__all__ = ["plural", "CANNOT_SHOW", "trace_of", "classifier_name", "score_name", "photo_factor", "window_in_photo",
           "level_text", "to_photo", "nearest_resize"]

CANNOT_SHOW = "it is not a classic sliding-window detector (try haar-frontalface or hog-people)"


def trace_of(inference: Inference) -> ClassicTrace:
    """The Inference's ClassicTrace; ViewError (one sentence) when the model is not a classic detector."""
    trace = getattr(inference, "classic", None)
    if trace is None:
        raise ViewError(f"{inference.model_name} cannot show this view: {CANNOT_SHOW}.")
    return trace


def classifier_name(trace: ClassicTrace, first: bool = False) -> str:
    """"the Haar cascade" / "the HOG + linear SVM classifier" ("The …" when ``first``)."""
    name = "the Haar cascade" if trace.method == "haar" else "the HOG + linear SVM classifier"
    return name[0].upper() + name[1:] if first else name


def score_name(trace: ClassicTrace) -> str:
    """What a raw window's score is."""
    return "the last stage's sum" if trace.method == "haar" else "the SVM margin"


def to_photo(inference: Inference) -> float:
    """Photo pixels per scanned pixel (the detector shrinks photos over its MAX_SIDE before the scan)."""
    return 1.0 / float(inference.scale[0] or 1.0)


def photo_factor(inference: Inference, level: PyramidLevel) -> float:
    """How much smaller than the photo the scanned image of ``level`` is."""
    return level.factor * to_photo(inference)


def window_in_photo(inference: Inference, level: PyramidLevel) -> tuple[int, int]:
    """(w, h) of the level's window in photo pixels."""
    k = to_photo(inference)
    return int(round(level.window[1] * k)), int(round(level.window[0] * k))


def level_text(inference: Inference, index: int, trace: ClassicTrace) -> str:
    """e.g. "scale 3 of 33 (×1.21)"."""
    level = trace.levels[index]
    return f"scale {index + 1} of {len(trace.levels)} (×{fmt_num(photo_factor(inference, level))})"


def nearest_resize(image: np.ndarray, size: tuple[int, int], max_side: int = 800) -> np.ndarray:
    """image (H, W, 3) uint8 sampled to ``size`` (h, w), at most ``max_side`` on its longest side (a picture for
    the screen, not the detector's input)."""
    h, w = size
    k = min(1.0, max_side / max(h, w, 1))
    h, w = max(1, int(round(h * k))), max(1, int(round(w * k)))
    ys = np.minimum((np.arange(h) + 0.5) * image.shape[0] / h, image.shape[0] - 1).astype(np.int64)
    xs = np.minimum((np.arange(w) + 0.5) * image.shape[1] / w, image.shape[1] - 1).astype(np.int64)
    return np.ascontiguousarray(image[ys][:, xs])


def plural(n: int, word: str) -> str:
    """"1 position", "60,025 positions"."""
    return f"{n:,} {word}" + ("" if n == 1 else "s")
