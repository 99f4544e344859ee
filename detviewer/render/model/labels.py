"""The one label-placement pass (Qt-free): every label of a frame placed in screen pixels, inside the canvas,
never on another label. The window, lecture mode, exported figures and ``detviewer render`` all use it.

Strategy: labels are placed most important first (top layers, then each layer's own order: best score
first). Each tries its spots (above its box, inside its top, below it, …, or around its point), each spot
slid inside the canvas; a label that finds no free spot is shortened ("FP cat 0.70: wrong class (dog)" →
"FP cat 0.70" → "FP") and tried again; one that still finds none is left out and counted (the canvas
says "+n labels hidden").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from detviewer.render.model.primitives import Layer

__all__ = ["Label", "Placement", "place_labels", "shorter_forms", "labels_of_layers", "covering_panels",
           "PANEL_FILL_ALPHA"]

GAP = 1.0  # screen pixels kept free between two labels
#: A BoxLayer filled at least this opaque is a panel (a chart's backdrop, the crop gallery's): it hides what is
#: under it, so the labels of the layers below it are placed off it.
PANEL_FILL_ALPHA = 150


@dataclass(frozen=True)
class Label:
    """One text to place. anchor (x1, y1, x2, y2) screen pixels: the box it names, or a point (x1 == x2,
    y1 == y2) for "point" labels, whose ``align`` says which corner of the text sits there first ("top-left",
    "center", "bottom-left"); color: box labels' background, point labels' text (RGB); size: font height in
    pixels before the style's scale; priority: lower is placed first."""

    text: str
    anchor: tuple[float, float, float, float]
    color: tuple[int, int, int]
    priority: float = 0.0
    kind: str = "box"
    size: float = 12.0
    align: str = "center"


@dataclass(frozen=True)
class Placement:
    """What the pass decided: rects (K, 4) float64 x, y, w, h screen pixels of the placed labels, the text each
    shows (maybe shortened), which input label each is, and how many labels found no room."""

    rects: np.ndarray
    texts: tuple[str, ...]
    index: np.ndarray
    hidden: int

    def overlaps(self) -> int:
        """Pairs of placed labels that overlap (0 by construction; the lecture test checks it)."""
        r = self.rects
        if len(r) < 2:
            return 0
        x1, y1, x2, y2 = r[:, 0], r[:, 1], r[:, 0] + r[:, 2], r[:, 1] + r[:, 3]
        ix = np.minimum(x2[:, None], x2[None]) - np.maximum(x1[:, None], x1[None])
        iy = np.minimum(y2[:, None], y2[None]) - np.maximum(y1[:, None], y1[None])
        hit = (ix > 0.5) & (iy > 0.5)
        return int(np.triu(hit, 1).sum())


def shorter_forms(text: str) -> list[str]:
    """The text, then shorter forms of it: before a colon, then its first word (each once)."""
    forms = [text]
    for short in (text.split(":")[0].strip(), text.split(" ")[0].strip()):
        if short and short not in forms:
            forms.append(short)
    return forms


def _spots(label: Label, w: float, h: float) -> list[tuple[float, float]]:
    x1, y1, x2, y2 = label.anchor
    if label.kind == "point":
        x, y = {"top-left": (x1, y1), "bottom-left": (x1, y1 - h)}.get(label.align, (x1 - w / 2, y1 - h / 2))
        return [(x, y), (x, y - h), (x, y + h), (x + w / 2 + 4, y), (x - w / 2 - 4, y), (x, y - 2 * h), (x, y + 2 * h)]
    return [(x1, y1 - h), (x1, y1), (x1, y2), (x2 - w, y1 - h), (x1, y2 - h), (x2 - w, y2), (x2 + 2, y1),
            (x1 - w - 2, y1)]


def place_labels(labels: Sequence[Label], measure: Callable[[str, float], tuple[float, float]],
                 bounds: tuple[float, float], obstacles: Sequence[tuple[float, float, float, float]] = (),
                 panels: Sequence[tuple[tuple[float, float, float, float], float]] = ()) -> Placement:
    """Place ``labels`` inside (0, 0, width, height) = ``bounds``; measure(text, size) -> (w, h) screen pixels;
    obstacles: (x, y, w, h) screen rects no label may cover (the legend); panels: ((x, y, w, h), priority) rects
    that only labels of that priority or more (the layers under the panel, ``covering_panels``) may not cover."""
    width, height = bounds
    panel_rects = np.asarray([rect for rect, _ in panels], np.float64).reshape(-1, 4)
    panel_from = np.asarray([priority for _, priority in panels], np.float64)
    order = sorted(range(len(labels)), key=lambda i: (labels[i].priority, i))
    taken = np.zeros((len(obstacles) + len(labels), 4))
    taken[:len(obstacles)] = np.asarray(obstacles, np.float64).reshape(-1, 4)
    count = len(obstacles)
    texts, index = [], []
    hidden = 0
    for i in order:
        placed = taken[:count]
        under = panel_rects[labels[i].priority >= panel_from]
        if len(under):
            placed = np.concatenate([placed, under])
        spot = _first_free(labels[i], measure, width, height, placed)
        if spot is None:
            hidden += 1
            continue
        rect, text = spot
        taken[count] = rect
        count += 1
        texts.append(text)
        index.append(i)
    return Placement(taken[len(obstacles):count].copy(), tuple(texts), np.asarray(index, np.int64), hidden)


