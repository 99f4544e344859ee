"""Class colours (Qt-free): a fixed, distinguishable palette indexed by label."""

from __future__ import annotations

import numpy as np

__all__ = ["PALETTE", "class_colors", "spare_colors", "GREY", "HIGHLIGHT", "SUPPRESS", "SELECT", "CELL_LINES", "MARK",
           "PALE_POSITIVE"]

# Class colours: Okabe & Ito's colour-blind-safe set without its orange, yellow and vermillion (taken by the
# state colours below: missed, the box kept at a step, false positives / suppressed), then a few Dark2 / Tol
# hues; no red, no yellow, no grey, so a class never looks like a state. RGB uint8.
PALETTE = np.array([
    (0, 114, 178), (0, 158, 115), (86, 180, 233), (204, 121, 167), (117, 112, 179), (166, 118, 29),
    (102, 166, 30), (231, 41, 138), (68, 170, 153), (153, 153, 51), (136, 34, 85), (51, 34, 136),
], dtype=np.uint8)

GREY = (150, 150, 150)
HIGHLIGHT = (255, 230, 0)   # the box kept at the current NMS step
SUPPRESS = (255, 40, 40)    # boxes it suppresses
SELECT = (0, 255, 255)      # the box selected in the candidate list
# Colours a legend sets beside ground truth (white), the selection (cyan) and the highlight (yellow), each one
# distinct from those: one legend never shows the same colour twice.
CELL_LINES = (190, 190, 190)    # grid and feature-map cell lines (ground truth is white)
MARK = (255, 100, 220)          # sample points, target arrows, PR points: pink
PALE_POSITIVE = (170, 235, 180)  # positives a sampler left out (the drawn ones are POSITIVE)


def class_colors(labels: np.ndarray) -> np.ndarray:
    """labels (N,) int -> (N, 3) uint8 RGB, the same colour for the same label everywhere."""
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    return PALETTE[np.mod(labels, len(PALETTE))]


def spare_colors(n: int, used_labels: object) -> np.ndarray:
    """(n, 3) uint8 palette colours that no label of ``used_labels`` has (class_colors), for things that are not
    classes (a cell's boxes) drawn beside class colours; they repeat only when the palette runs out."""
    used = set(np.mod(np.asarray(used_labels, np.int64).reshape(-1), len(PALETTE)).tolist())
    free = [i for i in range(len(PALETTE)) if i not in used] or list(range(len(PALETTE)))
    return PALETTE[[free[k % len(free)] for k in range(n)]]
