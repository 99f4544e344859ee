"""The workspace and the window, usable (issue 21): a groove click seeks, Open dataset takes folders, names elide
in the middle, Export tables writes every tab (naming its runs, CSV-injection safe), the charts get room."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest


def _write_video(path, frames: int = 100):
    """Frame k is grey 2 k (MJPG keeps flat grey within a level or two)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (64, 48))
    for k in range(frames):
        writer.write(np.full((48, 64, 3), 2 * k, np.uint8))
    writer.release()
    return path


def test_a_click_on_the_seek_groove_shows_that_frame(make_window, qtbot, tmp_path):
    window = make_window(load=False)
    window.open_paths([str(_write_video(tmp_path / "clip.avi"))])
    slider = window.video_bar.slider
    qtbot.waitUntil(lambda: window.video_bar.isVisible() and slider.maximum() == 99, timeout=10000)
    qtbot.waitUntil(lambda: window.state.frame is not None, timeout=10000)

    QTest.mouseClick(slider, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     QPoint(int(slider.width() * 0.75), slider.height() // 2))

    target = slider.value()
    assert 65 <= target <= 85, "the handle jumps to the click, not one page step"
    qtbot.waitUntil(lambda: window.state.frame is not None and window.state.frame.index == target, timeout=10000)
    assert window.feed.index == target
    assert abs(float(window.state.frame.image.mean()) - 2 * target) <= 3  # that frame's pixels, not frame 0's
    assert window.video_bar.label.text().startswith(f"{target + 1} /")


# -- a dataset with long file names and a hostile class name, two results files -----------------------------
LONG = "shapes_0123456789_a_very_long_recording_session_name_from_camera_north_{:05d}_end.png"
EVIL = '=HYPERLINK("http://evil.example","circle")'


def _dataset(tmp_path):
    """The demo images under long names; class 1 called EVIL; returns the annotations.json path."""
    import json
    import shutil

    from views_helpers import DEMO_IMAGE

    coco = json.loads((DEMO_IMAGE.parent / "annotations.json").read_text())
    folder = tmp_path / "data"
    folder.mkdir()
    for k, image in enumerate(coco["images"]):
        name = LONG.format(k)
        shutil.copy(DEMO_IMAGE.parent / image["file_name"], folder / name)
        image["file_name"] = name
    coco["categories"][0]["name"] = EVIL
    path = folder / "annotations.json"
    path.write_text(json.dumps(coco))
    return path


def _results(gt_path, out, seed: int, jitter: float):
    """A COCO results file: every object found with a jittered box, a few classes swapped, a few extra boxes."""
    import json

    rng = np.random.default_rng(seed)
    coco = json.loads(gt_path.read_text())
    ids = [c["id"] for c in coco["categories"]]
    results = []
    for a in coco["annotations"]:
        x, y, w, h = a["bbox"]
        dx, dy = rng.normal(0, jitter * w), rng.normal(0, jitter * h)
        category = a["category_id"] if rng.random() > 0.2 else int(rng.choice(ids))
        results.append({"image_id": a["image_id"], "category_id": category, "bbox": [x + dx, y + dy, w, h],
                        "score": float(rng.uniform(0.3, 1.0))})
    for image in coco["images"]:
        results.append({"image_id": image["id"], "category_id": int(rng.choice(ids)), "bbox": [5.0, 5.0, 20.0, 20.0],
                        "score": float(rng.uniform(0.3, 0.9))})
    out.write_text(json.dumps(results))
    return out


def _import(window, qtbot, side, path):
    ws = window.workspace
    ws.import_results(side, path)
    qtbot.waitUntil(lambda: ws.session.has(side) and ws.metrics.classes.rowCount() > 0, timeout=30000)


def _open(window, qtbot, path):
    window.open_paths([str(path)])
    qtbot.waitUntil(lambda: window.workspace.session is not None, timeout=20000)


def _read(path):
    import csv

    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    comments = [r[0] for r in rows if r and r[0].startswith("# ")]
    return comments, rows[len(comments):]


def test_export_tables_writes_every_tab_naming_its_runs_safe_from_csv_injection(make_window, qtbot, tmp_path):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    from detviewer.io.datasets import open_dataset
    from detviewer.io.predictions import load_predictions

    gt = _dataset(tmp_path)
    res_a = _results(gt, tmp_path / "run_a.json", 0, 0.05)
    res_b = _results(gt, tmp_path / "run_b.json", 1, 0.15)
    window = make_window(load=False)
    _open(window, qtbot, gt)
    _import(window, qtbot, "A", res_a)
    window.thresholds_panel.score_slider.setValue(0.4)
    ws = window.workspace
    out = tmp_path / "out"

    written = ws.export_tables(out)  # A alone: no comparison files
    assert {p.name for p in written} == {"classes.csv", "coco.csv", "confusion.csv", "tide.csv", "images.csv"}

    _import(window, qtbot, "B", res_b)
    qtbot.waitUntil(lambda: ws.session.comparing and ws.compare.images.rowCount() == 4, timeout=30000)
    written = ws.export_tables(out)
    assert {p.name for p in written} == {"classes.csv", "coco.csv", "confusion.csv", "tide.csv", "images.csv",
                                         "compare_classes.csv", "compare_errors.csv", "compare_images.csv"}
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in written)  # no temporary file left
    threshold = window.state.thresholds.score
    for path in written:
        comments, rows = _read(path)
        text = " ".join(comments)
        assert "run_a.json" in text and f"score threshold {threshold:.2f}" in text, path.name
        assert ("run_b.json" in text) == path.name.startswith("compare_"), path.name
        assert not any(cell.startswith("=") for row in rows for cell in row), f"formula cell in {path.name}"

    # coco.csv: pycocotools' own 12 numbers on the same files
    coco_gt = COCO(str(gt))
    evaluator = COCOeval(coco_gt, coco_gt.loadRes(str(res_a)), "bbox")
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
    _, rows = _read(out / "coco.csv")
    assert rows[0] == ["metric", "name", "value"] and len(rows) == 13
    np.testing.assert_allclose([float(r[2]) if r[2] else -1.0 for r in rows[1:]], evaluator.stats, atol=1e-4)

    # confusion.csv: the matrix at the threshold, the hostile name quoted
    dataset = open_dataset(gt)
    predictions = load_predictions(res_a, dataset)
    from detviewer.evaluation.dataset_evaluation import DatasetEvaluation

    reference = DatasetEvaluation.from_dataset(dataset, predictions).at(threshold, 0.5)
    _, rows = _read(out / "confusion.csv")
    assert rows[0][1] == "'" + EVIL and rows[0][-1] == "background" and rows[1][0] == "'" + EVIL
    np.testing.assert_array_equal(np.asarray([r[1:] for r in rows[1:]], int), reference.confusion.counts)

    _, rows = _read(out / "tide.csv")  # TIDE: dAP and count per error type
    tide = reference.tide
    assert rows[1][0] == "classification" and int(rows[1][2]) == tide.counts["cls"]
    assert float(rows[1][1]) == pytest.approx(tide.main_dap["cls"], abs=1e-3)

    _, rows = _read(out / "classes.csv")
    assert rows[1][0] == "'" + EVIL or "'" + EVIL in [r[0] for r in rows]
    _, rows = _read(out / "images.csv")
    assert sorted(r[0] for r in rows[1:]) == sorted(LONG.format(k) for k in range(4))
    _, rows = _read(out / "compare_classes.csv")
    assert rows[0][:5] == ["class", "objects", "AP A", "AP B", "Δ AP"] and len(rows) == 1 + 6


def _compared_at_full_hd(make_window, qtbot, tmp_path):
    gt = _dataset(tmp_path)
    window = make_window(load=False)
    window.resize(1920, 1080)
    _open(window, qtbot, gt)
    _import(window, qtbot, "A", _results(gt, tmp_path / "run_a.json", 0, 0.05))
    _import(window, qtbot, "B", _results(gt, tmp_path / "run_b.json", 1, 0.15))
    ws = window.workspace
    qtbot.waitUntil(lambda: ws.session.comparing and ws.compare.images.rowCount() == 4, timeout=30000)
    return window, ws


def test_file_names_elide_in_the_middle_with_the_full_name_as_tooltip_and_keep_their_width(make_window, qtbot,
                                                                                           tmp_path):
    from PySide6.QtGui import QFontMetrics

    window, ws = _compared_at_full_hd(make_window, qtbot, tmp_path)
    ws.tabs.setCurrentWidget(ws.images)
    view, model = ws.images.view, ws.images.model
    qtbot.waitUntil(lambda: view.isVisible() and view.viewport().width() > 1000, timeout=5000)
    names = [model.index(r, 0).data(Qt.ItemDataRole.DisplayRole) for r in range(4)]
    assert sorted(names) == sorted(LONG.format(k) for k in range(4))
    for row, name in enumerate(names):
        assert model.index(row, 0).data(Qt.ItemDataRole.ToolTipRole) == name
    assert view.textElideMode() == Qt.TextElideMode.ElideMiddle
    header = [c.header for c in model.columns]
    worst = header.index("worst error")
    text_width = QFontMetrics(view.font()).horizontalAdvance(names[0])
    assert view.columnWidth(0) >= text_width, "a wide table shows the whole name"
    assert view.columnWidth(worst) < 200, "'worst error' fits its contents, it does not take the width"

    # a narrow table (A / B, beside two charts): the name keeps a useful width, elided in the middle
    ws.tabs.setCurrentWidget(ws.compare)
    qtbot.waitUntil(lambda: ws.compare.view.isVisible(), timeout=5000)
    assert ws.compare.view.columnWidth(0) >= 150
    assert ws.compare.view.textElideMode() == Qt.TextElideMode.ElideMiddle
    assert ws.compare.images.index(0, 0).data(Qt.ItemDataRole.ToolTipRole) in names
    ws.tabs.setCurrentWidget(ws.confusion)
    ws.confusion.chart.cell_clicked.emit(0, 0)
    assert ws.confusion.hits.count() > 0 and ws.confusion.hits.textElideMode() == Qt.TextElideMode.ElideMiddle
    assert ws.confusion.hits.item(0).toolTip().endswith("_end.png")


def _label_rows_px(chart) -> tuple[list[float], int]:
    """The drawn left-axis labels' y in pixels, and the chart's text line height."""
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QFontMetrics

    plot = chart.getPlotItem()
    axis = plot.getAxis("left")
    ticks = [t for level in axis._tickLevels or [] for t in level]  # what setTicks() put there
    ys = sorted(plot.vb.mapViewToScene(QPointF(0.0, float(y))).y() for y, _ in ticks)
    font = axis.style.get("tickFont") or axis.font()
    return ys, QFontMetrics(font).height()


def test_the_a_b_and_tide_charts_have_room_and_the_workspace_opens_in_its_own_window(make_window, qtbot, tmp_path):
    window, ws = _compared_at_full_hd(make_window, qtbot, tmp_path)
    for tab, charts in ((ws.compare, (ws.compare.deltas, ws.compare.errors)), (ws.confusion, (ws.confusion.errors,))):
        ws.tabs.setCurrentWidget(tab)
        qtbot.wait(200)
        for chart in charts:
            ys, line = _label_rows_px(chart)
            assert len(ys) >= 4
            gaps = np.diff(ys)
            assert gaps.min() >= line, f"{type(chart).__name__}: labels {gaps.min():.0f} px apart, a line is {line}"
            plot_width = chart.getPlotItem().sceneBoundingRect().width()
            assert plot_width <= chart.viewport().width() + 1, f"{type(chart).__name__} is cut off on the right"

    dock, button = window.workspace_dock, ws.own_window_button
    screen = window.screen().availableGeometry()
    button.click()
    qtbot.waitUntil(lambda: dock.isFloating(), timeout=5000)
    assert dock.width() >= 0.8 * screen.width() and dock.height() >= 0.8 * screen.height()
    assert button.text() == "Put back in the main window"
    button.click()
    qtbot.waitUntil(lambda: not dock.isFloating(), timeout=5000)
    assert button.text() == "Open in its own window"


def _yolo_folder(tmp_path):
    import shutil

    from views_helpers import DEMO_IMAGE

    root = tmp_path / "yolo_set"
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    for k in range(2):
        shutil.copy(DEMO_IMAGE, root / "images" / f"im{k}.png")
        (root / "labels" / f"im{k}.txt").write_text("0 0.5 0.5 0.2 0.2\n1 0.3 0.3 0.1 0.1\n")
    (root / "classes.txt").write_text("circle\nsquare\n")
    return root


def _trigger_without_blocking(qtbot, action):
    """Trigger ``action``; a dialog that blocks in exec() (the old two-step dialogs) is cancelled after a
    second, so that the test fails instead of hanging. Returns how many blocking dialogs were cancelled."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    cancelled = []

    def cancel_modal() -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is not None:
            cancelled.append(dialog.windowTitle())
            dialog.reject()

    guard = QTimer()
    guard.setInterval(1000)
    guard.timeout.connect(cancel_modal)
    guard.start()
    action.trigger()
    guard.stop()
    return cancelled


def test_open_dataset_takes_a_folder_in_one_dialog(make_window, qtbot, tmp_path):
    from PySide6.QtWidgets import QApplication

    from detviewer.gui.dataset_dialog import DatasetDialog

    root = _yolo_folder(tmp_path)
    window = make_window(load=False)
    cancelled = _trigger_without_blocking(qtbot, window.actions_.open_dataset)
    assert not cancelled, f"Open dataset blocked in a dialog: {cancelled}"
    dialog = QApplication.activeModalWidget()
    assert isinstance(dialog, DatasetDialog) and dialog.isVisible()
    dialog.setDirectory(str(root))  # the user went into the folder; one click opens it
    dialog.folder_button.click()
    assert not dialog.isVisible()
    qtbot.waitUntil(lambda: window.workspace.session is not None, timeout=20000)
    assert window.workspace.session.dataset.num_images == 2
    assert Path(window.workspace.session.dataset.source).resolve() == root.resolve()

    # "Open" on a dataset folder selected in its parent opens it too; on a file, the file
    assert not _trigger_without_blocking(qtbot, window.actions_.open_dataset)
    dialog = QApplication.activeModalWidget()
    dialog.setDirectory(str(tmp_path))
    dialog.selectFile(str(root))
    opened = []
    dialog.chosen.connect(opened.append)
    dialog.accept()
    assert opened == [str(root)] and not dialog.isVisible()
    gt = _dataset(tmp_path)
    assert not _trigger_without_blocking(qtbot, window.actions_.open_dataset)
    dialog = QApplication.activeModalWidget()
    dialog.setDirectory(str(gt.parent))
    dialog.selectFile(str(gt))
    dialog.accept()
    qtbot.waitUntil(lambda: window.workspace.session.dataset.num_images == 4, timeout=20000)
