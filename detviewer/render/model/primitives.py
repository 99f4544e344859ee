"""What a teaching view draws, as plain arrays (Qt-free): layers and one ``ViewFrame``.

Besides ``render.layers.BoxLayer`` (boxes), a view draws line segments (grid lines, arrows),
text and small heatmaps. All coordinates are original-image pixels; widths and text sizes are
screen pixels (the renderer scales them in lecture mode). Colours are (N, 3) uint8 RGB.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias, TypeVar

import numpy as np
from numpy.typing import ArrayLike

from detviewer.errors import DetviewerError

__all__ = [
    "BoxLayer", "SegmentLayer", "TextLayer", "HeatmapLayer", "ImageLayer", "ViewFrame", "ViewError", "COLORMAPS",
    "colormap", "solid", "as_gt", "gt_layer", "grid_lines", "cross_segments", "fmt_int",
    "fmt_num", "memo", "POSITIVE", "NEGATIVE", "IGNORED", "GT_COLOR", "ARROW", "TEXT", "Layer", "GtPair",
]

POSITIVE = (40, 200, 80)     # anchors / default boxes matched to an object
NEGATIVE = (70, 130, 255)    # background samples
IGNORED = (150, 150, 150)    # neither (RPN IoU between the thresholds)
GT_COLOR = (255, 255, 255)   # ground truth boxes
ARROW = (255, 230, 0)        # regression arrows, the selected cell
TEXT = (255, 255, 255)


class ViewError(DetviewerError):
    """A view cannot show this model or input (e.g. the YOLO grid for an SSD); one sentence."""


def _colors(value: ArrayLike, n: int, name: str) -> np.ndarray:
    colors = np.asarray(value, np.uint8)
    if colors.ndim == 1:
        colors = np.broadcast_to(colors, (n, 3))
    if colors.shape != (n, 3):
        raise ValueError(f"{name}: colors must have shape ({n}, 3), got {colors.shape}")
    return np.ascontiguousarray(colors)


@dataclass(frozen=True, eq=False)
class BoxLayer:
    """One set of boxes drawn alike.

    xyxy (N, 4) float32 pixels; colors (N, 3) uint8 RGB; index (N,) int64 candidate indices
    (for hover and selection); labels: N strings or empty; width in screen pixels;
    alpha / fill_alpha 0..255.
    """

    name: str
    xyxy: np.ndarray
    colors: np.ndarray
    index: np.ndarray
    labels: tuple[str, ...] = ()
    width: float = 2.0
    alpha: int = 255
    fill_alpha: int = 0
    dashed: bool = False

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])


@dataclass(frozen=True, eq=False)
class SegmentLayer:
    """Line segments drawn alike: segments (N, 4) float32 (x1, y1, x2, y2) pixels; colors (N, 3).

    ``arrow_heads``: draw a head at (x2, y2) of each segment.
    """

    name: str
    segments: np.ndarray
    colors: np.ndarray
    width: float = 1.5
    alpha: int = 255
    dashed: bool = False
    arrow_heads: bool = False

    def __post_init__(self) -> None:
        segments = np.asarray(self.segments, np.float32).reshape(-1, 4)
        object.__setattr__(self, "segments", segments)
        object.__setattr__(self, "colors", _colors(self.colors, len(segments), self.name))

    def __len__(self) -> int:
        return int(self.segments.shape[0])


@dataclass(frozen=True, eq=False)
class TextLayer:
    """Short texts: positions (N, 2) float32 pixels, texts N strings, colors (N, 3) uint8.

    anchor: which point of the text sits at its position ("top-left", "center", "bottom-left");
    size: font size in screen pixels; background: draw a dark box behind the text.
    """

    name: str
    positions: np.ndarray
    texts: tuple[str, ...]
    colors: np.ndarray
    size: float = 14.0
    background: bool = True
    anchor: str = "top-left"

    def __post_init__(self) -> None:
        positions = np.asarray(self.positions, np.float32).reshape(-1, 2)
        texts = tuple(str(t) for t in self.texts)
        if len(texts) != len(positions):
            raise ValueError(f"{self.name}: {len(texts)} texts for {len(positions)} positions")
        if self.anchor not in ("top-left", "center", "bottom-left"):
            raise ValueError(f"{self.name}: unknown text anchor {self.anchor!r}")
        object.__setattr__(self, "positions", positions)
        object.__setattr__(self, "texts", texts)
        object.__setattr__(self, "colors", _colors(self.colors, len(texts), self.name))

    def __len__(self) -> int:
        return len(self.texts)


@dataclass(frozen=True, eq=False)
class HeatmapLayer:
    """A small grid of values stretched over ``rect`` (4,) xyxy pixels: values (H, W) float32.

    Row 0 is the top. value_range (lo, hi) maps to the colormap's ends (None: the values' min/max). min_alpha:
    None paints every cell at ``alpha``; else a cell's opacity runs from min_alpha at lo to alpha at hi, so that
    the low values leave the picture under them visible (a score map over a photo).
    """

    name: str
    rect: np.ndarray
    values: np.ndarray
    colormap: str = "viridis"
    alpha: int = 150
    value_range: tuple[float, float] | None = None
    min_alpha: int | None = None

    def __post_init__(self) -> None:
        values = np.asarray(self.values, np.float32)
        if values.ndim != 2:
            raise ValueError(f"{self.name}: values must be 2-D, got shape {values.shape}")
        if self.colormap not in COLORMAPS:
            raise ValueError(f"{self.name}: unknown colormap {self.colormap!r}")
        object.__setattr__(self, "rect", np.asarray(self.rect, np.float32).reshape(4))
        object.__setattr__(self, "values", values)

    def __len__(self) -> int:
        """Cells (an empty heatmap draws nothing)."""
        return int(self.values.size)

    def _range(self) -> tuple[float, float]:
        if self.value_range is not None:
            return self.value_range
        return (float(self.values.min()), float(self.values.max())) if self.values.size else (0.0, 1.0)

    def rgb(self) -> np.ndarray:
        """(H, W, 3) uint8: the values through the colormap (what the renderer paints)."""
        lo, hi = self._range()
        return colormap(self.values.reshape(-1), self.colormap, lo, hi).reshape(*self.values.shape, 3)

    def alphas(self) -> np.ndarray:
        """(H, W) uint8: each cell's opacity (``alpha`` everywhere, or min_alpha → alpha along the values)."""
        if self.min_alpha is None:
            return np.full(self.values.shape, self.alpha, np.uint8)
        lo, hi = self._range()
        t = np.clip((np.nan_to_num(self.values, nan=lo) - lo) / (hi - lo if hi > lo else 1.0), 0.0, 1.0)
        alphas: np.ndarray = np.round(self.min_alpha + t * (self.alpha - self.min_alpha)).astype(np.uint8)
        return alphas


