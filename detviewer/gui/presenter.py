"""Turns the view state into what the canvas and the panels show, through the view registry.

On every state event the current view's pure build function runs on a ``ViewRequest`` made from the
state; a view's expensive input (``ViewSpec.prepare``) runs in the background (the worker when it needs
the detector, else the task runner) and is kept per Inference (weakly keyed) until the Inference goes.
Clicks on the canvas become state changes according to the view's ``click``. Nothing here draws or
decides what a view means.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, Signal

from detviewer.core.types import DeferredAnchors, Inference
from detviewer.errors import DetviewerError, first_line
from detviewer.render.model.nms_layers import candidate_label
from detviewer.render.model.pipeline import ModelAbilities, build, cannot_show
from detviewer.render.model.primitives import ViewFrame
from detviewer.render.model.registry import VIEWS
from detviewer.render.model.spec import Prepare, ViewRequest, ViewSpec
from detviewer.state.viewer_state import ViewerState

if TYPE_CHECKING:
    from detviewer.gui.background import BackgroundWork
    from detviewer.gui.canvas import Canvas

__all__ = ["ViewPresenter", "Shown", "smallest_box_at"]


@dataclass(frozen=True, eq=False)
class Shown:
    """What the canvas shows now: ``frame`` (None while waiting or when the view cannot show) and ``text``,
    the sentence shown instead of a caption then."""

    view: str
    frame: ViewFrame | None
    text: str = ""

    @property
    def caption(self) -> str:
        return self.frame.caption if self.frame is not None else self.text

    @property
    def position_text(self) -> str:
        return self.frame.position_text() if self.frame is not None else ""


def smallest_box_at(xyxy: np.ndarray | None, x: float, y: float) -> int | None:
    """Index of the smallest box (N, 4) xyxy containing (x, y), or None."""
    if xyxy is None or not len(xyxy):
        return None
    b = np.asarray(xyxy)
    inside = np.flatnonzero((b[:, 0] <= x) & (x <= b[:, 2]) & (b[:, 1] <= y) & (y <= b[:, 3]))
    if not len(inside):
        return None
    area = (b[inside, 2] - b[inside, 0]) * (b[inside, 3] - b[inside, 1])
    return int(inside[np.argmin(area)])


class ViewPresenter(QObject):
    """state: the ViewerState; background: gui.background.BackgroundWork; canvas: gui.canvas.Canvas."""

    shown_changed = Signal(object)  # Shown
    message = Signal(str)  # one sentence (a failed background input)

    def __init__(self, state: ViewerState, background: BackgroundWork, canvas: Canvas,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state, self.background, self.canvas = state, background, canvas
        self.model = ModelAbilities()  # no model yet: no view is refused
        self.shown = Shown(state.view, None, "Waiting for a frame and a model.")
        self._prepared: weakref.WeakKeyDictionary[object, dict] = weakref.WeakKeyDictionary()
        self._pending: set[tuple[int, tuple]] = set()
        self._waiting = False  # the Shown is a "computing …" sentence
        state.subscribe(lambda _event: self.redraw())
        canvas.point_clicked.connect(self.on_click)

    # -- what the model can show ---------------------------------------------------------------
    def set_model(self, model: ModelAbilities) -> None:
        self.model = model
        self.redraw()

    def cannot_show(self, spec: ViewSpec, model_name: str = "") -> str:
        """The sentence saying why the loaded model cannot show ``spec`` ("" when it can): render.model.pipeline's
        rule, the one ``render`` and ``lecture`` use."""
        return cannot_show(spec, replace(self.model, name=model_name) if model_name else self.model)

    def refusals(self, model_name: str = "This model") -> dict[str, str]:
        """View name -> why the loaded model cannot show it ("" when it can)."""
        return {name: self.cannot_show(spec, model_name) for name, spec in VIEWS.items()}

    # -- building ------------------------------------------------------------------------------
    def request(self, view: str | None = None) -> ViewRequest | None:
        """The ViewRequest of ``view`` (default: the current one) from the state; None without an Inference."""
        s = self.state
        view = view or s.view
        if s.inference is None:
            return None
        c = s.choices(view)
        return ViewRequest(s.inference, s.replay, step=c.step, controls=s.controls(view), point=c.point,
                           picked=c.picked, gt=s.ground_truth, selected=s.selected,
                           show_suppressed=s.show_suppressed, image=None if s.frame is None else s.frame.image,
                           overlays=s.overlays)

    def step_position(self, state: ViewerState, view: str) -> tuple[int, int]:
        """The StepCounter of the ViewerState: the shown frame's step, else the view's own count."""
        frame = self.shown.frame
        if view == state.view and self.shown.view == view and frame is not None:
            return frame.step, frame.step_count
        request = self.request(view)
        if request is None:
            return 0, 1
        count = max(1, int(VIEWS[view].step_count(request)))
        step = state.choices(view).step
        return (0 if step is None else min(step, count - 1)), count

    @property
    def busy(self) -> bool:
        """The view shown waits for its background input (or the anchors): it is drawn when that is ready."""
        return self._waiting

    def step_labels(self, view: str) -> list[str] | None:
        """The step label of every step of ``view`` for the shown Inference (what the lecture's steps named by
        label resolve against); None without an Inference, while the view's background input is not ready, or when
        the model cannot show the view."""
        spec = VIEWS[view]
        request = self.request(view)
        if request is None or self.cannot_show(spec, request.inference.model_name):
            return None
        request, _missing = self._with_cached_input(spec, request)
        if request is None:
            return None
        try:
            count = max(1, int(spec.step_count(request)))
            return [build(spec, replace(request, step=i), self.model).step_label for i in range(count)]
        except Exception:  # a view that fails says so when it is drawn
            return None

    def redraw(self) -> None:
        view = self.state.view
        spec = VIEWS[view]
        request = self.request(view)
        if request is None:
            self._show(Shown(view, None, "Waiting for a frame and a model."))
            return
        why = self.cannot_show(spec, request.inference.model_name)
        if why:
            self._show(Shown(view, None, why))
            return
        try:
            request = self._with_prepared(spec, request)
            if request is None:
                return  # waiting for the background input; _with_prepared said so
            frame = build(spec, request, self.model)
        except DetviewerError as exc:
            self._show(Shown(view, None, str(exc)))
            return
        except Exception as exc:  # a bug in a view must not take the window down
            self._show(Shown(view, None, f"The {spec.title} view failed: {type(exc).__name__}: {first_line(exc)}."))
            return
        self._show(Shown(view, frame))

    def _show(self, shown: Shown, waiting: bool = False) -> None:
        self.shown, self._waiting = shown, waiting
        frame = shown.frame
        self.canvas.set_layers(frame.layers if frame is not None else [], frame.legend if frame is not None else (),
                               frame.dim if frame is not None else 0.0)
        self.canvas.describe = self.describe_candidate if VIEWS[shown.view].click == "candidate" else None
        self.shown_changed.emit(shown)

    def _anchors_ready(self, spec: ViewSpec, request: ViewRequest) -> bool:
        """True when the view can read the Inference's anchors now; else they are built in the task runner
        (``core.types.DeferredAnchors``) and the view is drawn when they are."""
        inference = request.inference
        anchors = inference.anchors
        if not spec.reads_anchors or not isinstance(anchors, DeferredAnchors) or anchors.built:
            return True
        pending = (id(inference), "anchors")
        if pending not in self._pending:
            self._pending.add(pending)
            self.background.task(pending, lambda _context: anchors.materialize(), "building the anchors",
                                 self._on_prepared_callback(inference, "anchors", pending), slot="anchors")
        self._show(Shown(spec.name, None, "Building the anchors…"), waiting=True)
        return False

    def _with_cached_input(self, spec: ViewSpec, request: ViewRequest) -> tuple[ViewRequest | None, Prepare | None]:
        """(``request`` with the view's background input, None) when the view needs none or it is computed; else
        (None, the job that computes it)."""
        prepare = spec.prepare(request) if spec.prepare is not None else None
        if prepare is None:
            return request, None
        done = self._prepared.get(request.inference, {})
        if prepare.key in done:
            return replace(request, prepared=done[prepare.key]), None
        return None, prepare

    def _with_prepared(self, spec: ViewSpec, request: ViewRequest) -> ViewRequest | None:
        if not self._anchors_ready(spec, request):
            return None
        ready, prepare = self._with_cached_input(spec, request)
        if prepare is None:
            return ready
        inference = request.inference
        pending = (id(inference), prepare.key)
        if pending not in self._pending:
            self._pending.add(pending)
            on_done = self._on_prepared_callback(inference, prepare.key, pending)
            if prepare.uses_detector:
                self.background.with_detector(prepare.key, prepare.run, spec.title.lower(), on_done)
            else:
                self.background.task(prepare.key, lambda _context: prepare.run(None), spec.title.lower(), on_done,
                                     slot=f"prepare:{spec.name}")
        self._show(Shown(spec.name, None, prepare.message), waiting=True)
        return None

    def _on_prepared_callback(self, inference: Inference, key: Hashable,
                              pending: tuple[int, Hashable]) -> Callable[[object, str], None]:
        ref = weakref.ref(inference)

        def on_done(value: object, error: str) -> None:
            self._pending.discard(pending)
            target = ref()
            if target is None:
                return
            if error:
                self.message.emit(error)
                if self.state.inference is target:
                    self._show(Shown(self.state.view, None, error))
                return
            self._prepared.setdefault(target, {})[key] = value
            if self.state.inference is target:
                self.redraw()

        return on_done

    # -- the canvas ------------------------------------------------------------------------------
    def on_click(self, x: float, y: float) -> None:
        s = self.state
        click = VIEWS[s.view].click
        inference = s.inference
        if inference is None or not click:
            return
        if click == "point":
            s.set_point((x, y))
        elif click == "candidate":
            s.select(self.canvas.box_at(x, y))
        else:
            boxes = inference.detections.xyxy if click == "detection" else (
                inference.proposals.xyxy if inference.proposals is not None else None)
            hit = smallest_box_at(boxes, x, y)
            if hit is not None:
                s.set_picked(hit)

    def describe_candidate(self, index: int) -> str:
        """Hover text of a candidate: its class, score, box and what NMS did to it at the step shown."""
        replay = self.state.replay
        if not 0 <= index < len(replay):
            return ""
        x1, y1, x2, y2 = (float(v) for v in replay.candidates.xyxy[index])
        frame = self.shown.frame
        step = frame.step if frame is not None and VIEWS[self.state.view].steps_nms else replay.step_count
        text = candidate_label(replay, index, step)
        how = replay.suppressed_by(index)
        if how is not None and how[0] <= step:
            text += f" at step {how[0]} (IoU {how[1]:.2f})"
        return f"{text}\nx1 {x1:.0f}  y1 {y1:.0f}  x2 {x2:.0f}  y2 {y2:.0f}  ({x2 - x1:.0f}×{y2 - y1:.0f})"
