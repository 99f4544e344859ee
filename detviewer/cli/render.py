"""`detviewer render`: draw one teaching view of a model on an image into a PNG or SVG figure.

Offscreen (no window): the same layers (render.views / render.layers) and the same painting items
(render.primitive_items) as the window's canvas, so a slide shows what the window shows.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from detviewer.cli import EXIT_OK, EXIT_USAGE

#: --view choices: the window's two NMS views, then the teaching views of render.views.VIEWS.
VIEW_CHOICES = ("detections", "nms", "anchors", "proposals", "default-boxes", "grid", "yolo-cells", "regression",
                "roi", "sliding-window", "selective-search")
_NEEDS_WORDS = {"anchors": "no anchors", "proposals": "no region proposals (it is not a two-stage model)",
                "default_boxes": "no SSD default boxes", "grid": "no YOLO grid",
                "yolo_cells": "no multi-scale YOLO head (export a YOLO to ONNX and load it as yolo-onnx)"}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Draw one teaching view of a detector on an image into a PNG or SVG "
                                            "figure (offscreen, the window's own drawing code).")
    p.add_argument("image", help="image file")
    p.add_argument("--model", required=True, help="detector name (see 'detviewer models')")
    p.add_argument("--weights", default="default", help="coco, none, default or a checkpoint path")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--view", required=True, choices=VIEW_CHOICES, help="what to draw")
    p.add_argument("--step", type=int, help="lecture step of the view (NMS step, anchor level, SSD scale, grid cell, "
                                                  "1 = Selective Search's crop-and-warp…)")
    p.add_argument("--level", type=int, help="anchor level / SSD scale to show (0-based; default all levels / 0)")
    p.add_argument("--score", type=float, default=0.3, help="score threshold of the detections / NMS views")
    p.add_argument("--iou", type=float, default=0.5, help="IoU threshold of the NMS views")
    p.add_argument("--gt", type=Path, help="COCO ground truth listing IMAGE: anchor labels, SSD matching, "
                                         "true / false positives and misses")
    p.add_argument("--scale", type=float, default=1.0, help="figure size as a multiple of the image size")
    p.add_argument("--lecture", action="store_true", help="thick lines and large text, as in lecture mode")
    p.add_argument("--out", required=True, type=Path, help="FIG.png or FIG.svg")
    return p


def check_view_supported(model_name: str, view: str, capabilities) -> None:
    """Raise ViewError (one sentence) when the model cannot show ``view``."""
    from detviewer.render.model.registry import VIEWS, ViewError

    spec = VIEWS.get(view)
    if spec is None or not spec.needs or spec.needs in capabilities:
        return
    raise ViewError(f"{model_name} cannot show the '{view}' view: it has {_NEEDS_WORDS[spec.needs]}.")


def view_state(view: str, inference, *, step=None, level=None, detector=None, image=None):
    """The state of teaching view ``view`` for these choices, with the inputs it needs computed
    (RoI pooling through ``detector.pool_region``, Selective Search on ``image``)."""
    from detviewer.render.model import registry as v

    if view == "anchors":
        return v.VIEWS[view].state_type(level=level, step=step)
    if view == "default-boxes":
        return v.VIEWS[view].state_type(scale=level or 0, step=step)
    if view == "roi":
        from detviewer.render.model.views.roi import roi_box

        state = v.VIEWS[view].state_type(step=step)
        return replace(state, pooling=detector.pool_region(roi_box(inference, state)))
    if view == "selective-search":
        from detviewer.ops.before_cnn import selective_search
        from detviewer.render.model.views.before_cnn import warp_gallery

        boxes, seconds = selective_search(image)
        state = v.VIEWS[view].state_type(boxes=boxes, seconds=seconds, step=step)
        return replace(state, crops=warp_gallery(image, boxes, n=state.gallery, size=state.warp_size,
                                                 context=state.context))
    return v.VIEWS[view].state_type(step=step)


def nms_layers(inference, *, score: float, iou: float, step=None, stepping: bool = False, gt=None):
    """(layers, caption) of the detections view (stepping=False) or the NMS stepper at ``step``;
    gt: the image's ``io.image_gt.ImageBoxes`` or None."""
    from detviewer.state.session import Session, Thresholds
    from detviewer.render.model.gt_layers import ground_truth_layers, match_summary
    from detviewer.render.model.layers import layers_for_session

    session = Session(Thresholds(score=score, iou=iou))
    session.set_inference(inference)
    if stepping:
        session.set_step_mode(True)
        session.set_step(1 if step is None else step)
    gt_layers, match = ground_truth_layers(session, gt)
    caption = session.narration() if stepping else f"{len(session.kept())} detections at score ≥ {score:g}"
    if match is not None:
        caption += f"; {match_summary(match, gt)}"
    return gt_layers + layers_for_session(session), caption if stepping else caption + "."


def image_ground_truth(gt_path: Path, image_path):
    """The COCO file ``gt_path`` as an ``io.image_gt.ImageGroundTruth``; AnnotationError when it is not
    one or does not list ``image_path``."""
    from detviewer.errors import AnnotationError
    from detviewer.io.image_gt import ImageGroundTruth

    truth = ImageGroundTruth.load(gt_path)
    if truth.image_id(image_path) is None:
        raise AnnotationError(f"{image_path} is not an image of {gt_path} (no file_name matches it).")
    return truth


def run(args) -> int:
    from detviewer.errors import DetviewerError
    from detviewer.render.qt.export import RASTER_SUFFIXES

    if args.out.suffix.lower() not in RASTER_SUFFIXES | {".svg"}:
        raise DetviewerError(f"Cannot write {args.out}: use a .png or .svg file name.")
    from detviewer.detectors.registry import load_detector, model_info

    check_view_supported(args.model, args.view, model_info(args.model).capabilities)
    from detviewer.io.images import load_image

    image = load_image(args.image)
    truth = image_ground_truth(args.gt, args.image) if args.gt else None  # before the slow model load
    detector = load_detector(args.model, weights=args.weights, device=args.device)
    check_view_supported(args.model, args.view, getattr(detector, "capabilities", ()))
    inference = detector.infer(image)
    gt = truth.boxes_for(args.image, detector.class_names) if truth is not None else None
    if args.view in ("detections", "nms"):
        layers, caption = nms_layers(inference, score=args.score, iou=args.iou, step=args.step,
                                     stepping=args.view == "nms", gt=gt)
    else:
        from detviewer.render.model.registry import VIEWS

        spec = VIEWS[args.view]
        state = view_state(args.view, inference, step=args.step, level=args.level, detector=detector, image=image)
        frame = spec.frame(inference, state, gt=None if gt is None else gt.as_pair)
        layers, caption = frame.layers, frame.caption
    from detviewer.render.qt.export import export_figure, ensure_gui_app
    from detviewer.render.qt.primitive_items import LECTURE, NORMAL

    ensure_gui_app()
    style = LECTURE if args.lecture else NORMAL
    out = export_figure(image, layers, args.out, scale=args.scale, style=style)
    print(f"wrote {out}: {caption}")
    return EXIT_OK if out.exists() else EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    from detviewer.cli import main

    sys.exit(main(["render", *sys.argv[1:]]))
