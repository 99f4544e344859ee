"""File → Export view… (PNG / SVG of the current view) and File → Export NMS steps… (numbered PNGs + GIF).

Both draw with render.qt.export, the painting code of the canvas and of ``detviewer render``. The files
are written by the task runner, off the GUI thread; NMS steps show their progress and Cancel in the status bar.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from detviewer.errors import DetviewerError
from detviewer.gui.jobs import Job, JobContext, Progress
from detviewer.io.atomic import write_bytes
from detviewer.render.model.registry import VIEWS, nms_view
from detviewer.render.qt.style import rgb_of_qimage
from detviewer.state.viewer_state import ViewerState

if TYPE_CHECKING:
    from PIL import Image
    from PySide6.QtGui import QImage

    from detviewer.gui.canvas import Canvas
    from detviewer.gui.presenter import ViewPresenter
    from detviewer.gui.session import Session
    from detviewer.gui.task_progress import TaskProgress
    from detviewer.render.model.primitives import ViewFrame
    from detviewer.render.model.spec import ViewRequest
    from detviewer.render.qt.style import RenderStyle

__all__ = ["Exporter", "export_nms_steps", "nms_step_frames", "view_title"]

GIF_SIDE = 800  # the GIF previews the steps; PIL's quantiser takes ~1 s per 1600-px frame
PNG_SPEED = 50  # QImage.save's PNG "quality": 3x faster than the default compression, files 2 % larger


def view_title(state: ViewerState, view: str, frame: ViewFrame) -> str:
    """The title line of an exported figure of ``view`` (its title, the model, the step)."""
    from detviewer.render.model.spec import figure_title

    model = state.inference.model_name if state.inference is not None else ""
    return figure_title(VIEWS[view].title, frame, model)


def nms_step_frames(request: ViewRequest) -> list:
    """The "NMS step by step" view's frame at every step of ``request``'s result (pure: runs in the task runner)."""
    spec = VIEWS[nms_view()]
    return [spec.build(replace(request, step=step)) for step in range(spec.step_count(request))]


def export_nms_steps(image: np.ndarray, frames: list, folder: str | os.PathLike, style: RenderStyle,
                     context: JobContext | None = None, gif: bool = True,
                     scale: float | None = None, frame_ms: int = 900, model_name: str = "") -> list[Path]:
    """Every frame as folder/nms_step_000.png … and folder/nms_steps.gif; the PNG paths (and the GIF last).

    context: a gui.jobs.JobContext for progress and cancelling (None: run to the end).
    """
    from detviewer.render.model.spec import figure_title
    from detviewer.render.qt.export import figure_scale, render_image, save_qimage

    folder = Path(folder)
    if not folder.is_dir():
        raise DetviewerError(f"Cannot export the NMS steps to {folder}: the folder does not exist.")
    scale = figure_scale(image) if scale is None else scale
    paths, pictures = [], []
    for step, frame in enumerate(frames):
        if context is not None:
            context.check()
            context.progress(Progress.of(step, len(frames), text=f"Step {step} of {len(frames) - 1}"))
        qimage = render_image(image, frame.layers, scale=scale, style=style, legend=frame.legend,
                              title=figure_title(VIEWS[nms_view()].title, frame, model_name), caption=frame.caption)
        path = folder / f"nms_step_{step:03d}.png"
        paths.append(save_qimage(qimage, path, PNG_SPEED))
        if gif:
            pictures.append(_gif_frame(qimage))
    if gif and pictures:
        out = folder / "nms_steps.gif"
        durations = [frame_ms] * len(pictures)
        durations[-1] = frame_ms * 3  # linger on the result
        gif_data = io.BytesIO()
        pictures[0].save(gif_data, "GIF", save_all=True, append_images=pictures[1:], duration=durations, loop=0)
        paths.append(write_bytes(out, gif_data.getvalue()))
    return paths


def _gif_frame(qimage: QImage) -> Image.Image:
    """A GIF frame from a rendered step (QImage from render_image): at most GIF_SIDE pixels (a preview; the PNGs are for
    slides), 256 colours by fast octree. Shrunk by OpenCV, which releases the GIL (the window's thread keeps
    drawing while the task runner exports; Pillow's decode of the written PNG held it ~14 ms a frame)."""
    import cv2
    from PIL import Image

    rgb = rgb_of_qimage(qimage)
    scale = GIF_SIDE / max(rgb.shape[:2])
    if scale < 1:
        size = (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    return Image.fromarray(rgb).quantize(256, method=Image.Quantize.FASTOCTREE)


class Exporter:
    """File → Export view… and File → Export NMS steps… for the session's current view.

    presenter: what the canvas shows now (gui.presenter.ViewPresenter); canvas: its style; progress: the status
    bar's cancellable task progress (gui.task_progress.TaskProgress); parent: of the dialogs.
    """

    def __init__(self, session: Session, presenter: ViewPresenter, canvas: Canvas, progress: TaskProgress,
                 parent: QWidget | None = None) -> None:
        self.session, self.presenter, self.canvas, self.progress, self.parent = (session, presenter, canvas,
                                                                                   progress, parent)

    def _frame_image(self) -> np.ndarray:
        frame = self.session.state.frame
        if frame is None:
            raise DetviewerError("There is no frame to export; open an image first.")
        return frame.image

    def export_view(self, path: str | os.PathLike, scale: float | None = None,
                    on_done: Callable[[object, str], None] | None = None) -> Job | None:
        """Write the current view as the canvas draws it to .png (in the background; the Job) or .svg (here; None).

        on_done(path or None, error sentence) runs in the GUI thread when the file is written.
        """
        from detviewer.render.qt.export import export_figure, figure_scale

        image = self._frame_image()
        frame = self.presenter.shown.frame
        if frame is None:
            raise DetviewerError("The view shows nothing to export yet.")
        state = self.session.state
        scale = figure_scale(image) if scale is None else scale
        layers, style, title = list(frame.layers), self.canvas.style, view_title(state, state.view, frame)

        def write(_context: JobContext | None) -> Path:
            return export_figure(image, layers, path, scale=scale, style=style, title=title, legend=frame.legend,
                                 dim=frame.dim, caption=frame.caption)

        if Path(path).suffix.lower() == ".svg":
            # Painting into a QSvgGenerator connects a QTextStream to its device on QPainter.end, which PySide runs
            # with the GIL held: on the task runner that deadlocked against a GUI-thread disconnect waiting for the
            # GIL under Qt's signal-slot lock (seen in CI). A vector figure is drawn here; PNGs stay in the background.
            self._write_here(write, on_done)
            return None
        return self.session.background.task(("export", str(path)), write, f"exporting {Path(path).name}",
                                            on_done or (lambda _value, _error: None))

    def _write_here(self, write: Callable[[JobContext | None], Path],
                    on_done: Callable[[object, str], None] | None) -> None:
        """Run ``write`` on the GUI thread; ``on_done`` follows from the event loop, as a background job's does."""
        try:
            out: object = write(None)
            error = ""
        except DetviewerError as exc:
            out, error = None, str(exc)
        if on_done is not None:
            QTimer.singleShot(0, lambda: on_done(out, error))

    def export_view_dialog(self) -> None:
        name = f"detviewer-{self.session.state.view}.png"
        path, _ = QFileDialog.getSaveFileName(self.parent, "Export view", name,
                                              "PNG image (*.png);;SVG vector figure (*.svg)")
        if not path:
            return

        def done(out: object, error: str) -> None:
            if error:
                QMessageBox.warning(self.parent, "Export view", error)
            else:
                self.session.say(f"Exported the view to {out}.")

        try:
            self.export_view(path, on_done=done)
        except DetviewerError as exc:
            QMessageBox.warning(self.parent, "Export view", str(exc))

    def export_nms_dialog(self, folder: str | None = None) -> TaskProgress | None:
        """Ask for a folder (unless given) and export the NMS steps there in the background, with progress and
        Cancel in the status bar (the TaskProgress, returned; None when nothing was started)."""
        folder = folder or QFileDialog.getExistingDirectory(self.parent, "Export NMS steps to a folder")
        if not folder:
            return None
        progress, background, session = self.progress, self.session.background, self.session
        try:
            if progress.running:
                raise DetviewerError("An export is still running; wait for it or cancel it in the status bar.")
            image, request = self._frame_image(), self.presenter.request(nms_view())
            if request is None:
                raise DetviewerError("There are no NMS steps to export; run a model on an image first.")
        except DetviewerError as exc:
            QMessageBox.warning(self.parent, "Export NMS steps", str(exc))
            return None
        style = self.canvas.style

        def stop_tracking() -> None:
            progress.finish()
            background.progress.disconnect(on_progress)

        def done(paths: list[Path], error: str) -> None:
            stop_tracking()
            if error:
                QMessageBox.warning(self.parent, "Export NMS steps", error)
            else:
                session.say(f"Exported {len(paths)} files (numbered PNGs and a GIF) to {folder}.")

        task = background.task(
            ("export_nms", folder),
            lambda context: export_nms_steps(image, nms_step_frames(request), folder, style, context,
                                             model_name=request.inference.model_name),
            "exporting the NMS steps", done)

        def on_progress(which: Job, step: Progress) -> None:
            if which is task and step.fraction is not None:
                progress.set_fraction(step.fraction)

        def cancel() -> None:  # a cancelled task reports nothing: the files written so far stay
            background.cancel(task)
            stop_tracking()
            session.say(f"Cancelled the export of the NMS steps to {folder}.")

        background.progress.connect(on_progress)
        progress.start("Exporting the NMS steps…", cancel)
        return progress
