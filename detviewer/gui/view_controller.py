"""Which view the canvas shows and its state: turns the session's Inference into a ViewFrame's layers.

The window's NMS views (detections / NMS stepper) come from ``render.layers``; the teaching views from
``render.views``. RoI pooling (``detector.pool_region``) and Selective Search run on a QThreadPool,
never in a slot; their results are cached per Inference / frame and trigger a redraw.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from detviewer.errors import DetviewerError
from detviewer.render.model.gt_layers import ground_truth_layers, match_summary
from detviewer.render.model.layers import layers_for_session
from detviewer.render.model.registry import VIEWS, ViewFrame

__all__ = ["ViewController", "NMS_VIEWS"]

NMS_VIEWS = ("detections", "nms")


class _Signals(QObject):
    done = Signal(object, object, str)  # key, result, error sentence


class _Task(QRunnable):
    """Runs ``fn()`` on the pool; answers ``signals.done(key, result, error)`` (queued to the GUI thread)."""

    def __init__(self, signals: _Signals, key, fn) -> None:
        super().__init__()
        self.signals, self.key, self.fn = signals, key, fn

    def run(self) -> None:
        try:
            result, error = self.fn(), ""
        except DetviewerError as exc:
            result, error = None, str(exc)
        except Exception as exc:  # a bug in the model's pooling must not kill the window
            result, error = None, f"{type(exc).__name__}: {exc}"
        self.signals.done.emit(self.key, result, error)


class ViewController(QObject):
    """Owns the view choice and per-view state of ``window`` (session, canvas, views_panel, worker, feed)."""

    frame_shown = Signal(object)  # ViewFrame (None for the NMS views)
    message = Signal(str)

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.view = "detections"
        self.frame: ViewFrame | None = None
        self.layers: list = []
        self.error = ""
        self.gt_match = None  # core.matching.GtMatch of the detections view with ground truth
        self.gt = None  # io.image_gt.ImageBoxes of the frame shown, or None
        self._steps: dict[str, int] = {}
        self._points: dict[str, tuple[float, float]] = {}
        self._picked: dict[str, int] = {}  # regression: detection index; roi: proposal index
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._signals = _Signals(self)
        self._signals.done.connect(self._on_task_done)
        self._results: dict = {}  # (kind, id(inference or image), …) -> result
        self._pending: set = set()
        self._inference_id = None

    # -- choices --------------------------------------------------------------------------------
    def set_view(self, name: str) -> None:
        if name not in NMS_VIEWS and name not in VIEWS:
            raise ValueError(f"unknown view {name!r}")
        self.view = name
        w = self.window
        if w.nms_panel.step_mode != (name == "nms"):
            w.nms_panel.set_step_mode(name == "nms")
        w.canvas.describe = w.describe_candidate if name in NMS_VIEWS else None
        if w.views_panel.view != name:
            w.views_panel.set_view(name)
        self.redraw()

    def set_options(self, _options: dict | None = None) -> None:
        self.redraw()

    def reset_for_inference(self) -> None:
        """A new Inference: cached pooling results of the old one are dropped (the frame stays)."""
        inference = self.window.session.inference
        if inference is not None and id(inference) != self._inference_id:
            self._inference_id = id(inference)
            self._results = {k: v for k, v in self._results.items() if k[0] == "selective_search"}
        if self.view != "nms":
            self.redraw()

    # -- stepping (lecture keys, panel buttons) -----------------------------------------------------
    def step_info(self) -> tuple[int, int, str, str]:
        """(step, step count, label, caption) of what is shown."""
        s = self.window.session
        if self.view in NMS_VIEWS:
            if self.view == "nms":
                return s.step, s.step_count + 1, f"NMS step {s.step}/{s.step_count}", s.narration()
            if s.trace is None:
                return 0, 1, "Detections", ""
            match = f" · {match_summary(self.gt_match, self.gt)}" if self.gt_match is not None else ""
            return 0, 1, "Detections", f"{len(s.kept())} detections{match}"
        if self.frame is None:
            return 0, 1, "", self.error
        f = self.frame
        return f.step, f.step_count, f.step_label, f.caption

    def step(self, delta: int) -> None:
        s = self.window.session
        if self.view == "nms":
            s.set_step(s.step + delta)
            return
        if self.view == "detections" or self.frame is None:
            return
        self.set_step(self.frame.step + delta)

    def set_step(self, step: int) -> None:
        if self.view == "nms":
            self.window.session.set_step(step)
            return
        if self.frame is None:
            return
        self._steps[self.view] = int(np.clip(step, 0, self.frame.step_count - 1))
        self.redraw()

    # -- canvas clicks -----------------------------------------------------------------------------
    def on_point_clicked(self, x: float, y: float) -> None:
        inference = self.window.session.inference
        if inference is None or self.view in NMS_VIEWS:
            return
        if self.view in ("anchors", "default-boxes", "grid"):
            self._points[self.view] = (x, y)
            self._steps.pop(self.view, None)  # a click shows the chosen cell, not a lecture step
        elif self.view in ("regression", "yolo-cells"):
            hit = _smallest_box_at(inference.detections.xyxy, x, y)
            if hit is None:
                return
            self._picked[self.view] = hit
            self._steps.pop(self.view, None)
        elif self.view == "roi" and inference.proposals is not None:
            hit = _smallest_box_at(inference.proposals.xyxy, x, y)
            if hit is None:
                return
            self._picked["roi"] = hit
        else:
            return
        self.redraw()

    def on_box_clicked(self, index) -> None:
        if self.view in NMS_VIEWS:
            self.window.session.select(index)

    # -- drawing -----------------------------------------------------------------------------------
    def redraw(self) -> None:
        w = self.window
        gt = self.gt = w.frame_ground_truth()
        if self.view in NMS_VIEWS:
            self.frame, self.error = None, ""
            gt_layers, self.gt_match = ground_truth_layers(w.session, gt)
            self.layers = gt_layers + layers_for_session(w.session,
                                                         show_suppressed=w.actions_.show_suppressed.isChecked())
            w.canvas.set_layers(self.layers)
            step, count, label, caption = self.step_info()
            w.views_panel.show_frame(caption, [], step, count, label)
            self.frame_shown.emit(None)
            return
        self.gt_match = None
        inference = w.session.inference
        if inference is None:
            self.frame, self.layers = None, []
            w.canvas.set_layers([])
            w.views_panel.show_frame("Waiting for a frame and a model.", [], 0, 1, "")
            return
        try:
            state = self._state(self.view, inference)
            frame = None if state is None else VIEWS[self.view].frame(inference, state,
                                                                      gt=None if gt is None else gt.as_pair)
        except DetviewerError as exc:
            self.frame, self.layers, self.error = None, [], str(exc)
            w.canvas.set_layers([])
            w.views_panel.show_frame(str(exc), [], 0, 1, "")
            self.message.emit(str(exc))
            return
        if frame is None:  # waiting for the thread pool
            return
        self.frame, self.layers, self.error = frame, list(frame.layers), ""
        w.canvas.set_layers(self.layers)
        w.views_panel.show_frame(frame.caption, frame.table, frame.step, frame.step_count, frame.step_label)
        self.frame_shown.emit(frame)

    def _state(self, name: str, inference):
        """The view's state from the panel, clicks and steps; None while a pool task is running."""
        from detviewer.render.model.views import (
            anchors, before_cnn, default_boxes, grid, proposals, regression, roi, yolo_cells,
        )

        options = self.window.views_panel.options()
        step = self._steps.get(name)
        point = self._points.get(name)
        if name == "anchors":
            return anchors.AnchorViewState(level=options["level"], color_by=options["color_by"], point=point,
                                           step=step)
        if name == "default-boxes":
            return default_boxes.DefaultBoxViewState(scale=options["level"] or 0, point=point, step=step)
        if name == "proposals":
            return proposals.ProposalViewState(top_k=options["top_k"], step=step)
        if name == "grid":
            return grid.GridViewState(point=point, step=step)
        if name == "regression":
            return regression.RegressionViewState(detection=self._picked.get("regression"), step=step)
        if name == "yolo-cells":
            return yolo_cells.YoloCellsViewState(detection=self._picked.get("yolo-cells"), step=step)
        if name == "sliding-window":
            return before_cnn.SlidingWindowViewState(step=step)
        if name == "roi":
            state = roi.RoIViewState(proposal=self._picked.get("roi"), step=step)
            box = roi.roi_box(inference, state)
            pooling = self._background(("pooling", id(inference), tuple(np.round(box, 2).tolist())),
                                       lambda: self._pool_region(box), "Pooling the proposal…")
            return None if pooling is None else replace(state, pooling=pooling)
        if name == "selective-search":
            frame = self.window.feed.current_frame
            if frame is None:
                return None
            image = frame.image
            found = self._background(("selective_search", id(image)), lambda: _selective_search(image),
                                     "Running Selective Search…")
            if found is None:
                return None
            boxes, seconds, crops = found
            return before_cnn.SelectiveSearchViewState(boxes, seconds, top_n=options["top_k"], step=step, crops=crops)
        raise ValueError(f"unknown view {name!r}")

    def _pool_region(self, box):
        detector = self.window.worker.detector
        if detector is None:
            raise DetviewerError("No model is loaded to pool the proposal with.")
        return detector.pool_region(box)

    def _background(self, key, fn, message: str):
        """The cached result for ``key``, or None after starting ``fn`` on the pool."""
        if key in self._results:
            return self._results[key]
        if key not in self._pending:
            self._pending.add(key)
            self._pool.start(_Task(self._signals, key, fn))
        self.window.views_panel.show_frame(message, [], 0, 1, "")
        return None

    def _on_task_done(self, key, result, error: str) -> None:
        self._pending.discard(key)
        if error:
            self.error = error
            self.window.views_panel.show_frame(error, [], 0, 1, "")
            self.message.emit(error)
            return
        self._results[key] = result
        if self.view in ("roi", "selective-search"):
            self.redraw()

    def wait_for_tasks(self, msecs: int = 30000) -> bool:
        """Block until pool tasks finish (tests and shutdown)."""
        return self._pool.waitForDone(msecs)

    @property
    def busy(self) -> bool:
        return bool(self._pending)


def _selective_search(image):
    """(boxes, seconds, warped crops of the gallery's boxes) for the selective-search view."""
    from detviewer.ops.before_cnn import selective_search
    from detviewer.render.model.views.before_cnn import SelectiveSearchViewState, warp_gallery

    boxes, seconds = selective_search(image)
    defaults = SelectiveSearchViewState(boxes, seconds)
    crops = warp_gallery(image, boxes, n=defaults.gallery, size=defaults.warp_size, context=defaults.context)
    return boxes, seconds, crops


def _smallest_box_at(xyxy: np.ndarray, x: float, y: float) -> int | None:
    """Index of the smallest box (N, 4) xyxy containing (x, y), or None."""
    if xyxy is None or not len(xyxy):
        return None
    b = np.asarray(xyxy)
    inside = np.flatnonzero((b[:, 0] <= x) & (x <= b[:, 2]) & (b[:, 1] <= y) & (y <= b[:, 3]))
    if not len(inside):
        return None
    area = (b[inside, 2] - b[inside, 0]) * (b[inside, 3] - b[inside, 1])
    return int(inside[np.argmin(area)])
