"""Small charts drawn over the frame as ordinary layers (Qt-free): a precision-recall curve with the area under
it, and a bar chart. Everything is in original-image pixels inside a rectangle chosen by the view, so the
window, lecture mode, ``render`` and slides draw them like any other layer.
"""

from __future__ import annotations

import numpy as np

from detviewer.render.model.primitives import BoxLayer, SegmentLayer, TextLayer, cross_segments, fmt_num, solid

__all__ = ["chart_rect", "pr_chart_layers", "bar_chart_layers", "CURVE", "ENVELOPE", "AREA"]

CURVE = (0, 220, 255)       # the raw precision-recall point after each detection (ground truth is white)
ENVELOPE = (255, 230, 0)    # interpolated precision (the curve AP integrates)
AREA = (255, 140, 0)        # the area under it (orange: the envelope is yellow)
_AXIS = (220, 220, 220)
_BACKDROP = (18, 18, 18)


def chart_rect(image_size: tuple[int, int], boxes: np.ndarray, width: float = 0.62, height: float = 0.5):
    """(4,) xyxy of a chart of ``width`` × ``height`` (fractions of the frame) in the top or bottom corner band
    that covers fewer of ``boxes`` (N, 4)."""
    h, w = image_size
    cw, ch = width * w, height * h
    margin = 0.03 * max(h, w)
    left = w - margin - cw
    candidates = [np.array([left, margin, left + cw, margin + ch], np.float32),
                  np.array([left, h - margin - ch, left + cw, h - margin], np.float32),
                  np.array([margin, h - margin - ch, margin + cw, h - margin], np.float32),
                  np.array([margin, margin, margin + cw, margin + ch], np.float32)]
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)

    def covered(r: np.ndarray) -> float:
        iw = np.clip(np.minimum(boxes[:, 2], r[2]) - np.maximum(boxes[:, 0], r[0]), 0, None)
        ih = np.clip(np.minimum(boxes[:, 3], r[3]) - np.maximum(boxes[:, 1], r[1]), 0, None)
        return float((iw * ih).sum())

    return min(candidates, key=covered)


def _plot_area(rect: np.ndarray) -> np.ndarray:
    """The axes' box inside the chart: room left and below for tick labels, above for the title."""
    x1, y1, x2, y2 = (float(v) for v in rect)
    w, h = x2 - x1, y2 - y1
    return np.array([x1 + 0.16 * w, y1 + 0.16 * h, x2 - 0.05 * w, y2 - 0.18 * h], np.float32)


def _to_plot(area: np.ndarray, xs, ys) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = np.asarray(xs, np.float32), np.asarray(ys, np.float32)
    return area[0] + xs * (area[2] - area[0]), area[3] - ys * (area[3] - area[1])


def _frame_layers(name: str, rect: np.ndarray, area: np.ndarray, title: str, x_label: str, y_label: str,
                  y_ticks=(0.0, 0.5, 1.0), x_ticks=(), y_scale: float = 1.0) -> list:
    axes = np.array([[area[0], area[3], area[2], area[3]], [area[0], area[1], area[0], area[3]]], np.float32)
    _, ty = _to_plot(area, [0] * len(y_ticks), y_ticks)
    texts = [title, x_label, y_label] + [fmt_num(t * y_scale) for t in y_ticks]
    positions = [[(rect[0] + rect[2]) / 2, rect[1] + 0.08 * (rect[3] - rect[1])],
                 [(area[0] + area[2]) / 2, area[3] + 0.13 * (rect[3] - rect[1])],
                 [rect[0] + 0.03 * (rect[2] - rect[0]), area[1] - 0.07 * (rect[3] - rect[1])]]
    positions += [[rect[0] + 0.03 * (rect[2] - rect[0]), float(y)] for y in ty]
    tx, _ = _to_plot(area, x_ticks, [0] * len(x_ticks))
    texts += [fmt_num(t) for t in x_ticks]
    positions += [[float(x), area[3] + 0.05 * (rect[3] - rect[1])] for x in tx]
    kept = [(t, xy) for t, xy in zip(texts, positions) if t]
    return [BoxLayer(f"{name}_backdrop", rect[None], solid(_BACKDROP, 1), np.zeros(1, np.int64), width=0.0,
                     fill_alpha=225),
            SegmentLayer(f"{name}_axes", axes, solid(_AXIS, 2), width=1.5),
            TextLayer(f"{name}_text", [xy for _, xy in kept], tuple(t for t, _ in kept), solid(_AXIS, len(kept)),
                      size=12.0, background=False, anchor="center")]


