"""SSD's scales two ways: the paper's formula (s_min 0.2, s_max 0.9 over this model's m maps) beside the
scales the model really uses, drawn as squares of side sₖ centred on the frame, with why they differ.

The SSD paper (Liu et al. 2016) gives sₖ = s_min + (s_max − s_min)(k − 1)/(m − 1) with s_min 0.2 and
s_max 0.9 (§2.2). For COCO (§3.4) it uses smaller boxes: the smallest scale 0.15 instead of 0.2 and 0.07 on
conv4_3 (21 px at 300 px); torchvision's SSD300 (0.07, 0.15, 0.33, 0.51, 0.69, 0.87, and 1.05 only to give the
last map its s′ₘ = √(sₘ·sₘ₊₁)) is that COCO setting.
"""

from __future__ import annotations

import numpy as np

from detviewer.core.types import Inference
from detviewer.render.model.primitives import ARROW, BoxLayer, ViewFrame, fmt_num, gt_layer
from detviewer.render.model.views.notation import s_of, s_prime_of

__all__ = ["PAPER_S_MIN", "PAPER_S_MAX", "SSD300_COCO_SCALES", "paper_scales", "scale_rows", "why_scales_differ",
           "scale_comparison_frame"]

PAPER_S_MIN, PAPER_S_MAX = 0.2, 0.9
#: torchvision ssd300_vgg16's scales (m = 6, plus s₇): the SSD paper's COCO setting.
SSD300_COCO_SCALES = (0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05)
MODEL_COLOR = (0, 255, 255)


def paper_scales(m: int, s_min: float = PAPER_S_MIN, s_max: float = PAPER_S_MAX) -> list[float]:
    """The paper's s₁ … sₘ for m maps: s_min + (s_max − s_min)(k − 1)/(m − 1)."""
    from detviewer.ops.anchors import ssd_scales

    return ssd_scales(s_min, s_max, m)


def scale_rows(scales: list[float], input_side: int) -> list[tuple[str, str]]:
    """One row per map k: "paper 0.2 (60 px) · model 0.07 (21 px)", then s′ₘ of the model.

    scales: the model's m + 1 values (ssd_scale_list); input_side: pixels of the model input's side."""
    m = len(scales) - 1
    paper = paper_scales(m)

    def both(p: float, s: float) -> str:
        return (f"paper {fmt_num(p)} ({fmt_num(p * input_side, 0)} px) · model {fmt_num(s)} "
                f"({fmt_num(s * input_side, 0)} px)")

    rows = [(s_of(k), both(paper[k - 1], scales[k - 1])) for k in range(1, m + 1)]
    last = float(np.sqrt(scales[m - 1] * scales[m]))
    rows.append((s_prime_of(m), f"model √({s_of(m)}·{s_of(m + 1)}) = √({fmt_num(scales[m - 1])}·{fmt_num(scales[m])}) "
                                f"= {fmt_num(last)}: {s_of(m + 1)} exists only for this"))
    return rows


def why_scales_differ(scales: list[float]) -> str:
    """One or two sentences: why the model's scales are not the paper's formula."""
    m = len(scales) - 1
    if len(scales) == len(SSD300_COCO_SCALES) and np.allclose(scales, SSD300_COCO_SCALES, atol=1e-6):
        return ("torchvision's SSD300 uses the paper's COCO setting (§3.4): COCO's objects are smaller than "
                "PASCAL VOC's, so the smallest scale is 0.15 instead of 0.2 and conv4_3 gets 0.07 (21 px); "
                f"{s_of(2)} … {s_of(6)} then rise in steps of 0.18 to 0.87. The formula with s_min 0.2, s_max 0.9 "
                f"is the paper's general rule (§2.2); {s_of(7)} = 1.05 only gives the last map its {s_prime_of(6)}.")
    if np.allclose(scales[:m], paper_scales(m), atol=1e-6):
        return "This model uses the paper's formula unchanged."
    return (f"This model's scales were chosen for its training data: its boxes run from {fmt_num(scales[0])} to "
            f"{fmt_num(scales[m - 1])} of the input where the paper's formula gives {fmt_num(PAPER_S_MIN)} to "
            f"{fmt_num(PAPER_S_MAX)} — smaller boxes for smaller objects.")


def _centred_squares(values, image_size: tuple[int, int], input_size: tuple[int, int]) -> np.ndarray:
    """Squares of side s·input (mapped to original pixels), centred on the frame: (len(values), 4) xyxy."""
    height, width = image_size
    in_h, in_w = input_size
    half_w = np.asarray(values, np.float32) * in_w * (width / in_w) / 2
    half_h = np.asarray(values, np.float32) * in_h * (height / in_h) / 2
    cx, cy = width / 2, height / 2
    return np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], 1).astype(np.float32)


def scale_comparison_frame(inference: Inference, scales: list[float], gt=None) -> ViewFrame:
    """The last step of the default-box view: both scale sets as centred squares and as a table."""
    m = len(scales) - 1
    in_h, in_w = inference.input_size
    paper = paper_scales(m)
    layers: list = []
    if gt is not None:
        layers.append(gt_layer(gt, inference.detections.class_names))
    layers.append(BoxLayer("paper_scales", _centred_squares(paper, inference.image_size, inference.input_size),
                           np.tile(np.asarray(ARROW, np.uint8), (m, 1)), np.arange(m, dtype=np.int64), width=2.0,
                           dashed=True))
    layers.append(BoxLayer("model_scales", _centred_squares(scales[:m], inference.image_size, inference.input_size),
                           np.tile(np.asarray(MODEL_COLOR, np.uint8), (m, 1)), np.arange(m, dtype=np.int64),
                           labels=tuple(s_of(k) for k in range(1, m + 1)), width=2.5))
    rows = scale_rows(scales, in_w)
    caption = (f"Scales sₖ for this model's m = {m} maps: the paper's formula with s_min {fmt_num(PAPER_S_MIN)} and "
               f"s_max {fmt_num(PAPER_S_MAX)} gives " + ", ".join(fmt_num(p) for p in paper)
               + " (dashed); the model uses " + ", ".join(fmt_num(s) for s in scales[:m]) + " (solid). "
               + why_scales_differ(scales))
    legend = (("this model's sₖ", MODEL_COLOR), ("the paper's sₖ (s_min 0.2, s_max 0.9)", ARROW))
    return ViewFrame(layers, caption, rows, m, m + 1, "Scales: paper and model", legend=legend)
