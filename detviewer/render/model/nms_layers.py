"""What to draw for an NMS replay at a step, as plain arrays (Qt-free): a list of ``BoxLayer``.

The window's canvas and the offscreen export both draw these layers, so an exported figure
is what the window shows.
"""

from __future__ import annotations

import numpy as np

from detviewer.core.types import NMS_STATE_NAMES, PENDING, SUPPRESSED
from detviewer.render.model.colors import GREY, HIGHLIGHT, SELECT, SUPPRESS, class_colors
from detviewer.render.model.primitives import BoxLayer, solid
from detviewer.state.nms_replay import NMSReplay

__all__ = ["BoxLayer", "nms_layers", "candidate_label", "LAYER_NAMES", "NOT_CANDIDATES", "MAX_LABELS"]

#: Drawing order (bottom to top); the canvas keeps one item pair per name.
LAYER_NAMES = ("pending", "suppressed", "kept", "false_positive", "missed", "suppressed_now", "current", "selected")
#: Layers whose ``index`` is not a candidate index (ground truth): no hover text, no selection.
NOT_CANDIDATES = frozenset({"ground_truth", "crowd_regions", "missed"})
MAX_LABELS = 100  # more text than this is clutter and costs ~0.05 ms a label; hover shows the rest
MAX_FILLED = 300  # filling thousands of overlapping boxes costs tens of ms and hides the frame


def _score_labels(replay: NMSReplay, idx: np.ndarray) -> tuple[str, ...]:
    cand = replay.candidates
    return tuple(f"{cand.name_of(cand.labels[i])} {replay.scores[i]:.2f}" for i in idx[:MAX_LABELS])


def candidate_label(replay: NMSReplay, index: int, step: int) -> str:
    """"#12 dog 0.91 (kept)": a candidate, its score and its state at ``step``."""
    cand = replay.candidates
    state = NMS_STATE_NAMES[int(replay.states(step)[index])]
    return f"#{int(index) + 1} {cand.name_of(cand.labels[index])} {replay.scores[index]:.2f} ({state})"


def nms_layers(replay: NMSReplay, step: int, *, stepping: bool, selected: int | None = None,
               show_suppressed: bool = False, show_pending: bool = True) -> list[BoxLayer]:
    """The layers of the detections view (``stepping`` False: the final result) or of NMS after ``step`` steps.

    Final: the kept boxes in class colours with "label score". Stepping: pending candidates grey (solid before the
    first step, then dashed and fainter),
    boxes kept so far in class colours, the box kept at this step highlighted, the boxes it suppresses red
    with their IoU; boxes suppressed earlier are hidden unless ``show_suppressed`` (then grey and dashed).
    """
    cand = replay.candidates
    if not len(cand):
        return []
    step = replay.clamp(step) if stepping else replay.step_count
    scores = replay.scores
    states = replay.states(step)
    layers: list[BoxLayer] = []
    current = replay.step(step) if stepping else None
    kept_now = -1 if current is None else int(current.kept)
    now = np.asarray(current.suppressed, np.int64) if current is not None else np.zeros(0, np.int64)

    if stepping and show_pending:
        pend = np.flatnonzero(states == PENDING)
        # Before the first step the candidates are the whole picture: solid and strong enough to read on a photo.
        # Later they are the background of the step: dashed, fainter.
        start = current is None
        layers.append(BoxLayer("pending", cand.xyxy[pend], solid(GREY, len(pend)), pend, width=2.0 if start else 1.5,
                               alpha=230 if start else 170, dashed=not start))
    old = np.flatnonzero(states == SUPPRESSED)
    if len(now):
        old = np.setdiff1d(old, now, assume_unique=True)
    if show_suppressed and len(old):
        layers.append(BoxLayer("suppressed", cand.xyxy[old], solid(GREY, len(old)), old, width=1.0, alpha=160,
                               dashed=True))
    kept = replay.kept_at(step)
    if stepping:
        kept = kept[kept != kept_now]  # drawn on its own, highlighted
    order = kept[np.argsort(-scores[kept], kind="stable")] if len(kept) else kept
    layers.append(BoxLayer("kept", cand.xyxy[order], class_colors(cand.labels[order]), order,
                           labels=_score_labels(replay, order), width=2.0,
                           fill_alpha=0 if stepping or len(order) > MAX_FILLED else 28))
    if current is not None and len(now):
        texts = tuple(f"IoU {v:.2f}" for v in np.asarray(current.ious, np.float32)[:MAX_LABELS])
        layers.append(BoxLayer("suppressed_now", cand.xyxy[now], solid(SUPPRESS, len(now)), now, labels=texts,
                               width=2.0, dashed=True, fill_alpha=40 if len(now) <= MAX_FILLED else 0))
    if kept_now >= 0:
        one = np.array([kept_now], np.int64)
        layers.append(BoxLayer("current", cand.xyxy[one], solid(HIGHLIGHT, 1), one,
                               labels=_score_labels(replay, one), width=4.0, fill_alpha=50))
    if selected is not None and 0 <= selected < len(cand):
        sel = np.array([selected], np.int64)
        layers.append(BoxLayer("selected", cand.xyxy[sel], solid(SELECT, 1), sel,
                               labels=(candidate_label(replay, selected, step),), width=3.0))
    return layers
