"""`detviewer render`: draw one view of a model on an image into a PNG or SVG figure.

Offscreen (no window), generated from the view registry: the same ``ViewSpec.build`` and the same painting
items as the window's canvas, so a slide shows what the window shows. Every view's controls are options
(``--color-by``, ``--top-k`` …); ``--step`` counts from 1, as the window's "Step k of n"; ``--box`` / ``--point``
pick what a click picks in the window; ``--slide`` writes a 1920×1080 slide (the view, its caption, legend and
table, text ≥ 24 px), the layout ``detviewer lecture`` uses.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from detviewer.cli import EXIT_OK, EXIT_USAGE
from detviewer.render.model.registry import VIEWS

if TYPE_CHECKING:
    import numpy as np

    from detviewer.core.types import Inference
    from detviewer.detectors.base import Detector
    from detviewer.io.image_gt import ImageGroundTruth
    from detviewer.render.model.primitives import ViewFrame
    from detviewer.render.model.spec import ViewSpec
    from detviewer.state.nms_replay import Thresholds

__all__ = ["build_parser", "run", "view_frame", "image_ground_truth"]


def _controls() -> dict:
    """Every control of every view, by option name (views sharing a name share the option)."""
    return {c.name: c for spec in VIEWS.values() for c in spec.controls}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Draw one view of a detector on an image into a PNG or SVG figure "
                                            "(offscreen, the window's own drawing code).")
    p.add_argument("image", help="image file")
    p.add_argument("--model", required=True, help="detector name (see 'detviewer models') or an .onnx file")
    p.add_argument("--weights", default="default", help="coco, none, default or a checkpoint path")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--view", required=True, choices=list(VIEWS), help="what to draw")
    p.add_argument("--step", type=int, help="which step of the view, from 1 (NMS step, anchor level, SSD scale, "
                                            "grid cell…; default: the view's own)")
    p.add_argument("--score", type=float, default=0.3, help="score threshold of the detections / NMS views")
    p.add_argument("--iou", type=float, default=0.5, help="IoU threshold of the NMS views")
    p.add_argument("--gt", type=Path, help="COCO ground truth listing IMAGE: anchor labels, SSD matching, "
                                         "true / false positives and misses")
    p.add_argument("--size", type=int, default=None, metavar="PX",
                   help="the figure's longer side in pixels (default 1920, as File → Export view)")
    p.add_argument("--lecture", action="store_true", help="thick lines and large text, as in lecture mode")
    p.add_argument("--highlight", action="store_true", help="keep the highlight of the box --box selects (NMS "
                                                            "candidate, proposal); figures leave it out by default")
    p.add_argument("--slide", action="store_true", help="a 1920×1080 slide: the view (lecture style) beside its "
                                                        "caption, legend and table, text ≥ 24 px (.png or .jpg)")
    p.add_argument("--box", type=int, metavar="K", help="the box the view explains, from 1, as a click picks it: a "
                                                        "detection (regression: the proposal or anchor behind it; "
                                                        "yolo-cells), a proposal (roi), a candidate (nms)")
    p.add_argument("--point", metavar="X,Y", help="a clicked point in image pixels (anchors, default-boxes, grid: "
                                                  "the cell under it)")
    p.add_argument("--out", required=True, type=Path, help="FIG.png or FIG.svg (--slide: SLIDE.png)")
    for control in _controls().values():
        p.add_argument(f"--{control.name.replace('_', '-')}", dest=f"control_{control.name}", default=None,
                       metavar=control.kind.upper(), help=f"{control.label} ({', '.join(control.choices)})"
                       if control.choices else control.label)
    return p


def view_controls(view: str, args: argparse.Namespace) -> dict:
    """The view's control values: its defaults, overridden by the options given (ValueError: one sentence)."""
    spec = VIEWS[view]
    values = spec.defaults()
    for name, control in _controls().items():
        text = getattr(args, f"control_{name}", None)
        if text is None:
            continue
        if name not in values:
            raise ValueError(f"--{name.replace('_', '-')} does not apply to the {view} view")
        values[name] = control.parse(text)
    return values


def pick_arguments(view: str, box: int | None, point: str | None) -> dict:
    """ViewRequest fields for ``--box K`` (1-based) and ``--point X,Y``; ValueError (one sentence) when the view
    takes no such pick or the text is not one."""
    click = VIEWS[view].click
    picks: dict = {}
    if box is not None:
        if click not in ("detection", "proposal", "candidate"):
            raise ValueError(f"--box does not apply to the {view} view (it picks no box)")
        if box < 1:
            raise ValueError(f"--box counts from 1; {box} is not a box")
        picks["selected" if click == "candidate" else "picked"] = box - 1
    if point is not None:
        if click != "point":
            raise ValueError(f"--point does not apply to the {view} view (it picks no point)")
        try:
            x, y = (float(v) for v in point.split(","))
        except ValueError:
            raise ValueError(f"--point takes X,Y in image pixels, e.g. 120,64; not {point!r}") from None
        picks["point"] = (x, y)
    return picks


