"""nms_trace against torchvision's own NMS, hand-computed cases and plain-Python references."""

import dataclasses
import math

import numpy as np
import pytest
import torch
import torchvision
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detviewer.core.types import NMSStep
from detviewer.ops.nms import nms_trace

# Three boxes, IoUs by hand (no +1 in widths):
#   A = (0, 0, 10, 10)  area 100
#   B = (2, 0, 12, 10)  area 100; A & B = 8 x 10 = 80, union 120 -> IoU(A, B) = 2/3
#   C = (0, 5, 10, 15)  area 100; A & C = 10 x 5 = 50, union 150 -> IoU(A, C) = 1/3
#                                 B & C = 8 x 5 = 40,  union 160 -> IoU(B, C) = 1/4
A, B, C = [0, 0, 10, 10], [2, 0, 12, 10], [0, 5, 10, 15]
BOXES3 = np.array([A, B, C], np.float32)


def reference_keep(boxes, scores, labels, iou_threshold, score_threshold=0.0, class_agnostic=False):
    """torchvision on the boxes passing the score filter, mapped back to input indices."""
    f = np.flatnonzero(np.asarray(scores) > score_threshold)
    b, s = torch.as_tensor(boxes[f]), torch.as_tensor(scores[f])
    if class_agnostic or labels is None:
        keep = torchvision.ops.nms(b, s, iou_threshold)
    else:
        keep = torchvision.ops.batched_nms(b, s, torch.as_tensor(labels[f]), iou_threshold)
    return f[keep.numpy()]


