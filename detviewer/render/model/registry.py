"""Every view, in menu order: the single source the window, lecture mode and ``detviewer render`` are built from.

Adding a view is one module defining a ``ViewSpec`` (render/model/spec.py) and one entry below (or, from
outside the package, ``register(spec)`` before the window is built). Drawing one goes through
render/model/pipeline.py (can show → prepare → build), the same for the window, ``render`` and ``lecture``. Importing this module loads
neither Qt nor torch; the views import torch-backed code when they first build a frame.
"""

from __future__ import annotations

from detviewer.render.model.primitives import ViewError
from detviewer.render.model.spec import ViewSpec
from detviewer.render.model.views import (
    anchors,
    before_cnn,
    classic_grouping,
    classic_pyramid,
    classic_windows,
    default_boxes,
    grid,
    map_view,
    nms_views,
    proposals,
    regression,
    roi,
    sampling,
    yolo_cells,
)

__all__ = ["VIEWS", "register", "unregister", "view_spec", "nms_view"]

VIEWS: dict[str, ViewSpec] = {spec.name: spec for spec in (
    nms_views.DETECTIONS,
    nms_views.NMS,
    classic_pyramid.SPEC,
    classic_windows.SPEC,
    classic_grouping.SPEC,
    before_cnn.SLIDING_WINDOW,
    before_cnn.SELECTIVE_SEARCH,
    proposals.SPEC,
    roi.SPEC,
    regression.SPEC,
    anchors.SPEC,
    sampling.SPEC,
    default_boxes.SPEC,
    grid.SPEC,
    yolo_cells.SPEC,
    map_view.SPEC,
)}


def register(spec: ViewSpec) -> None:
    """Add ``spec`` to VIEWS (after the others); a second view with the same name is refused."""
    if spec.name in VIEWS:
        raise ValueError(f"a view named {spec.name!r} is already registered")
    VIEWS[spec.name] = spec


def unregister(name: str) -> None:
    VIEWS.pop(name, None)


def nms_view() -> str:
    """The name of the view whose steps are the NMS replay's (``ViewSpec.steps_nms``): the NMS panel, its export
    and the S key go to it, without naming it."""
    return next(name for name, spec in VIEWS.items() if spec.steps_nms)


def view_spec(name: str) -> ViewSpec:
    spec = VIEWS.get(name)
    if spec is None:
        raise ViewError(f"There is no view '{name}'; choose one of: {', '.join(VIEWS)}.")
    return spec
