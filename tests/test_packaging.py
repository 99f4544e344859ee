"""The wheel carries the demo models and assets, and an installed copy finds them."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    build = tmp_path_factory.mktemp("build")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        capture_output=True, text=True, timeout=300, cwd=build,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (path,) = out.glob("detviewer-*.whl")
    return path


def test_wheel_contains_every_shipped_model_and_demo_asset(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = [p for folder in ("models", "assets") for p in (ROOT / folder).rglob("*") if p.is_file()]
    assert shipped
    for path in shipped:
        relative = path.relative_to(ROOT).as_posix()
        assert f"detviewer/_bundled/{relative}" in names, relative
    assert "detviewer/cli/__init__.py" in names


def test_an_unpacked_wheel_finds_its_bundled_models_and_assets(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = ("import detviewer.resources as r; "
            "print(r.models_dir()); print(r.assets_dir()); print(len(r.demo_images()))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            cwd=tmp_path, env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    models, assets, count = result.stdout.split()
    assert Path(models) == site / "detviewer" / "_bundled" / "models"
    assert Path(assets) == site / "detviewer" / "_bundled" / "assets"
    assert int(count) == len(list((ROOT / "assets" / "demo").glob("*.png")))
