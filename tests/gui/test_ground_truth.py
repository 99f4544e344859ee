"""Ground truth in the real window: found beside the demo images, drawn with misses and false positives,
passed to the teaching views, toggled with G; bad or unrelated files are reported and change nothing."""

from __future__ import annotations

import json

import numpy as np
from gui_fakes import write_image
from views_helpers import DEMO_IMAGE, demo_window, show_view

from detviewer.core.matching import match_to_ground_truth
from detviewer.io.image_gt import ImageGroundTruth


def _names(window) -> list[str]:
    return [layer.name for layer in window.canvas.layers]


def test_demo_ground_truth_is_found_and_matched_against_the_detections(make_window, qtbot):
    window = demo_window(make_window, qtbot)
    assert window.ground_truth.path == DEMO_IMAGE.parent / "annotations.json"
    assert window.actions_.show_gt.isEnabled() and window.actions_.show_gt.isChecked()
    truth = ImageGroundTruth.load(DEMO_IMAGE.parent / "annotations.json")
    expected_gt = truth.boxes_for(DEMO_IMAGE, window.state.inference.detections.class_names)

    layers = {layer.name: layer for layer in window.canvas.layers}
    np.testing.assert_array_equal(layers["ground_truth"].xyxy, expected_gt.xyxy)
    r = window.state.replay
    kept = r.keep
    match = match_to_ground_truth(r.candidates.xyxy[kept], r.scores[kept], r.candidates.labels[kept],
                                  expected_gt.xyxy, expected_gt.labels)
    assert match.summary() in window.views_panel.caption.text()
    assert ("missed" in layers) == bool(match.missed.any())
    assert ("false_positive" in layers) == bool((~match.tp).any())

    # The anchors view colours by the RPN's training label for these boxes (auto), with the GT drawn.
    show_view(qtbot, window, "anchors")
    assert "anchors_positive" in _names(window) and "ground_truth" in _names(window)
    assert "positive" in window.views_panel.caption.text()

    # G hides the ground truth: per-level colours again, and asking for labels is a sentence, not a crash.
    window.actions_.show_gt.trigger()
    assert not window.actions_.show_gt.isChecked()
    assert "ground_truth" not in _names(window) and any(n.startswith("anchors_L") for n in _names(window))
    window.state.set_control("color_by", "label")
    assert "needs ground truth" in window.views_panel.caption.text()
    window.state.set_control("color_by", "auto")
    window.state.set_view("detections")
    assert "ground_truth" not in _names(window) and "TP" not in window.views_panel.caption.text()


def test_bad_or_unrelated_ground_truth_is_reported_and_changes_nothing(make_window, qtbot, tmp_path):
    window = make_window()
    folder = tmp_path / "shots"
    folder.mkdir()
    image = write_image(folder / "frame.png")
    # an annotations.json that lists other images is not taken for these
    (folder / "annotations.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "elsewhere.png"}], "categories": [{"id": 1, "name": "a"}],
        "annotations": []}))
    with qtbot.waitSignal(window.result_shown, timeout=10000):
        window.open_paths([str(folder)])
    assert window.ground_truth.truth is None
    assert "does not list them" in window.status.message_text()
    # a second file beside it that does list them is found and taken
    (folder / "instances_val.json").write_text(json.dumps({
        "images": [{"id": 9, "file_name": "frame.png"}], "categories": [{"id": 1, "name": "a"}],
        "annotations": []}))
    with qtbot.waitSignal(window.result_shown, timeout=10000):
        window.open_paths([str(folder)])
    assert window.ground_truth.path == folder / "instances_val.json"
    assert "TP 0 · FP" in window.views_panel.caption.text()  # no objects: every detection is a false positive
    window.actions_.clear_gt.trigger()

    broken = tmp_path / "broken.json"
    broken.write_text('{"images": [')
    assert not window.open_ground_truth(broken)
    assert "not valid JSON" in window.status.message_text() and window.ground_truth.truth is None

    good = tmp_path / "gt.json"
    good.write_text(json.dumps({
        "images": [{"id": 3, "file_name": "shots/frame.png"}], "categories": [{"id": 1, "name": "a"}],
        "annotations": [{"id": 1, "image_id": 3, "category_id": 1, "bbox": [10, 10, 50, 40]}]}))
    assert window.open_ground_truth(good)
    assert "1 images, 1 boxes" in window.status.message_text()
    gt = window.state.ground_truth
    np.testing.assert_array_equal(gt.xyxy, [[10, 10, 60, 50]])
    assert "ground_truth" in _names(window)
    assert window.ground_truth.discover([image], [image]) is False  # already covered: kept
    window.actions_.clear_gt.trigger()
    assert window.ground_truth.truth is None and "ground_truth" not in _names(window)


