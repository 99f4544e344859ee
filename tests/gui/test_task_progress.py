"""gui.task_progress: a background task's bar and Cancel in the status bar."""

from __future__ import annotations

from PySide6.QtCore import Qt

from detviewer.gui.task_progress import TaskProgress


def test_the_bar_shows_after_a_moment_follows_the_fraction_and_cancel_calls_back(qtbot):
    progress = TaskProgress()
    qtbot.addWidget(progress)
    cancelled = []
    progress.start("Exporting…", lambda: (cancelled.append(True), progress.finish()))
    assert progress.running and not progress.isVisible()
    qtbot.waitUntil(progress.isVisible, timeout=3000)
    progress.set_fraction(0.5)
    assert progress.bar.value() == 50
    progress.set_fraction(2.0)  # clamped
    assert progress.bar.value() == 100
    qtbot.mouseClick(progress.cancel_button, Qt.MouseButton.LeftButton)
    assert cancelled == [True] and not progress.running and not progress.isVisible()


def test_a_task_finished_before_the_delay_never_shows(qtbot):
    progress = TaskProgress()
    qtbot.addWidget(progress)
    progress.start("Exporting…", lambda: None)
    progress.finish()
    qtbot.wait(450)
    assert not progress.isVisible()


def test_long_status_texts_and_the_progress_bar_never_widen_the_window(make_window, qtbot):
    """A status label's least width was its whole text: a long message or timing line (or the export's bar
    appearing beside them) made the window wider, which relaid out and repainted every widget."""
    window = make_window()
    window.resize(900, 700)
    qtbot.waitUntil(lambda: window.width() == 900)
    window.say("A sentence long enough to need far more room than the status bar has " * 4)
    window.status.timing_label.setText(" · ".join(f"stage{k} 12" for k in range(30)) + " ms")
    window.status.task_progress.start("Exporting the NMS steps…", lambda: None)
    qtbot.waitUntil(window.status.task_progress.isVisible, timeout=3000)
    qtbot.wait(50)
    assert window.width() == 900
    window.status.task_progress.finish()
