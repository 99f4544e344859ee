"""NMS replayed on one Inference's stored candidates at the user's thresholds (Qt-free).

An ``NMSReplay`` is immutable and indexed for any step: ``states(k)`` / ``kept(k)`` after k greedy
steps (0 = nothing decided yet, ``step_count`` = the final result). Greedy NMS processes boxes by
falling score, so the boxes a box with score > t meets are the same whether or not the boxes below t
exist: the replay at score threshold t is the unfiltered replay restricted to {score > t}
(``restrict_to_score``), and a score slider never re-runs NMS. Soft-NMS decays scores, so it re-runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from detviewer.core.types import (
    FILTERED,
    KEPT,
    NMS_METHODS,
    PENDING,
    SUPPRESSED,
    Detections,
    Inference,
    NMSStep,
    NMSTrace,
)

__all__ = ["Thresholds", "NMSReplay", "restrict_to_score", "replay_from_trace", "unfiltered_replay", "iou_grid",
           "replay_key", "UNFILTERED", "IOU_GRID", "TraceFn"]

#: ``ops.nms.nms_trace`` (injected: this package imports no torch): (boxes, scores, labels, **options) -> NMSTrace.
TraceFn = Callable[..., NMSTrace]

#: The score threshold of an unfiltered replay: every finite score passes ``score > UNFILTERED``.
UNFILTERED = float("-inf")
#: The IoU thresholds the slider can reach (0.01 steps), whose unfiltered replays can be prepared beforehand.
IOU_GRID = tuple(round(k / 100, 2) for k in range(101))


def replay_key(iou: float, class_agnostic: bool) -> tuple[float, bool]:
    """How unfiltered replays are filed: by IoU (to 4 decimals, as the slider gives it) and scope."""
    return round(float(iou), 4), bool(class_agnostic)


@dataclass(frozen=True)
class Thresholds:
    """What the user set: score filter, IoU threshold, per-class or class-agnostic NMS, method, Soft-NMS sigma."""

    score: float = 0.3
    iou: float = 0.5
    class_agnostic: bool = False
    method: str = "hard"
    sigma: float = 0.5

    def __post_init__(self) -> None:
        if self.method not in NMS_METHODS:
            raise ValueError(f"NMS method must be one of {NMS_METHODS}, got {self.method!r}")

    @property
    def uses_iou(self) -> bool:
        """Gaussian Soft-NMS decays every overlap by exp(-IoU²/σ): it has no IoU threshold."""
        return self.method != "gaussian"


@dataclass(frozen=True, eq=False)
class NMSReplay:
    """NMS of ``candidates`` at ``thresholds``, as per-candidate arrays.

    order (N',) int64: candidates passing the score filter, by falling score; kept (K,) int64: the
    box kept at each step, in step order; suppressor (N,) int64: the step (0-based) that suppressed
    each candidate, -1 if none; suppress_iou (N,) float32: its IoU with that step's box (NaN if none);
    keep: the final kept indices (the model's output order); scores (N,) float32 final scores (lowered
    only by Soft-NMS); soft_steps: Soft-NMS's recorded steps (their decays), else ().
    """

    candidates: Detections
    thresholds: Thresholds
    order: np.ndarray
    kept: np.ndarray
    suppressor: np.ndarray
    suppress_iou: np.ndarray
    keep: np.ndarray
    scores: np.ndarray
    max_detections: int | None = None
    soft_steps: tuple[NMSStep, ...] = ()

    @classmethod
    def empty(cls, thresholds: Thresholds = Thresholds(), candidates: Detections | None = None) -> NMSReplay:
        cand = candidates if candidates is not None else Detections.empty()
        n = len(cand)
        none = np.zeros(0, np.int64)
        return cls(cand, thresholds, none, none, np.full(n, -1, np.int64), np.full(n, np.nan, np.float32), none,
                   cand.scores.astype(np.float32))

    # -- reading -----------------------------------------------------------------------------
    @property
    def step_count(self) -> int:
        """Greedy steps in this replay (one per kept box)."""
        return int(len(self.kept))

    def __len__(self) -> int:
        return len(self.candidates)

    def states(self, step: int) -> np.ndarray:
        """(N,) int8 state of every candidate after ``step`` steps: PENDING / KEPT / SUPPRESSED / FILTERED."""
        step = self.clamp(step)
        state = np.full(len(self.candidates), FILTERED, np.int8)
        state[self.order] = PENDING
        state[self.kept[:step]] = KEPT
        state[(self.suppressor >= 0) & (self.suppressor < step)] = SUPPRESSED
        return state

    def clamp(self, step: int) -> int:
        return int(min(max(int(step), 0), self.step_count))

    def kept_at(self, step: int) -> np.ndarray:
        """Candidate indices kept after ``step`` steps: step order, or the final order at the end."""
        step = self.clamp(step)
        return self.keep if step >= self.step_count else self.kept[:step]

    def detections_at(self, step: int) -> Detections:
        """The boxes kept after ``step`` steps, with their (Soft-NMS-lowered) scores."""
        keep = self.kept_at(step)
        cand = self.candidates[keep]
        return Detections(cand.xyxy, self.scores[keep], cand.labels, cand.class_names)

    def step(self, step: int) -> NMSStep | None:
        """The NMSStep done last after ``step`` steps (None before the first)."""
        step = self.clamp(step)
        if step == 0:
            return None
        if self.soft_steps:
            return self.soft_steps[step - 1]
        kept = int(self.kept[step - 1])
        lost = np.flatnonzero(self.suppressor == step - 1)
        rank = np.argsort(-self.scores[lost], kind="stable")
        lost = lost[rank]
        return NMSStep(kept=kept, suppressed=lost, ious=self.suppress_iou[lost],
                       score=float(self.scores[kept]))

    def suppressed_by(self, index: int) -> tuple[int, float] | None:
        """(step number counted from 1, IoU) of the step that suppressed candidate ``index``, or None."""
        if not 0 <= index < len(self.suppressor) or self.suppressor[index] < 0:
            return None
        return int(self.suppressor[index]) + 1, float(self.suppress_iou[index])

    def sorted_candidates(self) -> np.ndarray:
        """All candidate indices by falling score (ties by index), for the candidate table."""
        scores = self.candidates.scores
        return np.lexsort((np.arange(len(scores)), -scores)).astype(np.int64)

    def narration(self, step: int, stepping: bool) -> str:
        """One sentence for the step (or the final result when not stepping), for captions."""
        t = self.thresholds
        if not len(self.candidates):
            return "The model passed no candidate to its NMS."
        if not len(self.order):
            return (f"No candidate scores above {t.score:.2f} ({len(self.candidates)} candidates); lower the score "
                    "threshold to see them.")
        how = f"at IoU > {t.iou:.2f}" if t.uses_iou else f"with Gaussian decay σ = {t.sigma:.2f}"
        scope = "all classes together" if t.class_agnostic else "per class"
        if not stepping:
            return (f"Final result: {len(self.keep)} of {len(self.order)} candidates above score {t.score:.2f} kept "
                    f"by {_method_name(t.method)} {how}, {scope}.")
        step = self.clamp(step)
        if step == 0:
            return (f"Start: {len(self.order)} candidates above score {t.score:.2f}, sorted by score; "
                    "none decided yet.")
        s = self.step(step)
        assert s is not None  # 0 < step <= step_count
        cand = self.candidates
        name = cand.name_of(cand.labels[s.kept])
        score = float(self.scores[s.kept]) if np.isnan(s.score) else float(s.score)
        m = len(s.suppressed)
        verb = "suppress" if t.method == "hard" else "decay and drop"
        of_class = "" if t.class_agnostic else f" of class '{name}'"
        text = (f"Step {step}: keep '{name}' {score:.2f}; {verb} {m} {'box' if m == 1 else 'boxes'}{of_class} "
                + (f"with IoU > {t.iou:.2f} against it" if t.uses_iou else f"(Gaussian decay, σ = {t.sigma:.2f})"))
        if t.method != "hard" and len(s.decayed):
            text += f" ({len(s.decayed)} scores lowered)"
        if step == self.step_count:
            text += f". Done: {len(self.keep)} kept."
        return text


def _method_name(method: str) -> str:
    return {"hard": "greedy NMS", "linear": "linear Soft-NMS", "gaussian": "Gaussian Soft-NMS"}[method]


def replay_from_trace(candidates: Detections, thresholds: Thresholds, trace: NMSTrace,
                      max_detections: int | None = None) -> NMSReplay:
    """The replay recorded in ``trace`` (``ops.nms.nms_trace`` output for ``candidates``)."""
    n = len(candidates)
    suppressor = np.full(n, -1, np.int64)
    suppress_iou = np.full(n, np.nan, np.float32)
    steps = trace.steps
    if trace.greedy is not None:  # the same steps as flat arrays
        kept, counts = trace.greedy.kept, trace.greedy.counts
        lost, ious = trace.greedy.suppressed, trace.greedy.ious
    else:
        kept = np.fromiter((s.kept for s in steps), np.int64, len(steps))
        counts = np.fromiter((len(s.suppressed) for s in steps), np.int64, len(steps))
        lost = np.concatenate([np.asarray(s.suppressed, np.int64) for s in steps] or [np.zeros(0, np.int64)])
        ious = np.concatenate([np.asarray(s.ious, np.float32) for s in steps] or [np.zeros(0, np.float32)])
    if counts.sum():
        suppressor[lost] = np.repeat(np.arange(len(kept)), counts)
        suppress_iou[lost] = ious
    soft = tuple(steps) if trace.method != "hard" else ()
    return NMSReplay(candidates, thresholds, np.asarray(trace.order, np.int64), kept, suppressor, suppress_iou,
                     np.asarray(trace.keep, np.int64), np.asarray(trace.scores, np.float32), max_detections, soft)


def restrict_to_score(full: NMSReplay, thresholds: Thresholds, max_detections: int | None = None) -> NMSReplay:
    """The greedy replay at ``thresholds.score`` from the unfiltered one (same IoU, scope and candidates).

    O(N): candidates with score <= t are marked filtered, the kept boxes among them dropped (every box
    a passing box met scores higher, so its fate is unchanged), then the first ``max_detections`` kept.
    """
    if full.thresholds.method != "hard" or full.soft_steps:
        raise ValueError("only a greedy (hard) replay can be restricted by score; Soft-NMS decays scores")
    scores = full.candidates.scores
    with np.errstate(over="ignore"):
        passed = scores > scores.dtype.type(thresholds.score)
    in_step = passed[full.kept]
    renumber = np.cumsum(in_step) - 1
    kept = full.kept[in_step]
    keep = full.keep[passed[full.keep]]
    suppressor = np.full(len(scores), -1, np.int64)
    lost = np.flatnonzero(passed & (full.suppressor >= 0))
    suppressor[lost] = renumber[full.suppressor[lost]]
    if max_detections is not None:
        kept, keep = kept[:max_detections], keep[:max_detections]
        suppressor[suppressor >= max_detections] = -1
    suppress_iou = np.where(suppressor >= 0, full.suppress_iou, np.float32(np.nan)).astype(np.float32)
    return NMSReplay(full.candidates, thresholds, full.order[passed[full.order]], kept, suppressor, suppress_iou,
                     keep, full.scores, max_detections)


def replay(inference: Inference | None, thresholds: Thresholds, trace_fn: TraceFn,
           full: NMSReplay | None = None) -> NMSReplay:
    """The replay for ``inference`` at ``thresholds``.

    trace_fn: ``ops.nms.nms_trace`` (injected: this package imports no torch). ``full``: the unfiltered
    greedy replay at the same IoU and scope, when one is at hand (then no NMS runs).
    """
    if inference is None:
        return NMSReplay.empty(thresholds)
    cand = inference.candidates
    max_det = inference.nms.max_detections
    if thresholds.method == "hard" and full is not None:
        return restrict_to_score(full, thresholds, max_det)
    t = thresholds
    trace = trace_fn(cand.xyxy, cand.scores, cand.labels, iou_threshold=float(t.iou),
                     score_threshold=float(t.score), class_agnostic=bool(t.class_agnostic), method=t.method,
                     sigma=float(t.sigma), max_detections=max_det)
    return replay_from_trace(cand, thresholds, trace, max_det)


def iou_grid(inference: Inference, class_agnostic: bool, trace_fn: TraceFn,
             check: Callable[[], None] | None = None) -> dict[tuple[float, bool], NMSReplay]:
    """The unfiltered greedy replay at every IoU of IOU_GRID, filed by ``replay_key``; check(): raises to stop
    early (called between thresholds). With them, an IoU slider move is a lookup and a score filter."""
    out = {}
    for iou in IOU_GRID:
        if check is not None:
            check()
        out[replay_key(iou, class_agnostic)] = unfiltered_replay(inference, Thresholds(0.0, iou, class_agnostic),
                                                                 trace_fn)
    return out


def unfiltered_replay(inference: Inference, thresholds: Thresholds, trace_fn: TraceFn) -> NMSReplay:
    """The greedy replay of every candidate (no score filter, no top-k) at ``thresholds``' IoU and scope."""
    cand = inference.candidates
    trace = trace_fn(cand.xyxy, cand.scores, cand.labels, iou_threshold=float(thresholds.iou),
                     score_threshold=UNFILTERED, class_agnostic=bool(thresholds.class_agnostic), method="hard",
                     record_steps=False)
    return replay_from_trace(cand, Thresholds(UNFILTERED, thresholds.iou, thresholds.class_agnostic), trace)
