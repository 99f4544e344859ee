"""Evaluation charts: offscreen PNG / SVG export, and a confusion-matrix click naming its cell."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QImage

from detviewer.core.metrics import DetectionBoxes, GroundTruthBoxes
from detviewer.evaluation.dataset_evaluation import DatasetEvaluation

NAMES = ("person", "car", "a long class name")


@pytest.fixture(scope="module")
def snapshot():
    """20 images, 3 objects each; detections: the objects jittered (some with the wrong class) + noise."""
    rng = np.random.default_rng(0)
    n = 60
    xywh = np.c_[rng.uniform(0, 200, (n, 2)), rng.uniform(20, 80, (n, 2))]
    gt = GroundTruthBoxes(image_index=np.repeat(np.arange(20), 3), category_index=rng.integers(0, 3, n), xywh=xywh,
                          area=xywh[:, 2] * xywh[:, 3], crowd=np.zeros(n, bool), difficult=np.zeros(n, bool),
                          ids=np.arange(1, n + 1))
    labels = np.where(rng.random(n) < 0.8, gt.category_index, rng.integers(0, 3, n))
    dt = DetectionBoxes(image_index=np.r_[gt.image_index, rng.integers(0, 20, 20)],
                        category_index=np.r_[labels, rng.integers(0, 3, 20)],
                        xywh=np.r_[xywh + rng.normal(0, 4, (n, 4)), np.c_[rng.uniform(0, 200, (20, 2)),
                                                                             rng.uniform(20, 80, (20, 2))]],
                        scores=rng.random(n + 20))
    return DatasetEvaluation(gt, dt, 20, NAMES).at(0.3), NAMES


def test_every_plot_is_written_as_png_and_svg(snapshot, tmp_path, qapp):
    from detviewer.charts.export import CHART_SIZE, export_evaluation_plots

    snap, names = snapshot
    pngs = export_evaluation_plots(snap, names, tmp_path)
    assert [p.name for p in pngs] == ["pr_curve_50.png", "pr_curve_50_95.png", "f1_curve.png",
                                      "confusion_matrix_normalized.png", "confusion_matrix.png", "error_breakdown.png"]
    for p in pngs:
        image = QImage(str(p))
        assert (image.width(), image.height()) == CHART_SIZE
        # not blank: a chart draws dark strokes on its white background
        pixels = np.frombuffer(image.convertToFormat(QImage.Format.Format_Grayscale8).constBits(), np.uint8)
        assert pixels.min() < 100
    svgs = export_evaluation_plots(snap, names, tmp_path / "svg", suffix=".svg")
    assert all(p.read_text().lstrip().startswith("<?xml") and "<svg" in p.read_text() for p in svgs)


def test_confusion_click_emits_the_cell(snapshot, qtbot):
    from detviewer.charts.matrix import ConfusionChart

    snap, names = snapshot
    chart = ConfusionChart()
    qtbot.addWidget(chart)
    chart.set_matrix(snap.confusion, names, normalized=False)
    k = len(names)
    assert chart.cell_at(1.2, 0.9) == (1, 1)          # x is the true class, y the predicted one
    assert chart.cell_at(k, 0) == (0, k)              # the background column
    assert chart.cell_at(k + 1, 0) is None
    got = []
    chart.cell_clicked.connect(lambda p, t: got.append((p, t)))

    class Click:
        def __init__(self, pos):
            self._pos = pos

        def pos(self):
            return self._pos

        def accept(self):
            pass

    from PySide6.QtCore import QPointF
    chart._on_image_click(Click(chart.image.mapFromView(QPointF(2.0, 1.0))))
    assert got == [(1, 2)]


def test_export_refuses_unknown_suffixes(snapshot, tmp_path, qapp):
    from detviewer.charts.curves import PRChart
    from detviewer.charts.export import export_chart
    from detviewer.errors import DetviewerError

    chart = PRChart()
    chart.set_curves(snapshot[0].pr, snapshot[1])
    with pytest.raises(DetviewerError, match="png or .svg"):
        export_chart(chart, tmp_path / "x.gif")


def test_a_confusion_chart_of_many_classes_shows_the_busiest(qtbot):
    from detviewer.charts.matrix import MAX_CHART_CLASSES, ConfusionChart
    from detviewer.evaluation.confusion import ConfusionMatrix

    k = 5 * MAX_CHART_CLASSES
    matrix = ConfusionMatrix(k, predicted=np.array([3, 250, k]), true=np.array([3, k - 1, 7]),
                             values=np.array([5, 2, 1]), score_threshold=0.25, iou_threshold=0.5)
    chart = ConfusionChart()
    qtbot.addWidget(chart)
    chart.set_matrix(matrix, [f"c{i}" for i in range(k)], normalized=False)
    # shown: classes 3, 7, 250, k - 1 (those with counts) and background; clicks give the class indices
    assert chart.cell_at(0, 0) == (3, 3)
    assert chart.cell_at(3, 2) == (250, k - 1)
    assert chart.cell_at(1, 4) == (k, 7)
    assert chart.cell_at(5, 0) is None
    assert f"the {MAX_CHART_CLASSES} busiest of {k} classes" in chart.getPlotItem().titleLabel.text
    ticks = chart.getPlotItem().getAxis("bottom")._tickLevels[0]
    assert [name for _, name in ticks] == ["c3", "c7", "c250", f"c{k - 1}", "background"]
