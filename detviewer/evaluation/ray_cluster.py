"""Joining a Ray cluster within a bounded time (optional dependency: ``pip install 'detviewer[ray]'``).

Ray itself retries an unreachable cluster for minutes (``ray.init(address="auto")`` after its head stopped kept
trying for over 60 s here). So the address is resolved the way Ray resolves it (``auto``: the cluster this
machine last started or joined, else a running local one) and its GCS port is probed with a plain TCP connect
first: a cluster that does not answer is one sentence within ``probe_timeout_s``.

    address = connect("auto")          # ClusterError (one sentence) when it cannot be joined
    alive(address)                     # during a run: does the cluster's head still answer?
"""

from __future__ import annotations

import importlib.util
import logging
import os
import socket
import threading

from detviewer.errors import DetviewerError

__all__ = ["ClusterError", "RAY_INSTALL", "alive", "connect", "disconnect", "resolve_address"]

RAY_INSTALL = "pip install 'detviewer[ray]'"


class ClusterError(DetviewerError):
    """The Ray cluster cannot be joined or stopped answering; the message says which and what to do."""


def _require_ray() -> None:
    if importlib.util.find_spec("ray") is None:
        raise ClusterError(f"--ray needs Ray, which is not installed: {RAY_INSTALL}.")


def resolve_address(address: str) -> str:
    """``host:port`` of the cluster's head for ``auto`` or an explicit ``host:port`` (``ray://`` is refused)."""
    _require_ray()
    if address.startswith("ray://"):
        raise ClusterError(f"{address}: Ray Client addresses (ray://) are not supported; run detviewer on a node "
                           "of the cluster and pass --ray auto.")
    from ray._private import services

    try:
        # Ray caches the running clusters it found (pgrep) for the life of the process: a long-lived process (the
        # window) would keep resolving ``auto`` to a cluster that has since stopped.
        clear = getattr(services.find_gcs_addresses, "cache_clear", None)
        if clear is not None:
            clear()
        resolved = services.canonicalize_bootstrap_address(address)
    except ConnectionError:
        raise ClusterError("No Ray cluster was found on this machine (--ray auto joins the cluster this machine "
                           "belongs to: start one with 'ray start --head', or pass its address).") from None
    except ValueError as exc:
        raise ClusterError(f"{address} is not a Ray address (host:port or auto): {exc}.") from None
    if not resolved:
        raise ClusterError("No Ray cluster was found on this machine (start one with 'ray start --head').")
    return resolved


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def alive(address: str, timeout_s: float = 3.0) -> bool:
    """Whether the head at ``host:port`` accepts a TCP connection within ``timeout_s``."""
    try:
        with socket.create_connection(_host_port(address), timeout=timeout_s):
            return True
    except (OSError, ValueError):
        return False


def connect(address: str, probe_timeout_s: float = 5.0) -> str:
    """Join the cluster at ``address`` (``auto`` or ``host:port``) and return its resolved address.

    Raises ClusterError, within about ``probe_timeout_s`` when the head does not answer.
    """
    resolved = resolve_address(address)
    if not alive(resolved, probe_timeout_s):
        raise ClusterError(f"The Ray cluster at {resolved} does not answer (is it running? 'ray status' tells); "
                           "nothing was run.")
    import ray

    if ray.is_initialized():
        return resolved
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    # Ray ends the whole process when its head has been gone for 60 s (rpc_client: "The program will terminate"):
    # a vanished cluster is detviewer's sentence (ray_run's probe) long before that, so give Ray an hour.
    os.environ.setdefault("RAY_gcs_rpc_server_reconnect_timeout_s", "3600")
    try:
        ray.init(address=resolved, logging_level=logging.ERROR, log_to_driver=False, configure_logging=True)
    except Exception as exc:  # Ray raises many types (ConnectionError, RuntimeError, its own); one sentence
        raise ClusterError(f"Could not join the Ray cluster at {resolved}: {str(exc).strip().splitlines()[0]}.") \
            from None
    return resolved


def disconnect(timeout_s: float = 10.0) -> None:
    """``ray.shutdown()`` in a daemon thread, waiting at most ``timeout_s`` (it can hang on a vanished head)."""
    import ray

    if not ray.is_initialized():
        return
    done = threading.Thread(target=ray.shutdown, name="ray-shutdown", daemon=True)
    done.start()
    done.join(timeout_s)
