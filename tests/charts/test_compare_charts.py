"""A / B comparison charts: offscreen export of both, and a click on the Δ chart naming its class."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QImage

from detviewer.core.metrics import DetectionBoxes, GroundTruthBoxes
from detviewer.evaluation.compare import Comparison

NAMES = ("person", "car", "a class without objects")


@pytest.fixture(scope="module")
def snapshot():
    rng = np.random.default_rng(1)
    n = 45
    xywh = np.c_[rng.uniform(0, 200, (n, 2)), rng.uniform(20, 80, (n, 2))]
    gt = GroundTruthBoxes(image_index=np.repeat(np.arange(15), 3), category_index=rng.integers(0, 2, n), xywh=xywh,
                          area=xywh[:, 2] * xywh[:, 3], crowd=np.zeros(n, bool), difficult=np.zeros(n, bool),
                          ids=np.arange(1, n + 1))

    def detections(noise):
        return DetectionBoxes(image_index=gt.image_index, category_index=gt.category_index,
                              xywh=xywh + rng.normal(0, noise, (n, 4)), scores=rng.random(n))

    return Comparison.from_boxes(gt, detections(3), detections(12), 15, NAMES, ("old", "new")).at(0.2)


def _pixels_of(path, rgb) -> int:
    """How many pixels of the image at ``path`` have the colour ``rgb`` (within 8 per channel)."""
    image = QImage(str(path)).convertToFormat(QImage.Format.Format_RGB888)
    pixels = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    pixels = pixels[:, :image.width() * 3].reshape(image.height(), image.width(), 3).astype(int)
    return int((np.abs(pixels - np.array(rgb)).max(axis=2) <= 8).sum())


def test_both_charts_export(snapshot, tmp_path, qapp):
    from detviewer.charts.compare import SIDE_COLORS, export_compare_plots
    from detviewer.charts.export import CHART_SIZE

    paths = export_compare_plots(snapshot, tmp_path)
    assert [p.name for p in paths] == ["class_deltas.png", "error_breakdown_ab.png"]
    assert all((QImage(str(p)).width(), QImage(str(p)).height()) == CHART_SIZE for p in paths)
    # B's boxes are four times as noisy: both sides have error bars, and B's ΔAP bars are drawn
    assert _pixels_of(paths[1], SIDE_COLORS[0]) > 100 and _pixels_of(paths[1], SIDE_COLORS[1]) > 100
    assert snapshot.classes.d_ap[0] < 0 and _pixels_of(paths[0], (31, 119, 180)) > 100


def test_delta_chart_click_names_the_class(snapshot, qtbot):
    from detviewer.charts.compare import ClassDeltaChart

    chart = ClassDeltaChart()
    qtbot.addWidget(chart)
    chart.set_deltas(snapshot.classes, NAMES, snapshot.names)
    assert [chart.class_at(y) for y in (-0.4, 0.3, 1.6, 2.0, 2.6)] == [0, 0, 2, 2, None]
