"""`detviewer lecture IMAGE [--gt GT] [--model M ...] --out DIR`: the classic detection lecture as numbered
1920×1080 slides computed by the real models on one image, and one self-contained HTML page to click through.

The sequence is render/model/deck.py's LECTURE_DECK (the window's lecture mode can step through the same);
each slide is drawn by the first model given that can show it (``plan_deck``), with the slide layout of
``detviewer render --slide``. Expensive view inputs (Selective Search, RoI pooling) run once per model and key.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from detviewer.cli import EXIT_OK
from detviewer.render.model.lecture_plan import DEFAULT_MODELS  # the lecture's models, re-exported

if TYPE_CHECKING:
    import numpy as np

    from detviewer.io.image_gt import ImageGroundTruth
    from detviewer.render.model.deck import DeckSlide, PlannedSlide
    from detviewer.render.model.pipeline import ModelAbilities
    from detviewer.render.model.primitives import ViewFrame
    from detviewer.render.model.spec import ViewSpec

__all__ = ["build_parser", "run", "DEFAULT_MODELS", "slide_file_name", "load_models", "plan", "build_slides",
           "write_slides", "BuiltSlide"]



def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Write the classic detection lecture (a Haar cascade's windows → sliding "
                                            "windows → Selective Search → R-CNN → Fast R-CNN → Faster R-CNN → Mask "
                                            "R-CNN's RoIAlign → YOLO → NMS → SSD → mAP) as numbered 1920×1080 slides "
                                            "from real models on one image, plus index.html.")
    p.add_argument("image", help="image file")
    p.add_argument("--gt", type=Path, help="COCO ground truth listing IMAGE (training samples, targets, mAP need it)")
    p.add_argument("--model", action="append", dest="models", metavar="NAME",
                   help=f"a detector (repeat the option; default: the plan's, else {', '.join(DEFAULT_MODELS)}); "
                        "each slide uses the first one that can show it")
    p.add_argument("--plan", type=Path, metavar="FILE",
                   help="a lecture plan (TOML: which sections, in which order, and the models), the file the "
                        "window's lecture mode uses too")
    p.add_argument("--weights", default="default", help="coco, none, default or a checkpoint path (every model)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--score", type=float, default=0.3, help="score threshold of the NMS slides")
    p.add_argument("--iou", type=float, default=0.5, help="IoU threshold of the NMS slides")
    p.add_argument("--out", required=True, type=Path, help="folder for the slides and index.html (created)")
    return p


@dataclass
class _Loaded:
    """One model on the image: its detector, Inference, NMS replay and ground truth in its label space."""

    name: str
    detector: object
    inference: object
    replay: object
    gt: object


def slide_file_name(number: int, title: str) -> str:
    """'07-box-regression-the-textbook-cases.png'."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60].rstrip("-")
    return f"{number:02d}-{slug}.png"


def load_models(names: Sequence[str], args: argparse.Namespace, image: np.ndarray,
                truth: ImageGroundTruth | None) -> list[_Loaded]:
    """Load and run each model on the image (args: weights, device, score, iou, image path)."""
    from detviewer.detectors.registry import load_detector
    from detviewer.ops.nms import nms_trace
    from detviewer.state.nms_replay import Thresholds, replay

    thresholds = Thresholds(score=args.score, iou=args.iou)
    loaded = []
    for name in names:
        detector = load_detector(name, weights=args.weights, device=args.device)
        inference = detector.infer(image)
        gt = truth.boxes_for(args.image, detector.class_names) if truth is not None else None
        loaded.append(_Loaded(name, detector, inference, replay(inference, thresholds, nms_trace), gt))
        print(f"{name}: {len(inference.detections)} detections", flush=True)
    return loaded


def plan(loaded: list[_Loaded], deck: Sequence[DeckSlide] | None = None) -> list[PlannedSlide]:
    """render.model.deck.plan_deck for these models: which slides of ``deck`` (default: the whole lecture) each
    shows (the window's rule)."""
    from detviewer.render.model.deck import LECTURE_DECK, plan_deck

    has_gt = any(m.gt is not None and len(m.gt) for m in loaded)
    return plan_deck([_abilities(m) for m in loaded], has_gt, LECTURE_DECK if deck is None else deck)


def _abilities(loaded: _Loaded) -> ModelAbilities:
    from detviewer.render.model.pipeline import ModelAbilities

    abilities = ModelAbilities.of(loaded.detector, loaded.name)
    return abilities if abilities.capabilities is not None else replace(abilities, capabilities=frozenset())


