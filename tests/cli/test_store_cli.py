"""``detviewer eval --model`` through the prediction store, where the store fails: the numbers (pycocotools'
stats of the run) must be those of a clean run without a store, every time, with one warning sentence.

Each test reproduces a failure the per-image .npz cache had: a read-only or full filesystem dropped images
(AP 0.000, 0.369 for 0.853), two runs sharing a folder raced, a changed shipped checkpoint was served from
the cache. Filesystems are small tmpfs mounts (root only: skipped elsewhere).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fs_fixtures import tmpfs

from detviewer.cli import main

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def mounts(tmp_path):
    made = []

    def mount(size: str, read_only: bool = False) -> Path:
        made.append(tmpfs(tmp_path, size, read_only))
        return made[-1]

    yield mount
    for m in made:
        subprocess.run(["umount", str(m)], check=False)


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    """12 shapes images and the clean stats of demo-ssd on them (no store)."""
    root = tmp_path_factory.mktemp("shapes")
    assert main(["make-shapes", str(root / "ds"), "--count", "12", "--seed", "3", "--quiet"]) == 0
    return root / "ds", _eval(root / "ds", None)


@pytest.fixture(scope="module")
def many(tmp_path_factory):
    """60 shapes images (runs long enough for two processes to overlap, or to be killed part way) and the
    clean stats of demo-ssd on them."""
    root = tmp_path_factory.mktemp("many")
    assert main(["make-shapes", str(root / "ds"), "--count", "60", "--seed", "5", "--quiet"]) == 0
    return root / "ds", _eval(root / "ds", None)


def _argv(data: Path, cache: Path | None) -> list[str]:
    return (["eval", "--model", "demo-ssd", "--device", "cpu", "--threads", "1", "--data", str(data), "--json"]
            + (["--no-cache"] if cache is None else ["--cache", str(cache)]))


def _eval(data: Path, cache: Path | None, capsys=None) -> dict:
    """pycocotools' stats of demo-ssd on ``data`` (the CLI run in this process)."""
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(_argv(data, cache))
    assert code == 0, err.getvalue()
    return {"stats": json.loads(out.getvalue())["stats"], "err": err.getvalue()}


def _store_warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("warning:") and "prediction store" in line]


def test_read_only_filesystem_gives_the_clean_numbers_and_one_warning(shapes, mounts):
    data, clean = shapes
    got = _eval(data, mounts("1m", read_only=True) / "cache")
    assert got["stats"] == clean["stats"]
    assert "error:" not in got["err"]
    assert len(_store_warnings(got["err"])) == 1, got["err"]


def test_full_filesystem_gives_the_clean_numbers_and_one_warning(shapes, mounts):
    data, clean = shapes
    fs = mounts("96k")
    cache = fs / "cache"
    first = _eval(data, cache)  # the schema fits; the predictions fill the disk part way through the run
    assert first["stats"] == clean["stats"], first["err"]
    assert "error:" not in first["err"] and len(_store_warnings(first["err"])) == 1, first["err"]
    assert "the disk is full" in _store_warnings(first["err"])[0]
    again = _eval(data, cache)  # what was stored is reused; the rest computed; nothing lost
    assert again["stats"] == clean["stats"] and "error:" not in again["err"]


def test_a_folder_at_the_store_path_gives_the_clean_numbers(shapes, tmp_path):
    data, clean = shapes
    (tmp_path / "cache" / "predictions.sqlite3").mkdir(parents=True)
    got = _eval(data, tmp_path / "cache")
    assert got["stats"] == clean["stats"] and len(_store_warnings(got["err"])) == 1


def test_a_corrupt_store_file_gives_the_clean_numbers(shapes, tmp_path):
    data, clean = shapes
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "predictions.sqlite3").write_bytes(b"not a database, " * 512)
    got = _eval(data, tmp_path / "cache")
    assert got["stats"] == clean["stats"] and len(_store_warnings(got["err"])) == 1
    assert "not a SQLite database" in got["err"] or "corrupt" in got["err"]


def _subprocess_eval(data: Path, cache: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "detviewer", *_argv(data, cache)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, text=True)


def test_two_processes_on_one_store_give_the_clean_numbers(many, tmp_path):
    data, clean = many
    for trial in range(3):
        cache = tmp_path / f"cache{trial}"
        runs = [_subprocess_eval(data, cache) for _ in range(2)]
        for run in runs:
            out, err = run.communicate(timeout=300)
            assert run.returncode == 0, err
            assert json.loads(out)["stats"] == clean["stats"], err
            assert "error:" not in err and not _store_warnings(err), err


def test_kill_9_mid_run_then_the_rerun_gives_the_clean_numbers(many, tmp_path):
    data, clean = many
    cache = tmp_path / "cache"
    store = cache / "predictions.sqlite3"
    for delay in (0.0, 0.05, 0.2):  # killed right after the first stored image, and a little later
        run = _subprocess_eval(data, cache)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and run.poll() is None:
            if store.is_file() and _stored(store) > 0:
                break
            time.sleep(0.01)
        time.sleep(delay)
        run.send_signal(signal.SIGKILL)
        run.communicate(timeout=60)
    again = _eval(data, cache)
    assert again["stats"] == clean["stats"] and "error:" not in again["err"] and not _store_warnings(again["err"])


def _stored(path: Path) -> int:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as conn:
            return conn.execute("SELECT count(*) FROM predictions").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_a_changed_shipped_checkpoint_is_not_served_from_the_store(shapes, tmp_path, monkeypatch):
    import shutil

    import torch

    from detviewer import resources

    data, clean = shapes
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(resources.models_dir() / "demo-ssd.pt", models / "demo-ssd.pt")
    monkeypatch.setattr(resources, "models_dir", lambda: models)
    cache = tmp_path / "cache"
    first = _eval(data, cache)
    assert first["stats"] == clean["stats"]
    # "retrain": the same file name, other weights
    payload = torch.load(models / "demo-ssd.pt", weights_only=True)
    for key, value in payload["model"].items():
        if value.is_floating_point() and "head" in key:
            payload["model"][key] = value * 0.5
    torch.save(payload, models / "demo-ssd.pt")
    changed = _eval(data, None)
    assert changed["stats"] != clean["stats"]
    served = _eval(data, cache)
    assert served["stats"] == changed["stats"]
    assert "(0 from the cache" in served["err"]


def test_compare_says_a_store_problem_once_and_gives_the_clean_numbers(tmp_path, capsys):
    from detviewer.resources import assets_dir

    gt = assets_dir() / "demo" / "annotations.json"
    base = ["compare", "--gt", str(gt), "demo-ssd", "demo-frcnn", "--threads", "1", "--json"]
    assert main(base + ["--no-cache"]) == 0
    clean = json.loads(capsys.readouterr().out)
    (tmp_path / "cache" / "predictions.sqlite3").mkdir(parents=True)
    assert main(base + ["--cache", str(tmp_path / "cache")]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == clean
    assert len(_store_warnings(captured.err)) == 1, captured.err
