"""What a view declares (Qt-free): its controls, steps, clicks, background inputs and a pure build function.

The window's View dock and menus, lecture mode, the keyboard help and ``detviewer render`` are all
generated from these declarations (``registry.VIEWS``); a view is one module defining a ``ViewSpec``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from detviewer.core.types import Inference
from detviewer.render.model.primitives import ViewFrame
from detviewer.state.nms_replay import NMSReplay

__all__ = ["Control", "ViewRequest", "Prepare", "ViewSpec", "CLICKS", "counted", "figure_title"]

#: What a left click on the canvas does in a view: "" nothing, "point" pick a point (the cell under it),
#: "detection" / "proposal" pick the smallest such box under it, "candidate" select an NMS candidate.
CLICKS = ("", "point", "detection", "proposal", "candidate")


@dataclass(frozen=True)
class Control:
    """One control of a view. kind: "choice" (choices), "int" (minimum..maximum) or "bool"."""

    name: str
    label: str
    kind: str
    default: Any
    choices: tuple[str, ...] = ()
    minimum: int = 0
    maximum: int = 0
    tooltip: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("choice", "int", "bool"):
            raise ValueError(f"control {self.name}: unknown kind {self.kind!r}")
        if self.kind == "choice" and self.default not in self.choices:
            raise ValueError(f"control {self.name}: default {self.default!r} is not one of {self.choices}")

    def parse(self, text: str) -> str | int | bool:
        """The value of a command-line string; ValueError with one sentence when it is not one."""
        if self.kind == "choice":
            if text not in self.choices:
                raise ValueError(f"--{self.name.replace('_', '-')} must be one of {', '.join(self.choices)}")
            return text
        if self.kind == "bool":
            return text.lower() in ("1", "true", "yes", "on")
        value = int(text)
        if not self.minimum <= value <= self.maximum:
            raise ValueError(f"--{self.name.replace('_', '-')} must lie in {self.minimum}..{self.maximum}")
        return value


@dataclass(frozen=True, eq=False)
class ViewRequest:
    """Everything a view's build function reads (all original-image pixels).

    step: 0-based, or None for the view's default; controls: name -> value; point: clicked (x, y);
    picked: the box the user picked (its meaning is the view's ``click``); gt: the frame's
    io.image_gt.ImageBoxes or None; replay: the NMS replay at the user's thresholds; image (H, W, 3)
    uint8 RGB; prepared: the result of the view's ``prepare`` job (None until it is done); overlays: boxes
    from outside the model's result for this image (state.overlays.Overlay: another model's, a metric's).
    """

    inference: Inference
    replay: NMSReplay
    step: int | None = None
    controls: Mapping[str, Any] = field(default_factory=dict)
    point: tuple[float, float] | None = None
    picked: int | None = None
    gt: Any = None
    selected: int | None = None
    show_suppressed: bool = False
    image: np.ndarray | None = None
    prepared: Any = None
    overlays: tuple[Any, ...] = ()

    @property
    def gt_pair(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The ground truth as ``(boxes (M, 4), labels (M,))`` for the teaching views, or None."""
        return None if self.gt is None else self.gt.as_pair


@dataclass(frozen=True)
class Prepare:
    """Expensive input a view needs before it can build (RoI pooling, Selective Search, decoding every anchor).

    key: hashable by value, identifying the result for this Inference (the caller keys Inferences weakly);
    run(detector) -> result: runs in the background, off the GUI thread; ``detector`` is the loaded
    Detector when ``uses_detector`` (only the worker thread touches it), else None; message: shown while
    it runs.
    """

    key: tuple[Any, ...]
    run: Callable[[Any], Any]
    uses_detector: bool = False
    message: str = "Preparing the view…"


def figure_title(title: str, frame: ViewFrame, model_name: str) -> str:
    """The line over an exported figure: the view, the model, where its steps stand, e.g.
    "Anchors · demo-frcnn · Step 3 of 5: Level 3/4" (a figure on a slide says what it shows)."""
    position = frame.position_text()
    return " · ".join(part for part in (title, model_name, position if position != title else "") if part)


def _one_step(_request: ViewRequest) -> int:
    return 1


def counted(steps: Callable[[Inference, Any], int]) -> Callable[[ViewRequest], int]:
    """A ViewSpec.step_count from a view's ``*_steps(inference, gt)``: 1 where the view cannot show the model."""
    from detviewer.render.model.primitives import ViewError

    def count(request: ViewRequest) -> int:
        try:
            return max(1, int(steps(request.inference, request.gt_pair)))
        except ViewError:
            return 1

    return count


@dataclass(frozen=True)
class ViewSpec:
    """One view.

    build(request) -> ViewFrame: pure; step_count(request) -> int; needs: the Detector capability the view
    requires ("" for none) and cannot_show its sentence when missing, e.g. "it has no anchors";
    controls: shown in the View dock (and ``--name`` options of render); click: see CLICKS;
    prepare(request) -> Prepare | None: background input; help: one line for Help → Keyboard shortcuts;
    needs_candidates: it replays the model's NMS, which a model that outputs only final detections cannot;
    reads_anchors: its build reads the anchors themselves (not only how many levels), which an Inference builds
    on first use: the window has them built in the background first (the RetinaNet's take ~70 ms);
    steps_nms: its steps are the NMS replay's (a new result starts them again at 0; a hovered candidate is told at
    the step shown; File → Export NMS steps writes them; the S key toggles it).
    """

    name: str
    title: str
    build: Callable[[ViewRequest], ViewFrame]
    step_count: Callable[[ViewRequest], int] = _one_step
    needs: str = ""
    cannot_show: str = ""
    controls: tuple[Control, ...] = ()
    click: str = ""
    prepare: Callable[[ViewRequest], Prepare | None] | None = None
    help: str = ""
    needs_candidates: bool = False
    reads_anchors: bool = False
    steps_nms: bool = False

    def __post_init__(self) -> None:
        if self.click not in CLICKS:
            raise ValueError(f"view {self.name}: unknown click {self.click!r}")
        if self.needs and not self.cannot_show:
            raise ValueError(f"view {self.name}: a view that needs '{self.needs}' must say why it cannot show")

    def defaults(self) -> dict[str, Any]:
        return {c.name: c.default for c in self.controls}

    def control(self, name: str) -> Control:
        for c in self.controls:
            if c.name == name:
                return c
        raise KeyError(name)

    def cannot_show_sentence(self, model_name: str) -> str:
        return f"{model_name} cannot show the {self.title} view: {self.cannot_show}."
