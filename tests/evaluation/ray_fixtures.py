"""A local Ray cluster for the tests: a head on 127.0.0.1 started as a subprocess, stopped by its own pid.

Never ``ray stop`` (it would stop any cluster of the machine). Ray rewrites an explicit 127.0.0.1 address to the
machine's own address, so clients join with ``auto``. Skipped when Ray is not installed.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

needs_ray = pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                               reason="Ray is not installed (pip install 'detviewer[ray]')")


@dataclass
class LocalCluster:
    process: subprocess.Popen[bytes]
    address: str

    def stop(self, timeout_s: float = 30.0) -> None:
        """SIGTERM to ``ray start --block``, which stops its whole cluster."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


    def crash(self) -> None:
        """The head node dies at once: SIGKILL to every process ``ray start`` started (GCS, raylet, workers)."""
        for pid in _descendants(self.process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.stop()


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (from /proc/<pid>/task/*/children)."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            found += children
            todo += children
    return found


def _ray_cli() -> str:
    return str(Path(sys.executable).with_name("ray"))


def start_local_cluster(num_cpus: int = 2, timeout_s: float = 60.0) -> LocalCluster:
    """A head on 127.0.0.1 with ``num_cpus`` CPUs; returns once ``auto`` resolves to it and its port answers."""
    from detviewer.evaluation.ray_cluster import alive, resolve_address

    process = subprocess.Popen([_ray_cli(), "start", "--head", "--block", "--node-ip-address", "127.0.0.1",
                                "--port", "0", f"--num-cpus={num_cpus}", "--num-gpus=0", "--include-dashboard=false",
                                "--disable-usage-stats"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"ray start exited with {process.returncode}")
        try:
            address = resolve_address("auto")
            if alive(address, 1.0):
                return LocalCluster(process, address)
        except Exception:  # noqa: BLE001 - not up yet
            pass
        time.sleep(0.5)
    LocalCluster(process, "").stop()
    raise RuntimeError("the local Ray head did not come up")


@pytest.fixture(scope="module")
def local_cluster() -> Iterator[LocalCluster]:
    cluster = start_local_cluster()
    yield cluster
    cluster.stop()


def actor_pids(cluster: LocalCluster, title: str = "_DetectorWorker") -> list[int]:
    """Process ids of ``cluster``'s own actor processes whose title holds ``ray::<title>`` (Ray titles an actor's
    process with its class and the method it runs); another cluster on the machine is never touched."""
    found = []
    for pid in _descendants(cluster.process.pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if f"ray::{title}" in cmdline:
            found.append(pid)
    return found
