"""RoI pooling view on demo-frcnn: the level MultiScaleRoIAlign picks, bins, feature cells and RoIPool's
rounding, all computed by hand for one box; RoIPool against torchvision.ops.roi_pool and RoIAlign against
roi_align on the same region, and the cells / sampling points the view draws against both."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from detviewer.core.types import Detections, Inference
from detviewer.detectors.registry import load_detector
from detviewer.render.model.primitives import ViewError
from detviewer.render.model.views.roi import RoIViewState, pool_bin_rects, roi_box, roi_frame, roi_steps

# Original box (40, 40, 180, 110) is (16, 16, 72, 44) at demo-frcnn's 0.4 input scale: 56×28, sqrt(area) 39.6;
# MultiScaleRoIAlign(canonical 64 at level 3) maps it to floor(3 + log2(39.6 / 64)) = level 2 = '0', stride 4;
# on that map it covers (4, 4) – (18, 11).
BOX = (40.0, 40.0, 180.0, 110.0)


@pytest.fixture(scope="module")
def pooled():
    torch.manual_seed(0)
    detector = load_detector("demo-frcnn", weights="none", device="cpu")
    image = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    inference = detector.infer(image)
    state = RoIViewState(box=BOX)
    return inference, replace(state, pooling=detector.pool_region(roi_box(inference, state), inference)), detector


def test_level_and_projection(pooled):
    inference, state, _ = pooled
    p = state.pooling
    assert p.level_name == "0" and 1 / p.spatial_scale == pytest.approx(4.0)
    np.testing.assert_allclose(p.box_feature, [4, 4, 18, 11], atol=1e-4)
    rows = dict(roi_frame(inference, state).table)
    assert rows["Feature map"] == "'0' (level 1), 48×64, stride 4"
    assert rows["RoIAlign bins"] == "2.00×1.00 cells, 4 bilinear samples each, averaged"  # 14×7 cells split 7×7
    # RoIPool: columns round(4) … round(18) (15 cells) and rows 4 … 11 (8 cells) over 7 bins
    assert rows["RoIPool region"] == "columns 4–18, rows 4–11 (rounded)"
    assert rows["RoIPool bins"] == "3 whole cells wide × 2 high, max"


def test_roipool_bins_of_two_sizes_read_as_counts_not_a_fraction(pooled):
    inference, _, detector = pooled
    # (40, 40, 140, 110) covers feature columns 4 … 14 (11 cells, rounded) over 7 bins: floor(11i/7) … ceil(11(i+1)/7)
    # gives bins 2, 3, 2, 3, 2, 3, 2 cells wide; rows 4 … 11 (8 cells): every bin 2 high. "2/3" read as two thirds.
    state = RoIViewState(box=(40.0, 40.0, 140.0, 110.0))
    state = replace(state, pooling=detector.pool_region(roi_box(inference, state), inference))
    rows = dict(roi_frame(inference, state).table)
    assert rows["RoIPool region"] == "columns 4–14, rows 4–11 (rounded)"
    assert rows["RoIPool bins"] == "2 or 3 whole cells wide × 2 high, max"
    assert not any("/" in value for key, value in rows.items() if "RoIPool" in key)


def test_bins_split_the_box_into_seven_by_seven(pooled):
    inference, state, _ = pooled
    segments = roi_frame(inference, replace(state, step=2)).layer("bins").segments
    vertical = segments[segments[:, 0] == segments[:, 2]]
    horizontal = segments[segments[:, 1] == segments[:, 3]]
    np.testing.assert_allclose(np.sort(vertical[:, 0]), 40 + 20 * np.arange(8), atol=1e-3)
    np.testing.assert_allclose(np.sort(horizontal[:, 1]), 40 + 10 * np.arange(8), atol=1e-3)


def test_feature_cells_and_roipool_rounding(pooled):
    inference, state, _ = pooled
    frame = roi_frame(inference, replace(state, which="pool", step=2))
    cells = frame.layer("feature_cells").segments
    vertical = cells[cells[:, 0] == cells[:, 2]]
    # feature columns 4 … 18 -> input 16 … 72 (stride 4) -> original 40 … 180 every 10 px
    np.testing.assert_allclose(np.sort(vertical[:, 0]), 40 + 10 * np.arange(15), atol=1e-3)
    # roi_pool reads cells round(4) … round(18) + 1 and round(4) … round(11) + 1 -> (40, 40, 190, 120)
    np.testing.assert_allclose(frame.layer("quantised").xyxy[0], [40, 40, 190, 120], atol=1e-3)
    # bin (0, 0) reads columns floor(0·15/7) … ceil(15/7) = 0 … 3 and rows 0 … ceil(8/7) = 2 of the region:
    # cells 4 … 6 × 4 … 5 -> original (40, 40) – (70, 60); the last bin columns 16 … 18, rows 10 … 11
    bins = pool_bin_rects(state.pooling, inference.scale)
    np.testing.assert_allclose(bins[0], [40, 40, 70, 60], atol=1e-3)
    np.testing.assert_allclose(bins[-1], [160, 100, 190, 120], atol=1e-3)
    # the figure shades the first row of bins: columns 16 … 18 for the last, rows 4 … 5
    shaded = frame.layer("pool_bins").xyxy
    assert len(shaded) == 7
    np.testing.assert_allclose(shaded[-1], [160, 40, 190, 60], atol=1e-3)
    pooled_frame = roi_frame(inference, replace(state, which="pool", step=3))
    np.testing.assert_array_equal(pooled_frame.layer("pooled_pool").values, state.pooling.pool_heatmap)


def test_both_outputs_side_by_side_and_steps(pooled):
    inference, state, _ = pooled
    assert roi_steps(inference) == 4
    frames = [roi_frame(inference, replace(state, step=s)) for s in range(4)]
    assert frames[0].names() == ["proposal"]
    assert "feature_cells" in frames[1].names() and "bins" not in frames[1].names()
    assert "bins" in frames[2].names() and "sample_points" in frames[2].names()
    align, pool = frames[3].layer("pooled_align"), frames[3].layer("pooled_pool")
    np.testing.assert_array_equal(align.values, state.pooling.align_heatmap)
    np.testing.assert_array_equal(pool.values, state.pooling.pool_heatmap)
    assert align.value_range is None and pool.value_range is None  # each on its own colour scale
    assert align.rect[2] <= pool.rect[0] and align.rect[1] == pool.rect[1]  # side by side
    # the box sits in the upper half of the 480 px frame, so the outputs go below it
    assert align.rect[1] > BOX[3] and align.rgb().shape == (7, 7, 3)
    assert frames[3].layer("pooled_titles").texts == ("RoIAlign 7×7", "RoIPool 7×7")


def test_roipool_and_roialign_equal_torchvisions_ops_on_the_same_region(pooled):
    """The detector's pooling against torchvision.ops.roi_pool / roi_align on the level it picked (input pixels),
    and the drawn cells (max) and sampling points (bilinear mean) recomputing both by hand."""
    from torchvision.ops import roi_align, roi_pool

    from detviewer.ops.roi import average_of_samples, max_over_cells

    inference, state, detector = pooled
    p = state.pooling
    _, features, input_size, _ = detector._held
    feature = features[p.level_name]
    box_input = torch.tensor([[0.0, 16.0, 16.0, 72.0, 44.0]])  # BOX at the 0.4 input scale
    np.testing.assert_allclose(p.pool, roi_pool(feature, box_input, (7, 7), p.spatial_scale)[0].numpy(), atol=1e-6)
    np.testing.assert_allclose(p.align, roi_align(feature, box_input, (7, 7), p.spatial_scale, 2)[0].numpy(),
                               atol=1e-5)
    np.testing.assert_allclose(max_over_cells(feature[0].numpy(), p.pool_cells), p.pool, atol=1e-6)
    np.testing.assert_allclose(average_of_samples(feature[0].numpy(), p.align_points), p.align, atol=1e-5)


def test_roipool_cells_against_roi_pool_on_random_boxes_and_half_pixel_rounding():
    """C rounding (halves away from zero, unlike numpy's), floor / ceil bins and clamping to the map."""
    from torchvision.ops import roi_align, roi_pool

    from detviewer.ops.roi import average_of_samples, c_round, max_over_cells, roi_align_points, roi_pool_cells

    assert c_round([0.5, 1.5, 2.5, -0.5]).tolist() == [1.0, 2.0, 3.0, -1.0]
    rng = np.random.default_rng(3)
    feature = torch.randn(1, 3, 9, 13)
    boxes = [np.array([5.0, 9.0, 45.0, 33.0], np.float32)]  # at scale 0.5: 2.5 and 4.5 round up
    boxes += [np.sort(rng.uniform(-8, 60, 4).reshape(2, 2), axis=0).T.reshape(4)[[0, 2, 1, 3]] for _ in range(40)]
    for box in boxes:
        for size in ((7, 7), (3, 5)):
            rois = torch.cat([torch.zeros(1, 1), torch.from_numpy(box.astype(np.float32))[None]], 1)
            expected = roi_pool(feature, rois, size, 0.5)[0].numpy()
            cells = roi_pool_cells(box, 0.5, size, (9, 13))
            np.testing.assert_allclose(max_over_cells(feature[0].numpy(), cells), expected, atol=1e-6)
            expected = roi_align(feature, rois, size, 0.5, 2)[0].numpy()
            points = roi_align_points(box, 0.5, size, 2)
            np.testing.assert_allclose(average_of_samples(feature[0].numpy(), points), expected, atol=1e-5)


def test_default_box_is_the_best_proposal(pooled):
    inference, _, _ = pooled
    np.testing.assert_array_equal(roi_box(inference, RoIViewState()), inference.proposals.xyxy[0])
    one_stage = Inference("demo-ssd", (10, 10), Detections.empty(), Detections.empty())
    with pytest.raises(ViewError, match="demo-ssd has no proposals"):
        roi_box(one_stage, RoIViewState())


def test_a_roipool_step_quotes_no_roialign(pooled):
    # Fast R-CNN's RoIPool slides (steps 2 and 3 with roi=pool) are filed before Mask R-CNN introduces RoIAlign
    inference, state, _ = pooled
    for step in (1, 2):
        frame = roi_frame(inference, replace(state, which="pool", step=step))
        assert not any("RoIAlign" in key or "RoIAlign" in value for key, value in frame.table)
        assert "RoIAlign" not in frame.caption and "RoIPool bins" in dict(frame.table)
    assert "RoIAlign bins" in dict(roi_frame(inference, replace(state, which="align", step=2)).table)
