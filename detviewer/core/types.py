"""Central, Qt-free data types passed from detectors to views.

All boxes are ``xyxy`` float32 in *original-image* pixels unless a name says otherwise.
Arrays are numpy; adapters convert from torch before building these objects.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import overload

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from detviewer.core.classic import ClassicTrace

__all__ = [
    "NMS_METHODS",
    "NMS_STATE_NAMES",
    "PENDING",
    "KEPT",
    "SUPPRESSED",
    "FILTERED",
    "YoloCells",
    "Detections",
    "AnchorSet",
    "DeferredAnchors",
    "NMSParams",
    "NMSStep",
    "NMSTrace",
    "GreedySteps",
    "Proposals",
    "GridPrediction",
    "MatchRule",
    "Inference",
]


#: NMS variants: greedy ("hard") and Soft-NMS with linear or Gaussian decay.
NMS_METHODS = ("hard", "linear", "gaussian")
#: State of a candidate at an NMS step (``NMSTrace.state_at`` codes) and its name on screen.
PENDING, KEPT, SUPPRESSED, FILTERED = 0, 1, 2, 3
NMS_STATE_NAMES = ("pending", "kept", "suppressed", "below score")


def _as_boxes(value: ArrayLike, name: str) -> np.ndarray:
    boxes = np.asarray(value, dtype=np.float32)
    if boxes.size == 0:
        return boxes.reshape(0, 4)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"{name} must have shape (N, 4), got {boxes.shape}")
    return boxes


def _as_vector(value: ArrayLike, dtype: DTypeLike, name: str, n: int) -> np.ndarray:
    arr = np.asarray(value, dtype=dtype).reshape(-1)
    if arr.shape[0] != n:
        raise ValueError(f"{name} must have {n} entries to match the boxes, got {arr.shape[0]}")
    return arr


@dataclass(frozen=True, eq=False)
class Detections:
    """Parallel arrays describing N boxes.

    xyxy (N, 4) float32, pixels; scores (N,) float32; labels (N,) int64 indexing
    ``class_names`` (label 0 is "background" for torchvision-style models).
    """

    xyxy: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        xyxy = _as_boxes(self.xyxy, "xyxy")
        n = xyxy.shape[0]
        object.__setattr__(self, "xyxy", xyxy)
        object.__setattr__(self, "scores", _as_vector(self.scores, np.float32, "scores", n))
        object.__setattr__(self, "labels", _as_vector(self.labels, np.int64, "labels", n))
        object.__setattr__(self, "class_names", tuple(self.class_names))

    @classmethod
    def empty(cls, class_names: Sequence[str] = ()) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64), tuple(class_names))

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])

    def __getitem__(self, index: int | np.integer | slice | np.ndarray | Sequence[int]) -> Detections:
        """Select by boolean mask, integer index array or slice; always returns Detections."""
        if isinstance(index, (int, np.integer)):
            index = [int(index)]
        return Detections(self.xyxy[index], self.scores[index], self.labels[index], self.class_names)

    def name_of(self, label: int) -> str:
        """Human name of a class label; falls back to ``"class <n>"``."""
        label = int(label)
        if 0 <= label < len(self.class_names) and self.class_names[label]:
            return self.class_names[label]
        return f"class {label}"


@dataclass(frozen=True, eq=False)
class AnchorSet:
    """The anchors (or SSD default boxes, or FCOS points) of one feature level.

    boxes (K, 4) float32, xyxy, original-image pixels, in the generator's own order
    (y, x, anchor) with K = feature_size[0] * feature_size[1] * anchors_per_location.
    stride (sy, sx) is in model-input pixels. ``sizes`` / ``aspect_ratios`` describe
    AnchorGenerator levels (aspect ratio = h / w); ``scales`` holds SSD's s_k (fraction
    of the input size) where it applies.
    objectness (K,) float32 in [0, 1]: the head's score for each anchor (RPN objectness; SSD
    1 - P(background); RetinaNet / FCOS best class probability), or None.
    deltas (K, 4) float32: the head's raw box regression for each anchor, encoded with
    torchvision's BoxCoder(delta_weights) (None for FCOS, which regresses distances).
    """

    level: int
    boxes: np.ndarray
    feature_size: tuple[int, int]
    stride: tuple[float, float]
    anchors_per_location: int
    sizes: tuple[float, ...] = ()
    aspect_ratios: tuple[float, ...] = ()
    scales: tuple[float, ...] = ()
    name: str = ""
    objectness: np.ndarray | None = None
    deltas: np.ndarray | None = None
    delta_weights: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)

    def __post_init__(self) -> None:
        boxes = _as_boxes(self.boxes, "boxes")
        object.__setattr__(self, "boxes", boxes)
        if self.objectness is not None:
            object.__setattr__(self, "objectness", _as_vector(self.objectness, np.float32, "objectness", len(boxes)))
        if self.deltas is not None:
            object.__setattr__(self, "deltas", _as_boxes(self.deltas, "deltas"))
        h, w = self.feature_size
        expected = int(h) * int(w) * int(self.anchors_per_location)
        if boxes.shape[0] != expected:
            raise ValueError(
                f"level {self.level}: {boxes.shape[0]} boxes do not match a {h}x{w} map "
                f"with {self.anchors_per_location} anchors per location ({expected})"
            )

    def __len__(self) -> int:
        return int(self.boxes.shape[0])

    def at_cell(self, y: int, x: int) -> np.ndarray:
        """The anchors centred at feature cell (y, x): (anchors_per_location, 4)."""
        h, w = self.feature_size
        a = self.anchors_per_location
        start = (int(y) * int(w) + int(x)) * a
        return self.boxes[start:start + a]


@dataclass(frozen=True)
class NMSParams:
    """The thresholds a model uses after its head (to replay its own NMS)."""

    iou_threshold: float = 0.5
    score_threshold: float = 0.0
    class_agnostic: bool = False
    max_detections: int | None = None


@dataclass(frozen=True, eq=False)
class NMSStep:
    """One step of greedy NMS.

    kept: index (into the input) of the box kept at this step.
    suppressed (M,) int64: input indices this box removed at this step.
    ious (M,) float32: their IoU with ``kept``.
    decayed / decayed_scores: Soft-NMS only - indices whose score was lowered and the new scores.
    """

    kept: int
    suppressed: np.ndarray
    ious: np.ndarray
    decayed: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    decayed_scores: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    score: float = float("nan")


@dataclass(frozen=True, eq=False)
class GreedySteps:
    """The steps of a greedy NMS run as flat arrays (the form ``state.nms_replay.NMSReplay`` keeps).

    kept (K,) int64: the input index kept at each step; counts (K,) int64: how many boxes each step
    suppressed; suppressed (L,) int64 / ious (L,) float32: those boxes and their IoU with the step's box,
    step after step (L = counts.sum()).
    """

    kept: np.ndarray
    counts: np.ndarray
    suppressed: np.ndarray
    ious: np.ndarray

    def head(self, k: int) -> GreedySteps:
        """The first ``k`` steps."""
        end = int(self.counts[:k].sum())
        return GreedySteps(self.kept[:k], self.counts[:k], self.suppressed[:end], self.ious[:end])


@dataclass(frozen=True, eq=False)
class NMSTrace:
    """The full record of an NMS run.

    order (N',) int64: input indices passing the score filter, by descending score.
    steps: one NMSStep per kept box, in the order they were kept (empty when the run was asked for
    ``greedy`` alone: ``ops.nms.nms_trace(record_steps=False)``).
    keep (K,) int64: kept input indices in descending (final) score order.
    scores (N,) float32: final score of every input box (changed only by Soft-NMS).
    """

    order: np.ndarray
    steps: tuple[NMSStep, ...]
    keep: np.ndarray
    scores: np.ndarray
    iou_threshold: float
    score_threshold: float
    method: str = "hard"
    class_agnostic: bool = False
    greedy: GreedySteps | None = None  # greedy NMS: the same steps as flat arrays

    def state_at(self, step: int) -> np.ndarray:
        """State of every input box after ``step`` steps (0 = before any).

        Returns (N,) int8: PENDING, KEPT, SUPPRESSED or FILTERED (out by score).
        """
        n = self.scores.shape[0]
        state = np.full(n, FILTERED, np.int8)
        state[self.order] = PENDING
        for s in self.steps[:step]:
            state[s.kept] = KEPT
            state[s.suppressed] = SUPPRESSED
        return state


@dataclass(frozen=True, eq=False)
class Proposals:
    """Region proposals (RPN) with objectness, original-image pixels.

    xyxy (N, 4) float32; objectness (N,) float32 in [0, 1], descending.
    ``pre_nms_*`` hold the candidates before the RPN's own NMS (same format).
    class_deltas (N, C, 4) float32: the box head's raw regression of each proposal for each class
    (label order, 0 = background), encoded with the box head's BoxCoder (``MatchRule`` "box_head"
    ``box_weights``); class_scores (N, C) float32: its softmax class probabilities. None when not captured.
    """

    xyxy: np.ndarray
    objectness: np.ndarray
    pre_nms_xyxy: np.ndarray | None = None
    pre_nms_objectness: np.ndarray | None = None
    iou_threshold: float = 0.7
    class_deltas: np.ndarray | None = None
    class_scores: np.ndarray | None = None

    def __post_init__(self) -> None:
        xyxy = _as_boxes(self.xyxy, "xyxy")
        object.__setattr__(self, "xyxy", xyxy)
        object.__setattr__(self, "objectness", _as_vector(self.objectness, np.float32, "objectness", len(xyxy)))

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])


@dataclass(frozen=True, eq=False)
class GridPrediction:
    """YOLOv1-style per-cell predictions, original-image pixels.

    boxes (S, S, B, 4) float32 xyxy; confidence (S, S, B); class_probs (S, S, C);
    raw (S, S, 5B + C) the head's output tensor for the layout view.
    cell_size (h, w) in original-image pixels.
    """

    boxes: np.ndarray
    confidence: np.ndarray
    class_probs: np.ndarray
    raw: np.ndarray
    cell_size: tuple[float, float]

    @property
    def grid_size(self) -> int:
        return int(self.boxes.shape[0])

    @property
    def boxes_per_cell(self) -> int:
        return int(self.boxes.shape[2])


@dataclass(frozen=True, eq=False)
class YoloCells:
    """Where each NMS candidate of a multi-scale YOLO head (v5 / v8 / 11 layout) was predicted.

    levels: ((stride, rows, cols), ...) of the head's feature maps, in model-input pixels, in output
    order; anchors_per_cell: 3 for YOLOv5's anchors, 1 for anchor-free heads (v8, 11).
    level / col / row / anchor (K,) int64 per candidate (anchor -1 when anchor-free);
    kept (D,) int64: the candidate index of each final detection.
    letterbox (scale, pad_x, pad_y): input = original * scale + pad (YOLO's letterbox resize).
    """

    levels: tuple[tuple[int, int, int], ...]
    anchors_per_cell: int
    level: np.ndarray
    col: np.ndarray
    row: np.ndarray
    anchor: np.ndarray
    kept: np.ndarray
    letterbox: tuple[float, float, float]

    @property
    def prediction_count(self) -> int:
        """Boxes the head predicts per image: cells of every level times anchors per cell."""
        return sum(r * c for _, r, c in self.levels) * self.anchors_per_cell

    def cell_rect(self, level: int, col: int, row: int) -> np.ndarray:
        """(4,) float32 xyxy of a cell in original-image pixels."""
        stride = self.levels[level][0]
        scale, pad_x, pad_y = self.letterbox
        x = (np.array([col, col + 1], np.float64) * stride - pad_x) / scale
        y = (np.array([row, row + 1], np.float64) * stride - pad_y) / scale
        return np.array([x[0], y[0], x[1], y[1]], np.float32)


@dataclass(frozen=True)
class MatchRule:
    """How a model's training labels its reference boxes (anchors, default boxes, proposals) from ground
    truth, read from the loaded model's own Matcher, sampler and BoxCoder.

    stage: "rpn", "box_head" (Faster R-CNN's RoI heads), "ssd" or "retinanet"; matcher: "Matcher" or
    "SSDMatcher" (torchvision's class). A box is positive when its best IoU is >= fg_iou, negative when
    < bg_iou, ignored in between (fg_iou == bg_iou: no ignored band); low_quality: each ground-truth box's
    best box is positive too, whatever its IoU (Matcher's allow_low_quality_matches; SSDMatcher always).
    batch_size / positive_fraction: BalancedPositiveNegativeSampler per image (0: no sampling);
    neg_to_pos: SSD's hard negative mining ratio (0: none); box_weights: (wx, wy, ww, wh) of the BoxCoder
    that encodes its regression targets.
    """

    stage: str
    matcher: str
    fg_iou: float
    bg_iou: float
    low_quality: bool
    batch_size: int = 0
    positive_fraction: float = 0.0
    neg_to_pos: float = 0.0
    box_weights: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)


class DeferredAnchors(Sequence[AnchorSet]):
    """An Inference's anchor levels (AnchorSet), built on first use by ``build()`` from what the model run
    captured: the frame's cost stays the model's own while no view looks at anchors. ``len`` (the number of
    levels) is known at once; indexing or iterating builds them once (thread-safe). Pickles as a tuple."""

    def __init__(self, count: int, build: Callable[[], Sequence[AnchorSet]]) -> None:
        self._count = int(count)
        self._build: Callable[[], Sequence[AnchorSet]] | None = build
        self._sets: tuple[AnchorSet, ...] | None = None
        self._lock = threading.Lock()

    def materialize(self) -> tuple[AnchorSet, ...]:
        with self._lock:
            if self._sets is None:
                assert self._build is not None
                sets = tuple(self._build())
                if len(sets) != self._count:
                    raise ValueError(f"{len(sets)} anchor levels were built, {self._count} announced")
                self._sets, self._build = sets, None
            return self._sets

    @property
    def built(self) -> bool:
        return self._sets is not None

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> AnchorSet: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[AnchorSet, ...]: ...

    def __getitem__(self, index: int | slice) -> AnchorSet | tuple[AnchorSet, ...]:
        return self.materialize()[index]

    def __iter__(self) -> Iterator[AnchorSet]:
        return iter(self.materialize())

    def __reduce__(self) -> tuple[type[tuple[AnchorSet, ...]], tuple[tuple[AnchorSet, ...]]]:
        return tuple, (self.materialize(),)


@dataclass(frozen=True, eq=False)
class Inference:
    """Everything one model run produced, in original-image pixels.

    detections: the model's own final output, unchanged.
    candidates: the boxes its final NMS received (after its score filter), so that
        ``nms_trace(candidates, iou=nms.iou_threshold)`` replays it.
    image_size / input_size: (H, W) of the original frame and the resized model input;
    scale (sy, sx) = input / original. timings: stage name -> milliseconds.
    rules: the model's training rules (MatchRule), one per stage that matches boxes to ground truth.
    anchors: one AnchorSet per level, or a DeferredAnchors that builds them on first use.
    classic: a classic sliding-window detector's pyramid, raw windows and grouping (core.classic), or None.
    """

    model_name: str
    image_size: tuple[int, int]
    detections: Detections
    candidates: Detections
    nms: NMSParams = NMSParams()
    proposals: Proposals | None = None
    anchors: tuple[AnchorSet, ...] | DeferredAnchors = ()
    grid: GridPrediction | None = None
    yolo_cells: YoloCells | None = None
    timings: dict[str, float] = field(default_factory=dict)
    device: str = "cpu"
    input_size: tuple[int, int] = (0, 0)
    scale: tuple[float, float] = (1.0, 1.0)
    rules: tuple[MatchRule, ...] = ()
    classic: ClassicTrace | None = None

    @property
    def anchor_count(self) -> int:
        return sum(len(a) for a in self.anchors)