@dataclass(frozen=True, eq=False)
class ImageLayer:
    """Small RGB pictures placed over the frame (R-CNN's warped crops): images (N, h, w, 3) uint8,
    rects (N, 4) float32 xyxy pixels each picture is stretched over, colors (N, 3) of their borders
    (width in screen pixels, 0 for none)."""

    name: str
    images: np.ndarray
    rects: np.ndarray
    colors: np.ndarray
    width: float = 2.0

    def __post_init__(self) -> None:
        images = np.ascontiguousarray(np.asarray(self.images, np.uint8))
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"{self.name}: images must have shape (N, h, w, 3), got {images.shape}")
        rects = np.asarray(self.rects, np.float32).reshape(-1, 4)
        if len(rects) != len(images):
            raise ValueError(f"{self.name}: {len(rects)} rects for {len(images)} images")
        object.__setattr__(self, "images", images)
        object.__setattr__(self, "rects", rects)
        object.__setattr__(self, "colors", _colors(self.colors, len(images), self.name))

    def __len__(self) -> int:
        return int(self.images.shape[0])


#: What a view draws: one of the layer types above.
Layer: TypeAlias = "BoxLayer | SegmentLayer | TextLayer | HeatmapLayer | ImageLayer"
#: Ground truth of one image: boxes (M, 4) float32 xyxy original pixels, labels (M,) int64.
GtPair: TypeAlias = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True, eq=False)
class ViewFrame:
    """Everything one view shows for one state.

    layers: BoxLayer / SegmentLayer / TextLayer / HeatmapLayer / ImageLayer, bottom to top; caption: one or
    two sentences a lecturer can read aloud; table: (key, value) rows for the view's side panel;
    step / step_count / step_label: where lecture-mode stepping stands (step in 0..step_count-1);
    step_text: how the step is written everywhere it is shown (default "Step 2 of 5: <label>");
    legend: (text, (r, g, b)) entries explaining the colours drawn, shown on the canvas and in figures;
    dim: how much the frame fades under the layers (0 none … 1 black), so that thin outlines stand out.
    """

    layers: Sequence[Layer] = field(default_factory=list)
    caption: str = ""
    table: list[tuple[str, str]] = field(default_factory=list)
    step: int = 0
    step_count: int = 1
    step_label: str = ""
    step_text: str = ""
    legend: tuple[tuple[str, tuple[int, int, int]], ...] = ()
    dim: float = 0.0

    def position_text(self) -> str:
        """The one text of where stepping stands, shared by the View dock, the NMS panel and lecture mode."""
        if self.step_text:
            return self.step_text
        if self.step_count <= 1:
            return self.step_label
        where = f"Step {self.step + 1} of {self.step_count}"
        return f"{where}: {self.step_label}" if self.step_label else where

    def layer(self, name: str) -> Layer:
        """The layer called ``name``; KeyError when absent."""
        for item in self.layers:
            if item.name == name:
                return item
        raise KeyError(f"no layer {name!r} in this frame (have {[item.name for item in self.layers]})")

    def names(self) -> list[str]:
        return [item.name for item in self.layers]


