"""NMS's first step shows the candidates clearly (solid, strong) on a photograph; later steps keep the undecided
ones in the background (dashed, fainter)."""

from __future__ import annotations

import numpy as np

from detviewer.core.types import Detections
from detviewer.ops.nms import nms_trace
from detviewer.render.model.nms_layers import nms_layers
from detviewer.state.nms_replay import NMSReplay, Thresholds, replay_from_trace


def _replay() -> NMSReplay:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [52, 50, 62, 60]], np.float32)
    candidates = Detections(boxes, np.array([0.9, 0.8, 0.7, 0.6], np.float32), np.zeros(4, np.int64), ("a",))
    thresholds = Thresholds(score=0.0, iou=0.5)
    return replay_from_trace(candidates, thresholds, nms_trace(boxes, candidates.scores, candidates.labels,
                                                                iou_threshold=0.5))


def test_the_first_step_draws_every_candidate_solid_and_strong_then_faint_and_dashed():
    replay = _replay()
    start = {layer.name: layer for layer in nms_layers(replay, 0, stepping=True)}["pending"]
    assert len(start.xyxy) == 4 and not start.dashed and start.alpha >= 200 and start.width >= 2
    later = {layer.name: layer for layer in nms_layers(replay, 1, stepping=True)}["pending"]
    assert len(later.xyxy) == 2 and later.dashed and later.alpha < start.alpha