def pr_chart_layers(rect: np.ndarray, recall: np.ndarray, precision: np.ndarray, recall_points: np.ndarray,
                    interpolated: np.ndarray, title: str) -> list:
    """A PR chart inside ``rect`` (4,) xyxy: recall (n,) / precision (n,) after each ranked detection (crosses),
    interpolated (R,) precision at recall_points (R,) (COCO's 101), whose mean is AP: drawn as the shaded area."""
    area = _plot_area(rect)
    layers = _frame_layers("pr", rect, area, title, "recall", "precision", x_ticks=(0.0, 0.5, 1.0))
    r = np.asarray(recall_points, np.float32)
    p = np.clip(np.asarray(interpolated, np.float32), 0, None)
    if len(r) > 1:
        step = float(r[1] - r[0])
        x0, _ = _to_plot(area, r - step / 2, p)
        x1, y = _to_plot(area, r + step / 2, p)
        x0, x1 = np.clip(x0, area[0], area[2]), np.clip(x1, area[0], area[2])
        bars = np.stack([x0, y, x1, np.full_like(y, area[3])], 1)
        bars = bars[p > 0]
        layers.append(BoxLayer("pr_area", bars, solid(AREA, len(bars)), np.arange(len(bars), dtype=np.int64),
                               width=0.0, alpha=0, fill_alpha=110))
        xe, ye = _to_plot(area, r, p)
        envelope = np.stack([xe[:-1], ye[:-1], xe[1:], ye[1:]], 1)
        layers.append(SegmentLayer("pr_envelope", envelope, solid(ENVELOPE, len(envelope)), width=2.0))
    if len(recall):  # one cross per detection: joining them would draw slopes no threshold gives
        xs, ys = _to_plot(area, recall, precision)
        half = 0.025 * (area[2] - area[0])
        points = cross_segments(np.stack([xs, ys], 1), half)
        layers.append(SegmentLayer("pr_points", points, solid(CURVE, len(points)), width=2.0))
    return layers


def bar_chart_layers(rect: np.ndarray, names: list[str], values: np.ndarray, colors: np.ndarray, title: str) -> list:
    """Bars of ``values`` (K,) in 0..1 named ``names`` inside ``rect`` (4,) xyxy, each labelled with its value
    on the 0-100 scale, as the axis is (one scale: ticks 0, 50, 100)."""
    area = _plot_area(rect)
    layers = _frame_layers("bars", rect, area, title, "", "", y_ticks=(0.0, 0.5, 1.0), y_scale=100.0)
    k = len(values)
    slot = (area[2] - area[0]) / max(k, 1)
    lefts = area[0] + slot * (np.arange(k) + 0.15)
    _, tops = _to_plot(area, np.zeros(k), np.clip(values, 0, 1))
    bars = np.stack([lefts, tops, lefts + 0.7 * slot, np.full(k, area[3])], 1).astype(np.float32)
    layers.append(BoxLayer("bars", bars, np.asarray(colors, np.uint8).reshape(k, 3), np.arange(k, dtype=np.int64),
                           labels=tuple(f"{100 * v:.0f}" for v in values), width=1.0, fill_alpha=200))
    centres = [[(b[0] + b[2]) / 2, area[3] + 0.08 * (rect[3] - rect[1])] for b in bars]
    layers.append(TextLayer("bars_names", centres, tuple(names), solid(_AXIS, k), size=12.0, background=False,
                            anchor="center"))
    return layers
