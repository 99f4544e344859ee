"""`detviewer render PHOTO --model haar-frontalface --view <classic view>` writes the figure, offscreen."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from PIL import Image

from detviewer.cli import main
from detviewer.resources import assets_dir

PHOTO = assets_dir() / "photos" / "astronaut.png"


@pytest.mark.parametrize("view, step, words", [
    ("classic-pyramid", 3, "Scale 3 of 33: the photo shrunk 1.21× to 423×423 px"),
    ("classic-windows", 15, "Scale 15 of 33"),
    ("classic-grouping", 8, "OpenCV's grouping keeps 1 (green: clusters of more than 3 windows), greedy NMS at IoU 0.5 keeps 7"),
])
def test_render_writes_each_classic_view(view, step, words, tmp_path, capsys):
    out = tmp_path / f"{view}.png"
    code = main(["render", str(PHOTO), "--model", "haar-frontalface", "--view", view, "--step", str(step),
                 "--size", "512", "--out", str(out)])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert printed.out.startswith(f"wrote {out}") and words in printed.out
    figure = np.asarray(Image.open(out).convert("RGB")).astype(int)
    source = np.asarray(Image.open(PHOTO).convert("RGB")).astype(int)
    band = figure.shape[0] - 512
    changed = np.abs(figure[band:] - source).sum(axis=2) > 60
    assert figure.shape[1] == 512 and changed.mean() > 0.002, "nothing was drawn over the photo"


def test_a_model_without_windows_cannot_render_them_in_one_sentence(tmp_path, capsys):
    code = main(["render", str(PHOTO), "--model", "demo-ssd", "--view", "classic-grouping",
                 "--out", str(tmp_path / "x.png")])
    err = capsys.readouterr().err
    assert code == 2 and "not a classic sliding-window detector" in err and "Traceback" not in err


def test_lecture_on_a_photo_writes_the_classic_detectors_slides_first(tmp_path, capsys):
    out = tmp_path / "deck"
    assert main(["lecture", str(PHOTO), "--model", "haar-frontalface", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    slides = sorted(p.name for p in out.glob("*.png"))
    assert slides[:5] == ["01-one-window-every-position.png", "02-larger-faces-shrink-the-photo.png",
                          "03-too-many-windows.png", "04-neighbouring-windows-vote.png",
                          "05-grouping-beside-greedy-nms.png"]
    assert "haar-frontalface: 1 detections" in printed
    html = (out / "index.html").read_text(encoding="utf-8")
    captions = [s["caption"] for s in json.loads(re.search(r"const slides = (\[.*?\]);\n", html, re.S).group(1))]
    assert captions[2].startswith("All 33 scales: the Haar cascade accepted 47 of 491,556 windows")
    assert "40 of them sit on one spot" in captions[2]
    assert captions[4].startswith("From 47 raw windows: OpenCV's grouping keeps 1")


def test_the_views_handle_a_photo_where_nothing_is_accepted():
    from detviewer.detectors.registry import load_detector
    from detviewer.render.model.views.classic_grouping import grouping_frame, grouping_steps
    from detviewer.render.model.views.classic_windows import windows_frame

    blank = np.full((120, 160, 3), 128, np.uint8)
    inference = load_detector("haar-frontalface").infer(blank)
    assert inference.classic.raw_count == 0 and len(inference.detections) == 0
    assert "accepted 0 of" in windows_frame(inference, 99).caption
    assert grouping_steps(inference, "opencv") == 2 and grouping_steps(inference, "nms") == 2
    assert "keeps 0" in grouping_frame(inference, "nms", 1).caption
