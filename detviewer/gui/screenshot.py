"""``detviewer … --screenshot OUT.png``: save the window once its first result is on screen, then close it.

The first of these decides: a result with an Inference (saved, ok), a result with an error, a failed model
load or a broken file (saved, not ok, with the sentence), or a loaded model with nothing opened (saved, ok).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QWidget

from detviewer.gui.session import Session
from detviewer.gui.worker import InferenceResult, LoadedModel
from detviewer.render.model.registry import nms_view

__all__ = ["FirstResultScreenshot"]

SETTLE_MS = 100  # one more paint after the last change


class FirstResultScreenshot(QObject):
    """session: what is shown; host: the widget saved (``grab``) and closed after; nms_step: show the "NMS step by
    step" view at that step first. ``done(ok, message)`` once the file is written (or not)."""

    done = Signal(bool, str)

    def __init__(self, session: Session, host: QWidget, path: str, nms_step: int | None = None) -> None:
        super().__init__(host)
        self.session, self.host, self.path, self.nms_step = session, host, str(path), nms_step
        self.finished = False
        session.result_shown.connect(self._on_result)
        session.model_ready.connect(self._on_model_ready)
        session.model_failed.connect(lambda message: self._finish(False, message))
        session.feed.file_broken.connect(lambda _index: self._finish(False, session.messages.status_text()))

    def _on_result(self, result: InferenceResult) -> None:
        if self.finished or (result.inference is None and not result.error):
            return
        if self.nms_step is not None and result.inference is not None:
            self.session.state.set_view(nms_view())
            self.session.state.set_step(self.nms_step)
        self._finish(not result.error, result.error)

    def _on_model_ready(self, _loaded: LoadedModel) -> None:
        if self.session.feed.source is None:
            self._finish(True, "")  # nothing opened: the window as it is

    def _finish(self, ok: bool, message: str) -> None:
        if self.finished:
            return
        self.finished = True
        QTimer.singleShot(SETTLE_MS, lambda: self._save(ok, message))

    def _save(self, ok: bool, message: str) -> None:
        from detviewer.io.atomic import OutputError
        from detviewer.render.qt.export import save_qimage

        try:
            save_qimage(self.host.grab().toImage(), self.path)
            saved, why = True, ""
        except OutputError as exc:
            saved, why = False, str(exc)
        self.done.emit(bool(ok and saved), message or why)
        self.host.close()