def _frame(slide: DeckSlide, model: _Loaded, image: np.ndarray, prepared: dict) -> tuple[ViewSpec, ViewFrame]:
    """The ViewFrame of ``slide`` for ``model``; the view's background input computed once per (model, key)."""
    from detviewer.render.model.deck import object_point, resolve_step
    from detviewer.render.model.pipeline import build, prepared_request
    from detviewer.render.model.registry import VIEWS
    from detviewer.render.model.spec import ViewRequest

    spec = VIEWS[slide.view]
    controls = {**spec.defaults(), **slide.controls}
    gt = model.gt if slide.show_gt else None
    point = slide.point
    if point == "object":
        point = object_point(None if model.gt is None else model.gt.as_pair, model.inference.detections.xyxy)
    request = ViewRequest(model.inference, model.replay, controls=controls, gt=gt, image=image, point=point)
    abilities = _abilities(model)
    request = prepared_request(spec, request, lambda job: job.run(model.detector if job.uses_detector else None),
                               prepared, model.name)
    count = spec.step_count(request)
    step = resolve_step(slide.step, count, lambda i: build(spec, replace(request, step=i), abilities).step_label)
    return spec, build(spec, replace(request, step=step), abilities)


def _zoomed(image: np.ndarray, layers: list, names: tuple[str, ...]) -> tuple[np.ndarray, list]:
    """(image, layers) cut to the window around the layers called ``names`` (unchanged without a zoom)."""
    from detviewer.render.model.crop import crop_frame, zoom_window
    from detviewer.render.qt.slide import figure_aspect

    window = zoom_window(layers, names, image.shape[:2], figure_aspect()) if names else None
    return (image, layers) if window is None else crop_frame(image, layers, window)


@dataclass(frozen=True)
class BuiltSlide:
    """One slide ready to write: its plan, the view's frame, the (maybe zoomed) image and layers, its text."""

    planned: object
    frame: object
    image: object
    layers: list
    text: object


def build_slides(planned: Sequence[PlannedSlide], loaded: list[_Loaded], image: np.ndarray) -> list[BuiltSlide]:
    """Every planned slide a model shows, built (views run, background inputs computed once)."""
    from detviewer.render.qt.slide import SlideText

    total = sum(1 for p in planned if p.model >= 0)
    prepared: dict = {}
    built = []
    for p in planned:
        if p.model < 0:
            continue
        model = loaded[p.model]
        spec, frame = _frame(p.slide, model, image, prepared)
        figure, layers = _zoomed(image, frame.layers, p.slide.zoom)
        text = SlideText(title=f"{p.slide.section} · {p.slide.title}",
                         subtitle=" · ".join(x for x in (model.name, spec.title, frame.position_text()) if x),
                         number=f"{p.number} / {total}", caption=frame.caption, legend=tuple(frame.legend),
                         table=list(frame.table))
        built.append(BuiltSlide(p, frame, figure, layers, text))
    return built


def write_slides(built: list[BuiltSlide], out: Path) -> list[tuple[Path, str, str]]:
    """Write each slide as NN-title.png in ``out``; (file, title, caption) per slide."""
    from detviewer.render.qt.slide import write_slide

    written = []
    for b in built:
        path = out / slide_file_name(b.planned.number, b.planned.slide.title)
        write_slide(path, b.image, b.layers, b.text, dim=b.frame.dim)
        written.append((path, b.text.title, b.frame.caption))
        print(f"wrote {path}", flush=True)
    return written


def run(args: argparse.Namespace) -> int:
    from detviewer.cli.lecture_html import write_deck_html
    from detviewer.cli.render import image_ground_truth
    from detviewer.errors import DetviewerError
    from detviewer.io.images import load_image
    from detviewer.render.model.lecture_plan import LecturePlan, load_plan
    from detviewer.render.qt.export import ensure_gui_app

    lecture_plan = load_plan(args.plan) if args.plan else LecturePlan()  # a bad plan says so before any model loads
    names = tuple(args.models or lecture_plan.models)
    image = load_image(args.image)
    truth = image_ground_truth(args.gt, args.image) if args.gt else None  # before the slow model loads
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DetviewerError(f"Cannot create the folder {args.out}: {exc.strerror}.") from None
    loaded = load_models(names, args, image, truth)
    planned = plan(loaded, lecture_plan.deck())
    for p in planned:
        if p.model < 0:
            print(f"left out '{p.slide.title}': {p.reason}")
    ensure_gui_app()
    written = write_slides(build_slides(planned, loaded, image), args.out)
    page = write_deck_html(args.out / "index.html", written, title=f"Object detection, from {Path(args.image).name}")
    print(f"wrote {page}: {len(written)} slides")
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    from detviewer.cli import main

    sys.exit(main(["lecture", *sys.argv[1:]]))
