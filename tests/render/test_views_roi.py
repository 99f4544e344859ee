"""RoI pooling view on demo-frcnn: the level MultiScaleRoIAlign picks, bins, feature cells and RoIPool's
rounding, all computed by hand for one box."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from detviewer.core.types import Detections, Inference
from detviewer.detectors.registry import load_detector
from detviewer.render.model.primitives import ViewError
from detviewer.render.model.views.roi import RoIViewState, roi_box, roi_frame, roi_steps

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
    assert rows["Feature map"] == "'0' (level 0), 48×64, stride 4"
    assert rows["Bin size"] == "2.00×1.00 cells"  # 14×7 cells split 7×7


def test_bins_split_the_box_into_seven_by_seven(pooled):
    inference, state, _ = pooled
    segments = roi_frame(inference, state).layer("bins").segments
    vertical = segments[segments[:, 0] == segments[:, 2]]
    horizontal = segments[segments[:, 1] == segments[:, 3]]
    np.testing.assert_allclose(np.sort(vertical[:, 0]), 40 + 20 * np.arange(8), atol=1e-3)
    np.testing.assert_allclose(np.sort(horizontal[:, 1]), 40 + 10 * np.arange(8), atol=1e-3)


def test_feature_cells_and_roipool_rounding(pooled):
    inference, state, _ = pooled
    frame = roi_frame(inference, replace(state, which="pool"))
    cells = frame.layer("feature_cells").segments
    vertical = cells[cells[:, 0] == cells[:, 2]]
    # feature columns 4 … 18 -> input 16 … 72 (stride 4) -> original 40 … 180 every 10 px
    np.testing.assert_allclose(np.sort(vertical[:, 0]), 40 + 10 * np.arange(15), atol=1e-3)
    # roi_pool reads cells round(4) … round(18) + 1 and round(4) … round(11) + 1 -> (40, 40, 190, 120)
    np.testing.assert_allclose(frame.layer("quantised").xyxy[0], [40, 40, 190, 120], atol=1e-3)
    np.testing.assert_array_equal(frame.layer("pooled").values, state.pooling.pool_heatmap)


def test_heatmap_over_the_box_and_steps(pooled):
    inference, state, _ = pooled
    assert roi_steps(inference) == 4
    frames = [roi_frame(inference, replace(state, step=s)) for s in range(4)]
    assert frames[0].names() == ["proposal"]
    assert "feature_cells" in frames[1].names() and "bins" not in frames[1].names()
    assert "bins" in frames[2].names() and "pooled" not in frames[2].names()
    heat = frames[3].layer("pooled")
    np.testing.assert_allclose(heat.rect, BOX)
    np.testing.assert_array_equal(heat.values, state.pooling.align_heatmap)
    assert heat.rgb().shape == (7, 7, 3)


def test_default_box_is_the_best_proposal(pooled):
    inference, _, _ = pooled
    np.testing.assert_array_equal(roi_box(inference, RoIViewState()), inference.proposals.xyxy[0])
    one_stage = Inference("demo-ssd", (10, 10), Detections.empty(), Detections.empty())
    with pytest.raises(ViewError, match="demo-ssd has no proposals"):
        roi_box(one_stage, RoIViewState())
