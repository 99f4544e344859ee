"""Dataset runs on a Ray cluster (a local head on 127.0.0.1, joined with ``auto``): the same numbers as a local
run, resumable from the store, a worker killed mid-run changes nothing, and a cluster that is gone or stops is one
sentence within a bounded time. The CLI runs in a subprocess (the Ray driver), as a user runs it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.evaluation.ray_fixtures import actor_pids, local_cluster, needs_ray, start_local_cluster

pytestmark = [needs_ray, pytest.mark.slow]
__all__ = ["local_cluster"]  # the fixture, imported for pytest

RUN_TIMEOUT_S = 240


@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ray-shapes")
    subprocess.run([sys.executable, "-m", "detviewer", "make-shapes", str(folder), "--count", "40", "--seed", "11",
                    "--quiet"], check=True, timeout=120)
    return folder


def _env(store: Path) -> dict[str, str]:
    return {**os.environ, "DETVIEWER_CACHE": str(store), "PYTHONUNBUFFERED": "1"}


def _eval(shapes: Path, store: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "detviewer", "eval", "--model", "demo-ssd", "--data", str(shapes),
                           "--json", *extra], capture_output=True, text=True, timeout=RUN_TIMEOUT_S, env=_env(store))


def _stats(done: subprocess.CompletedProcess[str]) -> dict:
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_cluster_run_equals_a_local_run_and_resumes_from_the_store(local_cluster, shapes, tmp_path):
    local = _stats(_eval(shapes, tmp_path / "local-store", "--no-cache"))
    first = _eval(shapes, tmp_path / "store", "--ray", "auto")
    assert _stats(first) == local
    assert "on the Ray cluster at" in first.stderr and "40 images answered" in first.stderr
    again = _eval(shapes, tmp_path / "store", "--ray", "auto")
    assert _stats(again) == local
    assert "40 from the cache" in again.stderr and "images answered" not in again.stderr


def test_detect_on_a_cluster_writes_the_local_results(local_cluster, shapes, tmp_path):
    outputs = {}
    for where, extra in (("here", ()), ("ray", ("--ray", "auto"))):
        out = tmp_path / f"{where}.json"
        done = subprocess.run([sys.executable, "-m", "detviewer", "detect", str(shapes), "--model", "demo-ssd",
                               "--quiet", "--out", str(out), *extra], capture_output=True, text=True,
                              timeout=RUN_TIMEOUT_S, env=_env(tmp_path / "store"))
        assert done.returncode == 0, done.stderr[-2000:]
        outputs[where] = json.loads(out.read_text())
    assert len(outputs["here"]) > 40
    assert outputs["ray"] == outputs["here"]


CANCEL = r"""
import json, sys
from functools import partial
from detviewer.detectors.registry import load_detector
from detviewer.evaluation.ray_cluster import connect, disconnect
from detviewer.evaluation.ray_dataset import run_dataset_on_cluster
from detviewer.io.datasets import open_dataset
seen = []
dataset = open_dataset(sys.argv[1])
run, cluster = run_dataset_on_cluster(load_detector("demo-ssd", device="cpu"), dataset, None,
                                      partial(load_detector, "demo-ssd", device="cpu"), address=connect("auto"),
                                      progress=lambda done, total, eta: seen.append(done),
                                      should_stop=lambda: len(seen) >= 10)
disconnect()
print(json.dumps({"stopped": run.stopped, "answered": cluster.answered, "total": dataset.num_images}))
"""


def test_cancel_stops_a_cluster_run_between_answers(local_cluster, shapes, tmp_path):
    done = subprocess.run([sys.executable, "-c", CANCEL, str(shapes)], capture_output=True, text=True,
                          timeout=RUN_TIMEOUT_S, env=_env(tmp_path / "store"))
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["stopped"] and result["answered"] < result["total"]


def test_a_worker_killed_mid_run_changes_no_number(local_cluster, shapes, tmp_path):
    local = _stats(_eval(shapes, tmp_path / "local-store", "--no-cache"))
    run = subprocess.Popen([sys.executable, "-m", "detviewer", "eval", "--model", "demo-ssd", "--data", str(shapes),
                            "--json", "--ray", "auto", "--ray-workers", "2"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, env=_env(tmp_path / "store"))
    killed = None
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while killed is None and run.poll() is None and time.monotonic() < deadline:
        busy = actor_pids(local_cluster, "_DetectorWorker.infer")  # Ray titles an actor's process with the method it runs
        if busy:
            os.kill(busy[0], signal.SIGKILL)
            killed = busy[0]
        time.sleep(0.02)
    out, err = run.communicate(timeout=RUN_TIMEOUT_S)
    assert killed is not None, "no actor was seen running an image"
    assert run.returncode == 0, err[-2000:]
    assert json.loads(out) == local
    assert "sent again after a worker died" in err


def test_no_cluster_at_an_address_is_one_sentence_fast(shapes, tmp_path):
    start = time.monotonic()
    done = _eval(shapes, tmp_path / "store", "--ray", "127.0.0.1:9")
    assert done.returncode == 2
    assert time.monotonic() - start < 60
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "does not answer" in errors[0] and "Traceback" not in done.stderr


def test_a_cluster_that_stops_mid_run_is_one_sentence_within_60_s(tmp_path, local_cluster):
    local_cluster.stop()  # this test stops its own cluster: the module's is done by now
    many = tmp_path / "many"
    subprocess.run([sys.executable, "-m", "detviewer", "make-shapes", str(many), "--count", "200", "--seed", "12",
                    "--size", "160", "--quiet"], check=True, timeout=120)
    cluster = start_local_cluster()
    try:
        run = subprocess.Popen([sys.executable, "-m", "detviewer", "eval", "--model", "demo-frcnn", "--data",
                                str(many), "--json", "--ray", "auto"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=_env(tmp_path / "store"))
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while not actor_pids(cluster, "_DetectorWorker.infer") and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        stopped = time.monotonic()
        cluster.crash()
        _, err = run.communicate(timeout=90)
        waited = time.monotonic() - stopped
    finally:
        cluster.stop()
    assert run.returncode == 2, err[-2000:]
    assert waited < 60
    assert "stopped answering" in err and "Traceback" not in err
