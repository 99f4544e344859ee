"""Teaching views as plain data (Qt-free): what each view draws for an Inference and a view state.

Each module exposes a frozen ``*ViewState`` (what the user chose), ``*_frame(inference, state, gt=None)
-> ViewFrame`` and ``*_steps(inference, gt=None) -> int`` for lecture-mode stepping (set
``state.step``). The window's canvas and the offscreen ``detviewer render`` draw the same frames.
Importing this package loads neither Qt nor torch; the functions import the torch-based core
modules when first called.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from detviewer.render.model.views.anchors import AnchorViewState, anchors_frame, anchors_steps
from detviewer.render.model.views.before_cnn import (
    SelectiveSearchViewState, SlidingWindowViewState, selective_search_frame, selective_search_steps,
    sliding_window_frame, sliding_window_steps,
)
from detviewer.render.model.views.default_boxes import DefaultBoxViewState, default_boxes_frame, default_boxes_steps
from detviewer.render.model.views.grid import GridViewState, grid_frame, grid_steps
from detviewer.render.model.primitives import HeatmapLayer, SegmentLayer, TextLayer, ViewError, ViewFrame
from detviewer.render.model.views.proposals import ProposalViewState, proposals_frame, proposals_steps
from detviewer.render.model.views.regression import RegressionViewState, regression_frame, regression_steps
from detviewer.render.model.views.roi import RoIViewState, roi_frame, roi_steps
from detviewer.render.model.views.yolo_cells import YoloCellsViewState, yolo_cells_frame, yolo_cells_steps

__all__ = ["ViewSpec", "VIEWS", "ViewFrame", "ViewError", "SegmentLayer", "TextLayer", "HeatmapLayer"]


@dataclass(frozen=True)
class ViewSpec:
    """One teaching view: its ``--view`` name, title, state type, frame and step functions.

    needs: the Detector capability it requires (detectors.base.CAPABILITIES), or "" for none;
    inputs: what the caller must put into the state besides user choices ("" / "pooling" /
    "selective_search").
    """

    name: str
    title: str
    state_type: type
    frame: Callable
    steps: Callable
    needs: str = ""
    inputs: str = ""


VIEWS: dict[str, ViewSpec] = {spec.name: spec for spec in (
    ViewSpec("anchors", "Anchors", AnchorViewState, anchors_frame, anchors_steps, "anchors"),
    ViewSpec("proposals", "Proposals", ProposalViewState, proposals_frame, proposals_steps, "proposals"),
    ViewSpec("default-boxes", "SSD default boxes", DefaultBoxViewState, default_boxes_frame, default_boxes_steps,
             "default_boxes"),
    ViewSpec("grid", "YOLO grid", GridViewState, grid_frame, grid_steps, "grid"),
    ViewSpec("yolo-cells", "YOLO levels and cells", YoloCellsViewState, yolo_cells_frame, yolo_cells_steps,
             "yolo_cells"),
    ViewSpec("regression", "Box regression", RegressionViewState, regression_frame, regression_steps, "anchors"),
    ViewSpec("roi", "RoI pooling", RoIViewState, roi_frame, roi_steps, "proposals", "pooling"),
    ViewSpec("sliding-window", "Sliding windows", SlidingWindowViewState, sliding_window_frame,
             sliding_window_steps),
    ViewSpec("selective-search", "Selective Search", SelectiveSearchViewState, selective_search_frame,
             selective_search_steps, "", "selective_search"),
)}
