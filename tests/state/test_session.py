"""Session state (Qt-free): thresholds replay NMS on stored candidates; the stepper walks nms_trace."""

from __future__ import annotations

import numpy as np
import pytest

from detviewer.ops.nms import nms_trace
from detviewer.state.session import FILTERED, KEPT, PENDING, SUPPRESSED, Session, Thresholds
from detviewer.core.types import Detections, Inference, NMSParams

NAMES = ("__background__", "cat", "dog")
# Hand-computed IoUs (no +1): A-B 8100/11900 = 0.681, A-C 4900/15100 = 0.325, B-C 6400/13600 = 0.471,
# D-E 9025/10975 = 0.822 (D is a dog, E a cat).
BOXES = np.array([[10, 10, 110, 110], [20, 20, 120, 120], [40, 40, 140, 140],
                  [200, 50, 300, 150], [205, 55, 305, 155]], np.float32)
SCORES = np.array([0.9, 0.8, 0.7, 0.6, 0.3], np.float32)
LABELS = np.array([1, 1, 1, 2, 1], np.int64)
A, B, C, D, E = range(5)


def inference(max_detections=None) -> Inference:
    cand = Detections(BOXES, SCORES, LABELS, NAMES)
    return Inference("fake", (240, 320), cand, cand, nms=NMSParams(0.5, 0.2, False, max_detections))


def session(**thresholds) -> Session:
    s = Session(Thresholds(**{"score": 0.2, **thresholds}))
    s.set_inference(inference())
    return s


@pytest.mark.parametrize("iou, agnostic, kept", [
    (0.3, False, [A, D, E]),      # A suppresses B (0.68) and C (0.32)
    (0.5, False, [A, C, D, E]),   # C survives (0.32 with A)
    (0.7, False, [A, B, C, D, E]),  # 0.68 < 0.7: nothing suppressed
    (0.5, True, [A, C, D]),       # class-agnostic: the dog D suppresses the cat E (0.82)
])
def test_kept_set_follows_thresholds(iou, agnostic, kept):
    s = session()
    changed = s.set_thresholds(iou=iou, class_agnostic=agnostic)
    assert changed or (iou, agnostic) == (0.5, False)
    assert sorted(s.kept().tolist()) == kept


def test_score_filter_is_strict_and_marks_filtered():
    s = session(score=0.6)  # D's score is exactly 0.6: filtered out (score > threshold)
    assert sorted(s.kept().tolist()) == [A, C]
    assert s.states()[D] == FILTERED and s.states()[E] == FILTERED


def test_stepper_states_match_nms_trace_state_at():
    s = session(iou=0.3)
    ref = nms_trace(BOXES, SCORES, LABELS, iou_threshold=0.3, score_threshold=0.2, class_agnostic=False)
    s.set_step_mode(True)
    assert s.step == 0 and (s.states() == PENDING).all()
    for k in range(1, s.step_count + 1):
        s.step_forward()
        np.testing.assert_array_equal(s.states(), ref.state_at(k))
    s.step_forward()  # past the end: stays at the end
    assert s.step == s.step_count == 3
    np.testing.assert_array_equal(s.states(), [KEPT, SUPPRESSED, SUPPRESSED, KEPT, KEPT])
    assert s.suppressed_by(B) == (1, pytest.approx(8100 / 11900, abs=1e-6))
    assert s.suppressed_by(C) == (1, pytest.approx(4900 / 15100, abs=1e-6))
    assert s.suppressed_by(A) is None


def test_narration_names_the_kept_box_and_suppressions():
    s = session(iou=0.3)
    s.set_step_mode(True)
    assert s.narration().startswith("Start: 5 candidates above score 0.20")
    s.step_forward()
    assert s.narration() == "Step 1: keep 'cat' 0.90; suppress 2 boxes of class 'cat' with IoU > 0.30 against it"
    s.to_end()
    assert s.narration().endswith("Done: 3 kept.")
    s.set_step_mode(False)
    assert s.narration().startswith("Final result: 3 of 5 candidates above score 0.20 kept by hard NMS at IoU > 0.30")


def test_thresholds_change_in_step_mode_keeps_the_step_clamped():
    s = session(iou=0.7)  # 5 steps
    s.set_step_mode(True)
    s.set_step(4)
    s.set_thresholds(iou=0.3)  # 3 steps now
    assert s.step == 3
    s.set_step_mode(False)
    assert s.step == s.step_count


def test_listeners_hear_each_change_and_no_change_is_silent():
    s = session()
    heard = []
    s.subscribe(heard.append)
    assert not s.set_thresholds(iou=0.5)
    s.set_thresholds(iou=0.4)
    s.set_step_mode(True)
    s.select(D)
    s.select(99)  # out of range: clears the selection
    assert heard == ["trace", "step", "selection", "selection"]
    assert s.selected is None


def test_max_detections_caps_kept_boxes():
    s = Session(Thresholds(score=0.2, iou=0.7))
    s.set_inference(inference(max_detections=2))
    assert s.kept().tolist() == [A, B]


def test_soft_nms_reports_decayed_scores():
    s = session(method="linear", iou=0.3)
    # Linear Soft-NMS by hand: keep A (0.9); B 0.8 -> 0.8 (1 - 0.681) = 0.255, C 0.7 -> 0.7 (1 - 0.325) = 0.473;
    # keep D (0.6); keep C (0.473): B 0.255 -> 0.255 (1 - 0.471) = 0.135 <= 0.2, dropped; keep E (0.3).
    assert s.kept().tolist() == [A, D, C, E]
    det = s.kept_detections()
    assert det.scores[2] == pytest.approx(0.7 * (1 - 4900 / 15100), abs=1e-4)
    assert s.states()[B] == SUPPRESSED and s.suppressed_by(B)[0] == 3


def test_empty_and_missing_inference():
    s = Session()
    assert s.kept().size == 0 and s.narration() == "No result yet."
    empty = Detections.empty(NAMES)
    s.set_inference(Inference("fake", (10, 10), empty, empty))
    assert s.step_count == 0 and s.kept().size == 0
    assert "No candidate passes" in s.narration()


def test_thresholds_reject_unknown_method():
    with pytest.raises(ValueError):
        Thresholds(method="fancy")
