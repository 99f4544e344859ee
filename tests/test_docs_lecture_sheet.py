"""`make figures`' sheet of the live lecture (docs/lecture_sheet.py) runs: a one-section plan on a shipped photo
gives one tile per step of that section, in a JPEG written whole."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_lecture_sheet_has_one_tile_per_step(tmp_path: Path) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_text('sections = ["yolo"]\nmodels = ["demo-yolo"]\n', encoding="utf-8")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path),
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    out, steps = tmp_path / "sheet.jpg", tmp_path / "steps"
    done = subprocess.run([sys.executable, str(ROOT / "docs" / "lecture_sheet.py"), "--plan", str(plan),
                           "--steps", str(steps), "--out", str(out)], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    grabs = sorted(steps.glob("*.png"))
    assert f"wrote {out}: {len(grabs)} steps" in done.stdout
    from PIL import Image

    assert len(grabs) >= 2 and Image.open(grabs[0]).size == (1920, 1080)
    with Image.open(out) as sheet:
        assert sheet.format == "JPEG" and sheet.size[0] == 8 * 320
    assert not list(tmp_path.glob(".*.tmp*")), "no temporary file left beside the sheet"