def greedy_reference(boxes, scores, labels, iou_threshold, score_threshold=0.0):
    """Greedy NMS from its definition, one box at a time, in plain Python.

    IoU with the CPU kernel's float32 arithmetic, compared in double; ties in score by
    input index (Python's sort is stable). Returns kept indices in processing order and
    {suppressed index: (suppressing index, IoU)}.
    """
    f32 = np.float32
    order = sorted((i for i in range(len(scores)) if scores[i] > score_threshold), key=lambda i: -scores[i])

    def iou(i, j):
        (ax1, ay1, ax2, ay2), (bx1, by1, bx2, by2) = (map(f32, boxes[i]), map(f32, boxes[j]))
        w = max(f32(0), min(ax2, bx2) - max(ax1, bx1))
        h = max(f32(0), min(ay2, by2) - max(ay1, by1))
        inter = w * h
        with np.errstate(invalid="ignore", divide="ignore"):
            return inter / ((ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter)

    kept, suppressed_by = [], {}
    for pos, i in enumerate(order):
        if i in suppressed_by:
            continue
        kept.append(i)
        for j in order[pos + 1:]:
            if j in suppressed_by or (labels is not None and labels[i] != labels[j]):
                continue
            ov = iou(i, j)
            if float(ov) > iou_threshold:
                suppressed_by[j] = (i, ov)
    return kept, suppressed_by


def assert_matches_greedy(trace, kept, suppressed_by):
    assert sorted(trace.keep.tolist()) == sorted(kept)
    assert [s.kept for s in trace.steps] == trace.keep.tolist()
    position = {i: p for p, i in enumerate(trace.order.tolist())}
    for step in trace.steps:
        expected = sorted((j for j, (i, _) in suppressed_by.items() if i == step.kept), key=position.get)
        assert step.suppressed.tolist() == expected
        np.testing.assert_array_equal(step.ious, [suppressed_by[j][1] for j in expected])


# -- hand-computed cases -----------------------------------------------------------------------

def test_three_boxes_by_hand():
    scores = np.array([0.9, 0.8, 0.7], np.float32)
    trace = nms_trace(BOXES3, scores, iou_threshold=0.5)
    # A kept; B suppressed (2/3 > 0.5); C survives A (1/3) and is kept.
    assert trace.keep.tolist() == [0, 2]
    assert trace.order.tolist() == [0, 1, 2]
    first, second = trace.steps
    assert (first.kept, first.suppressed.tolist(), second.kept, second.suppressed.tolist()) == (0, [1], 2, [])
    np.testing.assert_allclose(first.ious, [2 / 3], rtol=1e-6)
    assert first.score == pytest.approx(0.9)
    # state after 0, 1, 2 steps: 0 pending, 1 kept, 2 suppressed
    assert trace.state_at(0).tolist() == [0, 0, 0]
    assert trace.state_at(1).tolist() == [1, 2, 0]
    assert trace.state_at(2).tolist() == [1, 2, 1]

    assert nms_trace(BOXES3, scores, iou_threshold=0.3).keep.tolist() == [0]          # 2/3, 1/3 > 0.3
    assert nms_trace(BOXES3, scores, iou_threshold=0.7).keep.tolist() == [0, 1, 2]    # nothing > 0.7


def test_greedy_order_matters_by_hand():
    # B first: B suppresses A (2/3); C only overlaps the kept B by 1/4, so C stays although
    # IoU(A, C) = 1/3 > 0.3 - A was already gone.
    scores = np.array([0.8, 0.9, 0.7], np.float32)
    trace = nms_trace(BOXES3, scores, iou_threshold=0.3)
    assert trace.keep.tolist() == [1, 2]
    assert trace.steps[0].suppressed.tolist() == [0]
    assert trace.keep.tolist() == reference_keep(BOXES3, scores, None, 0.3).tolist()


def test_class_aware_by_hand():
    scores = np.array([0.9, 0.8, 0.7], np.float32)
    labels = np.array([0, 1, 0])
    trace = nms_trace(BOXES3, scores, labels, iou_threshold=0.3)
    # B has another class, so A only suppresses C (1/3 > 0.3).
    assert trace.keep.tolist() == [0, 1]
    assert trace.steps[0].suppressed.tolist() == [2]
    np.testing.assert_allclose(trace.steps[0].ious, [1 / 3], rtol=1e-6)
    agnostic = nms_trace(BOXES3, scores, labels, iou_threshold=0.3, class_agnostic=True)
    assert agnostic.keep.tolist() == [0] and agnostic.class_agnostic


def test_threshold_compared_in_double_like_the_kernel():
    # float32(50/150) = 0.33333334 > 1/3 in double, so torchvision suppresses C at threshold 1/3.
    boxes, scores = BOXES3[[0, 2]], np.array([0.9, 0.7], np.float32)
    keep = nms_trace(boxes, scores, iou_threshold=1 / 3).keep
    assert keep.tolist() == reference_keep(boxes, scores, None, 1 / 3).tolist() == [0]
    assert nms_trace(boxes, scores, iou_threshold=0.3334).keep.tolist() == [0, 1]


def test_score_filter_is_strictly_greater_like_torchvision_models():
    scores = np.array([0.5, 0.4, 0.6], np.float32)
    trace = nms_trace(BOXES3, scores, iou_threshold=0.5, score_threshold=0.5)
    assert trace.order.tolist() == [2]
    assert trace.keep.tolist() == [2]
    assert trace.state_at(1).tolist() == [3, 3, 1]  # 3 = filtered out by score


def test_identical_boxes_with_equal_scores_keep_the_lowest_index():
    boxes = np.array([A, A, A, B], np.float32)
    scores = np.full(4, 0.5, np.float32)
    trace = nms_trace(boxes, scores, iou_threshold=0.5)
    assert trace.keep.tolist() == reference_keep(boxes, scores, None, 0.5).tolist() == [0]
    assert trace.steps[0].suppressed.tolist() == [1, 2, 3]
    np.testing.assert_allclose(trace.steps[0].ious, [1, 1, 2 / 3], rtol=1e-6)


def test_thresholds_zero_and_one():
    touching = np.array([[0, 0, 10, 10], [10, 0, 20, 10], [9, 0, 19, 10]], np.float32)
    scores = np.array([0.9, 0.8, 0.7], np.float32)
    # threshold 0: a shared edge is IoU 0 (kept), any overlap suppresses
    assert nms_trace(touching, scores, iou_threshold=0.0).keep.tolist() == [0, 1]
    # threshold 1: even identical boxes (IoU exactly 1) survive
    same = np.array([A, A], np.float32)
    assert nms_trace(same, scores[:2], iou_threshold=1.0).keep.tolist() == [0, 1]


def test_degenerate_boxes_never_suppress():
    boxes = np.array([[5, 5, 5, 5], [5, 5, 5, 5], [0, 0, 10, 0], [0, 0, 10, 10]], np.float32)
    scores = np.array([0.9, 0.8, 0.7, 0.6], np.float32)
    trace = nms_trace(boxes, scores, iou_threshold=0.0)  # IoU 0/0 is NaN, not > 0
    assert trace.keep.tolist() == reference_keep(boxes, scores, None, 0.0).tolist() == [0, 1, 2, 3]


def test_empty_single_and_all_filtered():
    empty = nms_trace(np.zeros((0, 4), np.float32), np.zeros(0, np.float32))
    assert empty.keep.dtype == np.int64 and len(empty.keep) == 0 and empty.steps == ()
    assert empty.state_at(0).shape == (0,)
    one = nms_trace([[1, 2, 3, 4]], [0.5], [7])
    assert one.keep.tolist() == [0] and one.steps[0].suppressed.tolist() == []
    none = nms_trace(BOXES3, [0.1, 0.2, 0.3], score_threshold=0.5)
    assert none.keep.tolist() == [] and none.state_at(0).tolist() == [3, 3, 3]


def test_max_detections_truncates_keep_and_steps():
    boxes = np.array([[10 * i, 0, 10 * i + 5, 5] for i in range(6)], np.float32)
    scores = np.linspace(0.9, 0.4, 6).astype(np.float32)
    trace = nms_trace(boxes, scores, max_detections=4)
    assert trace.keep.tolist() == [0, 1, 2, 3] and len(trace.steps) == 4


def test_torch_and_float64_inputs_match_torchvision():
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 50, (200, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(1, 30, (200, 2))], 1)  # float64
    scores = rng.uniform(0, 1, 200)
    labels = rng.integers(0, 3, 200)
    trace = nms_trace(torch.from_numpy(boxes), torch.from_numpy(scores), torch.from_numpy(labels), iou_threshold=0.4)
    assert trace.keep.tolist() == reference_keep(boxes, scores, labels, 0.4).tolist()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_tensors_are_copied_to_the_cpu():
    boxes = torch.tensor(BOXES3, device="cuda")
    trace = nms_trace(boxes, torch.tensor([0.9, 0.8, 0.7], device="cuda"), torch.zeros(3, device="cuda"))
    assert trace.keep.tolist() == [0, 2]


