"""The paired bootstrap of ΔAP: each resample's weighted accumulation is the engine's AP of the resampled
dataset (all weights 1: the engine's AP; weight w: the dataset with the image copied w times, built explicitly
and evaluated by the engine and by pycocotools), and the interval behaves: [0, 0] for A against itself, above 0
for a B that finds every object."""

from __future__ import annotations

import contextlib
import copy
import io

import numpy as np
import pytest
from eval_synthetic import coco_case
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from detviewer.core.coco_eval import RECALL_THRESHOLDS
from detviewer.evaluation.bootstrap import (
    BootstrapStopped,
    SideTable,
    object_counts,
    paired_bootstrap,
    resample_weights,
    thresholds_reached,
    weighted_ap,
)
from detviewer.evaluation.dataset_evaluation import DatasetEvaluation
from detviewer.io.annotations import coco_gt_from_dict
from detviewer.io.coco_results import coco_results_from_list


def _untie_within_image_and_class(results: list[dict]) -> list[dict]:
    """coco_case rounds scores to 2 decimals: ties across images stay (they test where copies go); two equal
    scores of one image and class are pulled apart (there a copy's order is a convention, see bootstrap)."""
    out, seen = [], {}
    for r in results:
        key = (r["image_id"], r["category_id"], r["score"])
        n = seen.get(key, 0)
        seen[key] = n + 1
        out.append({**r, "score": r["score"] - 1e-4 * n})
    return out


def _case(seed: int, num_images: int = 40, untie: bool = False):
    gt, results = coco_case(seed, num_images=num_images)
    if untie:
        results = _untie_within_image_and_class(results)
    return gt, results


def _evaluation(gt: dict, results: list[dict]) -> DatasetEvaluation:
    g = coco_gt_from_dict(gt)
    return DatasetEvaluation(g.boxes, coco_results_from_list(results, g).boxes, g.num_images, g.category_names)


def _weighted(ev: DatasetEvaluation, weights: np.ndarray) -> np.ndarray:
    weights = np.asarray(weights, np.float64).reshape(1, -1)
    objects = object_counts(ev.gt, ev.num_classes)
    n_pos = np.stack([weights[:, img].sum(axis=1) for img in objects], axis=1)
    return weighted_ap(SideTable(ev.gt, ev.dt, ev.num_classes), weights, n_pos)[0]


def _engine(ev: DatasetEvaluation) -> np.ndarray:
    """(K, 2) the engine's per-class AP and AP50, NaN for pycocotools' -1."""
    out = np.stack([ev.coco.per_class_ap(), ev.coco.per_class_ap(iou=0.5)], axis=1)
    return np.where(out < 0, np.nan, out)


def _replicate(gt: dict, results: list[dict], copies: np.ndarray) -> tuple[dict, list[dict]]:
    """The COCO files in which image i appears copies[i] times, the copies next to each other (new image and
    annotation ids in that order; each copy keeps its image's file order)."""
    images, anns, res = [], [], []
    by_image = {img["id"]: ([a for a in gt["annotations"] if a["image_id"] == img["id"]],
                            [r for r in results if r["image_id"] == img["id"]]) for img in gt["images"]}
    for img, n in zip(gt["images"], copies.tolist()):
        for _ in range(n):
            new_id = len(images) + 1
            images.append({**img, "id": new_id, "file_name": f"{new_id}_{img['file_name']}"})
            own_anns, own_results = by_image[img["id"]]
            anns += [{**a, "id": len(anns) + i + 1, "image_id": new_id} for i, a in enumerate(own_anns)]
            res += [{**r, "image_id": new_id} for r in own_results]
    return {"images": images, "annotations": anns, "categories": copy.deepcopy(gt["categories"])}, res


