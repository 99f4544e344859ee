import numpy as np
import pytest

from detviewer.core.types import AnchorSet, Detections, NMSStep, NMSTrace


def _dets(n=3):
    xyxy = np.arange(n * 4, dtype=np.float64).reshape(n, 4)
    return Detections(xyxy, np.linspace(0.9, 0.1, n), np.arange(n), ("bg", "cat", "dog"))


def test_detections_coerce_dtypes_and_select_by_mask_index_and_slice():
    d = _dets()
    assert d.xyxy.dtype == np.float32 and d.scores.dtype == np.float32 and d.labels.dtype == np.int64
    assert len(d) == 3
    masked = d[d.scores > 0.4]
    assert len(masked) == 2 and masked.labels.tolist() == [0, 1]
    assert d[np.array([2, 0])].labels.tolist() == [2, 0]
    assert len(d[1]) == 1 and d[1].xyxy.shape == (1, 4)
    assert d[1:].class_names == ("bg", "cat", "dog")


def test_detections_validate_shapes_with_clear_errors():
    with pytest.raises(ValueError, match=r"shape \(N, 4\)"):
        Detections(np.zeros((2, 3)), np.zeros(2), np.zeros(2))
    with pytest.raises(ValueError, match="scores must have 2 entries"):
        Detections(np.zeros((2, 4)), np.zeros(3), np.zeros(2))
    assert len(Detections.empty()) == 0 and Detections.empty().xyxy.shape == (0, 4)


def test_name_of_falls_back_for_unknown_labels():
    d = _dets()
    assert d.name_of(2) == "dog" and d.name_of(7) == "class 7"


def test_anchor_set_checks_its_count_and_finds_a_cell():
    boxes = np.arange(2 * 3 * 2 * 4, dtype=np.float32).reshape(12, 4)
    a = AnchorSet(level=0, boxes=boxes, feature_size=(2, 3), stride=(8, 8), anchors_per_location=2)
    # cell (1, 2) is the last location: rows 10 and 11
    np.testing.assert_array_equal(a.at_cell(1, 2), boxes[10:12])
    with pytest.raises(ValueError, match="do not match a 2x3 map"):
        AnchorSet(level=0, boxes=boxes[:5], feature_size=(2, 3), stride=(8, 8), anchors_per_location=2)


def test_nms_trace_state_at_each_step():
    steps = (NMSStep(kept=2, suppressed=np.array([0]), ious=np.array([0.8])),
             NMSStep(kept=1, suppressed=np.array([], np.int64), ious=np.array([])))
    trace = NMSTrace(order=np.array([2, 0, 1]), steps=steps, keep=np.array([2, 1]),
                     scores=np.array([0.5, 0.4, 0.9, 0.01]), iou_threshold=0.5, score_threshold=0.1)
    assert trace.state_at(0).tolist() == [0, 0, 0, 3]
    assert trace.state_at(1).tolist() == [2, 0, 1, 3]
    assert trace.state_at(2).tolist() == [2, 1, 1, 3]


def test_deferred_anchors_build_once_on_first_use_from_any_thread():
    import threading

    from detviewer.core.types import AnchorSet, DeferredAnchors

    calls = []

    def build():
        calls.append(1)
        return [AnchorSet(level=k, boxes=np.array([[0, 0, 4 * (k + 1), 4 * (k + 1)]], np.float32), feature_size=(1, 1),
                          stride=(4.0, 4.0), anchors_per_location=1) for k in range(3)]

    anchors = DeferredAnchors(3, build)
    assert len(anchors) == 3 and bool(anchors) and calls == []  # counting levels builds nothing
    threads = [threading.Thread(target=lambda: list(anchors)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [1] and anchors[2].boxes[0, 2] == 12.0 and [a.level for a in anchors] == [0, 1, 2]
    with pytest.raises(ValueError, match="2 anchor levels were built, 3 announced"):
        list(DeferredAnchors(3, lambda: build()[:2]))