@pytest.mark.parametrize("kwargs, match", [
    ({"boxes": [[0, 0, 1]]}, "shape"),
    ({"scores": [0.5, 0.5]}, "entries"),
    ({"labels": [1, 2]}, "entries"),
    ({"scores": [float("nan")]}, "finite"),
    ({"method": "fancy"}, "method"),
    ({"iou_threshold": -0.1}, "iou_threshold"),
    ({"method": "gaussian", "sigma": 0.0}, "sigma"),
    ({"max_detections": -1}, "max_detections"),
])
def test_bad_arguments_raise_value_error(kwargs, match):
    args = {"boxes": [[0, 0, 1, 1]], "scores": [0.5], "labels": None, **kwargs}
    with pytest.raises(ValueError, match=match):
        nms_trace(args.pop("boxes"), args.pop("scores"), args.pop("labels"), **args)


def test_recorded_steps_are_whole_frozen_nmssteps():
    """The trace builds its steps without the dataclass __init__ (speed): they must still be complete NMSSteps."""
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    trace = nms_trace(boxes, np.array([0.9, 0.8, 0.7], np.float32), iou_threshold=0.5)
    step = trace.steps[0]
    assert type(step) is NMSStep
    rebuilt = NMSStep(**{f.name: getattr(step, f.name) for f in dataclasses.fields(NMSStep)})
    for f in dataclasses.fields(NMSStep):
        np.testing.assert_array_equal(getattr(step, f.name), getattr(rebuilt, f.name))
    assert step.kept == 0 and step.suppressed.tolist() == [1] and step.score == pytest.approx(0.9)
    with pytest.raises(dataclasses.FrozenInstanceError):
        step.kept = 1


