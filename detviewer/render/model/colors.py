"""Class colours (Qt-free): a fixed, distinguishable palette indexed by label."""

from __future__ import annotations

import numpy as np

__all__ = ["PALETTE", "class_colors", "GREY", "HIGHLIGHT", "SUPPRESS", "SELECT"]

# 20 colours (Tableau 20 reordered so that neighbouring labels differ strongly), RGB uint8.
PALETTE = np.array([
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (188, 189, 34), (23, 190, 207), (255, 187, 120),
    (174, 199, 232), (152, 223, 138), (255, 152, 150), (197, 176, 213), (196, 156, 148),
    (247, 182, 210), (219, 219, 141), (158, 218, 229), (127, 127, 127), (199, 199, 199),
], dtype=np.uint8)

GREY = (150, 150, 150)
HIGHLIGHT = (255, 230, 0)   # the box kept at the current NMS step
SUPPRESS = (255, 40, 40)    # boxes it suppresses
SELECT = (0, 255, 255)      # the box selected in the candidate list


def class_colors(labels: np.ndarray) -> np.ndarray:
    """labels (N,) int -> (N, 3) uint8 RGB, the same colour for the same label everywhere."""
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    return PALETTE[np.mod(labels, len(PALETTE))]
