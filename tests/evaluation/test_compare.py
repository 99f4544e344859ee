"""A / B comparison: the Δ table and the per-image Δ on a hand-made case (every number worked out by hand
below), and properties on the random COCO cases (swapping A and B negates every Δ)."""

from __future__ import annotations

import numpy as np
import pytest
from eval_synthetic import coco_case

from detviewer.core.metrics import DetectionBoxes, GroundTruthBoxes
from detviewer.evaluation.compare import Comparison
from detviewer.io.annotations import coco_gt_from_dict
from detviewer.io.coco_results import coco_results_from_list

CAT, DOG = 0, 1


def _gt(rows) -> GroundTruthBoxes:
    img, cls, xywh = zip(*rows)
    n = len(rows)
    return GroundTruthBoxes(image_index=img, category_index=cls, xywh=np.array(xywh, float),
                            area=np.array([w * h for _, _, w, h in xywh], float), crowd=np.zeros(n, bool),
                            difficult=np.zeros(n, bool), ids=np.arange(1, n + 1))


def _dt(rows) -> DetectionBoxes:
    img, cls, xywh, score = zip(*rows)
    return DetectionBoxes(image_index=img, category_index=cls, xywh=np.array(xywh, float), scores=score)


# Four images: 0 a cat, 1 a dog and a cat, 2 nothing, 3 a dog. Every true positive is an exact box (IoU 1), so
# AP is the same at every IoU threshold and AP = AP50.
GT = _gt([(0, CAT, (0, 0, 10, 10)), (1, DOG, (0, 0, 10, 10)), (1, CAT, (20, 20, 10, 10)), (3, DOG, (0, 0, 10, 10))])
A = _dt([(0, CAT, (0, 0, 10, 10), 0.9),      # a0 TP g0
         (1, DOG, (0, 0, 10, 10), 0.8),      # a1 TP g1
         (1, CAT, (50, 50, 10, 10), 0.7),    # a2 FP (background); g2 missed
         (3, DOG, (0, 0, 10, 10), 0.6)])     # a3 TP g3
B = _dt([(0, CAT, (30, 30, 10, 10), 0.9),    # b0 FP; g0 missed
         (1, DOG, (0, 0, 10, 10), 0.6),      # b1 TP g1
         (1, CAT, (20, 20, 10, 10), 0.5),    # b2 TP g2
         (2, DOG, (0, 0, 5, 5), 0.4),        # b3 FP on the empty image
         (2, DOG, (50, 50, 5, 5), 0.35),     # b4 FP on the empty image
         (3, DOG, (40, 40, 10, 10), 0.97),   # b5 FP, scored above ...
         (3, DOG, (0, 0, 10, 10), 0.45)])    # b6 ... this TP g3


@pytest.fixture(scope="module")
def comparison():
    return Comparison.from_boxes(GT, A, B, 4, ("cat", "dog"))


def test_class_deltas_by_hand(comparison):
    c = comparison.at(0.3).classes
    # A cat: TP, FP over 2 objects -> precision 1 up to recall 0.5: 51 of the 101 recall points.
    # B cat: FP, TP -> precision 0.5 up to recall 0.5. A dog: TP, TP -> 1.
    # B dog: FP .97, TP .6, TP .45, FP, FP -> envelope 2/3 at every recall point.
    np.testing.assert_allclose(c.ap_a, [51 / 101, 1.0])
    np.testing.assert_allclose(c.ap_b, [25.5 / 101, 2 / 3])
    np.testing.assert_allclose(c.d_ap, [-25.5 / 101, -1 / 3])
    np.testing.assert_allclose(c.d_ap50, c.d_ap)
    np.testing.assert_allclose(c.recall_a, [0.5, 1.0])
    np.testing.assert_allclose(c.d_recall, [0.0, 0.0])


def test_each_side_counts_recall_at_its_own_threshold(comparison):
    snap = comparison.at(0.3, 0.55)
    assert snap.score_thresholds == (0.3, 0.55)
    # B above 0.55: cat b0 (FP) only -> recall 0; dog b5 (FP), b1 (TP) -> 1 of 2.
    np.testing.assert_allclose(snap.classes.recall_b, [0.0, 0.5])
    np.testing.assert_allclose(snap.classes.d_recall, [-0.5, -0.5])
    np.testing.assert_allclose(snap.classes.d_ap, comparison.at(0.3).classes.d_ap)  # AP: all scores