def view_frame(view: str, inference: Inference, detector: Detector, *, thresholds: Thresholds, step: int | None = None,
               controls: dict | None = None, gt: Any = None, image: np.ndarray | None = None,
               picks: dict | None = None) -> ViewFrame:
    """The ViewFrame of ``view`` for these choices, its background input computed here (with ``detector``);
    picks: ``pick_arguments``'s ViewRequest fields."""
    from detviewer.ops.nms import nms_trace
    from detviewer.render.model.pipeline import ModelAbilities
    from detviewer.render.model.pipeline import view_frame as pipeline_frame
    from detviewer.render.model.spec import ViewRequest
    from detviewer.state.nms_replay import replay

    spec = VIEWS[view]
    request = ViewRequest(inference, replay(inference, thresholds, nms_trace), step=step,
                          controls=controls if controls is not None else spec.defaults(), gt=gt, image=image,
                          **(picks or {}))
    return pipeline_frame(spec, request, ModelAbilities.of(detector, inference.model_name),
                          lambda job: job.run(detector if job.uses_detector else None))


def image_ground_truth(gt_path: Path, image_path: str | os.PathLike) -> ImageGroundTruth:
    """The COCO file ``gt_path`` as an ``io.image_gt.ImageGroundTruth``; AnnotationError when it is not
    one or does not list ``image_path``."""
    from detviewer.errors import AnnotationError
    from detviewer.io.image_gt import ImageGroundTruth

    truth = ImageGroundTruth.load(gt_path)
    if truth.image_id(image_path) is None:
        raise AnnotationError(f"{image_path} is not an image of {gt_path} (no file_name matches it).")
    return truth


def run(args: argparse.Namespace) -> int:
    from detviewer.detectors.registry import load_detector, model_info
    from detviewer.errors import DetviewerError
    from detviewer.io.images import load_image
    from detviewer.render.model.pipeline import ModelAbilities, cannot_show
    from detviewer.render.model.primitives import ViewError
    from detviewer.render.qt.export import RASTER_SUFFIXES
    from detviewer.state.nms_replay import Thresholds

    if args.out.suffix.lower() not in RASTER_SUFFIXES | {".svg"}:
        raise DetviewerError(f"Cannot write {args.out}: use a .png or .svg file name.")
    if args.slide and args.out.suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise DetviewerError(f"Cannot write the slide {args.out}: use a .png or .jpg file name.")
    if args.step is not None and args.step < 1:
        raise DetviewerError(f"--step counts from 1; {args.step} is not a step.")
    try:
        controls = view_controls(args.view, args)
        picks = pick_arguments(args.view, args.box, args.point)
    except ValueError as exc:
        raise DetviewerError(f"{exc}.") from None
    spec = VIEWS[args.view]
    why = cannot_show(spec, ModelAbilities.of(model_info(args.model), args.model))
    if why:  # before the slow model load; the loaded detector may narrow it further (an ONNX export)
        raise ViewError(why)
    image = load_image(args.image)
    truth = image_ground_truth(args.gt, args.image) if args.gt else None  # before the slow model load
    detector = load_detector(args.model, weights=args.weights, device=args.device)
    inference = detector.infer(image)
    gt = truth.boxes_for(args.image, detector.class_names) if truth is not None else None
    frame = view_frame(args.view, inference, detector, thresholds=Thresholds(score=args.score, iou=args.iou),
                       step=None if args.step is None else args.step - 1, controls=controls, gt=gt, image=image,
                       picks=picks)
    if args.slide:
        return _write_slide(args, spec, frame, image, inference.model_name)
    from detviewer.render.model.spec import figure_title
    from detviewer.render.qt.export import FIGURE_SIDE, ensure_gui_app, export_figure, figure_scale
    from detviewer.render.qt.style import LECTURE, NORMAL

    ensure_gui_app()
    if args.size is not None and args.size < 16:
        raise DetviewerError(f"--size {args.size} is too small for a figure; give its longer side in pixels.")
    out = export_figure(image, frame.layers, args.out, scale=figure_scale(image, args.size or FIGURE_SIDE),
                        style=LECTURE if args.lecture else NORMAL, legend=frame.legend, dim=frame.dim,
                        title=figure_title(spec.title, frame, inference.model_name), caption=frame.caption,
                        highlight=args.highlight)
    position = frame.position_text()
    print(f"wrote {out}: {position + ' · ' if position else ''}{frame.caption}")
    return EXIT_OK if out.exists() else EXIT_USAGE


def _write_slide(args: argparse.Namespace, spec: ViewSpec, frame: ViewFrame, image: np.ndarray,
                 model_name: str) -> int:
    from detviewer.render.qt.export import ensure_gui_app
    from detviewer.render.qt.slide import SlideText, write_slide

    ensure_gui_app()
    position = frame.position_text()
    text = SlideText(title=spec.title, subtitle=" · ".join(x for x in (model_name, position) if x),
                     caption=frame.caption, legend=tuple(frame.legend), table=list(frame.table))
    out = write_slide(args.out, image, frame.layers, text, dim=frame.dim)
    print(f"wrote {out}: {position + ' · ' if position else ''}{frame.caption}")
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    from detviewer.cli import main

    sys.exit(main(["render", *sys.argv[1:]]))
