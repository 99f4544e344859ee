"""What the Evaluation workspace holds (Qt-free): one dataset, one or two sets of predictions on it, and
their evaluation at the window's score threshold; the boxes behind any number, as overlays for an image.

    session = DatasetSession(dataset)
    session.set_predictions("A", predictions)            # a model run (evaluation.run_dataset) or a results file
    snap = session.snapshot("A", score=0.5)              # evaluation.dataset_evaluation.EvaluationSnapshot
    session.cell_overlays(snap, hit)                     # the boxes behind a confusion-matrix cell, on its image
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from detviewer.evaluation.compare import Comparison, ComparisonSnapshot
from detviewer.evaluation.dataset_evaluation import DatasetEvaluation, EvaluationSnapshot, ImageHit
from detviewer.evaluation.errors import FP_RULE, MATRIX_RULE, explain_false_positives
from detviewer.io.dataset_types import Dataset
from detviewer.io.predictions import Predictions
from detviewer.state.overlays import Overlay

__all__ = ["DatasetSession", "SIDES", "CELL_COLOR", "A_COLOR", "B_COLOR", "ONLY_A_COLOR", "ONLY_B_COLOR"]

SIDES = ("A", "B")
CELL_COLOR = (255, 0, 255)  # the boxes behind a number (magenta: no class or state uses it)
A_COLOR = (80, 140, 255)
B_COLOR = (0, 255, 255)
ONLY_A_COLOR = (255, 170, 0)
ONLY_B_COLOR = (170, 255, 60)


def _xyxy(xywh: np.ndarray) -> np.ndarray:
    xywh = np.asarray(xywh, np.float64).reshape(-1, 4)
    return np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1).astype(np.float32)


class DatasetSession:
    """dataset: io.dataset_types.Dataset; predictions per side ("A", "B") with their label maps (model label ->
    dataset class index, for drawing a model's own result against the dataset's classes)."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self.predictions: dict[str, Predictions] = {}
        self.names: dict[str, str] = {}
        self._evaluations: dict[str, DatasetEvaluation] = {}
        self._comparison: Comparison | None = None

    # -- predictions ------------------------------------------------------------------------------
    def set_predictions(self, side: str, predictions: Predictions, name: str = "") -> None:
        if side not in SIDES:
            raise ValueError(f"side must be one of {SIDES}")
        self.predictions[side] = predictions
        self.names[side] = name or predictions.source
        self._evaluations.pop(side, None)
        self._comparison = None

    def has(self, side: str) -> bool:
        return side in self.predictions

    @property
    def comparing(self) -> bool:
        return all(self.has(s) for s in SIDES)

    def evaluation(self, side: str = "A") -> DatasetEvaluation:
        if side not in self._evaluations:
            self._evaluations[side] = DatasetEvaluation.from_dataset(self.dataset, self.predictions[side])
        return self._evaluations[side]

    def comparison(self) -> Comparison:
        if self._comparison is None:
            self._comparison = Comparison(self.evaluation("A"), self.evaluation("B"),
                                          (self.names.get("A", "A"), self.names.get("B", "B")))
        return self._comparison

    def precompute(self, iou: float = 0.5) -> None:
        """Everything that does not depend on the score threshold (run it off the GUI thread)."""
        for side in self.predictions:
            self.evaluation(side).precompute(iou)
        if self.comparing:
            self.comparison().precompute(iou)

    def snapshot(self, side: str, score: float, iou: float = 0.5) -> EvaluationSnapshot:
        return self.evaluation(side).at(score, iou)

    def compare(self, score: float, iou: float = 0.5) -> ComparisonSnapshot:
        return self.comparison().at(score, score, iou)

    # -- the boxes behind a number, for one image --------------------------------------------------
    def image_path(self, image: int):
        return self.dataset.image_paths[image]

    def detection_boxes(self, side: str, indices: ArrayLike) -> np.ndarray:
        """(N, 4) xyxy pixels of detections ``indices`` (into that side's results)."""
        boxes = self.evaluation(side).dt
        return _xyxy(boxes.xywh[np.asarray(indices, np.int64)])

    def gt_boxes(self, indices: ArrayLike) -> np.ndarray:
        return _xyxy(self.dataset.boxes.xywh[np.asarray(indices, np.int64)])

    def why_false_positive(self, side: str, image: int, score: float, iou: float = 0.5) -> dict[int, str]:
        """{detection index (into ``side``'s results): why it is a false positive} on ``image`` at ``score > score``,
        by the rule the canvas labels its boxes with (evaluation.errors.explain_false_positives)."""
        dt, gt = self.evaluation(side).dt, self.dataset.boxes
        mine = np.flatnonzero((dt.image_index == image) & (dt.scores > score))
        objects = np.flatnonzero(gt.image_index == image)
        labels = gt.category_index[objects]
        _, why = explain_false_positives(
            self.detection_boxes(side, mine), dt.scores[mine], dt.category_index[mine], self.gt_boxes(objects), labels,
            [self.dataset.class_names[c] for c in labels], gt.crowd[objects], iou)
        return {int(mine[j]): reason for j, reason in why.items()}

    def hit_overlays(self, hit: ImageHit, legend: str, side: str = "A", kind: str = "cell",
                     score: float | None = None) -> list[Overlay]:
        """The detections and objects of one image behind a query; kind names the overlays ("cell": a
        confusion-matrix cell, "errors": an image row's false positives and misses). score: the threshold the
        query was made at; the detections' labels then say why each is a false positive by the canvas's rule
        (a cell's own rule, class-agnostic matching, is named in the legend beside it)."""
        names = self.dataset.class_names
        out = []
        dets = [d for d in hit.detections if d >= 0]
        gts = [g for g in hit.ground_truth if g >= 0]
        if dets:
            dt = self.evaluation(side).dt
            labels = dt.category_index[dets]
            texts = tuple(f"{names[c]}?" for c in labels)
            rules = ""
            if score is not None:
                why = self.why_false_positive(side, hit.image, score)
                texts = tuple(f"{names[c]} {dt.scores[d]:.2f}: {why.get(int(d), 'true positive (COCO)')}"
                              for d, c in zip(dets, labels))
                rules = f" ({MATRIX_RULE if kind == 'cell' else 'the Images tab'}; labels: {FP_RULE})"
            out.append(Overlay(f"{kind}_detections", self.detection_boxes(side, dets), CELL_COLOR,
                               f"{legend}: detections{rules}", texts, dashed=False, width=4.0))
        if gts:
            labels = self.dataset.boxes.category_index[gts]
            out.append(Overlay(f"{kind}_objects", self.gt_boxes(gts), CELL_COLOR, f"{legend}: objects",
                               tuple(names[c] for c in labels), dashed=True, width=4.0))
        return out

    def _side_overlay(self, snap: EvaluationSnapshot, side: str, image: int, color, dashed: bool) -> Overlay:
        names = self.dataset.class_names
        mine = np.flatnonzero((snap.evaluation.dt.image_index == image) & snap.above)
        labels = snap.evaluation.dt.category_index[mine]
        scores = snap.evaluation.dt.scores[mine]
        return Overlay(f"{side.lower()}_detections", self.detection_boxes(side, mine), color,
                       f"{self.names.get(side, side)}'s detections",
                       tuple(f"{side} {names[c]} {s:.2f}" for c, s in zip(labels, scores)), dashed=dashed, width=2.0)

    def comparison_overlays(self, snapshot: ComparisonSnapshot, image: int) -> list[Overlay]:
        """On one image: A's and B's detections above their thresholds (from the runs, whatever model the window
        has loaded now), and the objects only A found and only B found."""
        name_a, name_b = self.names.get("A", "A"), self.names.get("B", "B")
        out = [self._side_overlay(snapshot.a, "A", image, A_COLOR, dashed=False),
               self._side_overlay(snapshot.b, "B", image, B_COLOR, dashed=True)]
        diff = snapshot.objects(image)
        if len(diff.a_only):
            out.append(Overlay("only_a", self.gt_boxes(diff.a_only), ONLY_A_COLOR,
                               f"found by {name_a}, missed by {name_b}", ("only A",) * len(diff.a_only), width=4.0))
        if len(diff.b_only):
            out.append(Overlay("only_b", self.gt_boxes(diff.b_only), ONLY_B_COLOR,
                               f"found by {name_b}, missed by {name_a}", ("only B",) * len(diff.b_only), width=4.0))
        return out