def test_ground_truth_of_one_folder_is_never_applied_to_another_folders_same_named_image(make_window, qtbot,
                                                                                        tmp_path):
    """Open the demo folder (ground truth found), then another folder holding a shapes_7_00000.png: that image
    is not in the demo's annotations (it only shares a file name), so it gets no TP / FP / missed."""
    window = make_window()
    with qtbot.waitSignal(window.result_shown, timeout=10000):
        window.open_paths([str(DEMO_IMAGE.parent)])
    assert window.ground_truth.truth is not None and window.state.ground_truth is not None
    other = tmp_path / "other"
    other.mkdir()
    write_image(other / DEMO_IMAGE.name)
    with qtbot.waitSignal(window.result_shown, timeout=10000):
        window.open_paths([str(other)])
    assert window.ground_truth.truth is None  # the demo's ground truth went with its folder
    assert window.state.ground_truth is None and "TP" not in window.views_panel.caption.text()
    assert not [layer for layer in window.canvas.layers if layer.name in ("ground_truth", "missed")]


def test_launching_without_arguments_opens_the_demo_with_its_ground_truth(make_window, qtbot):
    from detviewer.gui.launch import build_parser, open_initial

    window = make_window()
    with qtbot.waitSignal(window.result_shown, timeout=10000):
        assert open_initial(window, build_parser().parse_args([]))
    assert window.ground_truth.path == DEMO_IMAGE.parent / "annotations.json"
    assert window.state.ground_truth is not None and "TP" in window.views_panel.caption.text()
    assert not window.actions_.recent_menu.actions()  # the demo is not a recent file of the user's


def test_ground_truth_is_searched_off_the_gui_thread_and_in_place_before_the_first_result(make_window, qtbot,
                                                                                           monkeypatch):
    """Parsing a COCO file found beside the images can take seconds: it runs in the task runner, queued before
    the first frame's decoding, so the result is still drawn with its ground truth."""
    import threading

    import detviewer.gui.ground_truth as holder_module

    threads = []
    real_search = holder_module.search_ground_truth

    def search(*args):
        threads.append(threading.current_thread())
        return real_search(*args)

    monkeypatch.setattr(holder_module, "search_ground_truth", search)
    window = make_window()
    truth_when_shown = []

    def first_result(result) -> bool:
        truth_when_shown.append(window.state.ground_truth)
        return result.inference is not None

    with qtbot.waitSignal(window.result_shown, timeout=10000, check_params_cb=first_result):
        window.open_paths([str(DEMO_IMAGE)])
    assert threads and threads[0] is not threading.main_thread()
    assert truth_when_shown[0] is not None  # already there when the first result was shown
    assert "TP" in window.views_panel.caption.text()


def test_a_search_for_a_folder_left_meanwhile_is_dropped(make_window, qtbot, tmp_path):
    """Open the demo folder and, before its ground truth is found, another folder: the demo's ground truth
    must not be applied to it."""
    window = make_window()
    other = tmp_path / "other"
    other.mkdir()
    write_image(other / "a.png")
    window.open_paths([str(DEMO_IMAGE.parent)])
    with qtbot.waitSignal(window.result_shown, timeout=10000,
                          check_params_cb=lambda r: r.frame is not None and r.frame.path.endswith("a.png")):
        window.open_paths([str(other)])
    qtbot.waitUntil(lambda: not window.background.runner.busy, timeout=10000)
    assert window.ground_truth.truth is None and window.state.ground_truth is None
