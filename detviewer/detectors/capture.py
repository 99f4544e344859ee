"""Capture a torchvision detector's internals while its own ``forward`` runs.

strategy: the model runs unchanged (its output is what the user sees); forward hooks on its own
submodules time each stage and keep the anchors / feature-map sizes, and a recorder wrapped around
``torchvision.ops.boxes.batched_nms`` (which every torchvision detector calls through
``box_ops.batched_nms``) keeps the exact boxes, scores and labels each NMS received. Nothing is
re-derived, so nothing can drift from what the model did.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torchvision.ops import boxes as box_ops

_original_batched_nms = box_ops.batched_nms
_local = threading.local()

#: torch's forward hook (module, inputs, output) and forward pre-hook (module, inputs).
ForwardHook = Callable[[nn.Module, tuple[Any, ...], Any], None]
ForwardPreHook = Callable[[nn.Module, tuple[Any, ...]], None]


@dataclass
class NMSCall:
    """One call of batched_nms: inputs in model-input pixels and the indices it kept."""

    stage: str
    boxes: torch.Tensor
    scores: torch.Tensor
    idxs: torch.Tensor
    iou_threshold: float
    keep: torch.Tensor


@dataclass
class Capture:
    """What one forward pass revealed. Times are ``time.perf_counter()`` seconds."""

    marks: list[tuple[str, float]] = field(default_factory=list)
    nms_calls: list[NMSCall] = field(default_factory=list)
    stage: str = "final"
    image_sizes: list[tuple[int, int]] = field(default_factory=list)
    padded_size: tuple[int, int] = (0, 0)
    grid_sizes: list[tuple[int, int]] = field(default_factory=list)
    anchors: torch.Tensor | None = None
    features: dict | None = None
    head_output: object = None
    box_head_output: object = None


def _recording_batched_nms(boxes: torch.Tensor, scores: torch.Tensor, idxs: torch.Tensor,
                           iou_threshold: float) -> torch.Tensor:
    keep = _original_batched_nms(boxes, scores, idxs, iou_threshold)
    capture: Capture | None = getattr(_local, "capture", None)
    if capture is not None:
        capture.nms_calls.append(
            NMSCall(capture.stage, boxes.detach(), scores.detach(), idxs.detach(), float(iou_threshold), keep)
        )
    return keep


# Installed once; it only records on a thread that is inside ``capturing`` and otherwise is the
# original function, so other threads (a GUI replaying NMS, tests) are unaffected.
box_ops.batched_nms = _recording_batched_nms


class StageHooks:
    """Forward hooks on a model's submodules that fill the active Capture.

    ``stages`` maps a stage name to the submodule whose end marks the end of that stage.
    ``anchor_generator`` is the model's own generator (AnchorGenerator / DefaultBoxGenerator).
    ``head`` is the module scoring every anchor (RPN head, or the one-stage head).
    ``nms_stages`` maps a submodule to the stage name its NMS calls should carry (e.g. the RPN).
    ``box_predictor``: a two-stage model's box predictor, whose (class logits, box regression) per
    proposal is kept.
    """

    def __init__(self, stages: dict[str, nn.Module], anchor_generator: nn.Module,
                 transform: nn.Module, head: nn.Module, nms_stages: dict[str, nn.Module] | None = None,
                 sync_cuda: bool = False, box_predictor: nn.Module | None = None) -> None:
        self._handles = []
        self._sync = sync_cuda
        for name, module in stages.items():
            self._handles.append(module.register_forward_hook(self._end_of(name)))
        self._handles.append(stages["backbone"].register_forward_hook(self._on_features))
        self._handles.append(head.register_forward_hook(self._on_head))
        if box_predictor is not None:
            self._handles.append(box_predictor.register_forward_hook(self._on_box_predictor))
        for stage, module in (nms_stages or {}).items():
            self._handles.append(module.register_forward_pre_hook(self._enter_stage(stage)))
            self._handles.append(module.register_forward_hook(self._leave_stage()))
        self._handles.append(transform.register_forward_hook(self._on_transform))
        self._handles.append(anchor_generator.register_forward_pre_hook(self._on_anchor_inputs))
        self._handles.append(anchor_generator.register_forward_hook(self._on_anchors))

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    @staticmethod
    def _capture() -> Capture | None:
        return getattr(_local, "capture", None)

    def _mark(self, name: str) -> None:
        capture = self._capture()
        if capture is None:
            return
        if self._sync:
            torch.cuda.synchronize()
        capture.marks.append((name, time.perf_counter()))

    def _end_of(self, name: str) -> ForwardHook:
        def hook(_module: nn.Module, _inputs: tuple[Any, ...], _output: Any) -> None:
            self._mark(name)
        return hook

    def _enter_stage(self, stage: str) -> ForwardPreHook:
        def hook(_module: nn.Module, _inputs: tuple[Any, ...]) -> None:
            capture = self._capture()
            if capture is not None:
                capture.stage = stage
        return hook

    def _leave_stage(self) -> ForwardHook:
        def hook(_module: nn.Module, _inputs: tuple[Any, ...], _output: Any) -> None:
            capture = self._capture()
            if capture is not None:
                capture.stage = "final"
        return hook

    def _on_transform(self, _module: nn.Module, _inputs: tuple[Any, ...], output: Any) -> None:
        capture = self._capture()
        if capture is None:
            return
        image_list = output[0]
        capture.image_sizes = [(int(s[0]), int(s[1])) for s in image_list.image_sizes]
        capture.padded_size = (int(image_list.tensors.shape[-2]), int(image_list.tensors.shape[-1]))
        self._mark("preprocess")

    def _on_features(self, _module: nn.Module, _inputs: tuple[Any, ...], output: Any) -> None:
        capture = self._capture()
        if capture is not None:
            capture.features = output if isinstance(output, dict) else {"0": output}

    def _on_head(self, _module: nn.Module, _inputs: tuple[Any, ...], output: Any) -> None:
        capture = self._capture()
        if capture is not None:
            capture.head_output = output

    def _on_box_predictor(self, _module: nn.Module, _inputs: tuple[Any, ...], output: Any) -> None:
        capture = self._capture()
        if capture is not None:
            capture.box_head_output = output

    def _on_anchor_inputs(self, _module: nn.Module, inputs: tuple[Any, ...]) -> None:
        capture = self._capture()
        if capture is not None:
            capture.grid_sizes = [(int(f.shape[-2]), int(f.shape[-1])) for f in inputs[1]]

    def _on_anchors(self, _module: nn.Module, _inputs: tuple[Any, ...], output: Any) -> None:
        capture = self._capture()
        if capture is not None:
            capture.anchors = output[0].detach()


@contextmanager
def capturing() -> Iterator[Capture]:
    """Collect hooks' and NMS records on this thread for the duration of the block."""
    capture = Capture()
    previous = getattr(_local, "capture", None)
    _local.capture = capture
    try:
        yield capture
    finally:
        _local.capture = previous


def stage_timings_ms(start: float, marks: list[tuple[str, float]], end: float) -> dict[str, float]:
    """Turn ordered (stage, end time) marks into per-stage milliseconds; the rest is 'postprocess'."""
    timings: dict[str, float] = {}
    previous = start
    for name, t in marks:
        timings[name] = timings.get(name, 0.0) + (t - previous) * 1000.0
        previous = t
    timings["postprocess"] = timings.get("postprocess", 0.0) + (end - previous) * 1000.0
    return timings
