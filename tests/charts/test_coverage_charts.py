"""Anchor coverage charts: export with a suggestion, uncovered objects drawn in red, and a click naming the object."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QImage
from torchvision.models.detection.anchor_utils import AnchorGenerator

from detviewer.core.metrics import GroundTruthBoxes
from detviewer.evaluation.coverage import anchor_coverage
from detviewer.ops.anchors import run_generator


class GridSource:
    name, positive_iou, rule = "grid", 0.7, "IoU >= 0.7"

    def input_size(self, image_hw):
        return tuple(image_hw)

    def anchors(self, input_hw):
        generator = AnchorGenerator(sizes=((16,), (32,)), aspect_ratios=((0.5, 1.0, 2.0),) * 2)
        return run_generator(generator, input_hw, [(input_hw[0] // 8, input_hw[1] // 8),
                                                  (input_hw[0] // 16, input_hw[1] // 16)])


@pytest.fixture(scope="module")
def coverage():
    rng = np.random.default_rng(0)
    n = 300
    wh = np.exp(rng.uniform(np.log(6), np.log(60), (n, 2)))
    xywh = np.c_[rng.uniform(0, 100, (n, 2)), wh]
    gt = GroundTruthBoxes(image_index=np.zeros(n, int), category_index=rng.integers(0, 2, n), xywh=xywh,
                          area=wh.prod(axis=1), crowd=np.zeros(n, bool), difficult=np.zeros(n, bool),
                          ids=np.arange(1, n + 1))
    return anchor_coverage(GridSource(), gt, [[160, 160]], ("a", "b"))


def _pixels_of(path, rgb) -> int:
    image = QImage(str(path)).convertToFormat(QImage.Format.Format_RGB888)
    pixels = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    pixels = pixels[:, :image.width() * 3].reshape(image.height(), image.width(), 3).astype(int)
    return int((np.abs(pixels - np.array(rgb)).max(axis=2) <= 8).sum())


def test_both_plots_export_with_uncovered_objects_in_red(coverage, tmp_path, qapp):
    from detviewer.charts.coverage import SUGGESTED, UNCOVERED, export_coverage_plots

    class Suggestion:  # today's coverage stands in for a suggestion's: the outline and green marks are drawn
        pass

    suggestion = Suggestion()
    suggestion.coverage = coverage
    assert 0 < coverage.below.sum() < len(coverage)
    paths = export_coverage_plots(coverage, tmp_path, suggestion)
    assert [p.name for p in paths] == ["best_iou_histogram.png", "object_shapes.png"]
    assert _pixels_of(paths[0], UNCOVERED) > 200 and _pixels_of(paths[0], SUGGESTED) > 50
    assert _pixels_of(paths[1], SUGGESTED) > 50


def test_click_on_an_object_names_its_ground_truth_index(coverage, qtbot):
    from detviewer.charts.coverage import ObjectShapesChart

    chart = ObjectShapesChart()
    qtbot.addWidget(chart)
    chart.set_coverage(coverage)
    covered, uncovered = chart.object_items
    target = coverage.uncovered()[0]
    index = int(np.flatnonzero(coverage.gt_index[coverage.below] == target)[0])
    assert chart.gt_of(uncovered, index) == target
    with qtbot.waitSignal(chart.object_clicked) as blocker:
        uncovered.sigPointsClicked.emit(uncovered, [uncovered.scatter.points()[index]], None)
    assert blocker.args == [target]
