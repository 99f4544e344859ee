"""``detviewer … --screenshot OUT.png``: save the window once its first result is on screen, then close it.

The first of these decides: a result with an Inference (saved, ok), a result with an error, a failed model
load or a broken file (saved, not ok, with the sentence), or a loaded model with nothing opened (saved, ok).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer

__all__ = ["FirstResultScreenshot"]

SETTLE_MS = 100  # one more paint after the last change


class FirstResultScreenshot(QObject):
    """window: the MainWindow; nms_step: show the "NMS step by step" view at that step first."""

    def __init__(self, window, path: str, nms_step: int | None = None) -> None:
        super().__init__(window)
        self.window, self.path, self.nms_step = window, str(path), nms_step
        self.done = False
        window.result_shown.connect(self._on_result)
        window.model_ready.connect(self._on_model_ready)
        window.model_failed.connect(lambda message: self._finish(False, message))
        window.feed.file_broken.connect(lambda _index: self._finish(False, window.status.message_text()))

    def _on_result(self, result) -> None:
        if self.done or (result.inference is None and not result.error):
            return
        if self.nms_step is not None and result.inference is not None:
            self.window.state.set_view("nms")
            self.window.state.set_step(self.nms_step)
        self._finish(not result.error, result.error)

    def _on_model_ready(self, _loaded) -> None:
        if self.window.feed.source is None:
            self._finish(True, "")  # nothing opened: the window as it is

    def _finish(self, ok: bool, message: str) -> None:
        if self.done:
            return
        self.done = True
        QTimer.singleShot(SETTLE_MS, lambda: self._save(ok, message))

    def _save(self, ok: bool, message: str) -> None:
        from detviewer.io.atomic import OutputError
        from detviewer.render.qt.export import save_qimage

        try:
            save_qimage(self.window.grab().toImage(), self.path)
            saved, why = True, ""
        except OutputError as exc:
            saved, why = False, str(exc)
        self.window.screenshot_done.emit(bool(ok and saved), message or why)
        self.window.close()
