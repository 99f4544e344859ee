"""Running a model over a dataset from the command line: here, or on a Ray cluster with ``--ray ADDRESS``.

``add_run_arguments(parser)`` adds ``--ray`` and ``--ray-workers``; ``run_model_over(detector, name, weights,
dataset, store, args)`` runs the model with a progress line and returns the ``DatasetRun``, printing where it ran.
On a cluster the forward passes run on the actors and the driver (this process) stores and evaluates the answers
exactly as a local run does; Ctrl+C cancels (the answers so far stay in the store: the next run resumes).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from functools import partial
from typing import Any

from detviewer.cli.progress import ProgressLine

__all__ = ["add_run_arguments", "run_model_over"]


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ray", metavar="ADDRESS",
                        help="run the model on a Ray cluster: 'auto' joins the cluster this machine belongs to, or "
                             "the head's host:port (needs: pip install 'detviewer[ray]')")
    parser.add_argument("--ray-workers", type=int, metavar="N",
                        help="with --ray: actors to start (default: one per GPU, else one per CPU of the cluster)")


def run_model_over(detector: Any, name: str, weights: str, dataset: Any, store: Any, args: argparse.Namespace,
                   protocol: Any = None) -> Any:
    """The DatasetRun of ``detector`` (registry ``name`` with ``weights``) over ``dataset`` under ``protocol`` (an
    ``evaluation.protocols.Protocol``; default: the model's own framework's), here or on --ray."""
    bar = ProgressLine()
    try:
        if not getattr(args, "ray", None):
            from detviewer.evaluation.run_dataset import run_dataset

            return run_dataset(detector, dataset, store, progress=bar, protocol=protocol)
        return _on_cluster(detector, name, weights, dataset, store, args, bar, protocol)
    finally:
        bar.close()


def _on_cluster(detector: Any, name: str, weights: str, dataset: Any, store: Any, args: argparse.Namespace,
                bar: ProgressLine, protocol: str) -> Any:
    from detviewer.detectors.registry import load_detector
    from detviewer.evaluation.ray_cluster import connect, disconnect
    from detviewer.evaluation.ray_dataset import run_dataset_on_cluster

    if args.ray_workers is not None and args.ray_workers < 1:
        from detviewer.errors import DetviewerError

        raise DetviewerError("--ray-workers must be at least 1.")
    factory = partial(load_detector, name, weights=weights, device=args.device)
    # Ray's driver prints its workers' failures ("(raylet) A worker died ...") on stdout, which holds --json: while
    # the cluster runs, stdout goes nowhere (detviewer itself prints nothing there meanwhile; retries are counted).
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
        address = connect(args.ray)
        try:
            run, cluster = run_dataset_on_cluster(detector, dataset, store, factory, address=address,
                                                  device=args.device, workers=args.ray_workers, progress=bar,
                                                  protocol=protocol)
        finally:
            disconnect()
    if cluster is not None:
        print(f"on the Ray cluster at {address}: {cluster.workers} worker{'s' if cluster.workers != 1 else ''}, "
              f"{cluster.answered} images answered in {cluster.seconds:.1f} s"
              + (f", {cluster.retried} sent again after a worker died" if cluster.retried else ""), file=sys.stderr)
    return run
