"""The NMS replay (Qt-free): thresholds replay NMS on stored candidates; any step is indexed; a score change
restricts the unfiltered replay instead of running NMS again (checked against torchvision)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision
from hypothesis import given, settings
from hypothesis import strategies as st
from state_fakes import BOXES, LABELS, NAMES, SCORES, A, B, C, D, E, make_inference

from detviewer.core.types import FILTERED, KEPT, PENDING, SUPPRESSED, Detections, Inference, NMSParams
from detviewer.ops.nms import nms_trace
from detviewer.state.nms_replay import NMSReplay, Thresholds, replay, restrict_to_score, unfiltered_replay


def run(max_detections=None, **thresholds) -> NMSReplay:
    return replay(make_inference(max_detections), Thresholds(**{"score": 0.2, **thresholds}), nms_trace)


@pytest.mark.parametrize("iou, agnostic, kept", [
    (0.3, False, [A, D, E]),      # A suppresses B (0.68) and C (0.32)
    (0.5, False, [A, C, D, E]),   # C survives (0.32 with A)
    (0.7, False, [A, B, C, D, E]),  # 0.68 < 0.7: nothing suppressed
    (0.5, True, [A, C, D]),       # class-agnostic: the dog D suppresses the cat E (0.82)
])
def test_kept_set_follows_thresholds(iou, agnostic, kept):
    assert sorted(run(iou=iou, class_agnostic=agnostic).keep.tolist()) == kept


def test_score_filter_is_strict_and_marks_filtered():
    r = run(score=0.6)  # D's score is exactly 0.6: filtered out (score > threshold)
    assert sorted(r.keep.tolist()) == [A, C]
    final = r.states(r.step_count)
    assert final[D] == FILTERED and final[E] == FILTERED


def test_states_at_every_step_match_the_trace():
    r = run(iou=0.3)
    ref = nms_trace(BOXES, SCORES, LABELS, iou_threshold=0.3, score_threshold=0.2)
    assert (r.states(0) == PENDING).all()
    for k in range(r.step_count + 1):
        np.testing.assert_array_equal(r.states(k), ref.state_at(k))
    np.testing.assert_array_equal(r.states(99), [KEPT, SUPPRESSED, SUPPRESSED, KEPT, KEPT])  # clamped
    assert r.suppressed_by(B) == (1, pytest.approx(8100 / 11900, abs=1e-6))
    assert r.suppressed_by(C) == (1, pytest.approx(4900 / 15100, abs=1e-6))
    assert r.suppressed_by(A) is None
    step = r.step(1)
    assert step.kept == A and step.suppressed.tolist() == [B, C]


def test_narration_names_the_kept_box_and_suppressions():
    r = run(iou=0.3)
    assert r.narration(0, True).startswith("Start: 5 candidates above score 0.20")
    assert r.narration(1, True) == "Step 1: keep 'cat' 0.90; suppress 2 boxes of class 'cat' with IoU > 0.30 against it"
    assert r.narration(r.step_count, True).endswith("Done: 3 kept.")
    assert r.narration(0, False).startswith("Final result: 3 of 5 candidates above score 0.20 kept by greedy NMS "
                                            "at IoU > 0.30")


def test_gaussian_soft_nms_says_sigma_not_an_iou():
    r = run(method="gaussian", sigma=0.5, iou=0.9)
    assert "σ = 0.50" in r.narration(0, False) and "IoU >" not in r.narration(0, False)
    assert "IoU >" not in r.narration(1, True)


def test_max_detections_caps_kept_boxes():
    assert run(max_detections=2, iou=0.7).keep.tolist() == [A, B]


def test_soft_nms_reports_decayed_scores():
    r = run(method="linear", iou=0.3)
    # Linear Soft-NMS by hand: keep A (0.9); B 0.8 -> 0.8 (1 - 0.681) = 0.255, C 0.7 -> 0.7 (1 - 0.325) = 0.473;
    # keep D (0.6); keep C (0.473): B 0.255 -> 0.255 (1 - 0.471) = 0.135 <= 0.2, dropped; keep E (0.3).
    assert r.keep.tolist() == [A, D, C, E]
    det = r.detections_at(r.step_count)
    assert det.scores[2] == pytest.approx(0.7 * (1 - 4900 / 15100), abs=1e-4)
    assert r.states(r.step_count)[B] == SUPPRESSED and r.suppressed_by(B)[0] == 3


def test_empty_and_missing_inference():
    none = replay(None, Thresholds(), nms_trace)
    assert none.keep.size == 0 and none.step_count == 0
    empty = Detections.empty(NAMES)
    r = replay(Inference("fake", (10, 10), empty, empty), Thresholds(), nms_trace)
    assert r.step_count == 0 and r.keep.size == 0
    assert "no candidate" in r.narration(0, False).lower()


def test_thresholds_reject_unknown_method():
    with pytest.raises(ValueError):
        Thresholds(method="fancy")


# -- the score slider needs no NMS: restricting the unfiltered replay equals NMS on the filtered input --
@settings(max_examples=120, deadline=None)
@given(seed=st.integers(0, 2 ** 31 - 1), n=st.integers(0, 60), classes=st.integers(1, 4),
       iou=st.sampled_from([0.0, 0.3, 0.5, 0.7, 1.0]), score=st.sampled_from([0.0, 0.2, 0.5, 0.9]),
       agnostic=st.booleans(), ties=st.booleans(), max_det=st.sampled_from([None, 3]))
def test_restricting_by_score_equals_batched_nms_on_the_filtered_boxes(seed, n, classes, iou, score, agnostic,
                                                                       ties, max_det):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 200, (n, 2)).astype(np.float32)
    boxes = np.concatenate([xy, xy + rng.uniform(5, 80, (n, 2)).astype(np.float32)], 1)
    scores = (rng.choice([0.2, 0.5, 0.9], n) if ties else rng.uniform(0, 1, n)).astype(np.float32)
    labels = rng.integers(1, classes + 1, n)
    cand = Detections(boxes, scores, labels)
    inference = Inference("fake", (300, 300), cand, cand, nms=NMSParams(max_detections=max_det))
    t = Thresholds(score=score, iou=iou, class_agnostic=agnostic)
    restricted = restrict_to_score(unfiltered_replay(inference, t, nms_trace), t, max_det)
    passed = np.flatnonzero(scores > np.float32(score))
    box_t, score_t = torch.from_numpy(boxes[passed]), torch.from_numpy(scores[passed])
    if agnostic:
        keep = torchvision.ops.nms(box_t, score_t, iou).numpy()
    else:
        keep = torchvision.ops.batched_nms(box_t, score_t, torch.from_numpy(labels[passed]), iou).numpy()
    expected = passed[keep][:max_det] if max_det is not None else passed[keep]
    assert sorted(restricted.keep.tolist()) == sorted(expected.tolist())
    direct = replay(inference, t, nms_trace)  # NMS run again on the filtered input, step by step
    assert direct.step_count == restricted.step_count
    for k in (0, restricted.step_count // 2, restricted.step_count):
        np.testing.assert_array_equal(restricted.states(k), direct.states(k))
