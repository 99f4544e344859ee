"""File → Export view… (PNG / SVG of the current view) and File → Export NMS steps… (numbered PNGs + GIF).

Both draw with render.export, the painting code of the canvas and of ``detviewer render``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtWidgets import QFileDialog, QMessageBox

from detviewer.errors import DetviewerError

__all__ = ["export_view", "export_nms_steps", "export_view_dialog", "export_nms_dialog", "figure_scale"]

MIN_FIGURE_SIDE = 960  # small frames are drawn larger so that lines and text stay crisp on slides


def figure_scale(image: np.ndarray) -> float:
    """Scale of an exported figure: at least MIN_FIGURE_SIDE pixels on the longer side, whole-numbered."""
    side = max(image.shape[:2])
    return float(max(1, int(np.ceil(MIN_FIGURE_SIDE / max(side, 1)))))


def _frame_image(window) -> np.ndarray:
    frame = window.feed.current_frame
    if frame is None:
        raise DetviewerError("There is no frame to export; open an image first.")
    return frame.image


def export_view(window, path, scale: float | None = None) -> Path:
    """The current view's layers over the current frame, as the canvas draws them, to .png or .svg."""
    from detviewer.render.qt.export import export_figure

    image = _frame_image(window)
    scale = figure_scale(image) if scale is None else scale
    return export_figure(image, window.views.layers, path, scale=scale, style=window.canvas.style)


def export_nms_steps(window, folder, gif: bool = True, scale: float | None = None,
                     frame_ms: int = 900) -> list[Path]:
    """Every NMS step of the current result as folder/nms_step_000.png … and folder/nms_steps.gif.

    Returns the PNG paths (and the GIF last when written). Uses a copy of the session, so the
    window's own stepper does not move.
    """
    from PIL import Image

    from detviewer.state.session import Session
    from detviewer.render.qt.export import render_image
    from detviewer.render.model.layers import layers_for_session

    folder = Path(folder)
    if not folder.is_dir():
        raise DetviewerError(f"Cannot export the NMS steps to {folder}: the folder does not exist.")
    source = window.session
    if source.inference is None:
        raise DetviewerError("There are no NMS steps to export; run a model on an image first.")
    image = _frame_image(window)
    scale = figure_scale(image) if scale is None else scale
    session = Session(source.thresholds, nms_trace_fn=getattr(source, "_nms_trace_fn", None))
    session.set_inference(source.inference)
    session.set_step_mode(True)
    paths, frames = [], []
    for step in range(session.step_count + 1):
        session.set_step(step)
        qimage = render_image(image, layers_for_session(session), scale=scale, style=window.canvas.style)
        path = folder / f"nms_step_{step:03d}.png"
        if not qimage.save(str(path)):
            raise DetviewerError(f"Cannot write {path}.")
        paths.append(path)
        if gif:
            frames.append(Image.open(path).convert("RGB"))
    if gif and frames:
        out = folder / "nms_steps.gif"
        durations = [frame_ms] * len(frames)
        durations[-1] = frame_ms * 3  # linger on the result
        frames[0].save(out, save_all=True, append_images=frames[1:], duration=durations, loop=0)
        paths.append(out)
    return paths


def export_view_dialog(window) -> None:
    name = f"detviewer-{window.views.view}.png"
    path, _ = QFileDialog.getSaveFileName(window, "Export view", name, "PNG image (*.png);;SVG vector figure (*.svg)")
    if not path:
        return
    try:
        out = export_view(window, path)
    except DetviewerError as exc:
        QMessageBox.warning(window, "Export view", str(exc))
        return
    window.status.showMessage(f"Exported the view to {out}.", 8000)


def export_nms_dialog(window) -> None:
    folder = QFileDialog.getExistingDirectory(window, "Export NMS steps to a folder")
    if not folder:
        return
    try:
        paths = export_nms_steps(window, folder)
    except DetviewerError as exc:
        QMessageBox.warning(window, "Export NMS steps", str(exc))
        return
    window.status.showMessage(f"Exported {len(paths)} files (numbered PNGs and a GIF) to {folder}.", 8000)
