"""Run a detector over images on a Ray cluster: one actor per GPU (or per CPU worker) holds the loaded detector.

The driver reads each image's bytes (it hashes them for the prediction store anyway) and streams them to the
actors, at most ``IN_FLIGHT_PER_WORKER`` per actor; each actor decodes them with ``io.images.load_image`` (the
same decoding as a local run), runs ``detector.infer`` and answers with a slim Inference (detections, NMS
candidates and parameters, sizes: what the store keeps). Answers come back in completion order through
``on_answer``; the caller stores and evaluates them exactly as a local run does.

Failures: an image the model fails on is one sentence (as locally); an actor that dies (its process or node)
is restarted by Ray, gets no image until it answers again, and its images are sent again (an image whose
worker died ``MAX_ATTEMPTS`` times is a failure), so nothing is lost or
counted twice; a head that stops answering is a ClusterError within ``stall_s`` + a probe. ``should_stop()`` is
polled between answers: the images in flight are dropped, not waited for.
"""

from __future__ import annotations

import contextlib
import os
import queue
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from detviewer.core.types import Inference
from detviewer.evaluation.ray_cluster import ClusterError, alive
from detviewer.evaluation.run_dataset import _sentence as image_failure

__all__ = ["ClusterRun", "DetectorFactory", "run_on_cluster", "cluster_workers"]

IN_FLIGHT_PER_WORKER = 2
MAX_ATTEMPTS = 3

#: Builds the detector inside an actor; must be picklable by reference (a module-level function or a
#: functools.partial of one), e.g. ``partial(load_detector, "demo-ssd", weights="default", device="cpu")``.
DetectorFactory = Callable[[], Any]
#: on_answer(index, inference or None, error sentence or None)
AnswerSink = Callable[[int, "Inference | None", "str | None"], None]


@dataclass(frozen=True)
class ClusterRun:
    """workers: actors used; answered: images answered (inference or error); retried: images sent again after
    an actor died; stopped: should_stop() ended the run; seconds: wall time from the first submission;
    first_answer_s: when the first answer came (the actors' start: joining, loading the model)."""

    workers: int
    answered: int
    retried: int
    stopped: bool
    seconds: float
    first_answer_s: float = 0.0

    @property
    def steady_images_per_second(self) -> float:
        """Answers per second after the first one (the actors' start left out)."""
        span = self.seconds - self.first_answer_s
        return (self.answered - 1) / span if self.answered > 1 and span > 0 else 0.0


def _slim(inference: Inference) -> Inference:
    """What travels back to the driver: no anchors, proposals or grids (the store keeps none of them)."""
    return Inference(model_name=inference.model_name, image_size=inference.image_size,
                     detections=inference.detections, candidates=inference.candidates, nms=inference.nms,
                     device=inference.device, input_size=inference.input_size, scale=inference.scale,
                     timings=dict(inference.timings))


class _DetectorWorker:
    """The actor's body: one detector, loaded once; answers (index, inference | None, sentence | None)."""

    def __init__(self, factory: DetectorFactory, threads: int, settings: Any = None) -> None:
        from detviewer.detectors.threads import configure_torch_threads

        configure_torch_threads(threads)
        self.detector = factory()
        if settings is not None:  # the run's protocol (Detector.evaluating), for the actor's whole life
            self._protocol = self.detector.evaluating(settings)
            self._protocol.__enter__()
        self.folder = Path(tempfile.mkdtemp(prefix="detviewer-ray-"))

    def ready(self) -> int:
        return os.getpid()

    def infer(self, index: int, name: str, data: bytes) -> tuple[int, Inference | None, str | None]:
        from detviewer.io.images import load_image

        path = self.folder / f"{index}{Path(name).suffix.lower()}"
        try:
            path.write_bytes(data)
            inference = self.detector.infer(load_image(path))
            return index, _slim(inference), None
        except Exception as exc:  # one image's failure is one sentence, as in a local run
            return index, None, image_failure(name, exc)
        finally:
            path.unlink(missing_ok=True)


def cluster_workers(device: str) -> tuple[int, dict[str, float]]:
    """(actor count, resources per actor): one per GPU when the cluster has GPUs and device allows, else one
    per CPU (each with one torch thread)."""
    import ray

    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    if gpus and device != "cpu":
        return gpus, {"num_gpus": 1.0, "num_cpus": 1.0}
    return max(1, int(resources.get("CPU", 1))), {"num_cpus": 1.0}


