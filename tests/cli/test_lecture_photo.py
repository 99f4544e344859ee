"""`python -m detviewer lecture assets/photos/astronaut.png --out DIR` with the default models: the classic
detector's slides come first (01- is its image pyramid on the photo), then the CNNs' slides."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
ASTRONAUT = ROOT / "assets" / "photos" / "astronaut.png"


@pytest.mark.slow
def test_lecture_on_a_photo_writes_the_classic_detectors_slides_first(tmp_path):
    from detviewer.cli.lecture import slide_file_name
    from detviewer.render.model.deck import LECTURE_DECK

    out = tmp_path / "deck"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run([sys.executable, "-m", "detviewer", "lecture", str(ASTRONAUT), "--out", str(out)],
                            capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    slides = sorted(out.glob("*.png"))
    classic = [s for s in LECTURE_DECK if s.view.startswith("classic-")]
    assert classic and classic[0].view == "classic-pyramid"
    # the deck's classic slides (none needs ground truth) are slides 1…k, in the deck's order; the first is the pyramid
    assert [p.name for p in slides[:len(classic)]] == [slide_file_name(i + 1, s.title) for i, s in enumerate(classic)]
    assert len(slides) > len(classic)  # the CNNs' slides follow
    with Image.open(slides[0]) as first:
        assert first.size == (1920, 1080)
    # what the page shows for each slide: the first is the face cascade's pyramid at its first scale on the photo
    page = (out / "index.html").read_text(encoding="utf-8")
    shown = json.loads(re.search(r"const slides = (\[.*?\]);\n", page, re.S).group(1))
    assert len(shown) == len(slides)
    assert shown[0]["caption"].startswith("Scale 1 of ") and "the photo itself, 512×512 px" in shown[0]["caption"]
    assert "Haar cascade" in shown[0]["caption"]
    assert all(s["title"].startswith(classic[0].section) for s in shown[:len(classic)])
    assert not any(s["title"].startswith(classic[0].section) for s in shown[len(classic):])
    assert re.search(r"^haar-frontalface: 1 detections?$", result.stdout, re.M), result.stdout  # the one face