def _pycocotools(gt: dict, results: list[dict]) -> tuple[np.ndarray, float, float]:
    """(K, 2) per-class AP and AP50 (NaN for -1), and the summary AP, AP50, by pycocotools itself."""
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = copy.deepcopy(gt)
        coco.createIndex()
        dets = coco.loadRes(copy.deepcopy(results))
        e = COCOeval(coco, dets, "bbox")
        e.evaluate()
        e.accumulate()
        e.summarize()
    p = e.eval["precision"][:, :, :, 0, -1]  # (T, R, K)
    per = np.full((p.shape[2], 2), np.nan)
    for k in range(p.shape[2]):
        if (p[:, :, k] > -1).any():
            per[k] = p[:, :, k].mean(), p[0, :, k].mean()
    return per, float(e.stats[0]), float(e.stats[1])


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_unit_weights_give_the_engines_ap_per_class_and_mean(seed):
    gt, results = _case(seed, num_images=50)
    ev = _evaluation(gt, results)
    ap = _weighted(ev, np.ones(ev.num_images))
    np.testing.assert_allclose(ap, _engine(ev), rtol=0, atol=1e-9)  # NaN where the engine says -1
    assert np.isnan(ap[-1]).all()  # the class without ground truth
    present = np.isfinite(ap[:, 0])
    assert abs(ap[present, 0].mean() - ev.coco.stats["AP"]) < 1e-9
    assert abs(ap[present, 1].mean() - ev.coco.stats["AP50"]) < 1e-9
    side = SideTable(ev.gt, ev.dt, ev.num_classes)
    assert side.dead_image.size > 0  # detections a crowd absorbs at some thresholds only: that path runs too


def test_thresholds_reached_is_the_search_on_the_recall_grid():
    n = np.arange(1, 300)
    ratios = np.concatenate([np.arange(m + 1) / m for m in n] + [np.random.default_rng(0).random(1000), [0.0, 1.0]])
    np.testing.assert_array_equal(thresholds_reached(ratios),
                                  np.searchsorted(RECALL_THRESHOLDS, ratios, side="right"))


@pytest.mark.parametrize("seed", [0, 4])
def test_a_weight_two_image_equals_the_dataset_with_that_image_duplicated(seed):
    gt, results = _case(seed, untie=True)
    ev = _evaluation(gt, results)
    busy = np.argsort([-sum(a["image_id"] == img["id"] for a in gt["annotations"]) for img in gt["images"]])
    for image in busy[:3].tolist():  # the images with the most objects change AP most
        copies = np.ones(ev.num_images, np.int64)
        copies[image] = 2
        dup = _evaluation(*_replicate(gt, results, copies))
        assert dup.num_images == ev.num_images + 1 and len(dup.gt) > len(ev.gt)
        got = _weighted(ev, copies)
        np.testing.assert_allclose(got, _engine(dup), rtol=0, atol=1e-9)
        assert not np.allclose(got, _engine(ev), equal_nan=True)  # the copy does change the AP


@pytest.mark.parametrize("seed", [1, 2])
def test_any_multiplicities_equal_the_replicated_dataset_by_the_engine_and_by_pycocotools(seed):
    gt, results = _case(seed, untie=True)
    ev = _evaluation(gt, results)
    copies = np.random.default_rng(seed).integers(0, 4, ev.num_images)  # 0: the image left out
    built = _replicate(gt, results, copies)
    got = _weighted(ev, copies)
    np.testing.assert_allclose(got, _engine(_evaluation(*built)), rtol=0, atol=1e-9)
    per, ap, ap50 = _pycocotools(*built)
    np.testing.assert_allclose(got, per, rtol=0, atol=1e-9)
    present = np.isfinite(got[:, 0])
    assert abs(got[present, 0].mean() - ap) < 1e-9 and abs(got[present, 1].mean() - ap50) < 1e-9


def test_a_class_left_out_of_a_resample_is_not_averaged():
    gt, results = _case(0)
    ev = _evaluation(gt, results)
    objects = object_counts(ev.gt, ev.num_classes)
    copies = np.ones(ev.num_images, np.int64)
    copies[np.unique(objects[2])] = 0  # no image with an object of class 2
    got = _weighted(ev, copies)
    assert np.isnan(got[2]).all() and np.isfinite(got[:2]).all()
    np.testing.assert_allclose(got, _engine(_evaluation(*_replicate(gt, results, copies))), rtol=0, atol=1e-9)


def test_resamples_depend_on_the_seed_and_their_index_only():
    w = resample_weights(30, 7, 0, 6)
    np.testing.assert_array_equal(resample_weights(30, 7, 3, 6), w[3:])
    assert (w.sum(axis=1) == 30).all() and (w >= 0).all()
    assert not np.array_equal(resample_weights(30, 8, 0, 6), w)
    assert len({tuple(row) for row in w}) == 6


