"""The one observable, Qt-free state of what the window shows.

Panels, canvas clicks, lecture mode, menus and keys read it and ask it to change; it tells listeners
with typed events (``state.events``). It holds: the frame and its Inference, the NMS replay at the
user's thresholds, the current view and each view's own choices (step, controls, clicked point,
picked box), the selected candidate, the frame's ground truth and the display switches. No widget
keeps a copy of any of these.

What depends on the view registry (which views exist, their controls' defaults, how many steps a view
has for this Inference) is injected, so this package imports neither the views nor torch.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from detviewer.core.types import Inference
from detviewer.state.events import (
    ControlChanged,
    DisplayChanged,
    FrameChanged,
    GroundTruthChanged,
    InferenceChanged,
    OverlaysChanged,
    PickChanged,
    SelectionChanged,
    StateEvent,
    StepChanged,
    ThresholdsChanged,
    ViewChanged,
)
from detviewer.state.nms_replay import NMSReplay, Thresholds, TraceFn, replay, replay_key, unfiltered_replay

__all__ = ["ViewerState", "ViewChoices", "StepCounter"]

_KEEP = object()  # set_inference: leave the ground truth as it is

#: (state, view) -> (step shown, step count) of ``view`` now; provided by the view registry.
StepCounter = Callable[["ViewerState", str], "tuple[int, int]"]


@dataclass(frozen=True)
class ViewChoices:
    """What the user chose in one view. step None: the view's default step; point (x, y) original pixels;
    picked: index of a box the view explains (a detection, a proposal); controls: name -> value."""

    step: int | None = None
    point: tuple[float, float] | None = None
    picked: int | None = None
    controls: Mapping[str, Any] = field(default_factory=dict)


class ViewerState:
    """views: view name -> {control name: default}; step_counter: see StepCounter; trace_fn: ops.nms.nms_trace
    (imported by the caller, so that the window can exist before torch is imported)."""

    def __init__(self, views: Mapping[str, Mapping[str, Any]], step_counter: StepCounter,
                 trace_fn: TraceFn | None = None, thresholds: Thresholds | None = None,
                 first_view: str = "detections", restart_steps: Collection[str] = ()) -> None:
        if first_view not in views:
            raise ValueError(f"unknown view {first_view!r}")
        self._defaults = {name: dict(controls) for name, controls in views.items()}
        self._step_counter = step_counter
        self._restart_steps = frozenset(restart_steps)  # views whose steps begin again with a new result
        self._trace_fn = trace_fn
        self._listeners: list[Callable[[StateEvent], None]] = []
        self._view = first_view
        self._choices: dict[str, ViewChoices] = {name: ViewChoices() for name in views}
        self._thresholds = thresholds or Thresholds()
        self._frame: Any = None
        self._inference: Inference | None = None
        self._unfiltered: dict[tuple[float, bool], NMSReplay] = {}
        self._replay = NMSReplay.empty(self._thresholds)
        self._selected: int | None = None
        self._gt: Any = None
        self._show_gt = True
        self._show_suppressed = False
        self._overlays: tuple[str | None, tuple[Any, ...]] = (None, ())  # (image path, Overlay...)

    # -- listeners ---------------------------------------------------------------------------
    def subscribe(self, listener: Callable[[StateEvent], None]) -> None:
        """``listener(event)`` after every change."""
        self._listeners.append(listener)

    def _emit(self, event: StateEvent) -> None:
        for listener in list(self._listeners):
            listener(event)

    # -- reading -------------------------------------------------------------------------------
    @property
    def view(self) -> str:
        return self._view

    @property
    def views(self) -> tuple[str, ...]:
        return tuple(self._defaults)

    @property
    def thresholds(self) -> Thresholds:
        return self._thresholds

    @property
    def frame(self) -> Any:
        """The io.frames.Frame shown (or None)."""
        return self._frame

    @property
    def inference(self) -> Inference | None:
        return self._inference

    @property
    def replay(self) -> NMSReplay:
        """NMS of the current Inference's candidates at the current thresholds."""
        return self._replay

    @property
    def selected(self) -> int | None:
        return self._selected

    @property
    def ground_truth(self) -> Any:
        """The frame's ground truth (io.image_gt.ImageBoxes) when there is some and it is shown, else None."""
        return self._gt if self._show_gt else None

    @property
    def has_ground_truth(self) -> bool:
        """The frame has ground truth (shown or not)."""
        return self._gt is not None and len(self._gt) > 0

    @property
    def show_gt(self) -> bool:
        return self._show_gt

    @property
    def show_suppressed(self) -> bool:
        return self._show_suppressed

    @property
    def overlays(self) -> tuple[Any, ...]:
        """The overlays (state.overlays.Overlay) of the frame shown: those set for its path, else none."""
        path, overlays = self._overlays
        frame_path = getattr(self._frame, "path", None)
        return overlays if path is not None and frame_path is not None and str(frame_path) == path else ()

    def set_overlays(self, path: str | None, overlays: tuple[Any, ...]) -> None:
        """Boxes to draw over the detections of the image at ``path`` (e.g. the boxes behind a metric)."""
        self._overlays = (None if path is None else str(path), tuple(overlays))
        self._emit(OverlaysChanged())

    def choices(self, view: str | None = None) -> ViewChoices:
        return self._choices[view or self._view]

    def control(self, name: str, view: str | None = None) -> Any:
        view = view or self._view
        return self._choices[view].controls.get(name, self._defaults[view][name])

    def controls(self, view: str | None = None) -> dict[str, Any]:
        view = view or self._view
        return {**self._defaults[view], **self._choices[view].controls}

    def step_position(self, view: str | None = None) -> tuple[int, int]:
        """(step shown, step count) of ``view`` now, from the view registry."""
        return self._step_counter(self, view or self._view)

    # -- changing the view and its choices -------------------------------------------------------
    def set_view(self, view: str) -> None:
        if view not in self._choices:
            raise ValueError(f"unknown view {view!r}")
        if view != self._view:
            self._view = view
            self._emit(ViewChanged(view))

    def set_step(self, step: int, view: str | None = None) -> None:
        """Show step ``step`` (0-based, clamped to the view's steps) of ``view`` (default: the current one)."""
        view = view or self._view
        _, count = self.step_position(view)
        step = int(min(max(int(step), 0), max(count - 1, 0)))
        if self._choices[view].step != step:
            self._choices[view] = replace(self._choices[view], step=step)
            self._emit(StepChanged(view, step))

    def step_by(self, delta: int, view: str | None = None) -> None:
        view = view or self._view
        step, _ = self.step_position(view)
        self.set_step(step + int(delta), view)

    def set_control(self, name: str, value: Any, view: str | None = None) -> None:
        view = view or self._view
        if name not in self._defaults[view]:
            raise ValueError(f"view {view!r} has no control {name!r}")
        if self.control(name, view) == value:
            return
        controls = {**self._choices[view].controls, name: value}
        self._choices[view] = replace(self._choices[view], controls=controls)
        self._emit(ControlChanged(view, name))

    def set_point(self, point: tuple[float, float] | None, view: str | None = None) -> None:
        """A clicked point (original pixels); the view shows it at its default step."""
        view = view or self._view
        point = None if point is None else (float(point[0]), float(point[1]))
        if self._choices[view].point != point:
            self._choices[view] = replace(self._choices[view], point=point, step=None)
            self._emit(PickChanged(view))

    def set_picked(self, index: int | None, view: str | None = None) -> None:
        """A picked box (its meaning is the view's); the view shows it at its default step."""
        view = view or self._view
        index = None if index is None else int(index)
        if self._choices[view].picked != index:
            self._choices[view] = replace(self._choices[view], picked=index, step=None)
            self._emit(PickChanged(view))

    def select(self, index: int | None) -> None:
        """Select candidate ``index`` (None, or out of range: clear)."""
        if index is not None and not 0 <= int(index) < len(self._replay):
            index = None
        index = None if index is None else int(index)
        if index != self._selected:
            self._selected = index
            self._emit(SelectionChanged(index))

    # -- data ------------------------------------------------------------------------------------
    def set_frame(self, frame: Any) -> None:
        """A new frame to show; its Inference is not known yet (the views wait for it)."""
        self._frame = frame
        self._set_inference(None)
        self._emit(FrameChanged())

    def set_inference(self, inference: Inference | None, *, frame: Any = None, gt: Any = _KEEP, restart: bool = True,
                      replays: dict[tuple[float, bool], NMSReplay] | None = None) -> None:
        """Show the model's result (for ``frame``, when it is another than the one shown; ``gt``: its ground truth).

        restart: begin NMS stepping again and forget boxes picked on the previous result (False for the
        frames of a playing stream, so that a view does not jump back every frame). replays: unfiltered
        greedy replays of this inference already made elsewhere (the worker), filed by ``replay_key``.
        """
        if frame is not None:
            self._frame = frame
        if gt is not _KEEP:
            self._gt = gt
        self._set_inference(inference, restart, replays)
        self._emit(InferenceChanged(restart))

    def _set_inference(self, inference: Inference | None, restart: bool = True,
                       replays: dict[tuple[float, bool], NMSReplay] | None = None) -> None:
        self._inference = inference
        self._unfiltered = dict(replays or {}) if inference is not None else {}
        self._selected = None
        self._replay = self._compute_replay()
        if restart:
            for view, choices in self._choices.items():
                self._choices[view] = replace(choices, picked=None, step=0 if view in self._restart_steps else choices.step)

    def set_ground_truth(self, gt: Any) -> None:
        """The frame's ground truth (io.image_gt.ImageBoxes) or None."""
        if gt is not self._gt:
            self._gt = gt
            self._emit(GroundTruthChanged())

    def set_show_gt(self, on: bool) -> None:
        if bool(on) != self._show_gt:
            self._show_gt = bool(on)
            self._emit(DisplayChanged("show_gt"))

    def set_show_suppressed(self, on: bool) -> None:
        if bool(on) != self._show_suppressed:
            self._show_suppressed = bool(on)
            self._emit(DisplayChanged("show_suppressed"))

    # -- thresholds and the NMS replay ------------------------------------------------------------
    def set_thresholds(self, **changes: Any) -> bool:
        """Change thresholds (score, iou, class_agnostic, method, sigma); True if anything changed."""
        new = replace(self._thresholds, **changes)
        if new == self._thresholds:
            return False
        score_only = replace(self._thresholds, score=new.score) == new
        self._thresholds = new
        self._replay = self._compute_replay()
        self._selected = None if self._selected is not None and self._selected >= len(self._replay) else self._selected
        self._emit(ThresholdsChanged(score_only))
        return True

    def add_unfiltered_replays(self, inference: Inference, replays: Mapping[tuple[float, bool], NMSReplay]) -> None:
        """Unfiltered greedy replays of ``inference`` computed elsewhere (in the background), filed by
        ``nms_replay.replay_key``; ignored when another Inference is shown by now."""
        if inference is self._inference:
            self._unfiltered.update(replays)

    def _compute_replay(self) -> NMSReplay:
        t, inference = self._thresholds, self._inference
        if inference is None or self._trace_fn is None:
            return NMSReplay.empty(t, None if inference is None else inference.candidates)
        if t.method != "hard":
            return replay(inference, t, self._trace_fn)
        key = replay_key(t.iou, t.class_agnostic)
        full = self._unfiltered.get(key)
        if full is None:
            full = self._unfiltered[key] = unfiltered_replay(inference, t, self._trace_fn)
        return replay(inference, t, self._trace_fn, full=full)
