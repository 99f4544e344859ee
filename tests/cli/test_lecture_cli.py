"""`detviewer lecture`: the whole deck on the demo image from the three shipped models — every slide written at
1920×1080 with its text at least 24 px, one self-contained page to click through — and one-sentence errors."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest
from PIL import Image

from detviewer.cli import main

ROOT = Path(__file__).resolve().parents[2]
IMAGE = ROOT / "assets" / "demo" / "shapes_7_00000.png"
GT = ROOT / "assets" / "demo" / "annotations.json"
DEMOS = ("demo-frcnn", "demo-ssd", "demo-yolo", "haar-frontalface", "hog-people")


@pytest.fixture(scope="module")
def deck(tmp_path_factory):
    """The deck built and written as `detviewer lecture IMAGE --gt GT --out DIR` does."""
    from detviewer.cli.lecture import build_slides, load_models, plan, write_slides
    from detviewer.cli.lecture_html import write_deck_html
    from detviewer.io.image_gt import ImageGroundTruth
    from detviewer.io.images import load_image
    from detviewer.render.qt.export import ensure_gui_app

    out = tmp_path_factory.mktemp("deck")
    args = argparse.Namespace(image=IMAGE, weights="default", device="cpu", score=0.3, iou=0.5)
    image = load_image(IMAGE)
    loaded = load_models(DEMOS, args, image, ImageGroundTruth.load(GT))
    planned = plan(loaded)
    ensure_gui_app()
    built = build_slides(planned, loaded, image)
    written = write_slides(built, out)
    page = write_deck_html(out / "index.html", written, title="demo")
    return planned, built, written, page


def test_every_slide_is_written_at_1920x1080(deck):
    planned, built, written, _ = deck
    assert all(p.model >= 0 for p in planned), [p.reason for p in planned if p.model < 0]
    from detviewer.render.model.deck import LECTURE_DECK

    total = len(LECTURE_DECK)  # every slide of the deck: the five models show them all
    assert len(written) == len(planned) == len(built) == total
    names = [path.name for path, _, _ in written]
    assert names[0].startswith("01-") and names[-1].startswith(f"{total:02d}-") and len(set(names)) == total
    for path, _, _ in written:
        with Image.open(path) as png:
            assert png.size == (1920, 1080)
    # a slide is the model's view: the NMS slides come from demo-frcnn, the grid from demo-yolo, SSD from demo-ssd
    subtitles = {b.planned.slide.title: b.text.subtitle for b in built}
    assert subtitles["The S×S grid and its output tensor"].startswith("demo-yolo · YOLO grid")
    assert subtitles["Scales sₖ: the paper's formula and the model's"].startswith("demo-ssd · SSD default boxes")
    assert subtitles["RoIPool: each bin's max over whole cells"].startswith("demo-frcnn · RoI pooling")


def test_each_slide_shows_the_step_it_names(deck):
    _, built, _, _ = deck
    labels = {b.planned.slide.title: b.frame.step_label for b in built}
    assert labels["RPN minibatch: 256 anchors, at most half positive"] == "RPN minibatch"
    assert labels["Box regression: the textbook cases"] == "Textbook cases"
    assert labels["Scales sₖ: the paper's formula and the model's"] == "Scales: paper and model"
    texts = {b.planned.slide.title: b for b in built}
    textbook = dict(texts["Box regression: the textbook cases"].frame.table)
    assert textbook["25 % of its width to the left"] == "t* (0.25, 0, 0, 0) · encoded (2.5, 0, 0, 0)"
    # the RoI slides zoom onto the proposal: the figure is a cut of the frame
    roi = texts["RoIPool: each bin's max over whole cells"]
    assert roi.image.shape[0] < 320 and roi.image.shape[1] < 320


def test_text_on_every_slide_is_at_least_24_px(deck):
    """Slide text (title, caption, legend, table) uses MIN_TEXT_PX and up; texts drawn over the frame are 12 px and
    up before lecture mode's ×2 (labels of boxes: BOX_LABEL_PX × 2)."""
    from detviewer.render.model.primitives import TextLayer
    from detviewer.render.qt import slide
    from detviewer.render.qt.style import BOX_LABEL_PX, LECTURE

    assert slide.MIN_TEXT_PX == 24
    assert min(slide._TITLE_PX, slide._SUBTITLE_PX, slide._CAPTION_PX, slide._TABLE_PX) >= 24
    assert BOX_LABEL_PX * LECTURE.font_scale >= 24
    _, built, _, _ = deck
    sizes = [layer.size for b in built for layer in b.layers if isinstance(layer, TextLayer)]
    assert sizes and min(sizes) * LECTURE.font_scale >= 24