def test_a_against_an_identical_copy_has_a_zero_interval():
    gt, results = _case(1)
    a, b = _evaluation(gt, results), _evaluation(gt, copy.deepcopy(results))
    result = paired_bootstrap(a, b, resamples=200, seed=3)
    assert (result.ap.delta, result.ap.low, result.ap.high) == (0.0, 0.0, 0.0)
    assert (result.ap50.low, result.ap50.high) == (0.0, 0.0)
    assert not result.ap.excludes_zero()
    assert np.all(result.d_ap == 0) and result.d_ap.shape == (200,)


def _better(gt: dict, results: list[dict], rng) -> list[dict]:
    """A B that finds every non-crowd object with a slightly moved box, plus A's background boxes at low scores."""
    found = [{"image_id": a["image_id"], "category_id": a["category_id"],
              "bbox": [a["bbox"][0] + 0.5, a["bbox"][1], a["bbox"][2], a["bbox"][3]],
              "score": round(float(rng.uniform(0.5, 1.0)), 3)} for a in gt["annotations"] if not a["iscrowd"]]
    return found + [{**r, "score": r["score"] * 0.4} for r in results]


def test_a_clearly_better_b_has_an_interval_above_zero_that_holds_the_delta():
    gt, results = _case(2, num_images=60)
    a = _evaluation(gt, results)
    b = _evaluation(gt, _better(gt, results, np.random.default_rng(0)))
    result = paired_bootstrap(a, b, resamples=300, seed=0)
    for interval, key in ((result.ap, "AP"), (result.ap50, "AP50")):
        assert interval.delta == pytest.approx(b.coco.stats[key] - a.coco.stats[key], abs=0)
        assert interval.delta > 0.2 and interval.excludes_zero()
        assert 0 < interval.low <= interval.delta <= interval.high
    # the original sample's statistic is the reported Δ: a resample of all ones is the engine's ΔAP
    assert result.class_d_ap.shape == (300, a.num_classes)
    k = int(np.nanargmax(np.nanmean(result.class_d_ap[:, :-1], axis=0)))  # the last class has no GT
    per_class = b.coco.per_class_ap()[k] - a.coco.per_class_ap()[k]
    assert result.class_interval(k, per_class).low > 0
    assert np.isnan(result.class_interval(a.num_classes - 1, float("nan")).low)  # never present


def test_interval_does_not_depend_on_the_block_size_or_the_threads(monkeypatch):
    import detviewer.evaluation.bootstrap as bootstrap

    gt, results = _case(3)
    _, other = _case(13)
    a, b = _evaluation(gt, results), _evaluation(gt, other)
    whole = paired_bootstrap(a, b, resamples=40, seed=5, threads=1)
    monkeypatch.setattr(bootstrap, "_BLOCK_ELEMENTS", 1)  # one resample per block
    for threads in (1, 3):
        single = paired_bootstrap(a, b, resamples=40, seed=5, threads=threads)
        np.testing.assert_array_equal(whole.d_ap, single.d_ap)
        np.testing.assert_array_equal(whole.class_d_ap50, single.class_d_ap50)
        assert (single.ap.low, single.ap.high) == (whole.ap.low, whole.ap.high)


def test_bad_arguments_are_refused():
    gt, results = _case(0, num_images=10)
    ev = _evaluation(gt, results)
    with pytest.raises(ValueError, match="at least one resample"):
        paired_bootstrap(ev, ev, resamples=0)
    with pytest.raises(ValueError, match="confidence"):
        paired_bootstrap(ev, ev, resamples=5, confidence=1.0)
    empty = _evaluation({"images": [], "annotations": [], "categories": gt["categories"]}, [])
    with pytest.raises(ValueError, match="at least one image"):
        paired_bootstrap(empty, empty, resamples=5)


def test_should_stop_stops_between_blocks(monkeypatch):
    import detviewer.evaluation.bootstrap as bootstrap

    monkeypatch.setattr(bootstrap, "_BLOCK_ELEMENTS", 1)  # one resample per block
    gt, results = _case(0, num_images=10)
    ev = _evaluation(gt, results)
    asked = []
    with pytest.raises(BootstrapStopped):
        paired_bootstrap(ev, ev, resamples=5, threads=1, should_stop=lambda: asked.append(1) or len(asked) > 1)
    assert len(asked) == 2  # the first block ran, the second was refused