def run_on_cluster(factory: DetectorFactory, items: Sequence[tuple[int, Path]], on_answer: AnswerSink, *,
                   address: str, device: str = "auto", workers: int | None = None,
                   should_stop: Callable[[], bool] | None = None, stall_s: float = 10.0,
                   read_bytes: Callable[[Path], bytes] | None = None, settings: Any = None) -> ClusterRun:
    """Answer every (index, image path) of ``items`` on the joined cluster (``ray_cluster.connect`` first).

    ``on_answer`` runs on the calling thread (a store connection stays on its thread); the Ray calls run on a
    daemon thread, since any of them can block while the head is gone. workers: actors to start (default:
    ``cluster_workers``). settings: the protocol's ``EvaluationSettings`` every actor's detector runs under.
    stall_s: with no answer for this long the head is probed every second; a head that
    does not answer is a ClusterError (the answers already given stay given).
    """
    answers: queue.Queue[tuple[Any, ...]] = queue.Queue()
    stop = threading.Event()
    driver = threading.Thread(target=_drive, name="ray-driver", daemon=True,
                              args=(factory, list(items), answers, stop, device, workers, read_bytes, settings))
    driver.start()
    last = time.monotonic()
    while True:
        try:
            message = answers.get(timeout=1.0)
        except queue.Empty:
            if should_stop is not None and should_stop():
                stop.set()
            silent = time.monotonic() - last
            if silent > stall_s and not alive(address):
                stop.set()
                raise ClusterError(f"The Ray cluster at {address} stopped answering; the answers so far are kept: "
                                   "run again to go on.") from None
            continue
        last = time.monotonic()
        if message[0] == "answer":
            on_answer(*message[1:])
            if should_stop is not None and should_stop():  # answers keep coming: ask between them too
                stop.set()
        elif message[0] == "error":
            raise message[1]
        else:
            return message[1]


def _drive(factory: DetectorFactory, items: list[tuple[int, Path]], answers: queue.Queue[tuple[Any, ...]],
           stop: threading.Event, device: str, workers: int | None,
           read_bytes: Callable[[Path], bytes] | None, settings: Any) -> None:
    try:
        answers.put(("done", _drive_actors(factory, items, answers, stop, device, workers, read_bytes, settings)))
    except BaseException as exc:  # noqa: BLE001 - handed to the calling thread, which raises it
        answers.put(("error", exc))


def _drive_actors(factory: DetectorFactory, items: list[tuple[int, Path]], answers: queue.Queue[tuple[Any, ...]],
                  stop: threading.Event, device: str, workers: int | None,
                  read_bytes: Callable[[Path], bytes] | None, settings: Any) -> ClusterRun:
    """Feed the actors; an actor whose call failed with RayActorError (its process or node died) gets no image
    until its ``ready()`` answers again (Ray restarts it, possibly elsewhere), and its images go back in line."""
    import ray

    count, resources = cluster_workers(device)
    count = max(1, min(workers or count, len(items) or 1))
    actor_class = ray.remote(max_restarts=-1, max_task_retries=0, **resources)(_DetectorWorker)  # type: ignore[call-overload]
    actors = [actor_class.remote(factory, 1, settings) for _ in range(count)]
    read = read_bytes or (lambda p: Path(p).read_bytes())
    todo: deque[tuple[int, Path]] = deque(items)
    deaths: dict[int, int] = {}  # image index -> workers that died running it
    paths = dict(items)
    images: dict[Any, tuple[int, int]] = {}  # ref of an infer call -> (image index, actor)
    waking: dict[Any, int] = {}  # ref of a ready() call -> actor
    busy = [0] * count
    answered = retried = 0
    start = time.monotonic()
    first = [0.0]

    def answer(index: int, inference: Inference | None, error: str | None) -> None:
        nonlocal answered
        if not answered:
            first[0] = time.monotonic() - start
        answered += 1
        answers.put(("answer", index, inference, error))

    def fill(actor: int) -> None:
        while busy[actor] < IN_FLIGHT_PER_WORKER and todo and not stop.is_set():
            index, path = todo.popleft()
            try:
                data = read(path)
            except OSError as exc:
                answer(index, None, image_failure(str(path), exc))
                continue
            images[actors[actor].infer.remote(index, str(path), data)] = (index, actor)
            busy[actor] += 1

    def lost(index: int, actor: int) -> None:
        nonlocal retried
        deaths[index] = deaths.get(index, 0) + 1
        if deaths[index] < MAX_ATTEMPTS:
            retried += 1
            todo.appendleft((index, paths[index]))
        else:
            answer(index, None, f"{paths[index]}: the Ray worker running it died {MAX_ATTEMPTS} times.")
        if actor not in waking.values():
            waking[actors[actor].ready.remote()] = actor

    try:
        for actor in range(count):
            fill(actor)
        while (images or waking) and not stop.is_set():
            done, _ = ray.wait([*images, *waking], num_returns=1, timeout=1.0)
            if not done:
                continue
            ref = done[0]
            if ref in waking:
                actor = waking.pop(ref)
                try:
                    ray.get(ref)
                except ray.exceptions.RayActorError:
                    waking[actors[actor].ready.remote()] = actor  # still restarting: ask again
                    continue
                fill(actor)
                continue
            index, actor = images.pop(ref)
            busy[actor] -= 1
            try:
                _, inference, error = ray.get(ref)
            except ray.exceptions.RayActorError:
                lost(index, actor)
                continue
            except ray.exceptions.RayError as exc:
                inference, error = None, f"{paths[index]}: the Ray task failed: {str(exc).strip().splitlines()[0]}."
            answer(index, inference, error)
            if actor not in waking.values():
                fill(actor)
            if not images and todo and not waking:  # every actor idle yet images left: hand them out again
                for other in range(count):
                    fill(other)
    finally:
        for handle in actors:
            with contextlib.suppress(Exception):  # a vanished cluster cannot kill anything; nothing to report
                ray.kill(handle)
    return ClusterRun(count, answered, retried, stop.is_set(), time.monotonic() - start, first[0])