def _first_free(label: Label, measure: Callable[[str, float], tuple[float, float]], width: float, height: float,
                placed: np.ndarray) -> tuple[tuple[float, float, float, float], str] | None:
    """The first spot (after the label's own ones, slid inside the canvas) no placed rect covers, trying the
    text's shorter forms in turn; every spot of a form is tested against every placed rect at once."""
    for text in shorter_forms(label.text):
        w, h = measure(text, label.size)
        if w > width or h > height:
            continue
        spots = np.asarray(_spots(label, w, h), np.float64)
        x = np.clip(spots[:, 0], 0.0, width - w)
        y = np.clip(spots[:, 1], 0.0, height - h)
        if len(placed):
            px, py, pw, ph = placed.T
            hit = ((px[None] < (x + w + GAP)[:, None]) & (x[:, None] < (px + pw + GAP)[None])
                   & (py[None] < (y + h + GAP)[:, None]) & (y[:, None] < (py + ph + GAP)[None])).any(axis=1)
            free = np.flatnonzero(~hit)
        else:
            free = np.arange(len(spots))
        if len(free):
            k = int(free[0])
            return (float(x[k]), float(y[k]), w, h), text
    return None


def _rgb(color: np.ndarray) -> tuple[int, int, int]:
    r, g, b = (int(v) for v in color[:3])
    return r, g, b


def labels_of_layers(layers: Iterable[Layer], to_screen: Callable[[np.ndarray], np.ndarray], max_per_layer: int = 100,
                     box_label_size: float = 12.0) -> list[Label]:
    """The labels of ``layers`` (bottom to top) for the pass: BoxLayer labels name their boxes, TextLayer texts
    sit at their points. to_screen: (N, 2) image points -> (N, 2) screen points. Top layers come first."""
    from detviewer.render.model.primitives import BoxLayer, TextLayer

    out: list[Label] = []
    for depth, layer in enumerate(reversed(list(layers))):
        if isinstance(layer, BoxLayer) and layer.labels:
            n = min(len(layer.labels), len(layer), max_per_layer)
            corners = to_screen(layer.xyxy[:n].reshape(-1, 2).astype(np.float64)).reshape(-1, 4)
            for k in range(n):
                if layer.labels[k]:
                    x1, y1, x2, y2 = corners[k]
                    out.append(Label(layer.labels[k], (min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)),
                                     _rgb(layer.colors[k]), depth * 1000 + k,
                                     size=box_label_size))
        elif isinstance(layer, TextLayer):
            points = to_screen(layer.positions.astype(np.float64))
            for k, text in enumerate(layer.texts[:max_per_layer]):
                x, y = points[k]
                out.append(Label(text, (x, y, x, y), _rgb(layer.colors[k]), depth * 1000 + k,
                                 "point", layer.size, layer.anchor))
    return out


def covering_panels(layers: Sequence[object], to_screen: Callable[[np.ndarray], np.ndarray]
                    ) -> list[tuple[tuple[float, float, float, float], float]]:
    """((x, y, w, h) screen rect, priority) of each opaque panel of ``layers`` (bottom to top): BoxLayers filled at
    least PANEL_FILL_ALPHA. priority: the first ``labels_of_layers`` priority of the layers under it, whose labels
    must stay off it (a label of a box under the PR chart is not drawn over the chart)."""
    from detviewer.render.model.primitives import BoxLayer

    out = []
    for depth, layer in enumerate(reversed(list(layers))):
        if isinstance(layer, BoxLayer) and layer.fill_alpha >= PANEL_FILL_ALPHA and len(layer):
            corners = to_screen(layer.xyxy.reshape(-1, 2).astype(np.float64)).reshape(-1, 4)
            for x1, y1, x2, y2 in corners:
                x, y = min(x1, x2), min(y1, y2)
                out.append(((float(x), float(y), float(abs(x2 - x1)), float(abs(y2 - y1))), (depth + 1) * 1000.0))
    return out