# -- colour maps -------------------------------------------------------------------------------
# Nine evenly spaced samples of matplotlib's perceptually uniform maps (or of a part of one); linear in between.
COLORMAPS: dict[str, np.ndarray] = {
    "viridis": np.array([(68, 1, 84), (71, 44, 122), (59, 81, 139), (44, 113, 142), (33, 144, 141),
                         (39, 173, 129), (92, 200, 99), (170, 220, 50), (253, 231, 37)], np.float32),
    "inferno": np.array([(0, 0, 4), (31, 12, 72), (85, 15, 109), (136, 34, 106), (186, 54, 85),
                         (227, 89, 51), (249, 140, 10), (249, 201, 50), (252, 255, 164)], np.float32),
    # The maps' light parts (viridis from 0.4, inferno from 0.5 of the way): every colour at least 3:1 against
    # black, so a box or a legend swatch on lecture mode's black stays visible (their dark ends vanish there).
    "viridis-light": np.array([(42, 120, 142), (35, 138, 141), (30, 156, 137), (40, 174, 128), (68, 191, 112),
                               (108, 205, 90), (155, 217, 60), (205, 225, 29), (253, 231, 37)], np.float32),
    "inferno-light": np.array([(188, 55, 84), (210, 70, 68), (228, 90, 49), (241, 115, 29), (249, 142, 9),
                               (252, 172, 17), (249, 203, 53), (242, 234, 105), (252, 255, 164)], np.float32),
}


def colormap(values: ArrayLike, name: str = "viridis", lo: float = 0.0, hi: float = 1.0) -> np.ndarray:
    """values (N,) float -> (N, 3) uint8 RGB; ``lo`` maps to the map's first colour, ``hi`` to its last."""
    table = COLORMAPS[name]
    values = np.asarray(values, np.float32).reshape(-1)
    span = hi - lo if hi > lo else 1.0
    t = np.clip((values - lo) / span, 0.0, 1.0) * (len(table) - 1)
    i = np.minimum(t.astype(np.int64), len(table) - 2)
    frac = (t - i)[:, None]
    rgb: np.ndarray = np.round(table[i] * (1.0 - frac) + table[i + 1] * frac).astype(np.uint8)
    return rgb


