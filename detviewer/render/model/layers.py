"""What to draw for a session state, as plain arrays (Qt-free): a list of ``BoxLayer``.

The window's canvas and the offscreen export both draw these layers, so an exported figure
is what the window shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detviewer.state.session import FILTERED, KEPT, PENDING, SUPPRESSED, Session
from detviewer.render.model.colors import GREY, HIGHLIGHT, SELECT, SUPPRESS, class_colors

__all__ = ["BoxLayer", "layers_for_session", "LAYER_NAMES", "NOT_CANDIDATES", "MAX_LABELS"]

#: Drawing order (bottom to top); the canvas keeps one item pair per name.
LAYER_NAMES = ("pending", "suppressed", "kept", "false_positive", "missed", "suppressed_now", "current", "selected")
#: Layers whose ``index`` is not a candidate index (ground truth): no hover text, no selection.
NOT_CANDIDATES = frozenset({"ground_truth", "crowd_regions", "missed"})
MAX_LABELS = 100  # more text than this is clutter and costs ~0.05 ms a label; hover shows the rest
MAX_FILLED = 300  # filling thousands of overlapping boxes costs tens of ms and hides the frame


@dataclass(frozen=True, eq=False)
class BoxLayer:
    """One set of boxes drawn alike.

    xyxy (N, 4) float32 pixels; colors (N, 3) uint8 RGB; index (N,) int64 candidate indices
    (for hover and selection); labels: N strings or empty; width in screen pixels;
    alpha / fill_alpha 0..255.
    """

    name: str
    xyxy: np.ndarray
    colors: np.ndarray
    index: np.ndarray
    labels: tuple[str, ...] = ()
    width: float = 2.0
    alpha: int = 255
    fill_alpha: int = 0
    dashed: bool = False

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])


def _solid(color, n: int) -> np.ndarray:
    return np.tile(np.asarray(color, np.uint8), (n, 1))


def _score_labels(session: Session, idx: np.ndarray, scores: np.ndarray) -> tuple[str, ...]:
    cand = session.candidates
    idx = idx[:MAX_LABELS]
    return tuple(f"{cand.name_of(cand.labels[i])} {scores[i]:.2f}" for i in idx)


def layers_for_session(session: Session, *, show_suppressed: bool = False, show_pending: bool = True) -> list[BoxLayer]:
    """The layers for the current thresholds and NMS step.

    Final view (stepper at the end): the kept boxes in class colours with "label score".
    Stepping: pending candidates faded grey, boxes kept so far in class colours, the box kept
    at this step highlighted, the boxes it suppresses red with their IoU; earlier suppressed
    boxes are hidden unless ``show_suppressed`` (then greyed and dashed).
    """
    cand = session.candidates
    if session.trace is None or len(cand) == 0:
        return []
    scores = session.trace.scores
    states = session.states()
    layers: list[BoxLayer] = []
    step = session.current_step()
    stepping = session.is_stepping
    current = -1 if step is None else int(step.kept)
    now = np.asarray(step.suppressed, np.int64) if step is not None else np.zeros(0, np.int64)

    if stepping and show_pending:
        pend = np.flatnonzero(states == PENDING)
        layers.append(BoxLayer("pending", cand.xyxy[pend], _solid(GREY, len(pend)), pend, width=1.0, alpha=110))
    old_sup = np.flatnonzero(states == SUPPRESSED)
    if len(now):
        old_sup = np.setdiff1d(old_sup, now, assume_unique=True)
    if show_suppressed and len(old_sup):
        layers.append(BoxLayer("suppressed", cand.xyxy[old_sup], _solid(GREY, len(old_sup)), old_sup,
                               width=1.0, alpha=160, dashed=True))
    kept = session.kept()
    if stepping:
        kept = kept[kept != current]  # drawn on its own, highlighted
    order = kept[np.argsort(-scores[kept], kind="stable")] if len(kept) else kept
    layers.append(BoxLayer("kept", cand.xyxy[order], class_colors(cand.labels[order]), order,
                           labels=_score_labels(session, order, scores), width=2.0,
                           fill_alpha=0 if stepping or len(order) > MAX_FILLED else 28))
    if stepping and len(now):
        ious = np.asarray(step.ious, np.float32)
        texts = tuple(f"IoU {v:.2f}" for v in ious[:MAX_LABELS])
        layers.append(BoxLayer("suppressed_now", cand.xyxy[now], _solid(SUPPRESS, len(now)), now,
                               labels=texts, width=2.0, dashed=True, fill_alpha=40 if len(now) <= MAX_FILLED else 0))
    if stepping and current >= 0:
        one = np.array([current], np.int64)
        layers.append(BoxLayer("current", cand.xyxy[one], _solid(HIGHLIGHT, 1), one,
                               labels=_score_labels(session, one, scores), width=4.0, fill_alpha=50))
    if session.selected is not None:
        sel = np.array([session.selected], np.int64)
        state = state_name(states[sel[0]])
        text = f"#{int(sel[0])} {cand.name_of(cand.labels[sel[0]])} {scores[sel[0]]:.2f} ({state})"
        layers.append(BoxLayer("selected", cand.xyxy[sel], _solid(SELECT, 1), sel, labels=(text,), width=3.0))
    return layers


def state_name(state: int) -> str:
    return {PENDING: "pending", KEPT: "kept", SUPPRESSED: "suppressed", FILTERED: "below score"}[int(state)]