def test_image_deltas_by_hand(comparison):
    im = comparison.at(0.3).images
    # image 0: A 1 TP; B 1 FP + 1 missed.  image 1: A dog TP, cat FP + missed; B both TP.
    # image 2 (no objects): B 2 FP.  image 3: A TP; B an FP scored above its TP (AP 0.5).
    np.testing.assert_allclose(im.ap_a, [1.0, 0.5, np.nan, 1.0])
    np.testing.assert_allclose(im.ap_b, [0.0, 1.0, np.nan, 0.5])
    np.testing.assert_array_equal(im.net_a, [1, -1, 0, 1])
    np.testing.assert_array_equal(im.net_b, [-2, 2, -2, 0])
    np.testing.assert_array_equal(im.d_net, [-3, 3, -2, -1])
    np.testing.assert_array_equal(im.a_only, [1, 0, 0, 0])
    np.testing.assert_array_equal(im.b_only, [0, 1, 0, 0])
    # ΔAP -1, +0.5, none (counts 0), -0.5  |  Δnet -3, +3, -2, -1
    np.testing.assert_array_equal(im.worst_first("ap"), [0, 3, 2, 1])
    np.testing.assert_array_equal(im.worst_first("net"), [0, 2, 3, 1])
    with pytest.raises(ValueError):
        im.worst_first("f1")


def test_objects_found_by_one_side_only(comparison):
    snap = comparison.at(0.3)
    zero = snap.objects(0)
    np.testing.assert_array_equal(zero.a_only, [0])
    np.testing.assert_array_equal(zero.a_only_det, [0])  # a0 found g0; B missed it
    assert zero.b_only.size == 0 and zero.b_only_det.size == 0
    one = snap.objects(1)
    np.testing.assert_array_equal(one.b_only, [2])
    np.testing.assert_array_equal(one.b_only_det, [2])  # b2 found g2; A missed it
    assert one.a_only.size == 0
    assert all(snap.objects(i).a_only.size == snap.objects(i).b_only.size == 0 for i in (2, 3))
    # B above 0.55 loses g2 (b2 scores 0.5) and g3 (b6 scores 0.45), which A found
    strict = comparison.at(0.3, 0.55)
    np.testing.assert_array_equal(strict.objects(3).a_only, [3])
    np.testing.assert_array_equal(strict.objects(3).a_only_det, [3])
    assert strict.objects(1).b_only.size == 0
    a_only, b_only = strict.found_only()
    np.testing.assert_array_equal(a_only, [0, 3])
    assert b_only.size == 0


def test_error_breakdowns_of_both_sides(comparison):
    snap = comparison.at(0.3)
    # A: a2 background, g2 missed. B: b0, b3, b4, b5 background, g0 missed.
    assert snap.tide_a.counts == {"cls": 0, "loc": 0, "both": 0, "dupe": 0, "bkg": 1, "missed": 1}
    assert snap.tide_b.counts == {"cls": 0, "loc": 0, "both": 0, "dupe": 0, "bkg": 4, "missed": 1}
    for kind, delta in snap.error_deltas.items():
        assert delta == pytest.approx(snap.tide_b.main_dap[kind] - snap.tide_a.main_dap[kind])


@pytest.fixture(scope="module", params=[0, 1])
def random_pair(request):
    gt, results = coco_case(request.param)
    _, other = coco_case(request.param + 10)
    g = coco_gt_from_dict(gt)
    ra, rb = coco_results_from_list(results, g), coco_results_from_list(other, g)
    return g, Comparison.from_boxes(g.boxes, ra.boxes, rb.boxes, g.num_images, g.category_names), \
        Comparison.from_boxes(g.boxes, rb.boxes, ra.boxes, g.num_images, g.category_names)


def test_swapping_a_and_b_negates_every_delta(random_pair):
    _, ab, ba = random_pair
    s, t = ab.at(0.3, 0.6), ba.at(0.6, 0.3)
    np.testing.assert_allclose(s.classes.d_ap, -t.classes.d_ap)
    np.testing.assert_allclose(s.classes.d_recall, -t.classes.d_recall)
    np.testing.assert_allclose(s.images.d_ap, -t.images.d_ap)
    np.testing.assert_array_equal(s.images.d_net, -t.images.d_net)
    np.testing.assert_array_equal(s.images.a_only, t.images.b_only)
    for kind in s.error_deltas:
        assert s.error_deltas[kind] == pytest.approx(-t.error_deltas[kind])