def solid(color: ArrayLike, n: int) -> np.ndarray:
    """(n, 3) uint8 filled with one RGB colour."""
    return np.tile(np.asarray(color, np.uint8), (int(n), 1))


# -- small geometry helpers --------------------------------------------------------------------
def grid_lines(xs: ArrayLike, ys: ArrayLike, x_span: tuple[float, float], y_span: tuple[float, float]) -> np.ndarray:
    """Vertical lines at ``xs`` running over ``y_span`` and horizontal lines at ``ys`` over ``x_span``,
    as segments (len(xs) + len(ys), 4) float32 (x1, y1, x2, y2)."""
    xs = np.asarray(xs, np.float64).reshape(-1)
    ys = np.asarray(ys, np.float64).reshape(-1)
    vertical = np.stack([xs, np.full_like(xs, y_span[0]), xs, np.full_like(xs, y_span[1])], 1)
    horizontal = np.stack([np.full_like(ys, x_span[0]), ys, np.full_like(ys, x_span[1]), ys], 1)
    return np.concatenate([vertical, horizontal]).astype(np.float32)


def cross_segments(points_xy: ArrayLike, half: float = 6.0) -> np.ndarray:
    """A "+" at each point: points (N, 2) -> segments (2N, 4)."""
    p = np.asarray(points_xy, np.float32).reshape(-1, 2)
    horizontal = np.stack([p[:, 0] - half, p[:, 1], p[:, 0] + half, p[:, 1]], 1)
    vertical = np.stack([p[:, 0], p[:, 1] - half, p[:, 0], p[:, 1] + half], 1)
    return np.concatenate([horizontal, vertical]).astype(np.float32)


# -- ground truth ------------------------------------------------------------------------------
def as_gt(gt: tuple[ArrayLike, ArrayLike] | None) -> GtPair | None:
    """Optional ground truth ``(boxes (M, 4) xyxy original pixels, labels (M,))`` as float32 / int64."""
    if gt is None:
        return None
    boxes, labels = gt
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    labels = np.asarray(labels, np.int64).reshape(-1)
    if len(labels) != len(boxes):
        raise ValueError(f"ground truth has {len(boxes)} boxes but {len(labels)} labels")
    return boxes, labels


def gt_layer(gt: GtPair, class_names: Sequence[str] = ()) -> BoxLayer:
    """Ground-truth boxes as a white layer labelled with their class names."""
    boxes, labels = gt
    names = tuple(class_names)
    texts = tuple(names[i] if 0 <= i < len(names) and names[i] else ("object" if i < 0 else f"class {i}")
                  for i in labels.tolist())
    return BoxLayer("ground_truth", boxes, solid(GT_COLOR, len(boxes)), np.arange(len(boxes)),
                    labels=texts, width=3.0)


# -- text --------------------------------------------------------------------------------------
def fmt_int(n: int) -> str:
    """12345 -> '12,345'."""
    return f"{int(n):,}"


def fmt_num(x: float, digits: int = 2) -> str:
    """A compact number for captions: 16.0 -> '16', 0.5 -> '0.5', 7.8947 -> '7.89'."""
    text = f"{float(x):.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


# -- per-inference memo ------------------------------------------------------------------------
_MEMO: weakref.WeakKeyDictionary[object, dict[Hashable, Any]] = weakref.WeakKeyDictionary()
_T = TypeVar("_T")


def memo(inference: object, key: Hashable, compute: Callable[[], _T]) -> _T:
    """``compute()`` once per (inference, key): redrawing a view (another level, a click) must not redo
    the anchor matching or the decoding of 200k boxes. Entries go when the Inference is freed."""
    table = _MEMO.setdefault(inference, {})
    if key not in table:
        table[key] = compute()
    value: _T = table[key]
    return value
