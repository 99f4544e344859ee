"""The flat greedy record (NMSTrace.greedy, what an unfiltered replay is built from without NMSStep objects) says
exactly what the recorded steps say, with and without a top-k cut, per class and class-agnostic."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from detviewer.core.types import Detections
from detviewer.ops.nms import nms_trace
from detviewer.state.nms_replay import Thresholds, replay_from_trace

FIELDS = ("order", "kept", "suppressor", "suppress_iou", "keep", "scores")


def _candidates(n: int, seed: int) -> Detections:
    rng = np.random.default_rng(seed)
    centre = rng.uniform(0, 300, (n // 8, 2)).repeat(8, 0) + rng.normal(0, 6, (n // 8 * 8, 2))
    size = rng.uniform(20, 60, (len(centre), 2))
    boxes = np.concatenate([centre - size / 2, centre + size / 2], 1).astype(np.float32)
    scores = rng.uniform(0, 1, len(boxes)).astype(np.float32)
    scores[::7] = scores[0] if len(scores) else scores[::7]  # ties
    labels = rng.integers(0, 4, len(boxes))
    return Detections(boxes, scores, labels, tuple(f"c{k}" for k in range(4)))


@pytest.mark.parametrize("agnostic", [False, True])
@pytest.mark.parametrize("max_detections", [None, 5])
@pytest.mark.parametrize("n", [0, 80, 4000])  # 4000 boxes: batched_nms' per-class path
def test_flat_record_equals_the_steps(agnostic: bool, max_detections: int | None, n: int) -> None:
    cand = _candidates(n, seed=n)
    args = (cand.xyxy, cand.scores, cand.labels)
    kw = dict(iou_threshold=0.5, score_threshold=0.2, class_agnostic=agnostic, max_detections=max_detections)
    full = nms_trace(*args, **kw)
    flat_only = nms_trace(*args, **kw, record_steps=False)
    assert flat_only.steps == () and full.greedy is not None and flat_only.greedy is not None
    assert len(full.steps) == len(full.greedy.kept)
    assert [s.kept for s in full.steps] == full.greedy.kept.tolist()
    assert [len(s.suppressed) for s in full.steps] == full.greedy.counts.tolist()
    if full.steps:
        assert np.concatenate([s.suppressed for s in full.steps]).tolist() == full.greedy.suppressed.tolist()
    t = Thresholds(0.2, 0.5, agnostic)
    by_steps = replay_from_trace(cand, t, dataclasses.replace(full, greedy=None), max_detections)
    for trace in (full, flat_only):
        by_flat = replay_from_trace(cand, t, trace, max_detections)
        for name in FIELDS:
            np.testing.assert_array_equal(getattr(by_flat, name), getattr(by_steps, name), err_msg=name)