def test_found_only_agrees_with_the_true_positive_counts(random_pair):
    """Each true positive finds one object, so per image A-only minus B-only objects = TP_A - TP_B; and
    every A-only object's detection is an A detection above the threshold on that image matched to it."""
    g, ab, _ = random_pair
    s = ab.at(0.25, 0.5)
    np.testing.assert_array_equal(s.images.a_only - s.images.b_only, s.images.tp_a - s.images.tp_b)
    dt_a, m_a = ab.a.dt, s.a.matching
    for image in np.flatnonzero(s.images.a_only):
        diff = s.objects(image)
        assert (g.boxes.image_index[diff.a_only] == image).all()
        assert (m_a.det_gt[diff.a_only_det] == diff.a_only).all() and (dt_a.scores[diff.a_only_det] > 0.25).all()
        assert not (s.b.matching.gt_score[diff.a_only] > 0.5).any()


def test_a_and_b_need_the_same_ground_truth():
    other = _gt([(0, CAT, (0, 0, 10, 10)), (1, DOG, (0, 0, 10, 10)), (1, CAT, (20, 20, 10, 10)),
                 (3, DOG, (0, 0, 12, 10))])
    from detviewer.evaluation.dataset_evaluation import DatasetEvaluation

    with pytest.raises(ValueError, match="same ground truth"):
        Comparison(DatasetEvaluation(GT, A, 4, ("cat", "dog")), DatasetEvaluation(other, B, 4, ("cat", "dog")))


def test_changes_list_every_object_fixed_and_broken_most_confident_first(comparison):
    changes = comparison.at(0.3).changes()
    # B's b2 (0.5) finds the cat g2 A missed; A's a0 (0.9) finds the cat g0 B missed
    np.testing.assert_array_equal(changes.fixed.gt, [2])
    np.testing.assert_array_equal(changes.fixed.det, [2])
    np.testing.assert_array_equal(changes.fixed.image, [1])
    np.testing.assert_array_equal(changes.fixed.category, [CAT])
    np.testing.assert_allclose(changes.fixed.score, [0.5])
    np.testing.assert_array_equal(changes.broken.gt, [0])
    np.testing.assert_allclose(changes.broken.score, [0.9])
    # B above 0.55 also loses g3 (a3, 0.6) and no longer finds g2: A's more confident find first
    strict = comparison.at(0.3, 0.55).changes()
    np.testing.assert_array_equal(strict.broken.gt, [0, 3])
    np.testing.assert_array_equal(strict.broken.det, [0, 3])
    np.testing.assert_allclose(strict.broken.score, [0.9, 0.6])
    assert len(strict.fixed) == 0 and strict.fixed.image.size == 0


def test_changes_agree_with_found_only_and_each_finders_matching(random_pair):
    g, ab, _ = random_pair
    s = ab.at(0.25, 0.5)
    changes = s.changes()
    a_only, b_only = s.found_only()
    np.testing.assert_array_equal(np.sort(changes.broken.gt), a_only)
    np.testing.assert_array_equal(np.sort(changes.fixed.gt), b_only)
    for found, snap, threshold in ((changes.fixed, s.b, 0.5), (changes.broken, s.a, 0.25)):
        assert (np.diff(found.score) <= 0).all()
        assert (snap.matching.det_gt[found.det] == found.gt).all() and (found.score > threshold).all()
        np.testing.assert_array_equal(found.image, g.boxes.image_index[found.gt])
        np.testing.assert_array_equal(snap.evaluation.dt.image_index[found.det], found.image)
    assert len(changes.fixed) == int(s.images.b_only.sum()) and len(changes.broken) == int(s.images.a_only.sum())


def test_the_interval_is_computed_once_and_ready_after_precompute(random_pair):
    _, ab, _ = random_pair
    fresh = Comparison(ab.a, ab.b)
    assert fresh.bootstrap_ready(40) is None
    fresh.precompute(0.5, bootstrap=40)
    ready = fresh.bootstrap_ready(40)
    assert ready is not None and ready is fresh.bootstrap(40) and ready.resamples == 40
    assert fresh.bootstrap(40, seed=1) is not ready
    stats_a, stats_b = ab.a.coco.stats, ab.b.coco.stats
    assert ready.ap.delta == stats_b["AP"] - stats_a["AP"] and ready.ap50.delta == stats_b["AP50"] - stats_a["AP50"]
