"""The real MainWindow, offscreen, with a fake detector (tables of expected results are in conftest)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDropEvent

from detviewer.ops.nms import nms_trace
from detviewer.state.session import FILTERED, KEPT, PENDING, SUPPRESSED
from detviewer.errors import DetectorError

from gui_fakes import A, B, BOXES, C, D, E, LABELS, SCORES, FakeDetector, FakeLoader, write_image


def kept_set(window) -> set[int]:
    return set(int(i) for i in window.session.kept())


def open_and_wait(qtbot, window, paths):
    with qtbot.waitSignal(window.result_shown, timeout=5000) as blocker:
        assert window.open_paths([str(p) for p in paths])
    return blocker.args[0]


def test_open_image_shows_detections(qtbot, make_window, tmp_path):
    window = make_window()
    window.session.set_thresholds(score=0.2, iou=0.5)
    result = open_and_wait(qtbot, window, [write_image(tmp_path / "a.png")])
    assert result.inference is not None and not result.error
    assert kept_set(window) == {A, C, D, E}  # B goes (IoU 0.68 with A); C stays (0.32)
    kept_layer = next(layer for layer in window.canvas.layers if layer.name == "kept")
    np.testing.assert_array_equal(sorted(kept_layer.index.tolist()), [A, C, D, E])
    assert window.canvas.label_texts("kept")[0] == "cat 0.90"
    assert window.canvas.image_item.image.shape == (240, 320, 3)
    assert "fake" in window.status.model_label.text()


def test_iou_slider_replays_nms_without_calling_the_detector(qtbot, make_window, tmp_path):
    window = make_window()
    window.thresholds_panel.score_slider.setValue(0.2)
    open_and_wait(qtbot, window, [write_image(tmp_path / "a.png")])
    calls = window.loader.detector.calls
    expected = {0.3: {A, D, E}, 0.5: {A, C, D, E}, 0.7: {A, B, C, D, E}}  # hand-computed (conftest)
    for iou, kept in expected.items():
        window.thresholds_panel.iou_slider.setValue(iou)
        assert kept_set(window) == kept, iou
    window.thresholds_panel.iou_slider.setValue(0.5)
    window.thresholds_panel.agnostic_box.setChecked(True)
    assert kept_set(window) == {A, C, D}  # D (dog) now suppresses E (cat), IoU 0.82
    window.thresholds_panel.score_slider.setValue(0.65)
    assert kept_set(window) == {A, C}  # A 0.9, B 0.8 (suppressed by A), C 0.7 pass 0.65
    qtbot.wait(50)
    assert window.loader.detector.calls == calls
    assert window.worker.calls == calls


def test_score_slider_keeps_boxes_strictly_above_threshold(qtbot, make_window, tmp_path):
    window = make_window()
    window.thresholds_panel.iou_slider.setValue(0.5)
    window.thresholds_panel.score_slider.setValue(0.65)
    open_and_wait(qtbot, window, [write_image(tmp_path / "a.png")])
    # Scores above 0.65: A 0.9, B 0.8, C 0.7; B is suppressed by A.
    assert kept_set(window) == {A, C}


def test_nms_stepper_matches_nms_trace(qtbot, make_window, tmp_path):
    window = make_window()
    window.thresholds_panel.score_slider.setValue(0.2)
    window.thresholds_panel.iou_slider.setValue(0.3)
    open_and_wait(qtbot, window, [write_image(tmp_path / "a.png")])
    reference = nms_trace(BOXES, SCORES, LABELS, iou_threshold=0.3, score_threshold=0.2,
                          class_agnostic=False, method="hard", sigma=0.5)
    panel = window.nms_panel
    panel.mode_button.click()
    assert panel.step_mode and window.session.step == 0
    assert (window.session.states() == PENDING).all()
    for step in range(1, len(reference.steps) + 1):
        qtbot.keyClick(window, Qt.Key.Key_Right)
        assert window.session.step == step
        np.testing.assert_array_equal(window.session.states(), reference.state_at(step))
        current = next(layer for layer in window.canvas.layers if layer.name == "current")
        assert current.index.tolist() == [reference.steps[step - 1].kept]
    # Hand-computed: step 1 keeps A and suppresses B (IoU 0.68) and C (0.32); then D, then E.
    assert [s.kept for s in reference.steps] == [A, D, E]
    np.testing.assert_array_equal(window.session.states(), [KEPT, SUPPRESSED, SUPPRESSED, KEPT, KEPT])
    qtbot.keyClick(window, Qt.Key.Key_PageUp)
    qtbot.keyClick(window, Qt.Key.Key_PageUp)
    assert window.session.step == 1
    assert window.session.narration().startswith("Step 1: keep 'cat' 0.90; suppress 2 boxes")
    sup = next(layer for layer in window.canvas.layers if layer.name == "suppressed_now")
    assert sorted(sup.index.tolist()) == [B, C]
    assert set(window.canvas.label_texts("suppressed_now")) == {"IoU 0.68", "IoU 0.32"}
    model = panel.table_model
    states = [model.data(model.index(r, 3)) for r in range(model.rowCount())]
    assert states == ["kept", f"suppressed by #{A} (IoU 0.68)", f"suppressed by #{A} (IoU 0.32)", "pending", "pending"]
    # Clicking a row selects that candidate.
    panel.table.clicked.emit(model.index(3, 0))
    assert window.session.selected == D
    assert any(layer.name == "selected" for layer in window.canvas.layers)
    qtbot.keyClick(window, Qt.Key.Key_Home)
    assert window.session.step == 0
    window.session.set_thresholds(score=0.65)
    assert window.session.states()[D] == FILTERED


def test_detector_exception_becomes_a_message_and_next_frame_works(qtbot, make_window, tmp_path):
    window = make_window()
    window.loader.detector.raise_next = RuntimeError("boom")
    result = open_and_wait(qtbot, window, [write_image(tmp_path / "a.png")])
    assert result.inference is None and "boom" in result.error
    assert "boom" in window.status.currentMessage()
    assert window.worker_thread.thread.isRunning()
    result = open_and_wait(qtbot, window, [write_image(tmp_path / "b.png")])
    assert result.inference is not None and len(window.session.kept()) > 0


def test_model_load_failure_is_one_sentence(qtbot, make_window):
    loader = FakeLoader(fail=DetectorError("Unknown model 'nope'; choose one of: fake."))
    window = make_window(loader=loader, load=False)
    from detviewer.gui.worker import ModelRequest

    with qtbot.waitSignal(window.model_failed, timeout=5000):
        window.request_model(ModelRequest("nope", "none", "cpu"))
    assert window.model_panel.status_label.text() == "Unknown model 'nope'; choose one of: fake."


def test_untrained_default_shows_a_note(qtbot, make_window):
    loader = FakeLoader()
    calls = []

    def only_fallback(name, weights, device, progress):
        calls.append((name, weights))
        if name.startswith("demo-"):
            raise DetectorError(f"{name} is not shipped yet.")
        return loader(name, weights, device, progress)

    window = make_window(loader=only_fallback, load=False)
    from detviewer.gui.worker import ModelRequest

    with qtbot.waitSignal(window.model_ready, timeout=5000):
        window.request_model(ModelRequest())
    assert calls[-1] == ("ssdlite320_mobilenet_v3_large", "none")
    assert window.model_panel.note_label.isVisibleTo(window) and "untrained" in window.model_panel.note_label.text()


def test_closing_during_inference_stops_within_two_seconds(qtbot, make_window, tmp_path, capfd):
    detector = FakeDetector()
    detector.gate = threading.Event()
    window = make_window(FakeLoader(detector))
    window.open_paths([write_image(tmp_path / "a.png")])
    assert detector.started.wait(5)
    threading.Timer(0.3, detector.gate.set).start()  # the forward pass ends on its own
    import time

    start = time.perf_counter()
    window.close()
    assert time.perf_counter() - start < 2.0
    assert not window.worker_thread.thread.isRunning()
    assert detector.closed
    assert "Destroyed while thread" not in capfd.readouterr().err


def test_drag_and_drop_opens_a_folder(qtbot, make_window, tmp_path):
    window = make_window()
    folder = tmp_path / "imgs"
    folder.mkdir()
    write_image(folder / "1.png", 50)
    write_image(folder / "2.png", 90)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(folder))])
    event = QDropEvent(QPoint(50, 50).toPointF(), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.result_shown, timeout=5000):
        window.dropEvent(event)
    assert event.isAccepted()
    assert window.files_panel.list.count() == 2
    assert window.canvas.image_item.image[0, 0, 0] == 50
    recent = [a.text() for a in window.actions_.recent_menu.actions()]
    assert recent[0] == str(folder.resolve())


def test_hover_finds_the_smallest_box_and_describes_it(qtbot, make_window, tmp_path):
    window = make_window()
    window.session.set_thresholds(score=0.2, iou=0.7)  # all five kept
    open_and_wait(qtbot, window, [write_image(tmp_path / "a.png")])
    # (130, 130) lies only in C = [40, 40, 140, 140]; (5, 5) in no box.
    assert window.canvas.box_at(130, 130) == C
    assert window.canvas.box_at(5, 5) is None
    text = window.describe_candidate(D)
    assert text.startswith("#3 dog  score 0.600") and "x1 200  y1 50  x2 300  y2 150  (100×100)" in text
    window.session.set_thresholds(iou=0.5)
    assert "suppressed at step 1 (IoU 0.68)" in window.describe_candidate(B)


def test_broken_file_in_folder_gives_a_message_and_browsing_continues(qtbot, make_window, tmp_path):
    window = make_window()
    folder = tmp_path / "imgs"
    folder.mkdir()
    write_image(folder / "1.png", 50)
    (folder / "2.png").write_bytes(b"this is not a png")
    write_image(folder / "3.png", 120)
    open_and_wait(qtbot, window, [folder])
    qtbot.keyClick(window, Qt.Key.Key_Right)  # to the broken one
    assert "2.png" in window.status.currentMessage()
    assert window.session.inference is None
    assert "cannot open" in window.files_panel.list.item(1).text()
    with qtbot.waitSignal(window.result_shown, timeout=5000):
        qtbot.keyClick(window, Qt.Key.Key_PageDown)  # browsing continues
    assert window.feed.index == 2
    assert window.canvas.image_item.image[0, 0, 0] == 120


def test_stale_results_are_dropped_when_switching_images(qtbot, make_window, tmp_path):
    detector = FakeDetector()
    detector.gate = threading.Event()
    window = make_window(FakeLoader(detector))
    first, second = write_image(tmp_path / "a.png", 30), write_image(tmp_path / "b.png", 200)
    window.open_paths([first])
    assert detector.started.wait(5)  # the worker is busy with the first image
    window.open_paths([second])
    detector.gate.set()
    qtbot.waitUntil(lambda: window.dropped_results >= 1, timeout=5000)
    qtbot.waitUntil(lambda: window.session.inference is not None, timeout=5000)
    assert window.canvas.image_item.image[0, 0, 0] == 200
    assert detector.frames_seen == [30, 200]


def test_settings_persist_thresholds_and_model(qtbot, make_window, settings):
    window = make_window()
    window.thresholds_panel.iou_slider.setValue(0.35)
    window.thresholds_panel.method_combo.setCurrentIndex(2)  # gaussian
    window.close()
    second = make_window(load=False)
    assert second.session.thresholds.iou == pytest.approx(0.35)
    assert second.session.thresholds.method == "gaussian"
    assert second.thresholds_panel.iou_slider.value() == pytest.approx(0.35)
    from detviewer.gui.settings import load_model_request

    assert load_model_request(settings).name == "fake"
