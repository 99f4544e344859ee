"""What ``ViewerState`` tells its listeners (typed events, one per kind of change)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "StateEvent", "ViewChanged", "StepChanged", "ControlChanged", "PickChanged", "SelectionChanged",
    "ThresholdsChanged", "FrameChanged", "InferenceChanged", "GroundTruthChanged", "DisplayChanged",
    "OverlaysChanged",
]


class StateEvent:
    """Base of every event."""


@dataclass(frozen=True)
class ViewChanged(StateEvent):
    view: str


@dataclass(frozen=True)
class StepChanged(StateEvent):
    view: str
    step: int


@dataclass(frozen=True)
class ControlChanged(StateEvent):
    view: str
    name: str


@dataclass(frozen=True)
class PickChanged(StateEvent):
    """A clicked point or a picked box (detection, proposal) of ``view`` changed."""

    view: str


@dataclass(frozen=True)
class SelectionChanged(StateEvent):
    """The candidate selected in the NMS table (or on the canvas) changed."""

    index: int | None


@dataclass(frozen=True)
class ThresholdsChanged(StateEvent):
    """Score / IoU / scope / method changed; the NMS replay was recomputed."""

    score_only: bool


@dataclass(frozen=True)
class FrameChanged(StateEvent):
    """A new frame is shown (its Inference follows in an InferenceChanged)."""


@dataclass(frozen=True)
class InferenceChanged(StateEvent):
    """A new model result (or None) for the frame shown; restarted: NMS stepping began again."""

    restarted: bool


@dataclass(frozen=True)
class GroundTruthChanged(StateEvent):
    """Ground truth for the frame appeared, changed or went away."""


@dataclass(frozen=True)
class DisplayChanged(StateEvent):
    """A display switch changed: ``name`` is "show_gt" or "show_suppressed"."""

    name: str


@dataclass(frozen=True)
class OverlaysChanged(StateEvent):
    """Boxes from outside the model's result (state.overlays.Overlay) were set for an image, or cleared."""
