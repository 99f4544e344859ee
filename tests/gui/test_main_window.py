"""The real MainWindow, offscreen, with a fake detector (tables of expected results are in gui_fakes)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from gui_fakes import BOXES, LABELS, SCORES, A, B, C, D, E, FakeDetector, FakeLoader, write_image
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDropEvent

from detviewer.core.types import FILTERED, KEPT, PENDING, SUPPRESSED
from detviewer.errors import DetectorError
from detviewer.ops.nms import nms_trace


def kept_set(window) -> set[int]:
    return set(int(i) for i in window.state.replay.keep)


def open_and_wait(qtbot, window, paths):
    with qtbot.waitSignal(window.result_shown, timeout=5000) as blocker:
        assert window.open_paths([str(p) for p in paths])
    return blocker.args[0]


def test_open_image_shows_detections(qtbot, make_window, tmp_path):
    window = make_window()
    window.state.set_thresholds(score=0.2, iou=0.5)
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
    expected = {0.3: {A, D, E}, 0.5: {A, C, D, E}, 0.7: {A, B, C, D, E}}  # hand-computed (gui_fakes)
    for iou, kept in expected.items():
        window.thresholds_panel.iou_slider.setValue(iou)
        assert kept_set(window) == kept, iou
    window.thresholds_panel.iou_slider.setValue(0.5)
    window.thresholds_panel.agnostic_box.setChecked(True)
    assert kept_set(window) == {A, C, D}  # D (dog) now suppresses E (cat), IoU 0.82
    window.thresholds_panel.score_slider.setValue(0.65)
    assert kept_set(window) == {A, C}  # A 0.9, B 0.8 (suppressed by A), C 0.7 pass 0.65
    qtbot.waitUntil(lambda: not window.background.busy, timeout=5000)
    assert window.loader.detector.calls == calls
    assert window.worker.calls == calls


def test_score_slider_keeps_boxes_strictly_above_threshold(qtbot, make_window, tmp_path):
    window = make_window()
    window.thresholds_panel.iou_slider.setValue(0.5)
    window.thresholds_panel.score_slider.setValue(0.65)
    open_and_wait(qtbot, window, [write_image(tmp_path / "a.png")])
    # Scores above 0.65: A 0.9, B 0.8, C 0.7; B is suppressed by A.
    assert kept_set(window) == {A, C}


def test_gaussian_soft_nms_disables_the_iou_slider_and_says_sigma(qtbot, make_window, tmp_path):
    window = make_window()
    open_and_wait(qtbot, window, [write_image(tmp_path / "a.png")])
    panel = window.thresholds_panel
    panel.method_combo.setCurrentIndex(panel.method_combo.findData("gaussian"))
    assert not panel.iou_slider.isEnabled() and "no IoU threshold" in panel.iou_slider.toolTip()
    caption = window.nms_panel.narration.text()
    assert "σ = 0.50" in caption and "IoU >" not in caption
    panel.method_combo.setCurrentIndex(panel.method_combo.findData("hard"))
    assert panel.iou_slider.isEnabled()


def test_nms_stepper_matches_nms_trace(qtbot, make_window, tmp_path):
    window = make_window()
    window.state.set_thresholds(score=0.2, iou=0.3)
    open_and_wait(qtbot, window, [write_image(tmp_path / "a.png")])
    reference = nms_trace(BOXES, SCORES, LABELS, iou_threshold=0.3, score_threshold=0.2)
    panel, state = window.nms_panel, window.state
    panel.mode_button.click()
    assert state.view == "nms" and state.step_position() == (0, 4)
    assert (state.replay.states(0) == PENDING).all()
    for step in range(1, len(reference.steps) + 1):
        qtbot.keyClick(window, Qt.Key.Key_Right)
        assert state.step_position()[0] == step
        current = next(layer for layer in window.canvas.layers if layer.name == "current")
        assert current.index.tolist() == [reference.steps[step - 1].kept]
        np.testing.assert_array_equal(panel.table_model.states, reference.state_at(step))
    # Hand-computed: step 1 keeps A and suppresses B (IoU 0.68) and C (0.32); then D, then E.
    assert [s.kept for s in reference.steps] == [A, D, E]
    np.testing.assert_array_equal(panel.table_model.states, [KEPT, SUPPRESSED, SUPPRESSED, KEPT, KEPT])
    qtbot.keyClick(window, Qt.Key.Key_PageUp)
    qtbot.keyClick(window, Qt.Key.Key_PageUp)
    assert state.step_position()[0] == 1
    assert panel.narration.text().startswith("Step 1: keep 'cat' 0.90; suppress 2 boxes")
    sup = next(layer for layer in window.canvas.layers if layer.name == "suppressed_now")
    assert sorted(sup.index.tolist()) == [B, C]
    assert set(window.canvas.label_texts("suppressed_now")) == {"IoU 0.68", "IoU 0.32"}
    model = panel.table_model
    states = [model.data(model.index(r, 3)) for r in range(model.rowCount())]
    # on screen candidates count from 1: candidate index A is "#A+1" in the table's first column too
    assert states == ["kept", f"suppressed by #{A + 1} (IoU 0.68)", f"suppressed by #{A + 1} (IoU 0.32)", "pending",
                      "pending"]
    assert model.data(model.index(0, 0)) == str(A + 1)
    panel.table.clicked.emit(model.index(3, 0))  # clicking a row selects that candidate
    assert state.selected == D
    assert any(layer.name == "selected" for layer in window.canvas.layers)
    qtbot.keyClick(window, Qt.Key.Key_Home)
    assert state.step_position()[0] == 0
    state.set_thresholds(score=0.65)
    assert state.replay.states(0)[D] == FILTERED


def test_one_step_text_in_the_view_dock_the_nms_panel_and_lecture_mode(qtbot, make_window, tmp_path):
    """The step was held three times and the three places disagreed ("Step 4/7: NMS step 3/6" vs "Step 3 / 6")."""
    window = make_window()
    window.state.set_thresholds(score=0.2, iou=0.7)  # five NMS steps
    open_and_wait(qtbot, window, [write_image(tmp_path / "a.png")])
    window.nms_panel.mode_button.click()
    for _ in range(3):
        qtbot.keyClick(window, Qt.Key.Key_Right)
    texts = {window.views_panel.position.text(), window.nms_panel.step_label.text(),
             window.lecture.bar.step.text()}
    assert texts == {"NMS step 3 of 5"}
    assert window.views_panel.slider.value() == 3 and window.views_panel.slider.maximum() == 5
    window.views_panel.slider.setValue(1)  # the View dock's slider moves the same step
    assert window.nms_panel.step_label.text() == "NMS step 1 of 5"
    assert window.nms_panel.narration.text() == window.views_panel.caption.text()


def test_arrow_keys_step_the_view_and_ctrl_arrows_change_the_image(qtbot, make_window, tmp_path):
    """One rule everywhere: Right / PageDown step within the view, Ctrl+Right or ] go to the next image."""
    window = make_window()
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i, value in enumerate((40, 80, 120)):
        write_image(folder / f"{i}.png", value)
    open_and_wait(qtbot, window, [folder])
    qtbot.keyClick(window, Qt.Key.Key_Right)  # the detections view has one step: the image stays
    qtbot.waitUntil(lambda: not window.background.busy, timeout=10000)
    assert window.feed.index == 0
    with qtbot.waitSignal(window.result_shown, timeout=5000):
        qtbot.keyClick(window, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
    assert window.feed.index == 1
    with qtbot.waitSignal(window.result_shown, timeout=5000):
        qtbot.keyClick(window, Qt.Key.Key_BracketRight)
    assert window.feed.index == 2
    window.state.set_view("nms")
    qtbot.keyClick(window, Qt.Key.Key_PageDown)
    assert window.feed.index == 2 and window.state.step_position()[0] == 1
    from detviewer.gui.help_dialogs import shortcut_rows

    rows = {keys: text for _, keys, text in shortcut_rows(window.menuBar())}
    assert "step" in rows["Right / Space / PgDown"].lower() and "image" in rows["Ctrl+Right / ]"].lower()


def test_detector_exception_becomes_a_message_and_next_frame_works(qtbot, make_window, tmp_path):
    window = make_window()
    window.loader.detector.raise_next = RuntimeError("boom")
    result = open_and_wait(qtbot, window, [write_image(tmp_path / "a.png")])
    assert result.inference is None and "boom" in result.error
    assert "boom" in window.status.message_text()
    assert window.background.running
    result = open_and_wait(qtbot, window, [write_image(tmp_path / "b.png")])
    assert result.inference is not None and len(window.state.replay.keep) > 0


@pytest.mark.parametrize("fault, words", [
    (SystemExit(3), "SystemExit"),
    (KeyboardInterrupt(), "KeyboardInterrupt"),
])
def test_a_detector_raising_systemexit_leaves_the_worker_running(qtbot, make_window, tmp_path, fault, words):
    window = make_window()
    window.loader.detector.raise_next = fault
    result = open_and_wait(qtbot, window, [write_image(tmp_path / "a.png")])
    assert result.inference is None and words in result.error
    assert window.background.running
    result = open_and_wait(qtbot, window, [write_image(tmp_path / "b.png")])
    assert result.inference is not None


def test_non_finite_boxes_are_dropped_in_the_worker_with_one_sentence(qtbot, make_window, tmp_path):
    boxes = BOXES.copy()
    boxes[1, 2] = np.nan
    scores = SCORES.copy()
    scores[3] = np.inf
    window = make_window(FakeLoader(FakeDetector(boxes=boxes, scores=scores)))
    result = open_and_wait(qtbot, window, [write_image(tmp_path / "a.png")])
    assert result.inference is not None and len(result.inference.candidates) == 3
    assert "non-finite" in result.warning and "2 candidates" in result.warning
    assert "non-finite" in window.status.message_text()
    assert window.canvas.layers  # the rest is drawn


def test_a_detector_returning_a_wrong_type_is_one_message(qtbot, make_window, tmp_path):
    detector = FakeDetector()
    detector.infer = lambda image: {"boxes": []}
    window = make_window(FakeLoader(detector))
    result = open_and_wait(qtbot, window, [write_image(tmp_path / "a.png")])
    assert result.inference is None and "returned a dict instead of an Inference" in result.error
    assert window.background.running


def test_a_model_that_fails_to_load_keeps_the_working_model(qtbot, make_window, tmp_path):
    loader = FakeLoader()
    window = make_window(loader=loader)
    open_and_wait(qtbot, window, [write_image(tmp_path / "a.png")])
    assert window.canvas.layers
    loader.fail = DetectorError("Unknown model 'nope'; choose one of: fake.")
    from detviewer.gui.worker import ModelRequest

    with qtbot.waitSignal(window.model_failed, timeout=5000):
        window.request_model(ModelRequest("nope", "none", "cpu"))
    assert window.model_panel.status_label.text() == "Unknown model 'nope'; choose one of: fake. fake is still loaded."
    assert window.state.inference is not None and window.canvas.layers  # the working model's result stays
    assert window.status.model_label.text() != "no model" and "fake" in window.status.model_label.text()
    assert window.session.model is not None and window.session.model.name == "fake"
    assert not loader.detector.closed
    # and it still answers the next image
    result = open_and_wait(qtbot, window, [write_image(tmp_path / "b.png", value=90)])
    assert result.inference is not None and not result.error


def test_the_threshold_caption_and_status_follow_the_current_model_and_threshold(qtbot, tmp_path, make_window):
    from detviewer.gui.worker import ModelRequest

    careful = FakeDetector()
    careful.display_score = 0.75
    loader = FakeLoader(careful)
    window = make_window(loader=loader, load=False)
    with qtbot.waitSignal(window.model_ready, timeout=5000):
        window.request_model(ModelRequest("fake", "default", "cpu"))
    note = window.thresholds_panel.note
    assert window.state.thresholds.score == 0.75 and "default" in note.text() and "0.75" in note.text()
    window.thresholds_panel.score_slider.setValue(0.07)  # the caption no longer calls 0.75 the threshold
    assert "Score threshold 0.75" not in note.text() and "0.07" in note.text()

    loader.fail = DetectorError("Cannot download the COCO weights: offline.")
    with qtbot.waitSignal(window.model_failed, timeout=5000):
        window.request_model(ModelRequest("fake", "coco", "cpu"))
    assert window.status.message_label.styleSheet()  # the failure is red while it is the news
    untrained = FakeDetector()
    untrained.load_note = "untrained model: random weights, its boxes mean nothing"
    loader.fail, loader.detector = None, untrained
    with qtbot.waitSignal(window.model_ready, timeout=5000):
        window.request_model(ModelRequest("fake", "none", "cpu"))
    assert "untrained" in window.status.message_text()
    trained = FakeDetector()
    loader.detector = trained
    with qtbot.waitSignal(window.model_ready, timeout=5000):
        window.request_model(ModelRequest("fake", "default", "cpu"))
    status = window.status.message_text()
    assert "untrained" not in status and "offline" not in status and status.startswith("Loaded fake")
    assert not window.status.message_label.styleSheet()  # no stale red error after a successful load
    assert "(1 error: View → Messages)" in status  # one unread error, in the singular
    assert note.text() == ""  # this model has no default threshold: nothing of the first model's is said
    assert "untrained" not in window.model_panel.note_label.text() or not window.model_panel.note_label.isVisibleTo(
        window)


def test_a_load_note_is_shown(qtbot, make_window):
    detector = FakeDetector()
    detector.load_note = "untrained model (no demo model shipped): its boxes mean nothing"
    window = make_window(loader=FakeLoader(detector), load=False)
    from detviewer.gui.worker import ModelRequest

    with qtbot.waitSignal(window.model_ready, timeout=5000):
        window.request_model(ModelRequest())
    assert window.model_panel.note_label.isVisibleTo(window) and "untrained" in window.model_panel.note_label.text()


def test_closing_during_inference_stops_within_two_seconds(qtbot, make_window, tmp_path, capfd):
    detector = FakeDetector()
    detector.gate = threading.Event()
    window = make_window(FakeLoader(detector))
    window.open_paths([write_image(tmp_path / "a.png")])
    qtbot.waitUntil(detector.started.is_set, timeout=5000)
    threading.Timer(0.3, detector.gate.set).start()  # the forward pass ends on its own
    window.close()  # how fast: bench/bench_quit_stress.py
    assert not window.background.running
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


def test_recent_files_are_saved_by_the_task_runner_and_survive_the_windows_own_save(qtbot, make_window, tmp_path,
                                                                                    settings):
    """The recent list is written off the GUI thread (a settings sync is file I/O); the window's own save at
    quit keeps it, and a new window lists the files, newest first, each once."""
    from PySide6.QtCore import QSettings

    window = make_window()
    a, b = write_image(tmp_path / "a.png"), write_image(tmp_path / "b.png")
    for path in (a, b, a):
        with qtbot.waitSignal(window.result_shown, timeout=5000):
            window.open_paths([str(path)])
    expected = [str(Path(a).resolve()), str(Path(b).resolve())]
    qtbot.waitUntil(lambda: not window.background.runner.busy, timeout=5000)
    on_disk = QSettings(settings.fileName(), QSettings.Format.IniFormat).value("recent")
    assert on_disk == expected
    window.close()
    again = make_window()
    assert [act.text() for act in again.actions_.recent_menu.actions()] == expected


def test_thresholds_are_saved_off_the_gui_thread_while_they_change_and_come_back_in_a_new_window(
        qtbot, make_window, settings, monkeypatch):
    from PySide6.QtCore import QSettings

    import detviewer.gui.settings as settings_io

    threads = []
    real_save = settings_io.save_thresholds
    monkeypatch.setattr(settings_io, "save_thresholds",
                        lambda *args: (threads.append(threading.current_thread()), real_save(*args)))
    window = make_window()
    for score in (0.3, 0.35, 0.4):  # a slider's steps: saved once, where it stops
        window.state.set_thresholds(score=score, iou=0.6)

    def on_disk() -> tuple:
        saved = QSettings(settings.fileName(), QSettings.Format.IniFormat)
        return saved.value("thresholds/score"), saved.value("thresholds/iou")

    qtbot.waitUntil(lambda: on_disk()[0] is not None, timeout=5000)
    assert tuple(float(v) for v in on_disk()) == (0.4, 0.6) and len(threads) == 1
    assert threads and threading.main_thread() not in threads  # a sync is file I/O: never on the GUI thread
    window.close()
    again = make_window()
    assert (again.state.thresholds.score, again.state.thresholds.iou) == (0.4, 0.6)


def test_hover_finds_the_smallest_box_and_describes_it(qtbot, make_window, tmp_path):
    window = make_window()
    window.state.set_thresholds(score=0.2, iou=0.7)  # all five kept
    open_and_wait(qtbot, window, [write_image(tmp_path / "a.png")])
    # (130, 130) lies only in C = [40, 40, 140, 140]; (5, 5) in no box.
    assert window.canvas.box_at(130, 130) == C
    assert window.canvas.box_at(5, 5) is None
    text = window.canvas.describe(D)
    assert text.startswith(f"#{D + 1} dog 0.60 (kept)") and "x1 200  y1 50  x2 300  y2 150  (100×100)" in text
    window.state.set_thresholds(iou=0.5)
    assert "suppressed) at step 1 (IoU 0.68)" in window.canvas.describe(B)


def test_broken_file_in_folder_gives_a_message_and_browsing_continues(qtbot, make_window, tmp_path):
    window = make_window()
    folder = tmp_path / "imgs"
    folder.mkdir()
    write_image(folder / "1.png", 50)
    (folder / "2.png").write_bytes(b"this is not a png")
    write_image(folder / "3.png", 120)
    open_and_wait(qtbot, window, [folder])
    qtbot.keyClick(window, Qt.Key.Key_BracketRight)  # to the broken one
    qtbot.waitUntil(lambda: "2.png" in window.status.message_text(), timeout=5000)
    assert window.state.inference is None
    assert "cannot open" in window.files_panel.list.item(1).text()
    with qtbot.waitSignal(window.result_shown, timeout=5000):
        qtbot.keyClick(window, Qt.Key.Key_BracketRight)  # browsing continues
    assert window.feed.index == 2
    assert window.canvas.image_item.image[0, 0, 0] == 120
    assert "2.png" not in window.status.message_text()  # a message about an image leaves with it
    assert any("2.png" in m.text for m in window.messages.messages)  # and stays in View → Messages


def test_stale_results_are_dropped_when_switching_images(qtbot, make_window, tmp_path):
    detector = FakeDetector()
    detector.gate = threading.Event()
    window = make_window(FakeLoader(detector))
    first, second = write_image(tmp_path / "a.png", 30), write_image(tmp_path / "b.png", 200)
    window.open_paths([first])
    qtbot.waitUntil(detector.started.is_set, timeout=5000)  # the worker is busy with the first image
    window.open_paths([second])
    detector.gate.set()
    qtbot.waitUntil(lambda: window.session.dropped_results >= 1, timeout=5000)
    qtbot.waitUntil(lambda: window.state.inference is not None, timeout=5000)
    assert window.canvas.image_item.image[0, 0, 0] == 200
    assert detector.frames_seen == [30, 200]


def test_settings_persist_thresholds_and_model(qtbot, make_window, settings):
    window = make_window()
    window.thresholds_panel.iou_slider.setValue(0.35)
    window.thresholds_panel.method_combo.setCurrentIndex(2)  # gaussian
    window.close()
    second = make_window(load=False)
    assert second.state.thresholds.iou == pytest.approx(0.35)
    assert second.state.thresholds.method == "gaussian"
    assert second.thresholds_panel.iou_slider.value() == pytest.approx(0.35)
    from detviewer.gui.settings import load_model_request

    assert load_model_request(settings).name == "fake"


def test_iou_moves_are_lookups_once_the_grid_is_ready_and_equal_a_full_replay(qtbot, make_window, tmp_path,
                                                                             monkeypatch):
    """After a result, NMS is replayed at every IoU of the slider in the background; then a move of either
    slider runs no NMS, and the state's replay equals NMS run again on the window's own inference."""
    import detviewer.ops.nms
    from detviewer.state.nms_replay import Thresholds, replay

    window = make_window()
    open_and_wait(qtbot, window, [write_image(tmp_path / "a.png")])
    qtbot.waitUntil(lambda: not window.iou_grid.pending, timeout=20000)
    calls = []
    monkeypatch.setattr(detviewer.ops.nms, "nms_trace", lambda *a, **k: calls.append(1) or nms_trace(*a, **k))
    inference = window.state.inference
    for score, iou in ((0.2, 0.3), (0.65, 0.3), (0.2, 0.71), (0.5, 0.47), (0.0, 1.0)):
        window.thresholds_panel.iou_slider.setValue(iou)
        window.thresholds_panel.score_slider.setValue(score)
        expected = replay(inference, Thresholds(score=score, iou=iou), nms_trace)
        got = window.state.replay
        assert sorted(got.keep.tolist()) == sorted(expected.keep.tolist()), (score, iou)
        for step in range(expected.step_count + 1):
            np.testing.assert_array_equal(got.states(step), expected.states(step))
    assert calls == []  # every move was a lookup and a score filter


def test_a_broken_files_sentence_wraps_inside_the_canvas(qtbot, make_window, tmp_path):
    window = make_window()
    long_name = "a-very-long-file-name-that-goes-on-and-on-" * 4 + ".png"
    (tmp_path / long_name).write_bytes(b"not a png")
    window.open_paths([str(tmp_path / long_name)])
    qtbot.waitUntil(lambda: window.canvas.hint_text().startswith("Cannot open this file."), timeout=5000)
    assert window.canvas.hint_fits()  # wrapped: no line wider than the canvas, all lines inside it


def test_showing_a_result_runs_no_nms_on_the_gui_thread(qtbot, make_window, tmp_path, monkeypatch):
    """The worker sends each result with its unfiltered replay at the window's IoU and scope; a slider move to
    another IoU may replay on the GUI thread (or use the grid), the result itself does not."""
    import detviewer.ops.nms as ops_nms

    threads = []

    def recording(*args, **kwargs):
        threads.append(threading.current_thread())
        return nms_trace(*args, **kwargs)

    monkeypatch.setattr(ops_nms, "nms_trace", recording)
    window = make_window()
    window.state.set_thresholds(score=0.2, iou=0.6, class_agnostic=True)
    threads.clear()
    result = open_and_wait(qtbot, window, [write_image(tmp_path / "a.png")])
    assert list(result.replays) == [(0.6, True)]
    assert threads and threading.main_thread() not in threads  # the worker ran it
    reference = nms_trace(BOXES, SCORES, LABELS, iou_threshold=0.6, score_threshold=0.2, class_agnostic=True)
    assert sorted(window.state.replay.keep.tolist()) == sorted(reference.keep.tolist())
