"""The live lecture on a photograph, one tile per step: the real window in lecture mode at 1920×1080, walked with
Next from the first step of the first section to the last (``make figures`` writes it to
assets/figures/lecture-contact-sheet.jpg).

Usage: QT_QPA_PLATFORM=offscreen .venv/bin/python docs/lecture_sheet.py [--photo PHOTO] [--plan PLAN.toml]
       [--steps DIR] [--out SHEET]
  --steps DIR also keeps every step's full-size PNG (to look at each one).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "assets" / "photos" / "astronaut.png"


def walk_lecture(photo: Path, steps_dir: Path, size: tuple[int, int] = (1920, 1080),
                 plan: Path | None = None) -> list[tuple[Path, str]]:
    """Every step of the live lecture (of the lecture plan file ``plan``, else the whole lecture) on ``photo``
    grabbed as ``steps_dir``/NNN.png; (file, "N. the view's step") per step."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from detviewer.gui.main_window import MainWindow
    from detviewer.gui.worker import ModelRequest

    app = QApplication.instance() or QApplication([])
    settings_dir = tempfile.TemporaryDirectory()  # the window's settings: not the user's
    window = MainWindow(settings=QSettings(f"{settings_dir.name}/s.ini", QSettings.Format.IniFormat))
    window.show()

    def wait(condition: Callable[[], bool], what: str, seconds: float = 300) -> None:
        end = time.time() + seconds
        while not condition():
            if time.time() > end:
                raise SystemExit(f"the lecture did not {what}")
            app.processEvents()
            time.sleep(0.01)

    loaded: list = []
    window.model_ready.connect(loaded.append)
    window.request_model(ModelRequest("demo-frcnn", "default", "cpu"))
    wait(lambda: loaded, "load its first model")
    window.open_paths([str(photo)])
    wait(lambda: window.state.inference is not None, "answer on the photo")
    if plan is not None and not window.deck.set_plan_file(str(plan), remember=False):
        raise SystemExit(window.status.message_text())
    window.state.set_view("detections")  # not a lecture view: the lecture starts at its first section
    window.lecture.enter(full_screen=False)
    window.resize(*size)
    deck, presenter = window.deck, window.presenter

    def settled() -> bool:
        return (deck.settled and not presenter.busy and presenter.shown.frame is not None
                and deck.part is not None and presenter.shown.view == deck.part.view)

    steps_dir.mkdir(parents=True, exist_ok=True)
    grabbed: list[tuple[Path, str]] = []
    deck.next()  # the lecture's first step (lecture mode began on a view outside it)
    while True:
        wait(settled, "settle on a step")
        for _ in range(5):
            app.processEvents()
        path = steps_dir / f"{len(grabbed) + 1:03d}.png"
        window.grab().save(str(path))
        grabbed.append((path, f"{len(grabbed) + 1}. {presenter.shown.frame.position_text()}"))  # the heading is in it
        if not deck.next():  # the last step (it was settled: nothing to wait for)
            break
    window.close()
    settings_dir.cleanup()
    return grabbed


def contact_sheet(steps: list[tuple[Path, str]], out: Path, tile: int = 320, cols: int = 8) -> None:
    """The steps' grabs in one JPEG, each titled."""
    from PIL import Image, ImageDraw

    height = tile * 9 // 16
    rows = (len(steps) + cols - 1) // cols
    sheet = Image.new("RGB", (cols * tile, rows * (height + 22)), (25, 25, 25))
    draw = ImageDraw.Draw(sheet)
    for k, (path, title) in enumerate(steps):
        picture = Image.open(path).convert("RGB")
        picture.thumbnail((tile - 6, height - 6))
        x, y = (k % cols) * tile, (k // cols) * (height + 22)
        sheet.paste(picture, (x + 3, y + 20))
        draw.text((x + 4, y + 4), title[:52], fill=(240, 240, 240))
    from detviewer.io.atomic import atomic_path

    with atomic_path(out) as temporary:
        sheet.save(temporary, format="JPEG", quality=72)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photo", type=Path, default=PHOTO)
    parser.add_argument("--steps", type=Path, help="keep every step's PNG in this folder")
    parser.add_argument("--plan", type=Path, help="a lecture plan file (default: the whole lecture)")
    parser.add_argument("--out", type=Path, default=ROOT / "assets" / "figures" / "lecture-contact-sheet.jpg")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        steps = walk_lecture(args.photo, args.steps or Path(tmp), plan=args.plan)
        contact_sheet(steps, args.out)
    print(f"wrote {args.out}: {len(steps)} steps of the live lecture on {args.photo.name}")


if __name__ == "__main__":
    main()
