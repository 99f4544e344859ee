"""Regenerate the README's screenshots and figures from the code, so they cannot drift (``make figures``).

Writes, from the bundled demo images and models:
  assets/screenshot.png                   the window on the demo (``detviewer IMAGE --screenshot``)
  assets/figures/workspace.png            the Evaluation workspace after a demo model ran over the demo dataset
  assets/figures/demo-frcnn-anchors.png   one FPN level's anchors (``detviewer render``)
  assets/figures/demo-frcnn-roi.png       RoI pooling of a proposal
  assets/figures/demo-frcnn-nms.png       an NMS step
  assets/figures/contact-sheet.jpg        every view of every demo model that can show it, in one sheet
  assets/figures/lecture-contact-sheet.jpg  every step of the live lecture on a photograph (docs/lecture_sheet.py)

Usage: .venv/bin/python docs/make_figures.py [--out assets]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGE = ROOT / "assets" / "demo" / "shapes_7_00000.png"
GT = ROOT / "assets" / "demo" / "annotations.json"
MODELS = ("demo-frcnn", "demo-ssd", "demo-yolo")
README_RENDERS = (("demo-frcnn-anchors.png", "anchors", ["--step", "3"]), ("demo-frcnn-roi.png", "roi", []),
                  ("demo-frcnn-nms.png", "nms", ["--step", "4"]))


def _run(args: list[str]) -> None:
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    done = subprocess.run([sys.executable, "-m", "detviewer", *args], capture_output=True, text=True, env=env,
                          timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"detviewer {' '.join(args)} failed: {done.stderr.strip()}")


def render(model: str, view: str, out: Path, extra=()) -> bool:
    """One figure through ``detviewer render`` (False when the model cannot show the view)."""
    from detviewer.cli import main

    return main(["render", str(IMAGE), "--model", model, "--view", view, "--gt", str(GT), "--device", "cpu",
                 "--size", "800", "--out", str(out), *extra]) == 0


def contact_sheet(folder: Path, out: Path, tile: int = 400) -> None:
    """Every view × model figure of ``folder`` in one PNG, each titled by its file name."""
    from PIL import Image, ImageDraw

    files = sorted(folder.glob("*.png"))
    cols = 6
    rows = (len(files) + cols - 1) // cols
    sheet = Image.new("RGB", (cols * tile, rows * (tile + 24)), (20, 20, 20))
    draw = ImageDraw.Draw(sheet)
    for k, path in enumerate(files):
        picture = Image.open(path).convert("RGB")
        picture.thumbnail((tile - 8, tile - 8))
        x, y = (k % cols) * tile, (k // cols) * (tile + 24)
        sheet.paste(picture, (x + 4, y + 24))
        draw.text((x + 6, y + 5), path.stem, fill=(240, 240, 240))
    sheet.save(out, quality=85)  # JPEG: a PNG of 30 photographs is several MB


def workspace_screenshot(out: Path) -> None:
    """The window with the Evaluation workspace after demo-frcnn ran over the demo dataset."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from detviewer.gui.main_window import MainWindow
    from detviewer.gui.worker import ModelRequest

    app = QApplication.instance() or QApplication([])
    tmp = tempfile.mkdtemp()
    window = MainWindow(settings=QSettings(f"{tmp}/s.ini", QSettings.Format.IniFormat))
    window.resize(1600, 1000)
    window.show()

    def wait(condition, seconds: float = 300) -> None:
        end = time.time() + seconds
        while not condition():
            if time.time() > end:
                raise SystemExit("the workspace did not finish")
            app.processEvents()
            time.sleep(0.01)

    loaded = []
    window.model_ready.connect(loaded.append)
    window.request_model(ModelRequest("demo-frcnn", "default", "cpu"))
    wait(lambda: loaded)
    window.open_paths([str(GT)])
    wait(lambda: window.workspace.session is not None and window.state.inference is not None)
    window.workspace.cache_dir = Path(tmp) / "cache"
    window.workspace.run_model("A")
    wait(lambda: window.workspace.metrics.classes.rowCount() > 0)
    window.workspace.tabs.setCurrentWidget(window.workspace.confusion)
    end = time.time() + 1.0
    while time.time() < end:
        app.processEvents()
        time.sleep(0.01)
    window.grab().save(str(out))
    window.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=ROOT / "assets")
    args = parser.parse_args()
    figures = args.out / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    _run([str(IMAGE), "--model", "demo-frcnn", "--device", "cpu", "--screenshot", str(args.out / "screenshot.png"),
          "--size", "1600x1000"])
    for name, view, extra in README_RENDERS:
        render("demo-frcnn", view, figures / name, extra)
    workspace_screenshot(figures / "workspace.png")
    import lecture_sheet  # docs/, beside this script

    with tempfile.TemporaryDirectory() as tmp:
        lecture_sheet.contact_sheet(lecture_sheet.walk_lecture(lecture_sheet.PHOTO, Path(tmp)),
                                    figures / "lecture-contact-sheet.jpg")
    from detviewer.render.model.registry import VIEWS

    with tempfile.TemporaryDirectory() as tmp:
        for model in MODELS:
            for view in VIEWS:
                render(model, view, Path(tmp) / f"{model}_{view}.png")
        contact_sheet(Path(tmp), figures / "contact-sheet.jpg")
    print(f"wrote {args.out / 'screenshot.png'} and {figures}")


if __name__ == "__main__":
    main()