# -- property tests against torchvision and the plain-Python greedy reference ------------------

half = st.integers(0, 40).map(lambda v: v / 2)  # exact in float32, also after batched_nms' offsets
size = st.integers(0, 24).map(lambda v: v / 2)
box = st.tuples(half, half, size, size).map(lambda t: [t[0], t[1], t[0] + t[2], t[1] + t[3]])
score = st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0])  # few values: many ties
threshold = st.one_of(st.sampled_from([0.0, 0.25, 1 / 3, 0.5, 0.7, 1.0]), st.floats(0, 1))


@st.composite
def nms_inputs(draw):
    pool = draw(st.lists(box, min_size=1, max_size=6))
    boxes = draw(st.lists(st.one_of(box, st.sampled_from(pool)), max_size=40))  # duplicates
    n = len(boxes)
    scores = draw(st.lists(score, min_size=n, max_size=n))
    labels = draw(st.one_of(st.none(), st.lists(st.integers(0, 2), min_size=n, max_size=n)))
    return (np.array(boxes, np.float32).reshape(-1, 4), np.array(scores, np.float32),
            None if labels is None else np.array(labels, np.int64))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nms_inputs(), threshold, st.sampled_from([0.0, 0.1, 0.5]), st.booleans())
def test_hard_nms_matches_torchvision_and_greedy_definition(data, iou_threshold, score_threshold, agnostic):
    boxes, scores, labels = data
    trace = nms_trace(boxes, scores, labels, iou_threshold=iou_threshold,
                      score_threshold=score_threshold, class_agnostic=agnostic)
    expected = reference_keep(boxes, scores, labels, iou_threshold, score_threshold, agnostic)
    np.testing.assert_array_equal(trace.keep, expected)
    assert trace.keep.dtype == np.int64
    kept, suppressed_by = greedy_reference(boxes, scores, None if agnostic else labels, iou_threshold, score_threshold)
    assert_matches_greedy(trace, kept, suppressed_by)


