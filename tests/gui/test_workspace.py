"""The Evaluation workspace in the real window: a dataset, a demo model run over it in the worker, the score
slider moving every number, and a click from a number to the image with the boxes behind it."""

from __future__ import annotations

import numpy as np
import pytest
from views_helpers import DEMO_IMAGE

from detviewer.evaluation.dataset_evaluation import DatasetEvaluation
from detviewer.io.datasets import open_dataset

GT = DEMO_IMAGE.parent / "annotations.json"


def _window_with_model(make_window, qtbot, model="demo-frcnn"):
    from detviewer.gui.worker import ModelRequest, _registry_loader

    window = make_window(loader=_registry_loader, load=False)
    with qtbot.waitSignal(window.model_ready, timeout=60000):
        window.request_model(ModelRequest(model, "default", "cpu"))
    return window


def _open_dataset(window, qtbot):
    window.open_paths([str(GT)])  # a COCO file opens as a dataset
    qtbot.waitUntil(lambda: window.workspace.session is not None, timeout=20000)
    qtbot.waitUntil(lambda: window.state.inference is not None, timeout=60000)  # its first image, run
    assert window.workspace_dock.isVisible()


def _run(window, qtbot, side="A"):
    window.workspace.run_model(side)
    qtbot.waitUntil(lambda: window.workspace.session.has(side) and window.workspace.metrics.classes.rowCount() > 0,
                    timeout=120000)


@pytest.mark.slow
def test_run_a_model_on_a_dataset_move_the_score_and_open_a_confusion_cell(make_window, qtbot, tmp_path):
    window = _window_with_model(make_window, qtbot)
    window.workspace.cache_dir = tmp_path / "cache"
    _open_dataset(window, qtbot)
    _run(window, qtbot)
    ws = window.workspace
    predictions = ws.session.predictions["A"]
    reference = DatasetEvaluation.from_dataset(open_dataset(GT), predictions)

    for score in (0.3, 0.8):  # the score slider moves every number
        window.thresholds_panel.score_slider.setValue(score)
        expected = reference.at(score, 0.5)
        model = ws.metrics.classes
        tp_column = [c.header for c in model.columns].index("TP")
        shown_tp = sum(int(model.columns[tp_column].values[model.item_at(r)]) for r in range(model.rowCount()))
        assert shown_tp == int(expected.classes.tp.sum())
        np.testing.assert_array_equal(ws.images.model.columns[1].values, expected.images.tp)

    # A confusion-matrix cell off the diagonal (a wrong class or background) lists its images and boxes.
    snapshot = reference.at(0.8, 0.5)
    k = len(ws.session.dataset.class_names)
    counts = snapshot.confusion.counts
    cells = [(p, t) for p in range(k + 1) for t in range(k + 1) if p != t and counts[p, t] > 0]
    assert cells, "the demo model makes no mistake at 0.8: nothing to click"
    predicted, true = cells[0]
    ws.tabs.setCurrentWidget(ws.confusion)
    ws.confusion.chart.cell_clicked.emit(predicted, true)
    hits = snapshot.cell(predicted, true)
    assert ws.confusion.hits.count() == len(hits) > 0
    item = ws.confusion.hits.item(0)
    ws.confusion.hits.itemClicked.emit(item)
    path = ws.session.dataset.image_paths[hits[0].image]
    qtbot.waitUntil(lambda: window.state.frame is not None and str(window.state.frame.path) == str(path),
                    timeout=30000)
    qtbot.waitUntil(lambda: window.state.inference is not None, timeout=30000)
    marked = [layer for layer in window.canvas.layers if layer.name.startswith("overlay_cell")]
    assert marked, "the boxes behind the cell are not drawn"
    dets = [d for d in hits[0].detections if d >= 0]
    gts = [g for g in hits[0].ground_truth if g >= 0]
    expected_boxes = np.concatenate([ws.session.detection_boxes("A", dets), ws.session.gt_boxes(gts)])
    drawn = np.concatenate([layer.xyxy for layer in marked])
    np.testing.assert_allclose(np.sort(drawn, axis=0), np.sort(expected_boxes, axis=0), atol=1e-3)
    assert window.state.ground_truth is not None  # with the image's ground truth, TP / FP / missed drawn
    paths = ws.export_tables(tmp_path)
    assert all(p.stat().st_size > 0 for p in paths)


@pytest.mark.slow
def test_two_models_compared_sorted_by_delta_land_on_an_image_with_both_models_boxes(make_window, qtbot):
    from detviewer.gui.worker import ModelRequest

    window = _window_with_model(make_window, qtbot, "demo-frcnn")
    _open_dataset(window, qtbot)
    _run(window, qtbot, "A")
    with qtbot.waitSignal(window.model_ready, timeout=60000):
        window.request_model(ModelRequest("demo-ssd", "default", "cpu"))
    _run(window, qtbot, "B")
    ws = window.workspace
    qtbot.waitUntil(lambda: ws.compare.images.rowCount() == ws.session.dataset.num_images, timeout=30000)
    snapshot = ws.session.compare(window.state.thresholds.score, 0.5)
    worst = snapshot.images.worst_first("ap")
    assert ws.compare.images.item_at(0) == worst[0]  # "images B got worse on" first
    ws.compare.open_row(0)
    path = ws.session.dataset.image_paths[int(worst[0])]
    qtbot.waitUntil(lambda: window.state.frame is not None and str(window.state.frame.path) == str(path),
                    timeout=30000)
    qtbot.waitUntil(lambda: window.state.inference is not None
                    and any(layer.name == "overlay_b_detections" for layer in window.canvas.layers), timeout=30000)
    names = [layer.name for layer in window.canvas.layers]
    assert "kept" in names and "overlay_b_detections" in names  # A's result and B's boxes, in two styles
    legend = dict(window.presenter.shown.frame.legend)
    assert any("demo-ssd" in text for text in legend)
