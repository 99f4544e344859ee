"""NMS replayed at every IoU the slider reaches, in the task runner, after each still result: then moving the
IoU slider is a lookup and a score filter (state.nms_replay), never an NMS run on the GUI thread."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["IouGrid"]


class IouGrid:
    """background: gui.background.BackgroundWork; state: the ViewerState; trace_fn: ops.nms.nms_trace (lazily)."""

    def __init__(self, background, state, trace_fn: Callable) -> None:
        self.background, self.state, self.trace_fn = background, state, trace_fn
        self._task = None

    @property
    def pending(self) -> bool:
        """Still replaying for the result shown (until then a new IoU replays NMS once)."""
        return self._task is not None

    def cancel(self) -> None:
        """Another frame: its decoding must not wait behind the old grid."""
        if self._task is not None:
            self.background.cancel(self._task)
            self._task = None

    def prepare(self, inference) -> None:
        from detviewer.state.nms_replay import iou_grid

        self.cancel()
        agnostic, trace_fn = self.state.thresholds.class_agnostic, self.trace_fn

        def run(context):
            from detviewer.detectors.threads import configure_torch_threads

            configure_torch_threads(1)  # beside the worker's forward passes, not on top of them
            return iou_grid(inference, agnostic, trace_fn, context.check)

        def done(replays, error: str) -> None:
            if task is self._task:
                self._task = None
            if not error:
                self.state.add_unfiltered_replays(inference, replays)

        task = self._task = self.background.task(("iou-grid", agnostic), run, "replaying NMS at every IoU", done,
                                                 slot="iou-grid")