def clustered(seed, n, classes, jitter):
    rng = np.random.default_rng(seed)
    centre = np.repeat(rng.uniform(0, 300, (n // 10 + 1, 2)), 10, 0)[:n]
    wh = np.repeat(rng.uniform(4, 60, (n // 10 + 1, 2)), 10, 0)[:n]
    centre = centre + rng.normal(0, jitter, centre.shape) * wh
    boxes = np.concatenate([centre - wh / 2, centre + wh / 2], 1).astype(np.float32)
    scores = (rng.integers(1, 21, n) / 20).astype(np.float32)
    return boxes, scores, rng.integers(0, classes, n)


@settings(max_examples=12, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1001, 1500), st.integers(1, 6),
       st.sampled_from([0.0, 0.3, 0.5, 0.7]), st.sampled_from([0.0, 0.02, 0.1]))
def test_many_boxes_per_class_loop_path(seed, n, classes, iou_threshold, jitter):
    # > 1,000 boxes: batched_nms runs one nms() per class and sorts keep with an unstable sort
    boxes, scores, labels = clustered(seed, n, classes, jitter)
    for agnostic in (False, True):
        trace = nms_trace(boxes, scores, labels, iou_threshold=iou_threshold, class_agnostic=agnostic)
        np.testing.assert_array_equal(trace.keep, reference_keep(boxes, scores, labels, iou_threshold, 0.0, agnostic))
        assert_first_suppressor(trace, boxes, None if agnostic else labels, iou_threshold)


def assert_first_suppressor(trace, boxes, labels, iou_threshold):
    """Every filtered-in box not kept is suppressed once, by the first kept box before it (same
    class) with IoU > threshold - IoU from torchvision's box_iou, same float32 arithmetic."""
    if len(trace.keep) == 0:
        assert len(trace.order) == 0 and trace.steps == ()
        return
    rank = np.empty(len(boxes), np.int64)
    rank[trace.order] = np.arange(len(trace.order))
    iou = torchvision.ops.box_iou(torch.from_numpy(boxes[trace.keep]), torch.from_numpy(boxes)).numpy()
    over = iou.astype(np.float64) > iou_threshold
    over &= rank[trace.keep][:, None] < rank[None, :]
    if labels is not None:
        over &= labels[trace.keep][:, None] == labels[None, :]
    over[:, trace.keep] = False
    # first kept box (by rank) overlapping each box
    by_rank = np.argsort(rank[trace.keep])
    first = np.full(len(boxes), -1)
    hit = over[by_rank].any(0)
    first[hit] = trace.keep[by_rank][over[by_rank].argmax(0)[hit]]
    got = np.full(len(boxes), -1)
    for step in trace.steps:
        assert np.all(got[step.suppressed] == -1)
        got[step.suppressed] = step.kept
    np.testing.assert_array_equal(got, first)
    lost = np.setdiff1d(trace.order, trace.keep)
    assert np.all(got[lost] >= 0)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 300), st.floats(0, 1), st.booleans())
def test_real_valued_boxes_keep_matches_torchvision(seed, n, iou_threshold, agnostic):
    # unrounded coordinates: batched_nms' coordinate offsets change the rounding
    rng = np.random.default_rng(seed)
    xy = rng.uniform(-20, 200, (n, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(0, 60, (n, 2))], 1).astype(np.float32)
    scores = rng.uniform(0, 1, n).astype(np.float32)
    labels = rng.integers(0, 4, n)
    trace = nms_trace(boxes, scores, labels, iou_threshold=iou_threshold, class_agnostic=agnostic)
    np.testing.assert_array_equal(trace.keep, reference_keep(boxes, scores, labels, iou_threshold, 0.0, agnostic))
    suppressed = np.concatenate([s.suppressed for s in trace.steps] + [np.zeros(0, np.int64)])
    assert sorted(suppressed.tolist() + trace.keep.tolist()) == sorted(trace.order.tolist())
    for step in trace.steps:
        assert np.all(step.ious.astype(np.float64) > iou_threshold)


# -- Soft-NMS against the paper's algorithm ----------------------------------------------------

def soft_nms_reference(boxes, scores, labels, method, iou_threshold, sigma, score_threshold):
    """Soft-NMS, Bodla et al. 2017, Algorithm 1, in plain Python floats.

    Repeatedly take the highest-scoring remaining box M (ties: earlier in the stable
    descending order of the original scores) and rescale every remaining box b of its class:
    linear s *= 1 - iou(M, b) if iou > Nt; gaussian s *= exp(-iou^2 / sigma). A box whose
    score is no longer > score_threshold is dropped. Returns (picked indices, final scores).
    """
    def iou(p, q):
        w = max(0.0, min(p[2], q[2]) - max(p[0], q[0]))
        h = max(0.0, min(p[3], q[3]) - max(p[1], q[1]))
        inter = w * h
        union = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - inter
        return inter / union if union > 0 else float("nan")

    boxes = [[float(v) for v in b] for b in boxes]
    s = [float(v) for v in scores]
    # the first filter compares in float32, like torch: float32(0.1) > 0.1 is False
    order = sorted((i for i in range(len(s)) if np.float32(s[i]) > np.float32(score_threshold)), key=lambda i: -s[i])
    position = {i: p for p, i in enumerate(order)}
    remaining, picked = list(order), []
    while remaining:
        m = max(remaining, key=lambda i: (s[i], -position[i]))
        picked.append(m)
        remaining.remove(m)
        for i in list(remaining):
            if labels is not None and labels[i] != labels[m]:
                continue
            ov = iou(boxes[m], boxes[i])
            if method == "linear" and ov > iou_threshold:
                s[i] *= 1.0 - ov
            elif method == "gaussian" and ov > 0:
                s[i] *= math.exp(-(ov * ov) / sigma)
            if s[i] <= score_threshold:
                remaining.remove(i)
    return picked, s


def test_soft_nms_linear_by_hand():
    # A (0.9) is picked; B decays by 1 - 2/3 to 0.8/3, C (IoU 1/3 <= 0.5) keeps 0.7.
    trace = nms_trace(BOXES3, [0.9, 0.8, 0.7], iou_threshold=0.5, method="linear")
    assert trace.keep.tolist() == [0, 2, 1]
    np.testing.assert_allclose(trace.scores, [0.9, 0.8 / 3, 0.7], rtol=1e-6)
    assert trace.steps[0].decayed.tolist() == [1] and trace.steps[0].suppressed.tolist() == []
    # with score_threshold 0.3 the decayed B (0.267) is suppressed at the first step
    trace = nms_trace(BOXES3, [0.9, 0.8, 0.7], iou_threshold=0.5, method="linear", score_threshold=0.3)
    assert trace.keep.tolist() == [0, 2] and trace.steps[0].suppressed.tolist() == [1]
    np.testing.assert_allclose(trace.steps[0].ious, [2 / 3], rtol=1e-6)


def test_soft_nms_gaussian_by_hand():
    trace = nms_trace(BOXES3, [0.9, 0.8, 0.7], method="gaussian", sigma=0.5)
    # A picked: B -> 0.8 exp(-(2/3)^2 / 0.5) = 0.8 * 0.4111 = 0.3289, C -> 0.7 exp(-(1/3)^2 / 0.5) = 0.5605
    # C picked next: B -> 0.3289 exp(-(1/4)^2 / 0.5) = 0.3289 * 0.8825 = 0.2902; then B
    c = 0.7 * math.exp(-(1 / 3) ** 2 / 0.5)
    b = 0.8 * math.exp(-(2 / 3) ** 2 / 0.5) * math.exp(-(1 / 4) ** 2 / 0.5)
    assert trace.keep.tolist() == [0, 2, 1]
    np.testing.assert_allclose(trace.scores, [0.9, b, c], rtol=1e-6)
    np.testing.assert_allclose([b, c], [0.2902, 0.5605], atol=1e-4)  # the numbers above


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nms_inputs(), st.sampled_from(["linear", "gaussian"]), threshold, st.sampled_from([0.3, 0.5, 1.0]),
       st.sampled_from([0.0, 0.05, 0.3]), st.booleans())
def test_soft_nms_matches_reference(data, method, iou_threshold, sigma, score_threshold, agnostic):
    boxes, scores, labels = data
    trace = nms_trace(boxes, scores, labels, iou_threshold=iou_threshold, method=method, sigma=sigma,
                      score_threshold=score_threshold, class_agnostic=agnostic)
    picked, final = soft_nms_reference(boxes, scores, None if agnostic else labels, method, iou_threshold,
                                       sigma, score_threshold)
    assert trace.keep.tolist() == picked
    np.testing.assert_allclose(trace.scores, np.array(final, np.float32), rtol=1e-5, atol=1e-7)
    assert [s.kept for s in trace.steps] == picked
    assert all(np.all(trace.scores[s.suppressed] <= score_threshold + 1e-7) for s in trace.steps)
