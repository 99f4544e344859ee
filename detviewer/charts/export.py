"""Offscreen export of the evaluation charts to PNG or SVG (``detviewer eval --plots``, the workspace's
Export). Runs headless: ``render.qt.export.ensure_gui_app`` picks the offscreen platform without a display."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from detviewer.errors import DetviewerError
from detviewer.io.atomic import write_bytes
from detviewer.render.qt.export import ensure_gui_app, save_qimage, svg_bytes

if TYPE_CHECKING:
    import pyqtgraph as pg

    from detviewer.evaluation.dataset_evaluation import EvaluationSnapshot

__all__ = ["export_chart", "export_evaluation_plots", "plots_folder", "CHART_SIZE"]

CHART_SIZE = (900, 700)


def export_chart(widget: pg.PlotWidget, path: str | os.PathLike, size: tuple[int, int] = CHART_SIZE) -> Path:
    """Write a chart widget (a pyqtgraph PlotWidget) to ``path``: .png (raster) or .svg (vector), atomically
    (a failed write keeps the previous file and leaves no partial one: io.atomic.OutputError, one sentence)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".png", ".svg"):
        raise DetviewerError(f"Cannot export {path}: use a .png or .svg file name.")
    if not path.parent.is_dir():
        raise DetviewerError(f"Cannot export {path}: the folder {path.parent} does not exist.")
    app = ensure_gui_app()
    widget.resize(*size)
    widget.getPlotItem().resize(*size)
    app.processEvents()
    if suffix == ".svg":
        # QSvgGenerator rather than pyqtgraph's SVGExporter, which fails on some items (legend, text)
        write_bytes(path, svg_bytes(size, widget.render))
    else:
        save_qimage(widget.grab().toImage(), path)
    return path


def plots_folder(out_dir: str | os.PathLike) -> Path:
    """``out_dir``, created, with a Qt application to draw charts in; DetviewerError when it cannot be made."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DetviewerError(f"Cannot create {out}: {exc.strerror or exc}.") from None
    ensure_gui_app()
    return out


def export_evaluation_plots(snapshot: EvaluationSnapshot, class_names: Sequence[str], out_dir: str | os.PathLike,
                            suffix: str = ".png") -> list[Path]:
    """The PR curves (IoU 0.5 and 0.5:0.95), P / R / F1 against confidence, the confusion matrix (normalised
    and counts) and the TIDE error breakdown of an ``EvaluationSnapshot``, written into ``out_dir``."""
    from detviewer.charts.curves import ConfidenceChart, PRChart
    from detviewer.charts.matrix import ConfusionChart, ErrorsChart

    out = plots_folder(out_dir)
    written = []
    for iou, name in (("0.5", "pr_curve_50"), ("0.5:0.95", "pr_curve_50_95")):
        chart = PRChart()
        chart.set_curves(snapshot.pr, class_names, iou=iou)
        written.append(export_chart(chart, out / f"{name}{suffix}"))
    chart = ConfidenceChart()
    chart.set_curves(snapshot.curves, snapshot.score_threshold)
    written.append(export_chart(chart, out / f"f1_curve{suffix}"))
    for normalized, name in ((True, "confusion_matrix_normalized"), (False, "confusion_matrix")):
        chart = ConfusionChart()
        chart.set_matrix(snapshot.confusion, class_names, normalized=normalized)
        written.append(export_chart(chart, out / f"{name}{suffix}"))
    chart = ErrorsChart()
    chart.set_result(snapshot.tide)
    written.append(export_chart(chart, out / f"error_breakdown{suffix}"))
    return written
