"""The A / B tab in the real window, from two imported results files: the ΔAP interval in its heading (computed
off the GUI thread), the lists of objects B fixed and broke, and one click from a listed object to its image with
both sides' boxes."""

from __future__ import annotations

import json

import numpy as np
from views_helpers import DEMO_IMAGE

from detviewer.evaluation.bootstrap import DEFAULT_RESAMPLES

GT = DEMO_IMAGE.parent / "annotations.json"


def _results(path, skip: set[int], score: float):
    """Every demo object found exactly (IoU 1) except the annotations at positions ``skip``."""
    anns = json.loads(GT.read_text())["annotations"]
    rows = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": score}
            for n, a in enumerate(anns) if n not in skip]
    path.write_text(json.dumps(rows))
    return path


def test_fixed_and_broken_objects_listed_and_opened_with_the_interval_above(make_window, qtbot, tmp_path):
    data = json.loads(GT.read_text())
    image_of = [a["image_id"] for a in data["annotations"]]
    third, fourth = data["images"][2]["id"], data["images"][3]["id"]
    # A misses two objects of the third image (the window shows the first one: opening these navigates), B one of
    # the fourth
    fixed = [n for n, i in enumerate(image_of) if i == third][:2]
    broken = [n for n, i in enumerate(image_of) if i == fourth][:1]
    window = make_window(load=False)
    window.open_paths([str(GT)])
    qtbot.waitUntil(lambda: window.workspace.session is not None, timeout=20000)
    ws = window.workspace
    ws.import_results("A", _results(tmp_path / "a.json", set(fixed), 0.9))
    qtbot.waitUntil(lambda: ws.session.has("A") and ws.metrics.classes.rowCount() > 0, timeout=30000)
    ws.import_results("B", _results(tmp_path / "b.json", set(broken), 0.8))
    tab = ws.compare
    qtbot.waitUntil(lambda: ws.session.comparing and tab.images.rowCount() == ws.session.dataset.num_images,
                    timeout=30000)
    # the interval comes a moment later, from a thread of its own: the heading says so meanwhile
    qtbot.waitUntil(lambda: "95% interval" in tab.heading.text(), timeout=30000)
    ready = ws.session.comparison().bootstrap_ready(DEFAULT_RESAMPLES)
    assert ready is not None and tab._computing is None
    heading = tab.heading.text()
    assert f"ΔAP {ready.ap.delta:+.3f}, 95% interval [{ready.ap.low:+.3f}, {ready.ap.high:+.3f}]" in heading

    tab.list_mode.setCurrentIndex(tab.list_mode.findData("fixed"))
    assert tab.list_mode.currentText() == "Objects B fixed (2)" and tab.images.rowCount() == 2
    boxes = ws.session.dataset.boxes
    changes = tab._changes
    assert sorted(changes.fixed.gt[[tab.images.item_at(r) for r in range(2)]].tolist()) == fixed
    tab.open_row(0)
    path = ws.session.dataset.image_paths[int(boxes.image_index[fixed[0]])]
    qtbot.waitUntil(lambda: window.state.frame is not None and str(window.state.frame.path) == str(path),
                    timeout=30000)
    qtbot.waitUntil(lambda: any(layer.name == "overlay_only_b" for layer in window.canvas.layers), timeout=30000)
    drawn = next(layer for layer in window.canvas.layers if layer.name == "overlay_only_b")
    x, y, w, h = boxes.xywh[fixed].T  # the objects B found and A missed there
    np.testing.assert_allclose(np.sort(drawn.xyxy, axis=0), np.sort(np.stack([x, y, x + w, y + h], 1), axis=0),
                               atol=1e-3)

    tab.list_mode.setCurrentIndex(tab.list_mode.findData("broken"))
    assert tab.list_mode.currentText() == "Objects B broke (1)" and tab.images.rowCount() == 1
    assert tab.images.columns[0].values[tab.images.item_at(0)] == ws.session.dataset.image_paths[
        int(boxes.image_index[broken[0]])].name
    assert not tab.sort_key.isEnabled()
    tab.list_mode.setCurrentIndex(tab.list_mode.findData("images"))
    assert tab.images.rowCount() == ws.session.dataset.num_images and tab.sort_key.isEnabled()


def test_a_replaced_comparison_stops_its_interval(qtbot):
    """A comparison replaced while its interval is computed is stopped, and the new one's interval shown."""
    from detviewer.evaluation.compare import Comparison
    from detviewer.gui.workspace.compare_tabs import CompareTab
    from detviewer.io.annotations import coco_gt_from_dict
    from detviewer.io.coco_results import coco_results_from_list

    data = json.loads(GT.read_text())
    g = coco_gt_from_dict(data)
    rows = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 0.9}
            for a in data["annotations"]]
    first = Comparison.from_boxes(g.boxes, coco_results_from_list(rows[1:], g).boxes,
                                  coco_results_from_list(rows, g).boxes, g.num_images, g.category_names)
    second = Comparison(first.a, first.b)
    tab = CompareTab(lambda *args: None)
    qtbot.addWidget(tab)
    tab._start_interval(first)
    stop_first = tab._computing[1]
    tab._start_interval(second)
    assert stop_first.is_set() and tab._computing[0] is second
    qtbot.waitUntil(lambda: tab._computing is None, timeout=30000)
    assert second.bootstrap_ready() is not None


def test_an_interval_that_fails_is_a_sentence_not_a_traceback(qtbot, monkeypatch):
    from detviewer.core.metrics import DetectionBoxes
    from detviewer.evaluation.compare import Comparison
    from detviewer.gui.workspace.compare_tabs import CompareTab
    from detviewer.io.annotations import coco_gt_from_dict

    g = coco_gt_from_dict(json.loads(GT.read_text()))
    none = DetectionBoxes(image_index=[], category_index=[], xywh=np.zeros((0, 4)), scores=[])
    comparison = Comparison.from_boxes(g.boxes, none, none, g.num_images, g.category_names)

    def out_of_memory(*_args, **_kwargs):
        raise MemoryError("Unable to allocate 80.0 GiB")

    monkeypatch.setattr(Comparison, "bootstrap", out_of_memory)
    tab = CompareTab(lambda *args: None)
    qtbot.addWidget(tab)
    tab._start_interval(comparison)
    qtbot.waitUntil(lambda: tab._computing is None, timeout=10000)
    assert tab._interval_error == (comparison, "MemoryError: Unable to allocate 80.0 GiB")
