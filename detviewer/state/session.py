"""Qt-free session state: the current Inference, live thresholds, the NMS replay and stepper, selection.

Moving a threshold re-runs only ``nms_trace`` on the stored pre-NMS candidates (never the model).
The stepper position ``step`` counts NMS steps done: 0 = nothing decided yet,
``step_count`` = the final result. Views read ``states()`` / ``current_step()`` and redraw when a
listener is told something changed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from detviewer.core.types import Detections, Inference, NMSTrace

__all__ = ["Thresholds", "Session", "PENDING", "KEPT", "SUPPRESSED", "FILTERED", "NMS_METHODS"]

PENDING, KEPT, SUPPRESSED, FILTERED = 0, 1, 2, 3  # NMSTrace.state_at codes
NMS_METHODS = ("hard", "linear", "gaussian")

#: Session change kinds passed to listeners.
CHANGED_INFERENCE, CHANGED_TRACE, CHANGED_STEP, CHANGED_SELECTION = "inference", "trace", "step", "selection"


@dataclass(frozen=True)
class Thresholds:
    """What the user set: score filter, IoU threshold, per-class or class-agnostic NMS, method."""

    score: float = 0.3
    iou: float = 0.5
    class_agnostic: bool = False
    method: str = "hard"
    sigma: float = 0.5

    def __post_init__(self) -> None:
        if self.method not in NMS_METHODS:
            raise ValueError(f"NMS method must be one of {NMS_METHODS}, got {self.method!r}")


def _default_nms_trace():
    from detviewer.ops.nms import nms_trace

    return nms_trace


class Session:
    """State shared by the window's views; plain Python, so it is tested without Qt.

    ``nms_trace_fn`` defaults to ``detviewer.ops.nms.nms_trace`` (imported on first use).
    """

    def __init__(self, thresholds: Thresholds | None = None, nms_trace_fn: Callable | None = None) -> None:
        self.thresholds = thresholds or Thresholds()
        self._nms_trace_fn = nms_trace_fn
        self.inference: Inference | None = None
        self.trace: NMSTrace | None = None
        self.step = 0
        self.step_mode = False
        self.selected: int | None = None
        self._listeners: list[Callable[[str], None]] = []
        self._index_steps()

    # -- listeners -------------------------------------------------------------------------
    def subscribe(self, listener: Callable[[str], None]) -> None:
        """``listener(kind)`` is called after each change; kind is one of the CHANGED_* names."""
        self._listeners.append(listener)

    def _notify(self, kind: str) -> None:
        for listener in list(self._listeners):
            listener(kind)

    # -- inputs ----------------------------------------------------------------------------
    @property
    def candidates(self) -> Detections:
        if self.inference is None:
            return Detections.empty()
        return self.inference.candidates

    def set_inference(self, inference: Inference | None) -> None:
        """Show a new model result; in step mode the replay restarts at step 0."""
        self.inference = inference
        self.selected = None
        self._replay(keep_step=False)
        self.step = 0 if self.step_mode else self.step_count
        self._notify(CHANGED_INFERENCE)

    def set_step_mode(self, on: bool) -> None:
        """Step mode shows NMS one step at a time from step 0; leaving it shows the final result."""
        self.step_mode = bool(on)
        self.step = 0 if self.step_mode else self.step_count
        self._notify(CHANGED_STEP)

    def set_thresholds(self, **changes) -> bool:
        """Change thresholds (score, iou, class_agnostic, method, sigma); True if the trace changed."""
        new = replace(self.thresholds, **changes)
        if new == self.thresholds:
            return False
        self.thresholds = new
        self._replay(keep_step=True)
        self._notify(CHANGED_TRACE)
        return True

    def _replay(self, keep_step: bool) -> None:
        cand = self.candidates
        if self.inference is None:
            self.trace = None
        else:
            fn = self._nms_trace_fn or _default_nms_trace()
            t = self.thresholds
            self.trace = fn(
                cand.xyxy, cand.scores, cand.labels,
                iou_threshold=float(t.iou), score_threshold=float(t.score),
                class_agnostic=bool(t.class_agnostic), method=t.method, sigma=float(t.sigma),
                max_detections=self.inference.nms.max_detections,
            )
        self._index_steps()
        if keep_step and self.step_mode:
            self.step = min(self.step, self.step_count)
        else:
            self.step = self.step_count

    def _index_steps(self) -> None:
        """Per-candidate step numbers, so that states at any step are one vectorised comparison."""
        n = len(self.candidates)
        self._suppressed_by = np.full(n, -1, np.int64)
        self._suppress_iou = np.full(n, np.nan, np.float32)
        self._kept_at = np.full(n, -1, np.int64)
        self._kept_order = np.zeros(0, np.int64)
        self._states_cache = None
        self._base_state = np.full(n, FILTERED, np.int8)
        if self.trace is None:
            return
        steps = self.trace.steps
        self._base_state[np.asarray(self.trace.order, np.int64)] = PENDING
        if not steps:
            return
        self._kept_order = np.fromiter((s.kept for s in steps), np.int64, len(steps))
        self._kept_at[self._kept_order] = np.arange(len(steps))
        counts = np.fromiter((len(s.suppressed) for s in steps), np.int64, len(steps))
        if counts.sum():
            suppressed = np.concatenate([np.asarray(s.suppressed, np.int64) for s in steps])
            self._suppressed_by[suppressed] = np.repeat(np.arange(len(steps)), counts)
            self._suppress_iou[suppressed] = np.concatenate([np.asarray(s.ious, np.float32) for s in steps])

    # -- stepper ---------------------------------------------------------------------------
    @property
    def step_count(self) -> int:
        return 0 if self.trace is None else len(self.trace.steps)

    @property
    def is_stepping(self) -> bool:
        """True in step mode with a result to step through."""
        return self.step_mode and self.trace is not None

    def set_step(self, step: int) -> None:
        step = int(np.clip(step, 0, self.step_count))
        if step != self.step:
            self.step = step
            self._notify(CHANGED_STEP)

    def step_forward(self) -> None:
        self.set_step(self.step + 1)

    def step_back(self) -> None:
        self.set_step(self.step - 1)

    def to_start(self) -> None:
        self.set_step(0)

    def to_end(self) -> None:
        self.set_step(self.step_count)

    def current_step(self):
        """The NMSStep shown now (the one done last), or None before the first step."""
        if self.trace is None or self.step == 0:
            return None
        return self.trace.steps[self.step - 1]

    def states(self) -> np.ndarray:
        """(N,) int8 state of every candidate at the current step (PENDING/KEPT/SUPPRESSED/FILTERED).

        Equals ``trace.state_at(step)``, computed from per-candidate step numbers (cached).
        """
        if self.trace is None:
            return np.zeros(0, np.int8)
        cache = self._states_cache
        if cache is not None and cache[0] == self.step:
            return cache[1]
        state = self._base_state.copy()
        state[(self._kept_at >= 0) & (self._kept_at < self.step)] = KEPT
        state[(self._suppressed_by >= 0) & (self._suppressed_by < self.step)] = SUPPRESSED
        state.setflags(write=False)
        self._states_cache = (self.step, state)
        return state

    def kept(self) -> np.ndarray:
        """Candidate indices kept so far, in the order they were kept."""
        if self.trace is None:
            return np.zeros(0, np.int64)
        if self.step >= self.step_count:
            return np.asarray(self.trace.keep, np.int64)
        return self._kept_order[: self.step]

    def kept_detections(self) -> Detections:
        """The detections the current thresholds give at the current step."""
        cand = self.candidates
        keep = self.kept()
        det = cand[keep]
        if self.trace is not None and self.thresholds.method != "hard":
            det = Detections(det.xyxy, self.trace.scores[keep], det.labels, det.class_names)
        return det

    def suppressed_by(self, index: int) -> tuple[int, float] | None:
        """(step number counted from 1, IoU) of the step that suppressed candidate ``index``."""
        k = int(self._suppressed_by[index]) if 0 <= index < len(self._suppressed_by) else -1
        if k < 0:
            return None
        return k + 1, float(self._suppress_iou[index])

    @property
    def suppressed_by_array(self) -> np.ndarray:
        """(N,) int64 step index (0-based) that suppressed each candidate, -1 if none."""
        return self._suppressed_by

    @property
    def suppress_iou_array(self) -> np.ndarray:
        """(N,) float32 IoU with the box that suppressed each candidate, NaN if none."""
        return self._suppress_iou

    def sorted_candidates(self) -> np.ndarray:
        """All candidate indices by descending score (ties by index), for the candidate list."""
        scores = self.candidates.scores
        return np.lexsort((np.arange(len(scores)), -scores)).astype(np.int64)

    def narration(self) -> str:
        """One line describing the current step, e.g. "Step 3: keep 'dog' 0.91; suppress 4 boxes ...". """
        if self.inference is None:
            return "No result yet."
        if self.trace is None or self.step_count == 0:
            n = len(self.candidates)
            return f"No candidate passes the score threshold {self.thresholds.score:.2f} ({n} candidates)."
        if not self.step_mode:
            scope = "all classes together" if self.thresholds.class_agnostic else "per class"
            return (f"Final result: {len(self.trace.keep)} of {len(self.trace.order)} candidates above score "
                    f"{self.thresholds.score:.2f} kept by {self.thresholds.method} NMS at IoU > "
                    f"{self.thresholds.iou:.2f}, {scope}. Step through NMS to see how.")
        if self.step == 0:
            n = len(self.trace.order)
            return f"Start: {n} candidates above score {self.thresholds.score:.2f}, sorted by score; none decided."
        s = self.current_step()
        cand = self.candidates
        name = cand.name_of(cand.labels[s.kept])
        score = float(self.trace.scores[s.kept]) if np.isnan(s.score) else float(s.score)
        m = len(s.suppressed)
        boxes = "box" if m == 1 else "boxes"
        scope = "" if self.thresholds.class_agnostic else f" of class '{name}'"
        verb = "suppress" if self.thresholds.method == "hard" else "decay and drop"
        text = (f"Step {self.step}: keep '{name}' {score:.2f}; {verb} {m} {boxes}{scope} "
                f"with IoU > {self.thresholds.iou:.2f} against it")
        if self.thresholds.method != "hard" and len(s.decayed):
            text += f" ({len(s.decayed)} scores lowered)"
        if self.step == self.step_count:
            text += f". Done: {len(self.trace.keep)} kept."
        return text

    # -- selection -------------------------------------------------------------------------
    def select(self, index: int | None) -> None:
        if index is not None and not 0 <= int(index) < len(self.candidates):
            index = None
        index = None if index is None else int(index)
        if index != self.selected:
            self.selected = index
            self._notify(CHANGED_SELECTION)