def test_one_self_contained_page_clicks_through_every_slide(deck):
    _, _, written, page = deck
    html = page.read_text(encoding="utf-8")
    slides = json.loads(re.search(r"const slides = (\[.*?\]);\n", html, re.S).group(1).replace("<\\/", "</"))
    assert len(slides) == len(written)
    assert slides[0]["png"] and all(s["caption"] for s in slides)
    import base64

    assert base64.b64decode(slides[4]["png"]) == written[4][0].read_bytes()  # the PNG itself, embedded
    assert "src=" not in html.replace('img.src = "data:image/png;base64,"', "")  # no other file referenced
    assert "ArrowRight" in html and "ArrowLeft" in html


def test_an_image_that_is_not_one_is_one_sentence(tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    code = main(["lecture", str(bad), "--out", str(tmp_path / "deck")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1


def test_ground_truth_without_the_image_is_one_sentence(tmp_path, capsys):
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"images": [{"id": 1, "file_name": "x.png", "width": 2, "height": 2}],
                                 "annotations": [], "categories": []}))
    code = main(["lecture", str(IMAGE), "--gt", str(other), "--out", str(tmp_path / "deck")])
    err = capsys.readouterr().err
    assert code == 2 and "is not an image of" in err and err.count("\n") == 1


def test_a_plan_file_chooses_orders_and_skips_sections_and_names_the_models(tmp_path):
    plan = tmp_path / "plan.toml"
    plan.write_text('sections = ["NMS", "yolo"]  # a title or a key\nmodels = ["demo-yolo"]\n', encoding="utf-8")
    out = tmp_path / "deck"
    assert main(["lecture", str(IMAGE), "--plan", str(plan), "--device", "cpu", "--out", str(out)]) == 0
    slides = sorted(p.name for p in out.glob("*.png"))
    from detviewer.cli.lecture import slide_file_name
    from detviewer.render.model.deck import LECTURE_DECK

    nms = [s.title for s in LECTURE_DECK if s.section == "NMS"]
    yolo = [s.title for s in LECTURE_DECK if s.section == "YOLO"]
    assert slides == [slide_file_name(i + 1, title) for i, title in enumerate(nms + yolo)]


@pytest.mark.parametrize(("text", "says"), [
    ('sections = ["nms", "rpn"]', "has no section called 'rpn'; its sections are: classic, sliding-windows"),
    ('sections = ["nms", "nms"]', "names the section 'nms' twice"),
    ('sections = "nms"', "'sections' must be a list of names in quotes"),
    ('models = ["no-such-model"]', "names the model 'no-such-model', which detviewer does not know"),
    ('models = []', "names no models"),
    ('sections = [', "is not valid TOML"),
    ('slides = []', "has unknown entries (slides)"),
])
def test_a_bad_plan_file_is_one_sentence_before_any_model_loads(tmp_path, capsys, text, says):
    plan = tmp_path / "plan.toml"
    plan.write_text(text + "\n", encoding="utf-8")
    code = main(["lecture", str(IMAGE), "--plan", str(plan), "--out", str(tmp_path / "deck")])
    err = capsys.readouterr().err
    assert code == 2 and says in err and err.count("\n") == 1, err
