"""The window's session (gui/session.py) in the real MainWindow: a change of dataset, model, run or selection is one
event every dependent follows, so nothing from an earlier one stays on screen. Fake detectors over a tiny COCO
dataset written here (hand-placed boxes, see gui_fakes), so every expected number is known."""

from __future__ import annotations

import json

import numpy as np
import pytest
from gui_fakes import BOXES, CLASS_NAMES, FakeDetector, write_image

from detviewer.gui.worker import ModelRequest

# Two images, 320 x 240. Objects (xyxy): a cat at A's box and a dog at D's box (gui_fakes), and a cat nobody finds.
GT_BOXES = [(1, "cat", (10, 10, 110, 110)), (1, "dog", (200, 50, 300, 150)), (2, "cat", (150, 160, 200, 220))]


def write_dataset(folder, names=("cat", "dog"), images=2) -> str:
    """A COCO dataset in ``folder``; returns its annotations file."""
    folder.mkdir(parents=True, exist_ok=True)
    cats = [{"id": i + 1, "name": n} for i, n in enumerate(names)]
    anns = []
    for image, name, (x1, y1, x2, y2) in GT_BOXES:
        if image <= images and name in names:
            anns.append({"id": len(anns) + 1, "image_id": image, "category_id": names.index(name) + 1,
                         "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1), "iscrowd": 0})
    files = [{"id": k, "file_name": f"img{k}.png", "width": 320, "height": 240} for k in range(1, images + 1)]
    for k in range(1, images + 1):
        write_image(folder / f"img{k}.png", value=40 * k)
    path = folder / "annotations.json"
    path.write_text(json.dumps({"images": files, "annotations": anns, "categories": cats}))
    return str(path)


class NamedLoader:
    """One fake detector per model name (demo-a finds the cat and the dog; demo-b only the dog)."""

    def __init__(self):
        b = FakeDetector(boxes=np.array([[200, 50, 300, 150]], np.float32), scores=np.array([0.6], np.float32),
                         labels=np.array([2], np.int64))
        self.detectors = {"demo-a": FakeDetector(), "demo-b": b}
        for name, detector in self.detectors.items():
            detector.name = name
        self.detectors["demo-a"].display_score = 0.75
        self.detectors["demo-b"].display_score = 0.6

    def __call__(self, name, weights, device, progress):
        return self.detectors[name]


def _load(window, qtbot, name):
    with qtbot.waitSignal(window.model_ready, timeout=60000):
        window.request_model(ModelRequest(name, "default", "cpu"))


def _open(window, qtbot, path):
    window.open_paths([path])
    qtbot.waitUntil(lambda: window.workspace.session is not None
                    and str(window.workspace.session.dataset.source) == str(path), timeout=20000)
    qtbot.waitUntil(lambda: window.state.inference is not None, timeout=20000)


def _run(window, qtbot, side="A"):
    ws = window.workspace
    ws.run_model(side)  # B: another model than A's is loaded, nothing to ask
    qtbot.waitUntil(lambda: ws.session.has(side) and ws.metrics.classes.rowCount() > 0
                    and (side == "A" or ws.compare.images.rowCount() > 0), timeout=30000)


@pytest.fixture
def window_ab(make_window, qtbot, tmp_path):
    window = make_window(loader=NamedLoader(), load=False)
    window.workspace.cache_dir = tmp_path / "cache"
    _load(window, qtbot, "demo-a")
    _open(window, qtbot, write_dataset(tmp_path / "one"))
    window.state.set_thresholds(score=0.2)
    _run(window, qtbot)
    return window


def _tp_total(ws) -> int:
    model = ws.metrics.classes
    column = [c.header for c in model.columns].index("TP")
    return sum(int(model.columns[column].values[model.item_at(r)]) for r in range(model.rowCount()))


def test_opening_a_second_dataset_clears_what_the_first_one_showed(window_ab, qtbot, tmp_path):
    window, ws = window_ab, window_ab.workspace
    window.state.set_thresholds(score=0.2)
    _load(window, qtbot, "demo-b")
    _run(window, qtbot, "B")
    assert ws.metrics.classes.rowCount() == 2 and ws.compare.images.rowCount() == 2
    second = write_dataset(tmp_path / "two", names=("dog", "cat", "bird"), images=1)
    _open(window, qtbot, second)
    qtbot.wait(200)
    ws = window.workspace
    assert ws.session.dataset.class_names == ("dog", "cat", "bird") and not ws.session.has("A")
    assert ws.metrics.classes.rowCount() == 0  # no class table of the first dataset, in its class order
    assert all(ws.metrics.coco.item(r, 1) is None for r in range(ws.metrics.coco.rowCount()))
    assert ws.compare.images.rowCount() == 0 and ws.compare.heading.text() == ""
    assert ws.coverage.coverage is None
    assert ws.heading.text() == ""  # no run named over the new dataset


def test_loading_model_b_keeps_the_tabs_describing_a_and_names_both(window_ab, qtbot):
    window, ws = window_ab, window_ab.workspace
    window.state.set_thresholds(score=0.3)
    tp = _tp_total(ws)
    _load(window, qtbot, "demo-b")
    assert window.state.thresholds.score == 0.3  # not demo-b's default 0.6: the tabs still mean A at 0.3
    assert _tp_total(ws) == tp == 2
    assert "demo-a" in ws.heading.text() and "0.30" in ws.heading.text()
    assert "0.60" in window.thresholds_panel.note.text() and "0.30" in window.thresholds_panel.note.text()
    _run(window, qtbot, "B")
    assert "A = demo-a" in ws.heading.text() and "B = demo-b" in ws.heading.text()
    assert _tp_total(ws) == 2  # Metrics still A's


def test_compare_with_one_model_loaded_asks_which_is_b(window_ab, qtbot):
    ws = window_ab.workspace
    asked = []
    ws.ask_b = lambda: asked.append(True)  # the user cancels the question
    ws.compare_run.click()
    qtbot.wait(300)
    assert asked == [True]
    assert ws.runner.running is None and not ws.session.has("B")  # A is never compared with itself


def test_compare_asks_then_runs_the_chosen_model_as_b(window_ab, qtbot):
    from detviewer.gui.workspace.choose_b import BChoice

    ws = window_ab.workspace
    ws.ask_b = lambda: BChoice(model=ModelRequest("demo-b", "default", "cpu"))
    ws.compare_run.click()
    qtbot.waitUntil(lambda: ws.session.has("B") and ws.compare.images.rowCount() == 2, timeout=30000)
    assert ws.session.names == {"A": "demo-a", "B": "demo-b"}


def _cell_layers(window):
    return [layer for layer in window.canvas.layers if layer.name.startswith("overlay_cell")]


def _open_wrong_class_cell(window, qtbot):
    """demo-a's boxes B, C and E (cats over no object of theirs) are the cell "predicted cat, true background" on
    both images (the fake finds the same boxes everywhere); open the first image behind it."""
    ws = window.workspace
    names = ws.session.dataset.class_names
    ws.confusion.select_cell(names.index("cat"), len(names))
    assert ws.confusion.hits.count() == 2
    ws.confusion.hits.itemClicked.emit(ws.confusion.hits.item(0))
    qtbot.waitUntil(lambda: bool(_cell_layers(window)), timeout=10000)


def test_a_confusion_cell_highlight_goes_with_a_row_click_an_ab_click_or_a_score_change(window_ab, qtbot):
    window, ws = window_ab, window_ab.workspace
    _open_wrong_class_cell(window, qtbot)
    ws.images.view.clicked.emit(ws.images.model.index(1, 0))  # a row of the Images tab, one click
    qtbot.waitUntil(lambda: not _cell_layers(window), timeout=10000)
    assert not any("predicted cat" in text.lower() for text, _ in window.presenter.shown.frame.legend)

    _open_wrong_class_cell(window, qtbot)
    window.thresholds_panel.score_slider.setValue(0.35)  # E (0.3) is no longer a detection: the cell changed
    qtbot.waitUntil(lambda: not _cell_layers(window), timeout=10000)
    assert "predicted cat" not in window.status.message_text()

    window.state.set_thresholds(score=0.2)
    _load(window, qtbot, "demo-b")
    _run(window, qtbot, "B")
    _open_wrong_class_cell(window, qtbot)
    ws.compare.open_row(0)
    qtbot.waitUntil(lambda: not _cell_layers(window), timeout=10000)


def test_an_ab_row_click_draws_what_a_found_and_b_missed(window_ab, qtbot):
    window, ws = window_ab, window_ab.workspace
    _load(window, qtbot, "demo-b")
    _run(window, qtbot, "B")
    snapshot = ws.session.compare(window.state.thresholds.score, 0.5)
    row = [ws.compare.images.item_at(r) for r in range(2)].index(0)  # the first image: A found its cat, B did not
    assert int(snapshot.images.a_only[0]) == 1
    ws.compare.open_row(row)
    qtbot.waitUntil(lambda: any(layer.name == "overlay_only_a" for layer in window.canvas.layers), timeout=10000)
    only_a = next(layer for layer in window.canvas.layers if layer.name == "overlay_only_a")
    np.testing.assert_allclose(only_a.xyxy, [[10, 10, 110, 110]], atol=1e-3)  # the cat, found by A only
    legend = " ".join(text for text, _ in window.presenter.shown.frame.legend)
    assert "found by demo-a, missed by demo-b" in legend
    # what A found, from run A (the canvas runs demo-b, loaded last): its five boxes above 0.2, and B's one
    layers = {layer.name: layer for layer in window.canvas.layers}
    np.testing.assert_allclose(np.sort(layers["overlay_a_detections"].xyxy, axis=0), np.sort(BOXES, axis=0), atol=1e-3)
    np.testing.assert_allclose(layers["overlay_b_detections"].xyxy, [[200, 50, 300, 150]], atol=1e-3)
    assert "demo-a's detections" in legend and "demo-b's detections" in legend


def test_every_run_of_the_session_names_its_provenance(window_ab):
    run = window_ab.session.run("A")
    assert run.info.model == "demo-a" and run.info.dataset.endswith("annotations.json")
    assert run.name == "demo-a" and window_ab.workspace.session.names["A"] == "demo-a"
    assert set(CLASS_NAMES[1:]) == set(window_ab.session.dataset.class_names)


def test_the_canvas_and_a_confusion_cell_explain_a_box_by_the_same_rule(window_ab, qtbot):
    """The cell "predicted cat, true background" (class-agnostic matching) holds C (IoU 0.32 with the cat) and E
    (on the dog): the canvas calls them "IoU 0.32" and "wrong class (dog)" (COCO matching, TIDE); the cell's boxes
    are labelled by that same rule, and each legend names its rule."""
    from detviewer.evaluation.errors import FP_RULE, MATRIX_RULE

    window = window_ab
    _open_wrong_class_cell(window, qtbot)
    qtbot.waitUntil(lambda: bool(window.canvas.label_texts("false_positive")), timeout=10000)
    canvas = {text.split(":")[0].removeprefix("FP "): text.split(": ", 1)[1]
              for text in window.canvas.label_texts("false_positive")}
    cell = {text.split(":")[0]: text.split(": ", 1)[1] for text in window.canvas.label_texts("overlay_cell_detections")}
    assert canvas == {"cat 0.70": "IoU 0.32", "cat 0.30": "wrong class (dog)"}
    assert {box: cell[box] for box in canvas} == canvas  # the same reason for the same box
    assert cell["cat 0.80"] == "duplicate"  # B: suppressed by the window's NMS, a duplicate in the dataset run
    legend = " ".join(text for text, _ in window.presenter.shown.frame.legend)
    assert MATRIX_RULE in legend and FP_RULE in legend
