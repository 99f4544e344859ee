"""Benchmark: ``detviewer eval --model M --data D --no-cache`` vs Ultralytics' ``yolo val``, whole processes.

Generates the validation data the way ``tests/data/shapes_yolov8n_val_reference.json`` records it
(``detviewer make-shapes DIR --count N --seed 12 --size 160 --format yolo``; the reference uses 60 images,
``--images`` takes more of the same recipe) and times, interleaved, ``--repeat`` runs of each, wall clock of
the whole process (start-up, imports, decoding, forward passes, NMS, metrics, printing):

(a) ``detviewer eval --model tests/data/shapes_yolov8n_160.onnx --data DIR/data.yaml --no-cache --threads T``
(b) ``yolo val model=<same onnx> data=DIR/data.yaml imgsz=160 batch=1 device=cpu workers=0 plots=False``
    with YOLO_OFFLINE=1, its labels.cache removed before each run (it parses the labels every time, as (a)
    does).

Same threads for both: OMP_NUM_THREADS=T for the two processes (torch's intra-op threads; Ultralytics keeps
a value that is set), and onnxruntime's intra-op threads = T. ``yolo val`` has no flag for onnxruntime's
threads (it opens its session with default options: one thread per physical core), so (b) runs
Ultralytics' own ``yolo`` entry point (``ultralytics.cfg.entrypoint``, what the ``yolo`` script calls) in a
process whose ``onnxruntime.InferenceSession`` gets ``intra_op_num_threads=T`` when no options are given;
``detviewer eval --threads T`` sets both itself. Prints medians, the ratio (a) / (b) (the bar: <= 1.0),
user + system CPU seconds of each, and the load average before and after (the machine is shared).

    .venv/bin/python bench/bench_eval_vs_yolo_val.py [--images 60] [--repeat 5] [--threads 1]
    .venv/bin/python bench/bench_eval_vs_yolo_val.py --smoke     # a few seconds; (b) skipped without Ultralytics
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "tests" / "data" / "shapes_yolov8n_160.onnx"

YOLO_VAL = r"""
import sys
threads = int(sys.argv[1])
import onnxruntime as ort
_session = ort.InferenceSession
def session(path, sess_options=None, *args, **kwargs):
    if sess_options is None:
        sess_options = ort.SessionOptions()
        sess_options.intra_op_num_threads = threads
    return _session(path, sess_options, *args, **kwargs)
ort.InferenceSession = session
sys.argv = ["yolo", *sys.argv[2:]]  # before the import: Ultralytics reads its ARGV then
from ultralytics.cfg import entrypoint
sys.exit(entrypoint())
"""


def _timed(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Run ``cmd``; (wall seconds, user + system CPU seconds of the child). Raises if it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])}... failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _loadavg() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def run(args: argparse.Namespace) -> int:
    python = sys.executable
    has_yolo = importlib.util.find_spec("ultralytics") is not None
    if args.smoke:
        args.images, args.repeat = 4, 1
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = work / "shapes"
        env = {**os.environ, "PYTHONPATH": str(ROOT), "YOLO_OFFLINE": "1", "OMP_NUM_THREADS": str(args.threads),
               "QT_QPA_PLATFORM": "offscreen", "YOLO_CONFIG_DIR": str(work / "ultralytics-config")}
        subprocess.run([python, "-m", "detviewer", "make-shapes", str(data), "--count", str(args.images),
                        "--seed", "12", "--size", "160", "--format", "yolo"], env=env, check=True,
                       capture_output=True)
        ours = [python, "-m", "detviewer", "eval", "--model", str(MODEL), "--data", str(data / "data.yaml"),
                "--no-cache", "--threads", str(args.threads)]
        theirs = [python, "-c", YOLO_VAL, str(args.threads), "val", f"model={MODEL}",
                  f"data={data / 'data.yaml'}", "imgsz=160", "batch=1", "device=cpu", "workers=0", "plots=False",
                  f"project={work / 'runs'}"]
        print(f"{args.images} images (make-shapes --seed 12 --size 160), {args.threads} thread(s), "
              f"{args.repeat} interleaved run(s) each; load average before: {_loadavg()}", flush=True)
        if not has_yolo:
            print("Ultralytics is not installed: yolo val skipped")
        times: dict[str, list[tuple[float, float]]] = {"detviewer eval": [], "yolo val": []}
        for _ in range(args.repeat):
            times["detviewer eval"].append(_timed(ours, env, work))
            if has_yolo:
                (data / "labels.cache").unlink(missing_ok=True)
                times["yolo val"].append(_timed(theirs, env, work))
        print(f"load average after: {_loadavg()}")
        medians = {}
        for name, runs in times.items():
            if runs:
                medians[name] = statistics.median(w for w, _ in runs)
                print(f"{name:15s} median {medians[name]:6.2f} s wall, {statistics.median(c for _, c in runs):6.2f} "
                      f"s CPU  (runs: {', '.join(f'{w:.2f}' for w, _ in runs)})")
        if len(medians) == 2:
            print(f"ratio detviewer eval / yolo val: {medians['detviewer eval'] / medians['yolo val']:.2f} (bar: <= 1.0)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=60, help="validation images (the reference's recipe)")
    parser.add_argument("--repeat", type=int, default=5, help="interleaved runs of each (median reported)")
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads for both (torch and onnxruntime)")
    parser.add_argument("--smoke", action="store_true", help="4 images, 1 run: checks that the benchmark runs")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
